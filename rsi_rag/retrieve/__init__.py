"""Retrieval: dense, BM25, hybrid (reciprocal rank fusion), with access filtering."""

from __future__ import annotations

from rsi_rag.retrieve.base import AccessFilter, Retriever, hits_from_ids
from rsi_rag.retrieve.bm25 import BM25Retriever
from rsi_rag.retrieve.dense import DenseRetriever
from rsi_rag.retrieve.hybrid import HybridRetriever, reciprocal_rank_fusion

__all__ = [
    "AccessFilter",
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "Retriever",
    "hits_from_ids",
    "reciprocal_rank_fusion",
]
