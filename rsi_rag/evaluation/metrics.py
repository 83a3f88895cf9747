"""Per-query metrics: ranking (through ranx), answers (SQuAD-style), citations, grounding.

Ranking metrics are delegated to ranx so that nDCG, recall and MRR follow the TREC
definitions used by BEIR. Answer metrics follow the SQuAD evaluation script: answers are
lower-cased, stripped of punctuation and articles, then compared token by token.
"""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence

from rsi_rag.errors import ValidationError

__all__ = [
    "IR_METRICS",
    "citation_precision_recall",
    "exact_match",
    "groundedness",
    "latency_summary",
    "normalize_answer",
    "ranking_scores",
    "token_f1",
]

#: Metric names understood by :func:`ranking_scores` (any ``@k`` cutoff is accepted).
IR_METRICS = ("ndcg", "recall", "mrr", "precision", "map", "hit_rate")

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation)
# Words too common to count as evidence that an answer is supported by a chunk.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "with",
        "as",
        "by",
        "at",
        "from",
        "which",
        "who",
        "what",
        "when",
        "where",
        "how",
        "why",
        "not",
        "no",
        "yes",
        "can",
        "could",
        "may",
        "might",
        "will",
        "would",
    ]
)


def _check_metric(name: str) -> str:
    base = name.split("@", 1)[0]
    if base not in IR_METRICS:
        raise ValidationError(
            f"unknown ranking metric {name!r}; use one of {IR_METRICS} with an optional @k"
        )
    if "@" in name and not name.split("@", 1)[1].isdigit():
        raise ValidationError(f"ranking metric {name!r} needs an integer cutoff, e.g. ndcg@10")
    return name


def ranking_scores(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = ("ndcg@10", "recall@10", "mrr@10"),
) -> dict[str, dict[str, float]]:
    """Per-query ranking metrics.

    Args:
        qrels: ``query id -> doc id -> relevance`` (relevance > 0 means relevant).
        run: ``query id -> doc id -> score`` (higher ranks first). Queries missing from
            the run, or with no results, score 0.
        metrics: ranx metric names such as ``ndcg@10``, ``recall@100``, ``mrr@10``.

    Returns:
        ``metric -> query id -> score`` for every query of ``qrels`` that has a relevant doc.
    """
    metrics = [_check_metric(m) for m in metrics]
    judged = {
        str(q): {str(d): int(r) for d, r in docs.items() if int(r) > 0} for q, docs in qrels.items()
    }
    judged = {q: d for q, d in judged.items() if d}
    if not judged:
        raise ValidationError("qrels hold no relevant (score > 0) pairs to evaluate against")
    out: dict[str, dict[str, float]] = {m: dict.fromkeys(judged, 0.0) for m in metrics}
    ranked = {q: {str(d): float(s) for d, s in run[q].items()} for q in judged if run.get(q)}
    if not ranked:
        return out
    import warnings

    from ranx import Qrels, Run, evaluate

    q_obj = Qrels({q: judged[q] for q in ranked})
    r_obj = Run(ranked)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's cast warnings are noise here
        values = evaluate(q_obj, r_obj, list(metrics), return_mean=False, make_comparable=True)
    if len(metrics) == 1:
        values = {metrics[0]: values}
    order = list(q_obj.keys())
    for m in metrics:
        for q, v in zip(order, values[m], strict=True):
            out[m][q] = float(v)
    return out


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _best(prediction: str, answers: Iterable[str], fn: Callable[[str, str], float]) -> float:
    answers = [a for a in answers if isinstance(a, str)]
    if not answers:
        raise ValidationError("gold answers must hold at least one string")
    return float(max(fn(prediction, a) for a in answers))


def _f1(prediction: str, answer: str) -> float:
    pred = normalize_answer(prediction).split()
    gold = normalize_answer(answer).split()
    if not pred or not gold:
        return float(pred == gold)
    common = collections.Counter(pred) & collections.Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """SQuAD token F1 of ``prediction`` against the best-matching gold answer."""
    return _best(prediction, answers, _f1)


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    return _best(
        prediction, answers, lambda p, a: float(normalize_answer(p) == normalize_answer(a))
    )


def citation_precision_recall(cited: Iterable[str], gold: Iterable[str]) -> tuple[float, float]:
    """Precision and recall of cited ids against gold ids.

    No citations give precision 0 (nothing correct was cited); no gold ids give recall 1.
    """
    cited_set, gold_set = set(cited), set(gold)
    hits = len(cited_set & gold_set)
    precision = hits / len(cited_set) if cited_set else 0.0
    recall = hits / len(gold_set) if gold_set else 1.0
    return precision, recall


def _content_tokens(text: str) -> list[str]:
    return [t for t in normalize_answer(text).split() if t not in _STOPWORDS]


def groundedness(answer: str, evidence: Sequence[str]) -> float:
    """Share of the answer's content words found in the evidence texts.

    A lexical support score: 1.0 means every non-stopword of the answer occurs in the cited
    (or given) chunks; an answer with no content words counts as grounded.
    """
    words = _content_tokens(answer)
    if not words:
        return 1.0
    vocab = set()
    for text in evidence:
        vocab.update(normalize_answer(text).split())
    return sum(w in vocab for w in words) / len(words)


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    """Mean, median and 95th percentile latency in milliseconds."""
    values = sorted(float(v) for v in latencies_ms)
    if not values:
        return {}
    p95 = values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    return {
        "latency_mean_ms": math.fsum(values) / len(values),
        "latency_p50_ms": median,
        "latency_p95_ms": p95,
    }
