"""The Python SDK of the rsi_rag service.

``Client`` and ``AsyncClient`` offer the methods of :class:`rsi_rag.RAG` (``ingest``,
``retrieve``, ``ask``, ``stream``, ``feedback``, ...) with the same result types and the
same exception classes, so code moves between embedded and remote by changing one line::

    rag = RAG("rsi_rag_data")                                   # in-process
    rag = Client("http://127.0.0.1:8000", api_key="rsk_...")   # the service

Requests answered 429 or 503 are retried with exponential backoff.
"""

from __future__ import annotations

from rsi_rag.client.async_client import AsyncAnswerStream, AsyncClient
from rsi_rag.client.sync_client import Client, RemoteAnswerStream

__all__ = ["AsyncAnswerStream", "AsyncClient", "Client", "RemoteAnswerStream"]
