"""The embedder extension point."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rsi_rag.errors import ValidationError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Embedder"]


class Embedder(abc.ABC):
    """Turns texts into L2-normalised float32 vectors.

    Subclasses implement :meth:`_encode`, :meth:`_count_tokens` and the ``dim`` and
    ``version`` properties; the public methods validate input.
    """

    @property
    @abc.abstractmethod
    def dim(self) -> int:
        """Vector dimension."""

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """A stable identifier of the weights (recorded with every index and answer)."""

    @property
    def max_tokens(self) -> int:
        """Longest input in tokens before truncation."""
        return 512

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Embed ``texts``; returns an array of shape ``(len(texts), dim)``, rows of norm 1."""
        if isinstance(texts, str):
            raise ValidationError("encode takes a list of strings, not one string")
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise ValidationError(
                f"encode takes strings; item {bad[0]} is {type(texts[bad[0]]).__name__}"
            )
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self._encode(list(texts), batch_size=batch_size, show_progress=show_progress)
        return np.ascontiguousarray(out, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query; returns shape ``(dim,)``."""
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"query must be a non-empty string, got {text!r}")
        vector: np.ndarray = self.encode([text])[0]
        return vector

    def count_tokens(self, text: str) -> int:
        """Number of tokens the model sees for ``text`` (before truncation)."""
        return self._count_tokens(text)

    def tokenize(self, text: str) -> list[str]:
        """Token strings, used by the chunker to size chunks in the model's own units."""
        return self._tokenize(text)

    @abc.abstractmethod
    def _encode(self, texts: list[str], *, batch_size: int, show_progress: bool) -> np.ndarray:
        """Embed a non-empty list of strings."""

    def _count_tokens(self, text: str) -> int:
        return len(self._tokenize(text))

    @abc.abstractmethod
    def _tokenize(self, text: str) -> list[str]:
        """Split into the model's tokens."""
