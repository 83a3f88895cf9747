from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from evals.distill_hybrid import Teacher, zfuse


class _Vectors:
    """Encodes a text as counts of three marker words (a stand-in for the dense model)."""

    words = ("alpha", "beta", "gamma")

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        rows = np.array(
            [[t.lower().split().count(w) + 1e-3 for w in self.words] for t in texts], float
        )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_zfuse_weighs_both_scorers_equally_whatever_their_scale() -> None:
    dense = np.array([0.9, 0.5, 0.1])
    lexical = np.array([0.0, 30.0, 15.0])
    fused = zfuse(dense, lexical)
    # Each list has mean 0 and unit spread after normalization, so the middle passage,
    # second for dense and first for BM25, wins; multiplying BM25 by 100 changes nothing.
    assert int(np.argmax(fused)) == 1
    assert np.allclose(fused, zfuse(dense, lexical * 100), atol=1e-5)
    assert fused.sum() == pytest.approx(0.0, abs=1e-5)


def test_teacher_ranks_the_union_of_both_scorers_top_hits() -> None:
    passages = [
        "alpha alpha alpha",
        "beta zeta zeta zeta",
        "gamma gamma",
        "alpha beta rare",
        "unrelated words only",
    ]
    teacher = Teacher(_Vectors(), passages, pool=2)
    order, fused = teacher.rank("alpha zeta")
    # Dense sees only "alpha": passages 0 and 3. BM25 puts passage 1 (zeta three times)
    # first. The candidates are the union, ordered by the fused score.
    assert set(order.tolist()) == {0, 1, 3}
    assert list(fused) == sorted(fused, reverse=True)
    # Restricting to a subset ranks only inside it, in subset positions.
    order, _ = teacher.rank("alpha zeta", subset=np.array([1, 2, 4]))
    assert set(order.tolist()) <= {0, 1, 2} and 0 in order.tolist()
