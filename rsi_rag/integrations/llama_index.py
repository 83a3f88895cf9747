"""llama-index components backed by rsi_rag, in-process or over the service.

An existing llama-index application switches to rsi_rag by swapping its retriever or query
engine::

    from rsi_rag.client import Client
    from rsi_rag.integrations.llama_index import RsiRagQueryEngine, RsiRagRetriever

    backend = Client("http://127.0.0.1:8000", api_key="rsk_...")   # or RAG("rsi_rag_data")
    retriever = RsiRagRetriever(backend, collection="handbook", k=5)
    engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)  # llama-index's own LLM
    # or let rsi_rag answer (its generator, citations, abstention):
    engine = RsiRagQueryEngine(backend=backend, collection="handbook")
    response = engine.query("How are models promoted?")
    send_feedback(backend, response, rating=1)

The backend is anything with the :class:`rsi_rag.RAG` methods ``retrieve``, ``ask`` and
``feedback``: the facade, :class:`~rsi_rag.client.Client` or
:class:`~rsi_rag.client.AsyncClient` (whose coroutines serve the async paths).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rsi_rag.errors import ValidationError
from rsi_rag.types import Answer, Hit

__all__ = ["RsiRagQueryEngine", "RsiRagRetriever", "hit_to_node", "send_feedback"]


def hit_to_node(hit: Hit) -> NodeWithScore:
    """A retrieved chunk as a llama-index node; ids and source stay in the metadata."""
    meta = {
        **hit.metadata,
        "source": hit.source,
        "chunk_id": hit.chunk_id,
        "document_id": hit.document_id,
    }
    node = TextNode(id_=f"rsi-rag-chunk-{hit.chunk_id}", text=hit.text, metadata=meta)
    return NodeWithScore(node=node, score=hit.score)


async def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)


def _run_sync(fn: Any, *args: Any, **kwargs: Any) -> Any:
    if inspect.iscoroutinefunction(fn):
        return asyncio.run(fn(*args, **kwargs))
    return fn(*args, **kwargs)


class RsiRagRetriever(BaseRetriever):
    """A llama-index retriever over an rsi_rag collection.

    Args:
        backend: A ``RAG``, ``Client`` or ``AsyncClient``.
        collection: The collection to search.
        k: Number of chunks (the backend's default if ``None``).
        principals: ACL principals of the end user.
        mode: ``"dense"``, ``"hybrid"`` or ``"bm25"``.
        tenant: The tenant (the facade's default, or the API key's).
    """

    def __init__(
        self,
        backend: Any,
        collection: str,
        k: int | None = None,
        *,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
        tenant: str | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if not hasattr(backend, "retrieve"):
            raise ValidationError(
                f"backend must offer retrieve() (a RAG, Client or AsyncClient), got "
                f"{type(backend).__name__}"
            )
        super().__init__(callback_manager=callback_manager)
        self.backend = backend
        self.collection = collection
        self.k = k
        self.principals = principals
        self.mode = mode
        self.tenant = tenant

    def _kwargs(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "principals": self.principals, "mode": self.mode}

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = _run_sync(
            self.backend.retrieve,
            query_bundle.query_str,
            self.collection,
            self.k,
            **self._kwargs(),
        )
        return [hit_to_node(h) for h in hits]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = await _call(
            self.backend.retrieve,
            query_bundle.query_str,
            self.collection,
            self.k,
            **self._kwargs(),
        )
        return [hit_to_node(h) for h in hits]


def _response(answer: Answer) -> Response:
    by_id = {h.chunk_id: h for h in answer.hits}
    cited = [by_id[c.chunk_id] for c in answer.citations if c.chunk_id in by_id]
    return Response(
        response=answer.text,
        source_nodes=[hit_to_node(h) for h in cited],
        metadata={
            "interaction_id": answer.interaction_id,
            "abstained": answer.abstained,
            "model_versions": dict(answer.model_versions),
            "citations": [c.to_dict() for c in answer.citations],
            "retrieved_chunk_ids": [h.chunk_id for h in answer.hits],
        },
    )


class RsiRagQueryEngine(CustomQueryEngine):
    """A llama-index query engine answered by rsi_rag (citations, abstention, feedback).

    The response's ``source_nodes`` are the cited chunks; its ``metadata`` holds the
    ``interaction_id`` that :func:`send_feedback` uses.
    """

    backend: Any
    collection: str
    k: int | None = None
    principals: list[str] | None = None
    mode: str | None = None
    tenant: str | None = None

    def _kwargs(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "tenant": self.tenant,
            "principals": self.principals,
            "mode": self.mode,
        }

    def custom_query(self, query_str: str) -> Response:
        return _response(_run_sync(self.backend.ask, query_str, self.collection, **self._kwargs()))

    async def acustom_query(self, query_str: str) -> Response:
        return _response(
            await _call(self.backend.ask, query_str, self.collection, **self._kwargs())
        )


def send_feedback(
    backend: Any,
    response: Any,
    *,
    rating: int | None = None,
    correction: str | None = None,
    chosen_nodes: Sequence[NodeWithScore] = (),
    rejected_nodes: Sequence[NodeWithScore] = (),
) -> int:
    """Send feedback on a response of :class:`RsiRagQueryEngine`; returns the feedback id.

    Args:
        backend: The ``RAG`` or ``Client`` that answered.
        response: The llama-index response (its metadata holds the interaction id).
        rating: -1, 0 or 1.
        correction: The right answer, in the user's words.
        chosen_nodes: Nodes (of this response's retrieval) that answered the question.
        rejected_nodes: Nodes that did not.
    """
    meta = getattr(response, "metadata", None) or {}
    interaction_id = meta.get("interaction_id")
    if interaction_id is None:
        raise ValidationError(
            "this response carries no rsi_rag interaction_id; send feedback on responses of "
            "RsiRagQueryEngine"
        )

    def ids(nodes: Sequence[NodeWithScore]) -> list[int]:
        return [int(n.node.metadata["chunk_id"]) for n in nodes]

    return int(
        _run_sync(
            backend.feedback,
            int(interaction_id),
            rating=rating,
            correction=correction,
            chosen_chunk_ids=ids(chosen_nodes),
            rejected_chunk_ids=ids(rejected_nodes),
        )
    )
