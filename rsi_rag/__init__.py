"""rsi_rag: a self-improving RAG backend.

Importing this package is cheap: torch, transformers and FAISS load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rsi_rag._version import __version__
from rsi_rag.config import RAGConfig
from rsi_rag.errors import RsiRagError
from rsi_rag.types import (
    Answer,
    Citation,
    CollectionInfo,
    DocumentInfo,
    Hit,
    IngestFailure,
    IngestReport,
    SourceDocument,
)

if TYPE_CHECKING:
    from rsi_rag.rag import RAG, AnswerStream

__all__ = [
    "Answer",
    "AnswerStream",
    "Citation",
    "CollectionInfo",
    "DocumentInfo",
    "Hit",
    "IngestFailure",
    "IngestReport",
    "RAG",
    "RAGConfig",
    "RsiRagError",
    "SourceDocument",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The facade pulls in SQLAlchemy and the pipeline; load it on first use.
    if name in ("RAG", "AnswerStream"):
        from rsi_rag import rag

        return getattr(rag, name)
    raise AttributeError(f"module 'rsi_rag' has no attribute {name!r}")
