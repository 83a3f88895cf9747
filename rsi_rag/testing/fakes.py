"""Small deterministic fakes for fast tests: no model weights, no torch."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from rsi_rag.embed.base import Embedder
from rsi_rag.generate.base import Generator, Message
from rsi_rag.generate.prompts import ABSTAIN_TEXT

if TYPE_CHECKING:
    import numpy as np

__all__ = ["FakeEmbedder", "FakeGenerator"]

_TOKEN = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder(Embedder):
    """Feature-hashed bag of lower-cased words: texts sharing words are similar."""

    def __init__(self, dim: int = 64, version: str = "fake-embedder-v1") -> None:
        self._dim = dim
        self._version = version
        self.calls = 0

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def version(self) -> str:
        return self._version

    def _encode(self, texts: list[str], *, batch_size: int, show_progress: bool) -> np.ndarray:
        import numpy as np

        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self._dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = float(np.linalg.norm(out[row]))
            if norm == 0:
                out[row, 0] = 1.0
            else:
                out[row] /= norm
        return out

    def _tokenize(self, text: str) -> list[str]:
        return _TOKEN.findall(text)


class FakeGenerator(Generator):
    """Answers with the first sentence of context passage [1], cited; abstains without one."""

    def __init__(self, version: str = "fake-generator-v1") -> None:
        self._version = version

    @property
    def version(self) -> str:
        return self._version

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        user = messages[-1]["content"]
        m = re.search(r"^\[1\] (.+?)(?:[.!?](?:\s|$)|\n|$)", user, flags=re.M)
        text = f"{m.group(1).strip()} [1]." if m else ABSTAIN_TEXT
        words = text.split(" ")[:max_new_tokens]
        for i, w in enumerate(words):
            yield w if i == 0 else " " + w
