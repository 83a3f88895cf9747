"""Dense retrieval over the collection's champion FAISS index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rsi_rag.retrieve.base import AccessFilter, Retriever, hits_from_ids
from rsi_rag.types import Hit

if TYPE_CHECKING:
    import numpy as np

    from rsi_rag.embed.base import Embedder
    from rsi_rag.index.manager import IndexManager
    from rsi_rag.store.catalog import Catalog, CollectionRef

__all__ = ["DenseRetriever"]


class DenseRetriever(Retriever):
    """Embeds the query and searches the index, filtering inside the search."""

    name = "dense"

    def __init__(
        self,
        catalog: Catalog,
        indexes: IndexManager,
        embedder: Embedder,
        access: AccessFilter,
        version: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.indexes = indexes
        self.embedder = embedder
        self.access = access
        self.version = version

    def search(
        self, col: CollectionRef, query: str, k: int, principals: Sequence[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw ``(ids, scores)`` of the top ``k``, valid ids only."""
        version = self.version or col.retriever_version
        index = self.indexes.get(col, version, self.embedder)
        allowed = self.access.allowed(col, principals)
        qvec = self.embedder.encode_query(query)
        scores, ids = index.search(qvec, k, allowed)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _retrieve(
        self, col: CollectionRef, query: str, k: int, principals: Sequence[str] | None
    ) -> list[Hit]:
        ids, scores = self.search(col, query, k, principals)
        dense = {int(i): float(s) for i, s in zip(ids, scores, strict=True)}
        return hits_from_ids(self.catalog, col, ids.tolist(), scores.tolist(), dense)
