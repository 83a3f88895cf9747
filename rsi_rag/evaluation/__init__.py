"""Metrics, evaluators, collapse guards and frozen evaluation data.

The evaluator contract
    Every evaluator declares ``primary_metric`` and ``greater_is_better`` and returns an
    :class:`EvaluationResult` with one score per query for every metric, so that two
    models scored on the same queries are compared *paired*::

        from rsi_rag.evaluation import RetrievalEvaluator, AnswerEvaluator, rag_search

        ev = RetrievalEvaluator(queries, qrels)              # primary metric: ndcg@10
        champ = ev.evaluate(rag_search(rag, "docs"), model_version="minilm")
        chal = ev.evaluate(my_search_fn, model_version="minilm-ft1")  # (query, k) -> [(pid, score)]
        champ.mean(), champ.scores("recall@10"), champ.to_dict()

        answers = AnswerEvaluator(qa_examples)                # primary metric: answer_f1
        res = answers.evaluate(rag_answerer(rag, "docs"))     # or any QAExample -> AnswerRecord
        # metrics: answer_f1, exact_match, citation_precision, citation_recall,
        #          groundedness, abstention_accuracy; aggregates: latency_*_ms, seconds

Collapse guards (each returns one float; directions and tolerance kinds in ``GUARDS``)::

    from rsi_rag.evaluation import guards
    guards.heldout_perplexity(model, tokenizer, heldout_texts)   # lower is better
    guards.distinct_n(generated_texts, n=2)                       # higher is better
    guards.self_bleu(generated_texts)                             # lower is better
    guards.effective_rank(embeddings)                             # RankMe, higher is better
    guards.mean_pairwise_cosine(embeddings)                       # lower is better
    guards.synthetic_share(["synthetic", "user", "gold", ...])    # capped by a ceiling
    guards.generation_guards(texts)  # {"distinct_1", "distinct_2", "self_bleu"} in one call
    guards.embedding_guards(embs)    # {"effective_rank", "mean_pairwise_cosine"}

The gate (``rsi_rag.loop.gate``) takes two results and the guard values::

    from rsi_rag.loop.gate import Gate, GatePolicy
    decision = Gate(GatePolicy()).decide(
        "generator", champion_result, challenger_result,
        challenger_guards={"heldout_perplexity": 31.0, "distinct_2": 0.41},
        reference_guards={"heldout_perplexity": 27.5, "distinct_2": 0.55},
    )
    Gate().record(rag.registry, "adapter-3", decision)   # stored with the model version

Frozen evaluation data: examples loaded for evaluation carry ``frozen=True`` and their
texts are registered per collection in the catalog; the training side calls
``assert_trainable(examples, catalog=...)`` which raises ``FrozenDataError`` on any of
them. ``split_by_document`` splits examples so no source document is on two sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rsi_rag.evaluation import guards
from rsi_rag.evaluation.base import EvaluationResult, Evaluator
from rsi_rag.evaluation.evaluators import (
    AnswerEvaluator,
    RetrievalEvaluator,
    rag_answerer,
    rag_search,
)
from rsi_rag.evaluation.guards import GUARDS, GuardSpec
from rsi_rag.evaluation.metrics import (
    citation_precision_recall,
    exact_match,
    groundedness,
    ranking_scores,
    token_f1,
)
from rsi_rag.evaluation.splits import split_by_document
from rsi_rag.evaluation.types import AnswerRecord, CorpusEntry, QAExample, RetrievalSet

if TYPE_CHECKING:
    from rsi_rag.evaluation.frozen import FrozenSets, assert_trainable, fingerprint

__all__ = [
    "GUARDS",
    "AnswerEvaluator",
    "AnswerRecord",
    "CorpusEntry",
    "EvaluationResult",
    "Evaluator",
    "FrozenSets",
    "GuardSpec",
    "QAExample",
    "RetrievalEvaluator",
    "RetrievalSet",
    "assert_trainable",
    "citation_precision_recall",
    "exact_match",
    "fingerprint",
    "groundedness",
    "guards",
    "rag_answerer",
    "rag_search",
    "ranking_scores",
    "split_by_document",
    "token_f1",
]


def __getattr__(name: str) -> Any:
    # The frozen-set store needs SQLAlchemy; load it on first use.
    if name in ("FrozenSets", "assert_trainable", "fingerprint"):
        from rsi_rag.evaluation import frozen

        return getattr(frozen, name)
    raise AttributeError(f"module 'rsi_rag.evaluation' has no attribute {name!r}")
