"""Hybrid retrieval: dense and BM25 fused by reciprocal rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rsi_rag.retrieve.base import Retriever, hits_from_ids
from rsi_rag.types import Hit

if TYPE_CHECKING:
    from rsi_rag.retrieve.bm25 import BM25Retriever
    from rsi_rag.retrieve.dense import DenseRetriever
    from rsi_rag.store.catalog import CollectionRef

__all__ = ["HybridRetriever", "reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Fuse rankings: score(d) = sum_i w_i / (k + rank_i(d)), ranks from 1."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + w / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


class HybridRetriever(Retriever):
    """Reciprocal rank fusion of a dense and a BM25 retriever over a deeper pool."""

    name = "hybrid"

    def __init__(
        self, dense: DenseRetriever, bm25: BM25Retriever, rrf_k: int = 60, pool: int = 100
    ) -> None:
        self.dense = dense
        self.bm25 = bm25
        self.rrf_k = rrf_k
        self.pool = pool

    def _retrieve(
        self, col: CollectionRef, query: str, k: int, principals: Sequence[str] | None
    ) -> list[Hit]:
        depth = max(self.pool, k)
        d_ids, d_scores = self.dense.search(col, query, depth, principals)
        b_ids, _ = self.bm25.search(col, query, depth, principals)
        fused = reciprocal_rank_fusion([d_ids.tolist(), b_ids.tolist()], self.rrf_k)[:k]
        dense = {int(i): float(s) for i, s in zip(d_ids, d_scores, strict=True)}
        return hits_from_ids(
            self.dense.catalog, col, [i for i, _ in fused], [s for _, s in fused], dense
        )
