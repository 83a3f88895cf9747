"""Per-collection indexes on disk, kept consistent with the catalog.

The catalog is the source of truth. Whenever an index is opened it is reconciled with the
catalog: ids the catalog no longer has are removed, chunks the index lacks are embedded
and added. That repairs any state a killed process can leave behind.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rsi_rag.index.faiss_index import FaissIndex

if TYPE_CHECKING:
    from rsi_rag.embed.base import Embedder
    from rsi_rag.store.catalog import Catalog, CollectionRef

__all__ = ["IndexManager", "ReconcileReport"]


class ReconcileReport:
    def __init__(self, added: int, removed: int) -> None:
        self.added = added
        self.removed = removed

    def __repr__(self) -> str:
        return f"ReconcileReport(added={self.added}, removed={self.removed})"


class IndexManager:
    """Opens, reconciles and caches one FAISS index per (collection, retriever version).

    Args:
        root: Folder holding ``<collection id>/<retriever version>/index.faiss``.
        catalog: The catalog the indexes are reconciled against.
    """

    def __init__(self, root: Path, catalog: Catalog) -> None:
        self.root = Path(root)
        self.catalog = catalog
        self._lock = threading.Lock()
        self._locks: dict[tuple[int, str], threading.RLock] = {}
        self._open: dict[tuple[int, str], tuple[FaissIndex, int]] = {}
        self.last_reconcile: ReconcileReport | None = None

    def path(self, collection_id: int, version: str) -> Path:
        return self.root / str(collection_id) / version / "index.faiss"

    def lock(self, collection_id: int, version: str) -> threading.RLock:
        with self._lock:
            return self._locks.setdefault((collection_id, version), threading.RLock())

    def get(self, col: CollectionRef, version: str, embedder: Embedder) -> FaissIndex:
        """The index of ``col`` for retriever ``version``, current with the catalog."""
        key = (col.id, version)
        cached = self._open.get(key)
        if cached is not None and cached[1] == col.revision:
            return cached[0]
        with self.lock(col.id, version):
            cached = self._open.get(key)
            if cached is not None and cached[1] == col.revision:
                return cached[0]
            index = FaissIndex(embedder.dim, self.path(col.id, version))
            self.last_reconcile = self.reconcile(col, index, embedder)
            self._open[key] = (index, col.revision)
            return index

    def mark_current(self, col_id: int, version: str, index: FaissIndex, revision: int) -> None:
        """Record that ``index`` reflects catalog ``revision`` (after an in-process write)."""
        self._open[(col_id, version)] = (index, revision)

    def reconcile(
        self, col: CollectionRef, index: FaissIndex, embedder: Embedder
    ) -> ReconcileReport:
        import numpy as np

        in_catalog = np.asarray(self.catalog.chunk_ids(col.id), dtype=np.int64)
        in_index = index.ids()
        extra = np.setdiff1d(in_index, in_catalog, assume_unique=False)
        missing = np.setdiff1d(in_catalog, in_index, assume_unique=False)
        removed = index.remove(extra) if len(extra) else 0
        if len(missing):
            texts = self.catalog.chunk_texts(col.id, missing.tolist())
            ids = np.asarray(sorted(texts), dtype=np.int64)
            vectors = embedder.encode([texts[int(i)] for i in ids])
            index.add(ids, vectors)
        if removed or len(missing):
            index.save()
        return ReconcileReport(len(missing), int(removed))

    def drop(self, collection_id: int, version: str) -> None:
        """Forget and delete an index version (used when a candidate is discarded)."""
        with self.lock(collection_id, version):
            self._open.pop((collection_id, version), None)
            shutil.rmtree(self.path(collection_id, version).parent, ignore_errors=True)
