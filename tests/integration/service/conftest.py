"""A live service on 127.0.0.1 over the real packaged models, started once per session."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"


@dataclass
class LiveServer:
    url: str
    rag: Any
    service: Any
    keys: dict[str, str]


def serve_in_thread(app: Any) -> tuple[str, Any, threading.Thread]:
    """Run ``app`` with uvicorn on a free port of 127.0.0.1; returns (url, server, thread)."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, real_embedder: Any, real_generator: Any
) -> Iterator[LiveServer]:
    from rsi_rag import RAG, RAGConfig, SourceDocument
    from service.app import create_app
    from service.cli import demo_files
    from service.settings import ServiceSettings

    data = tmp_path_factory.mktemp("service-data")
    rag = RAG(data, RAGConfig(max_new_tokens=24), embedder=real_embedder, generator=real_generator)
    rag.ingest(demo_files(DOCS), "demo", tenant="acme")
    rag.ingest_documents(
        [
            SourceDocument(
                "globex-plan.md",
                "Globex promotes models every Tuesday after the gate approves them.",
            )
        ],
        "demo",
        tenant="globex",
    )
    app = create_app(ServiceSettings(data_dir=data), rag=rag)
    service = app.state.service
    keys = {
        "acme": service.keys.create("acme", "write")[1],
        "acme-read": service.keys.create("acme", "read")[1],
        "globex": service.keys.create("globex", "write")[1],
    }
    url, server, thread = serve_in_thread(app)
    try:
        yield LiveServer(url, rag, service, keys)
    finally:
        server.should_exit = True
        thread.join(30)
        rag.close()
