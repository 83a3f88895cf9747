"""The two evaluators: retrieval (ranking metrics) and answers (F1, citations, abstention).

Systems are plain callables, so a RAG collection, a challenger retriever outside any
collection, or a third-party pipeline are evaluated by the same code:

* retrieval: ``search(query, k) -> [(passage_id, score), ...]`` ranked best first;
* answers: ``answer(example) -> AnswerRecord``.

:func:`rag_search` and :func:`rag_answerer` adapt a :class:`rsi_rag.RAG` collection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rsi_rag.errors import NotEnoughDataError, ValidationError
from rsi_rag.evaluation.base import Evaluator
from rsi_rag.evaluation.metrics import (
    citation_precision_recall,
    exact_match,
    groundedness,
    latency_summary,
    ranking_scores,
    token_f1,
)
from rsi_rag.evaluation.types import AnswerRecord, QAExample

if TYPE_CHECKING:
    from rsi_rag.rag import RAG

__all__ = [
    "AnswerEvaluator",
    "RetrievalEvaluator",
    "SearchFn",
    "rag_answerer",
    "rag_search",
]

SearchFn = Callable[[str, int], Sequence[tuple[str, float]]]
AnswerFn = Callable[[QAExample], AnswerRecord]


class RetrievalEvaluator(Evaluator[SearchFn]):
    """nDCG, recall and MRR of a search function on judged queries.

    Args:
        queries: ``query id -> text``.
        qrels: ``query id -> passage id -> relevance``.
        metrics: ranx metric names; the first is the primary metric.
        k: Results requested per query.
    """

    name = "retrieval"
    greater_is_better = True

    def __init__(
        self,
        queries: Mapping[str, str],
        qrels: Mapping[str, Mapping[str, int]],
        *,
        metrics: Sequence[str] = ("ndcg@10", "recall@10", "recall@100", "mrr@10"),
        k: int = 100,
    ) -> None:
        if not metrics:
            raise ValidationError("metrics must name at least one ranking metric, e.g. ndcg@10")
        judged = [q for q, docs in qrels.items() if any(int(r) > 0 for r in docs.values())]
        missing = [q for q in judged if q not in queries]
        if missing:
            raise ValidationError(
                f"qrels name {len(missing)} queries with no text, e.g. {missing[:3]}"
            )
        if not judged:
            raise NotEnoughDataError("no judged queries to evaluate (qrels are empty)")
        self.queries = {str(q): queries[q] for q in sorted(judged)}
        self.qrels = {str(q): {str(d): int(r) for d, r in qrels[q].items()} for q in judged}
        self.metrics = tuple(metrics)
        self.primary_metric = self.metrics[0]
        self.k = k

    @property
    def query_ids(self) -> list[str]:
        return list(self.queries)

    def _evaluate(self, system: SearchFn) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        run: dict[str, dict[str, float]] = {}
        latencies = []
        for qid, text in self.queries.items():
            start = time.perf_counter()
            ranked = system(text, self.k)
            latencies.append((time.perf_counter() - start) * 1000)
            scores: dict[str, float] = {}
            # Scores by rank, so that fused or tied scores cannot reorder the list.
            for rank, (pid, _score) in enumerate(ranked):
                scores.setdefault(str(pid), float(len(ranked) - rank))
            run[qid] = scores
        per_query = ranking_scores(self.qrels, run, self.metrics)
        return per_query, latency_summary(latencies)


class AnswerEvaluator(Evaluator[AnswerFn]):
    """Answer F1 / EM, citations, groundedness and abstention accuracy per question.

    Unanswerable questions (no gold answers) score 1 on F1, EM and abstention accuracy
    when the system abstains and 0 otherwise (the SQuAD 2.0 convention).
    """

    name = "answers"
    primary_metric = "answer_f1"
    greater_is_better = True

    def __init__(self, examples: Sequence[QAExample]) -> None:
        ids = [e.id for e in examples]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})
            raise ValidationError(f"question ids must be unique; repeated: {dup[:5]}")
        self.examples = sorted(examples, key=lambda e: e.id)

    @property
    def query_ids(self) -> list[str]:
        return [e.id for e in self.examples]

    def _evaluate(self, system: AnswerFn) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        names = (
            "answer_f1",
            "exact_match",
            "citation_precision",
            "citation_recall",
            "groundedness",
            "abstention_accuracy",
        )
        out: dict[str, dict[str, float]] = {n: {} for n in names}
        latencies = []
        for ex in self.examples:
            start = time.perf_counter()
            rec = system(ex)
            if not isinstance(rec, AnswerRecord):
                raise ValidationError(f"the answer function must return AnswerRecord, got {rec!r}")
            latencies.append(rec.latency_ms or (time.perf_counter() - start) * 1000)
            if ex.answerable:
                f1 = 0.0 if rec.abstained else token_f1(rec.text, ex.answers)
                em = 0.0 if rec.abstained else exact_match(rec.text, ex.answers)
                prec, rec_ = citation_precision_recall(rec.cited_ids, ex.gold_pids)
                if rec.abstained:
                    prec, rec_ = 0.0, 0.0
                abst = 0.0 if rec.abstained else 1.0
            else:
                f1 = em = abst = 1.0 if rec.abstained else 0.0
                prec = 1.0 if not rec.cited_ids else 0.0
                rec_ = 1.0
            ground = 1.0 if rec.abstained else groundedness(rec.text, rec.evidence)
            for n, v in zip(names, (f1, em, prec, rec_, ground, abst), strict=True):
                out[n][ex.id] = float(v)
        return out, latency_summary(latencies)


def rag_search(
    rag: RAG, collection: str, *, mode: str = "dense", chunks_per_passage: int = 3, **kw: Any
) -> SearchFn:
    """A search function over a collection, ranking passages by their best chunk.

    Passages were ingested with their id as ``source_id``; a long passage is split into
    several chunks, so ``k * chunks_per_passage`` chunks are retrieved and folded.
    """

    def search(query: str, k: int) -> list[tuple[str, float]]:
        hits = rag.retrieve(query, collection, k * chunks_per_passage, mode=mode, **kw)
        out: dict[str, float] = {}
        for h in hits:
            if h.source not in out:
                out[h.source] = float(h.score)
        return list(out.items())[:k]

    return search


def rag_answerer(rag: RAG, collection: str, *, mode: str | None = None, **kw: Any) -> AnswerFn:
    """An answer function calling :meth:`RAG.ask` on a collection."""

    def answer(ex: QAExample) -> AnswerRecord:
        start = time.perf_counter()
        ans = rag.ask(ex.question, collection, mode=mode, **kw)
        cited = tuple(dict.fromkeys(c.source for c in ans.citations))
        evidence = tuple(c.text for c in ans.citations) or tuple(h.text for h in ans.hits[:3])
        return AnswerRecord(
            ans.text, ans.abstained, cited, evidence, (time.perf_counter() - start) * 1000
        )

    return answer
