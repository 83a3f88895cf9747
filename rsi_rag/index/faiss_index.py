"""FAISS flat inner-product index with an id map, persisted atomically."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsi_rag.errors import IndexCorruptError
from rsi_rag.index.base import VectorIndex

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FaissIndex", "gpu_available"]


def _faiss() -> Any:
    import faiss

    return faiss


def gpu_available() -> bool:
    """True when faiss-gpu is installed and a GPU is visible."""
    faiss = _faiss()
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class FaissIndex(VectorIndex):
    """``IndexIDMap2(IndexFlatIP)``: exact search, removable ids.

    Uses a GPU copy for unfiltered searches when faiss-gpu and a GPU are present; the
    CPU index stays the copy that is written to disk.

    Args:
        dim: Vector dimension.
        path: File to persist to; ``None`` keeps it in memory only.
    """

    def __init__(self, dim: int, path: Path | None = None) -> None:
        super().__init__(dim)
        faiss = _faiss()
        self.path = Path(path) if path else None
        self._lock = threading.RLock()
        self._gpu: Any = None
        self._gpu_res: Any = None
        self._use_gpu = gpu_available()
        if self.path is not None and self.path.exists():
            try:
                index = faiss.read_index(str(self.path))
            except Exception as exc:
                raise IndexCorruptError(
                    f"cannot read index file {self.path}: {exc}; delete it and it will be "
                    "rebuilt from the catalog"
                ) from exc
            if index.d != dim:
                raise IndexCorruptError(
                    f"index file {self.path} has dimension {index.d}, expected {dim}; it was "
                    "built with another embedder: delete it to rebuild"
                )
            self._index = faiss.IndexIDMap2(index) if not hasattr(index, "id_map") else index
        else:
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> np.ndarray:
        faiss = _faiss()
        with self._lock:
            ids: np.ndarray = faiss.vector_to_array(self._index.id_map).astype("int64")
            return ids

    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        with self._lock:
            self._index.add_with_ids(vectors, ids)
            self._gpu = None

    def _remove(self, ids: np.ndarray) -> int:
        faiss = _faiss()
        with self._lock:
            n = int(self._index.remove_ids(faiss.IDSelectorBatch(ids)))
            self._gpu = None
            return n

    def _search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()
        with self._lock:
            if allowed is not None:
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed))
                scores, ids = self._index.search(query, k, params=params)
            elif self._use_gpu:
                scores, ids = self._gpu_index().search(query, k)
            else:
                scores, ids = self._index.search(query, k)
        return scores, ids

    def _gpu_index(self) -> Any:
        faiss = _faiss()
        if self._gpu is None:
            if self._gpu_res is None:
                self._gpu_res = faiss.StandardGpuResources()
            self._gpu = faiss.index_cpu_to_gpu(self._gpu_res, 0, self._index)
        return self._gpu

    def save(self) -> None:
        """Write to a temporary file, fsync, then rename over the old file."""
        if self.path is None:
            return
        faiss = _faiss()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with self._lock:
            faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
