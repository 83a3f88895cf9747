"""Small frozen value types shared across the library."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "Answer",
    "Citation",
    "CollectionInfo",
    "DocumentInfo",
    "Hit",
    "IngestFailure",
    "IngestReport",
    "SourceDocument",
]


@dataclass(frozen=True)
class SourceDocument:
    """One document handed to ingestion, before chunking.

    Attributes:
        source_id: Stable id of the document at its source (a path, URI or key).
        text: The full text.
        metadata: Free-form metadata kept with the document and its chunks.
        acl: Principals allowed to read it; empty means every reader of the tenant.
        version: The source's own version tag, if it has one.
    """

    source_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    acl: tuple[str, ...] = ()
    version: str | None = None


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk.

    Attributes:
        score: The ranking score of the retriever that returned it (cosine for dense,
            fused reciprocal-rank score for hybrid).
        dense_score: The cosine similarity to the query, when known; used to decide
            abstention independently of the ranking method.
    """

    chunk_id: int
    document_id: int
    source: str
    score: float
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    dense_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Citation:
    """A reference ``[n]`` in an answer, resolved to the chunk it points at.

    Attributes:
        marker: The number written in the answer text.
        inferred: True when the model wrote no marker and the chunk was attached because
            the answer's words are found in it.
    """

    marker: int
    chunk_id: int
    document_id: int
    source: str
    text: str
    inferred: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """The result of :meth:`rsi_rag.RAG.ask`."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    hits: tuple[Hit, ...]
    model_versions: dict[str, str]
    interaction_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "abstained": self.abstained,
            "hits": [h.to_dict() for h in self.hits],
            "model_versions": dict(self.model_versions),
            "interaction_id": self.interaction_id,
        }


@dataclass(frozen=True)
class IngestFailure:
    """A file or document that was reported and skipped."""

    source: str
    code: str
    message: str


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion call did."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    failed: tuple[IngestFailure, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "updated": list(self.updated),
            "unchanged": list(self.unchanged),
            "failed": [asdict(f) for f in self.failed],
            "chunks_added": self.chunks_added,
            "chunks_removed": self.chunks_removed,
        }


@dataclass(frozen=True)
class DocumentInfo:
    """A document as the catalog knows it."""

    id: int
    source: str
    content_hash: str
    version: int
    num_chunks: int
    acl: tuple[str, ...]
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["acl"] = list(self.acl)
        return d


@dataclass(frozen=True)
class CollectionInfo:
    """A collection as the catalog knows it."""

    name: str
    tenant: str
    num_documents: int
    num_chunks: int
    retriever_version: str
    generator_version: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
