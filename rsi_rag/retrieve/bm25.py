"""BM25 over a collection's chunks (bm25s), rebuilt when the collection changes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rsi_rag.retrieve.base import AccessFilter, Retriever, hits_from_ids
from rsi_rag.types import Hit

if TYPE_CHECKING:
    import numpy as np

    from rsi_rag.store.catalog import Catalog, CollectionRef

__all__ = ["BM25Retriever"]


def _stemmer() -> Any:
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:
        return None


class BM25Retriever(Retriever):
    """Lexical retrieval with ``bm25s``; access filtering masks scores before ranking."""

    name = "bm25"

    def __init__(self, catalog: Catalog, access: AccessFilter) -> None:
        self.catalog = catalog
        self.access = access
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, Any, np.ndarray]] = {}
        self._stem = _stemmer()

    def _index(self, col: CollectionRef) -> tuple[Any, np.ndarray]:
        import bm25s
        import numpy as np

        with self._lock:
            cached = self._cache.get(col.id)
            if cached is not None and cached[0] == col.revision:
                return cached[1], cached[2]
            texts = self.catalog.chunk_texts(col.id)
            ids = np.asarray(sorted(texts), dtype=np.int64)
            model = bm25s.BM25()
            if len(ids):
                tokens = bm25s.tokenize(
                    [texts[int(i)] for i in ids],
                    stopwords="en",
                    stemmer=self._stem,
                    show_progress=False,
                )
                model.index(tokens, show_progress=False)
            self._cache[col.id] = (col.revision, model, ids)
            return model, ids

    def search(
        self, col: CollectionRef, query: str, k: int, principals: Sequence[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        import bm25s
        import numpy as np

        model, ids = self._index(col)
        if not len(ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        qtok = bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stem, show_progress=False, return_ids=False
        )[0]
        scores = np.asarray(model.get_scores(qtok), dtype=np.float32)
        allowed = self.access.allowed(col, principals)
        if allowed is not None:
            mask = np.isin(ids, allowed)
            scores = np.where(mask, scores, -np.inf)
        k = min(k, len(ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        keep = np.isfinite(scores[top]) & (scores[top] > 0)
        top = top[keep]
        return ids[top], scores[top]

    def _retrieve(
        self, col: CollectionRef, query: str, k: int, principals: Sequence[str] | None
    ) -> list[Hit]:
        ids, scores = self.search(col, query, k, principals)
        return hits_from_ids(self.catalog, col, ids.tolist(), scores.tolist())
