"""The vector index extension point."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from rsi_rag.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VectorIndex"]


class VectorIndex(abc.ABC):
    """Inner-product search over L2-normalised vectors, keyed by 64-bit chunk ids.

    Public methods validate shapes and types; subclasses implement the protected ones.
    """

    def __init__(self, dim: int) -> None:
        if dim <= 0:
            raise ValidationError(f"index dimension must be positive, got {dim}")
        self.dim = dim

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (shape ``(n, dim)``) under ``ids`` (shape ``(n,)``)."""
        import numpy as np

        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValidationError(
                f"vectors must have shape (n, {self.dim}), got {tuple(vectors.shape)}"
            )
        if ids.shape != (vectors.shape[0],):
            raise ValidationError(f"got {ids.shape[0]} ids for {vectors.shape[0]} vectors")
        if len(ids):
            self._add(ids, vectors)

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids``; unknown ids are ignored. Returns how many were removed."""
        import numpy as np

        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return self._remove(ids) if len(ids) else 0

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` by inner product for each query row.

        Args:
            query: Shape ``(dim,)`` or ``(q, dim)``.
            k: Results per query.
            allowed: If given, only these ids can be returned (filtering happens inside
                the search, so a filtered-out id can never appear).

        Returns:
            ``(scores, ids)`` each of shape ``(q, k)``; missing results have id ``-1``.
        """
        import numpy as np

        query = np.ascontiguousarray(query, dtype=np.float32)
        if query.ndim == 1:
            query = query[None, :]
        if query.ndim != 2 or query.shape[1] != self.dim:
            raise ValidationError(f"query must have {self.dim} columns, got {tuple(query.shape)}")
        if k <= 0:
            raise ValidationError(f"k must be positive, got {k}")
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return (
                    np.full((query.shape[0], k), -np.inf, dtype=np.float32),
                    np.full((query.shape[0], k), -1, dtype=np.int64),
                )
        return self._search(query, k, allowed)

    @abc.abstractmethod
    def ids(self) -> np.ndarray:
        """Every id in the index."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def _add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _remove(self, ids: np.ndarray) -> int: ...

    @abc.abstractmethod
    def _search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def save(self) -> None:  # noqa: B027 - in-memory backends have nothing to persist
        """Persist to disk atomically, where the backend has a file."""
