"""The generator extension point."""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence

from rsi_rag.errors import ValidationError

__all__ = ["Generator", "Message"]

Message = dict[str, str]


def _check(messages: Sequence[Message], max_new_tokens: int) -> None:
    if not messages:
        raise ValidationError("messages must not be empty")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant"):
            raise ValidationError(
                f"message {i} must be a dict with role system, user or assistant; got {m!r}"
            )
        if not isinstance(m.get("content"), str):
            raise ValidationError(f"message {i} content must be a string")
    if not isinstance(max_new_tokens, int) or max_new_tokens <= 0:
        raise ValidationError(f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")


class Generator(abc.ABC):
    """A chat model. Subclasses implement :meth:`_stream` and token counting."""

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """Identifier of the base weights plus adapter, recorded with every answer."""

    @property
    def context_window(self) -> int:
        return 2048

    def generate(self, messages: Sequence[Message], max_new_tokens: int = 128) -> str:
        """The whole reply as one string."""
        return "".join(self.stream(messages, max_new_tokens))

    def stream(self, messages: Sequence[Message], max_new_tokens: int = 128) -> Iterator[str]:
        """The reply as text pieces, as they are produced."""
        _check(messages, max_new_tokens)
        return self._stream(list(messages), max_new_tokens)

    @abc.abstractmethod
    def _stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]: ...

    @abc.abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` in the model's tokenizer."""
