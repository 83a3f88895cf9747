"""Vector indexes: the ABC, the FAISS backend and the per-collection manager."""

from __future__ import annotations

from rsi_rag.index.base import VectorIndex
from rsi_rag.index.faiss_index import FaissIndex, gpu_available
from rsi_rag.index.manager import IndexManager

__all__ = ["FaissIndex", "IndexManager", "VectorIndex", "gpu_available"]
