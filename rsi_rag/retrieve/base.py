"""The retriever extension point and access filtering."""

from __future__ import annotations

import abc
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rsi_rag.errors import ValidationError
from rsi_rag.types import Hit

if TYPE_CHECKING:
    import numpy as np

    from rsi_rag.store.catalog import Catalog, CollectionRef

__all__ = ["AccessFilter", "Retriever", "hits_from_ids"]

MAX_K = 1000
MAX_QUERY_CHARS = 8192


class AccessFilter:
    """Which chunk ids a reader with given principals may see, per collection revision.

    ``principals=None`` means an unrestricted reader (the collection's owner). A chunk with
    an empty ACL is readable by every reader of the tenant; otherwise the reader needs one
    of its principals.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[int, np.ndarray, list[tuple[int, frozenset[str]]]]] = {}

    def allowed(self, col: CollectionRef, principals: Sequence[str] | None) -> np.ndarray | None:
        """Allowed ids, or ``None`` when nothing needs filtering."""
        import numpy as np

        with self._lock:
            cached = self._cache.get(col.id)
            if cached is None or cached[0] != col.revision:
                rows = self.catalog.chunk_acls(col.id)
                public = np.asarray([i for i, acl in rows if not acl], dtype=np.int64)
                restricted = [(i, frozenset(acl)) for i, acl in rows if acl]
                cached = (col.revision, public, restricted)
                self._cache[col.id] = cached
        _, public, restricted = cached
        if principals is None or not restricted:
            return None
        mine = frozenset(principals)
        extra = [i for i, acl in restricted if acl & mine]
        if not extra:
            return public
        return np.union1d(public, np.asarray(extra, dtype=np.int64))


def hits_from_ids(
    catalog: Catalog,
    col: CollectionRef,
    ids: Sequence[int],
    scores: Sequence[float],
    dense_scores: dict[int, float] | None = None,
) -> list[Hit]:
    """Resolve ids to hits, in the given order; ids outside the collection are dropped."""
    records = catalog.chunks(col.id, [int(i) for i in ids if int(i) >= 0])
    hits = []
    for cid, score in zip(ids, scores, strict=True):
        rec = records.get(int(cid))
        if rec is None:
            continue
        hits.append(
            Hit(
                chunk_id=rec.id,
                document_id=rec.document_id,
                source=rec.source,
                score=float(score),
                text=rec.text,
                metadata=rec.metadata,
                dense_score=(dense_scores or {}).get(rec.id),
            )
        )
    return hits


class Retriever(abc.ABC):
    """Returns the chunks of a collection most relevant to a query.

    :meth:`retrieve` validates; subclasses implement :meth:`_retrieve`.
    """

    name = "retriever"

    def retrieve(
        self,
        col: CollectionRef,
        query: str,
        k: int = 10,
        principals: Sequence[str] | None = None,
    ) -> list[Hit]:
        if not isinstance(query, str) or not query.strip():
            raise ValidationError(f"query must be a non-empty string, got {query!r}")
        if len(query) > MAX_QUERY_CHARS:
            raise ValidationError(
                f"query is {len(query)} characters, over the limit of {MAX_QUERY_CHARS}; shorten it"
            )
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise ValidationError(f"k must be an integer in [1, {MAX_K}], got {k!r}")
        if principals is not None and (
            isinstance(principals, str) or not all(isinstance(p, str) for p in principals)
        ):
            raise ValidationError(f"principals must be a list of strings, got {principals!r}")
        return self._retrieve(col, query, k, principals)

    @abc.abstractmethod
    def _retrieve(
        self, col: CollectionRef, query: str, k: int, principals: Sequence[str] | None
    ) -> list[Hit]: ...
