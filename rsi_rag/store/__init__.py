"""The catalog database (SQLAlchemy; SQLite by default, PostgreSQL for scale-out)."""

from __future__ import annotations

from rsi_rag.store.catalog import Catalog, ChunkRecord, CollectionRef, DocumentChange

__all__ = ["Catalog", "ChunkRecord", "CollectionRef", "DocumentChange"]
