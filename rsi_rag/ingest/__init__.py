"""Documents to chunks: file readers, the chunker and the ingestion pipeline."""

from __future__ import annotations

from rsi_rag.ingest.chunker import Chunker
from rsi_rag.ingest.pipeline import Ingestor, content_hash, iter_files, load_files
from rsi_rag.ingest.readers import read_bytes, read_file, register_reader, registered_suffixes

__all__ = [
    "Chunker",
    "Ingestor",
    "content_hash",
    "iter_files",
    "load_files",
    "read_bytes",
    "read_file",
    "register_reader",
    "registered_suffixes",
]
