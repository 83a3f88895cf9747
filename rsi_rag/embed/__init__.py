"""Text embedders."""

from __future__ import annotations

from rsi_rag.embed.base import Embedder
from rsi_rag.embed.sentence_transformer import SentenceTransformerEmbedder

__all__ = ["Embedder", "SentenceTransformerEmbedder"]
