from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from evals.answerability import abstain_on_answerable, auc
from evals.bench_generator_loop import abstention_contexts


def test_auc_is_one_for_a_perfect_separation_a_half_for_none_and_zero_reversed() -> None:
    high, low = np.array([0.8, 0.9, 0.7]), np.array([0.1, 0.2, 0.3])
    assert auc(high, low) == pytest.approx(1.0)
    assert auc(low, high) == pytest.approx(0.0)
    same = np.array([0.5, 0.5])
    assert auc(same, same) == pytest.approx(0.5)


def test_abstain_on_answerable_counts_answerable_contexts_under_the_80pct_threshold() -> None:
    unanswerable = np.arange(10, dtype=float)  # the 80% quantile is 7.2
    answerable = np.array([1.0, 5.0, 7.0, 8.0, 9.0])
    assert abstain_on_answerable(answerable, unanswerable, 0.8) == pytest.approx(3 / 5)


class _Retriever:
    def __init__(self, sources: list[str], texts: dict[str, str]) -> None:
        self.sources, self.texts = sources, texts

    def retrieve(self, question: str, collection: str, k: int) -> list[Any]:
        return [SimpleNamespace(source=s, text=self.texts.get(s, "")) for s in self.sources[:k]]


def test_contexts_pair_the_answerable_top_3_with_three_passages_that_lack_the_answer() -> None:
    texts = {"g": "the answer is ACE2", "p2": "mentions ace2 too", "p3": "x", "p4": "y"}
    rag = _Retriever(["p3", "g", "p2", "p4", "p5"], texts)
    q = {"question": "receptor?", "gold_pids": ["g"], "answers": ["ACE2"]}
    (a_label, answerable), (u_label, unanswerable) = abstention_contexts(rag, q)
    assert (a_label, [h.source for h in answerable]) == (1, ["p3", "g", "p2"])
    # The gold passage and p2, which holds the answer string, are left out.
    assert (u_label, [h.source for h in unanswerable]) == (0, ["p3", "p4", "p5"])
    # Gold below the top 3: only the unanswerable context.
    far = _Retriever(["p3", "p4", "p5", "g"], texts)
    assert [label for label, _ in abstention_contexts(far, q)] == [0]
