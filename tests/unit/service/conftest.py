from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

SECRET = "GLOBEX-SECRET-TOKEN"


@dataclass
class Tenants:
    client: Any
    app: Any
    service: Any
    keys: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


@pytest.fixture
def service_app(tmp_path: Path) -> Iterator[Tenants]:
    """The service over fakes, with tenants acme and globex, each holding 'handbook'."""
    from rsi_rag import RAG, SourceDocument
    from rsi_rag.testing import FakeEmbedder, FakeGenerator
    from service.app import create_app
    from service.settings import ServiceSettings

    rag = RAG(tmp_path / "data", embedder=FakeEmbedder(), generator=FakeGenerator())
    settings = ServiceSettings(
        loop_jobs=False, data_dir=tmp_path / "data", max_body_bytes=200_000, feedback_per_minute=5
    )
    app = create_app(settings, rag=rag)
    rag.ingest_documents(
        [SourceDocument("gate.md", "The gate promotes a challenger only when it wins.")],
        "handbook",
        tenant="acme",
    )
    rag.ingest_documents(
        [SourceDocument("plan.md", f"The gate plan of globex is {SECRET} and it wins.")],
        "handbook",
        tenant="globex",
    )
    rag.ingest_documents(
        [SourceDocument("secret.md", f"Only globex may read {SECRET} about the gate.")],
        "secret",
        tenant="globex",
    )
    service = app.state.service
    keys = {}
    for who, tenant, role in [
        ("acme-read", "acme", "read"),
        ("acme-write", "acme", "write"),
        ("acme-admin", "acme", "admin"),
        ("globex-admin", "globex", "admin"),
        ("root", "ops", "root"),
    ]:
        keys[who] = service.keys.create(tenant, role)[1]
    with TestClient(app) as client:
        yield Tenants(client, app, service, keys)
    rag.close()


@contextmanager
def job_kind(name: str, handler: Any | None) -> Iterator[None]:
    """Replace the process-wide job kind ``name`` (``None``: unregistered) for a test."""
    from rsi_rag.jobs import job_handler, register_job_kind, unregister_job_kind

    before = job_handler(name)
    unregister_job_kind(name)
    if handler is not None:
        register_job_kind(name, handler)
    try:
        yield
    finally:
        unregister_job_kind(name)
        if before is not None:
            register_job_kind(name, before)
