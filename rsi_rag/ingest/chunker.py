"""Chunking with llama-index's sentence splitter, sized in the embedder's tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Chunker"]


class Chunker:
    """Splits text into overlapping chunks along sentence boundaries.

    Args:
        chunk_size: Maximum chunk length in tokens of ``tokenize``.
        chunk_overlap: Tokens shared by consecutive chunks.
        tokenize: The embedder's tokenizer, so a chunk fits the embedder's window.
    """

    def __init__(
        self, chunk_size: int, chunk_overlap: int, tokenize: Callable[[str], list[Any]]
    ) -> None:
        from llama_index.core.node_parser import SentenceSplitter

        self._chunk_size = chunk_size
        self._tokenize = tokenize
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, tokenizer=tokenize
        )

    def split(self, text: str) -> list[str]:
        """Chunks of ``text``; a text that fits in one chunk is returned whole."""
        if len(self._tokenize(text)) <= self._chunk_size:
            return [text.strip()] if text.strip() else []
        return [c for c in self._splitter.split_text(text) if c.strip()]
