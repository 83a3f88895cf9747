from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rsi_rag.errors import IndexCorruptError, ValidationError
from rsi_rag.index import FaissIndex


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    v = rng.normal(size=(n, d)).astype("float32")
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_add_search_remove_and_filter(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vecs = _unit(rng, 50, 16)
    ids = np.arange(100, 150)
    index = FaissIndex(16, tmp_path / "i.faiss")
    index.add(ids, vecs)
    scores, found = index.search(vecs[7], 3)
    assert found[0][0] == 107 and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    assert index.remove(np.array([107, 999])) == 1
    _, found = index.search(vecs[7], 3)
    assert 107 not in found[0]
    allowed = np.array([120, 121])
    _, found = index.search(vecs[7], 5, allowed)
    assert set(found[0][found[0] >= 0]) <= {120, 121}
    _, found = index.search(vecs[7], 5, np.array([], dtype=np.int64))
    assert (found == -1).all()


def test_persistence_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    path = tmp_path / "i.faiss"
    index = FaissIndex(8, path)
    index.add(np.array([1, 2, 3]), _unit(rng, 3, 8))
    index.save()
    assert sorted(FaissIndex(8, path).ids().tolist()) == [1, 2, 3]
    with pytest.raises(IndexCorruptError, match="dimension 8, expected 4"):
        FaissIndex(4, path)
    path.write_bytes(b"garbage")
    with pytest.raises(IndexCorruptError, match="delete it"):
        FaissIndex(8, path)
    with pytest.raises(ValidationError, match=r"shape \(n, 8\)"):
        FaissIndex(8).add(np.array([1]), np.zeros((1, 3), dtype="float32"))
    with pytest.raises(ValidationError, match="2 ids for 1 vectors"):
        FaissIndex(8).add(np.array([1, 2]), np.zeros((1, 8), dtype="float32"))
