"""Environment configuration of the service (prefix ``RSI_RAG_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Settings read from ``RSI_RAG_*`` environment variables (or passed directly).

    Attributes:
        data_dir: The embedded data directory (catalog, indexes, models).
        catalog_url: A SQLAlchemy URL instead of the SQLite file in ``data_dir``.
        host: Interface to bind; the default serves this machine only.
        port: TCP port.
        max_body_bytes: Larger request bodies are refused with 413.
        max_query_chars: Longer queries are refused with 400.
        max_k: The largest ``k`` a retrieval may ask for.
        feedback_per_minute: Feedback requests allowed per API key and minute.
        loop_jobs: Register the learning loop's job kinds (``improve``, ``promote``,
            ``rollback``).
        auto_improve_s: Every this many seconds, queue an improvement cycle for each
            collection where enough new data has accumulated (thresholds in the loop
            config); 0 turns automatic cycles off.
        demo: Ingest ``demo_docs`` into collection ``demo`` at start and write a demo key.
        demo_docs: Folder of the demo corpus.
    """

    model_config = SettingsConfigDict(env_prefix="RSI_RAG_", extra="ignore")

    data_dir: Path = Path("rsi_rag_data")
    catalog_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_query_chars: int = Field(default=4000, gt=0)
    max_k: int = Field(default=100, gt=0)
    feedback_per_minute: int = Field(default=60, gt=0)
    loop_jobs: bool = True
    auto_improve_s: float = Field(default=0, ge=0)
    demo: bool = False
    demo_docs: Path = Path("docs")
