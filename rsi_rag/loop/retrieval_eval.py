"""evaluate: score retriever versions of a collection on its gate examples.

Relevance is judged per document (a chunk's score counts for its document, best chunk
first), so versions are compared the way document-level gold sets such as BEIR's are
published, whatever the chunking. Results follow the evaluator contract of
:mod:`rsi_rag.evaluation` (per-query scores, ``ndcg@10`` primary), so the gate compares
champion and challenger paired.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rsi_rag.evaluation.base import EvaluationResult
from rsi_rag.evaluation.guards import effective_rank, mean_pairwise_cosine
from rsi_rag.evaluation.metrics import ranking_scores

if TYPE_CHECKING:
    from rsi_rag.loop.examples import Example
    from rsi_rag.rag import RAG
    from rsi_rag.store.catalog import CollectionRef

__all__ = ["document_run", "embedding_guards", "evaluate_version"]

METRICS = ("ndcg@10", "recall@10", "mrr@10")


def document_run(
    rag: RAG,
    col: CollectionRef,
    version: str,
    queries: Mapping[str, str],
    depth: int = 50,
) -> dict[str, dict[str, float]]:
    """``query id -> document id -> score`` from the dense index of ``version``."""
    if not queries:
        return {}
    emb = rag.embedder_for(version)
    index = rag.indexes.get(rag.catalog.collection_by_id(col.id), version, emb)
    ids = list(queries)
    vectors = emb.encode([queries[q] for q in ids])
    scores, hits = index.search(vectors, depth)
    wanted = {int(c) for c in hits.ravel() if c >= 0}
    doc_of = {cid: rec.document_id for cid, rec in rag.catalog.chunks(col.id, list(wanted)).items()}
    run: dict[str, dict[str, float]] = {}
    for row, qid in enumerate(ids):
        docs: dict[str, float] = {}
        for cid, score in zip(hits[row].tolist(), scores[row].tolist(), strict=True):
            doc = doc_of.get(int(cid))
            if doc is not None and str(doc) not in docs:
                docs[str(doc)] = float(score)
        run[qid] = docs
    return run


def evaluate_version(
    rag: RAG, col: CollectionRef, version: str, examples: Sequence[Example]
) -> EvaluationResult:
    """Per-query ``ndcg@10``, ``recall@10`` and ``mrr@10`` of ``version`` on ``examples``."""
    queries = {str(e.id): e.query for e in examples}
    qrels = {str(e.id): {str(d): 1 for d in e.document_ids} for e in examples}
    per_query = ranking_scores(qrels, document_run(rag, col, version, queries), METRICS)
    return EvaluationResult("retrieval", "ndcg@10", True, per_query, version)


def embedding_guards(
    rag: RAG, col: CollectionRef, version: str, sample: int = 512, seed: int = 0
) -> dict[str, float]:
    """Effective rank and mean pairwise cosine of a fixed sample of chunk embeddings."""
    ids = rag.catalog.chunk_ids(col.id)
    picked = sorted(random.Random(seed).sample(ids, min(sample, len(ids))))
    texts = rag.catalog.chunk_texts(col.id, picked)
    vectors = rag.embedder_for(version).encode([texts[i] for i in picked if i in texts])
    if len(vectors) < 2:
        return {}
    return {
        "effective_rank": effective_rank(vectors),
        "mean_pairwise_cosine": mean_pairwise_cosine(vectors),
    }
