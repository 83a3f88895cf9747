"""Request bodies, validated by litestar (msgspec) before a handler runs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar.params import Parameter

__all__ = [
    "MAX_ID",
    "ChatCompletionRequest",
    "ChatMessage",
    "CollectionCreate",
    "EmbeddingRequest",
    "FeedbackRequest",
    "ImproveRequest",
    "PathId",
    "KeyCreate",
    "QueryRequest",
    "RetrieveRequest",
    "RollbackRequest",
    "TenantCreate",
    "TextDocument",
    "TextDocuments",
]

# Ids are 64-bit in the catalog; larger numbers are refused before they reach it.
MAX_ID = 2**62
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\-]+$")]
Query = Annotated[str, msgspec.Meta(min_length=1)]
K = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
Mode = Literal["dense", "hybrid", "bm25"]
Principal = Annotated[str, msgspec.Meta(max_length=200)]
Principals = Annotated[list[Principal], msgspec.Meta(max_length=100)]


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name


class KeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["read", "write", "admin", "root"]
    tenant: Name | None = None
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class CollectionCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name


class TextDocument(msgspec.Struct, forbid_unknown_fields=True):
    source_id: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    text: str
    metadata: dict[str, Any] = {}
    acl: Principals = []
    version: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class TextDocuments(msgspec.Struct, forbid_unknown_fields=True):
    documents: Annotated[list[TextDocument], msgspec.Meta(min_length=1, max_length=10_000)]


class RetrieveRequest(msgspec.Struct, forbid_unknown_fields=True):
    query: Query
    k: K | None = None
    mode: Mode | None = None
    principals: Principals | None = None


class QueryRequest(msgspec.Struct, forbid_unknown_fields=True):
    question: Query
    k: K | None = None
    mode: Mode | None = None
    principals: Principals | None = None


class FeedbackRequest(msgspec.Struct, forbid_unknown_fields=True):
    interaction_id: Id
    rating: Literal[-1, 0, 1] | None = None
    correction: Annotated[str, msgspec.Meta(max_length=20_000)] | None = None
    chosen_chunk_ids: Annotated[list[Id], msgspec.Meta(max_length=1000)] = []
    rejected_chunk_ids: Annotated[list[Id], msgspec.Meta(max_length=1000)] = []


class ImproveRequest(msgspec.Struct, forbid_unknown_fields=True):
    params: dict[str, Any] = {}


class RollbackRequest(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["retriever", "generator"]
    to_version: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


class ChatMessage(msgspec.Struct):
    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(msgspec.Struct):
    """The OpenAI chat request; fields rsi_rag does not use are accepted and ignored."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1, max_length=1000)]
    stream: bool | None = False
    user: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None
    k: K | None = None
    mode: Mode | None = None
    principals: Principals | None = None


class EmbeddingRequest(msgspec.Struct):
    """The OpenAI embeddings request; ``model`` names the collection whose retriever embeds."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    input: str | Annotated[list[str], msgspec.Meta(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] | None = "float"
    dimensions: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    user: str | None = None


PathId = Annotated[int, Parameter(ge=1, le=MAX_ID)]
