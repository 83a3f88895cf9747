from __future__ import annotations

import pytest

from rsi_rag.errors import ValidationError
from rsi_rag.evaluation.metrics import (
    citation_precision_recall,
    exact_match,
    groundedness,
    latency_summary,
    normalize_answer,
    ranking_scores,
    token_f1,
)


def test_squad_normalisation_and_scores() -> None:
    assert normalize_answer("The  Pacific, Ocean!") == "pacific ocean"
    assert exact_match("the Pacific Ocean.", ["Pacific Ocean"]) == 1.0
    assert exact_match("It is the Pacific", ["Pacific Ocean"]) == 0.0
    # pred tokens {it, is, pacific}, gold {pacific, ocean}: P=1/3, R=1/2
    assert token_f1("It is the Pacific", ["Pacific Ocean"]) == pytest.approx(0.4)
    assert token_f1("nothing", ["Pacific Ocean", "nothing at all"]) == pytest.approx(0.5)
    assert token_f1("", [""]) == 1.0
    with pytest.raises(ValidationError):
        token_f1("x", [])


def test_citations_and_groundedness() -> None:
    assert citation_precision_recall(["a", "b"], ["b", "c"]) == (0.5, 0.5)
    assert citation_precision_recall([], ["b"]) == (0.0, 0.0)
    assert citation_precision_recall([], []) == (0.0, 1.0)
    ev = ["Red blood cells carry oxygen using haemoglobin."]
    assert groundedness("Haemoglobin carries oxygen.", ev) == pytest.approx(2 / 3)
    assert groundedness("haemoglobin oxygen", ev) == 1.0
    assert groundedness("Bananas are yellow", ev) == 0.0


def test_latency_summary() -> None:
    s = latency_summary([10, 20, 30, 40])
    assert s["latency_p50_ms"] == 25 and s["latency_p95_ms"] == 40 and s["latency_mean_ms"] == 25
    assert latency_summary([]) == {}


def test_ranking_scores_per_query_match_trec_definitions() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d9": 1}}
    run = {"q1": {"d1": 2.0, "x": 1.0}, "q2": {"x": 3.0, "d3": 2.0}}
    s = ranking_scores(qrels, run, ["ndcg@10", "mrr@10", "recall@1"])
    assert s["mrr@10"] == {"q1": 1.0, "q2": 0.5, "q3": 0.0}
    assert s["recall@1"] == {"q1": 1.0, "q2": 0.0, "q3": 0.0}
    # one relevant of two at rank 2: (1/log2(3)) / (1 + 1/log2(3))
    assert s["ndcg@10"]["q2"] == pytest.approx(0.6309 / 1.6309, abs=1e-3)
    assert s["ndcg@10"]["q3"] == 0.0  # no results at all still counts as a query


def test_ranking_scores_rejects_unknown_metric_and_empty_qrels() -> None:
    with pytest.raises(ValidationError, match="ndgc@10"):
        ranking_scores({"q": {"d": 1}}, {}, ["ndgc@10"])
    with pytest.raises(ValidationError, match="cutoff"):
        ranking_scores({"q": {"d": 1}}, {}, ["ndcg@ten"])
    with pytest.raises(ValidationError, match="no relevant"):
        ranking_scores({"q": {"d": 0}}, {}, ["ndcg@10"])
