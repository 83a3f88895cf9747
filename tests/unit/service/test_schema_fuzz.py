"""schemathesis against the OpenAPI schema: generated requests never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.service.conftest import serve_in_thread
from tests.unit.service.conftest import job_kind

_KEY: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from rsi_rag import RAG, SourceDocument
    from rsi_rag.testing import FakeEmbedder, FakeGenerator
    from service.app import create_app
    from service.settings import ServiceSettings

    data: Path = tmp_path_factory.mktemp("fuzz")
    rag = RAG(data, embedder=FakeEmbedder(), generator=FakeGenerator())
    rag.ingest_documents(
        [SourceDocument("a.md", "The gate promotes challengers.")], "kb", tenant="acme"
    )
    app = create_app(
        ServiceSettings(data_dir=data, feedback_per_minute=10_000, loop_jobs=False), rag=rag
    )
    # Keys 1-5 are decoys: generated DELETE /v1/keys/{id} calls revoke them, not the one used.
    for _ in range(5):
        app.state.service.keys.create("acme", "read")
    _KEY["admin"] = app.state.service.keys.create("acme", "admin")[1]
    url, server, thread = serve_in_thread(app)
    # Stand-ins for the learning loop's kinds: the routes run the job machinery, not 501.
    with ExitStack() as stack:
        for kind in ("improve", "promote", "rollback"):
            stack.enter_context(job_kind(kind, lambda rag, job: {"params": job.params}))
        yield schemathesis.openapi.from_url(f"{url}/schema/openapi.json")
    server.should_exit = True
    thread.join(10)
    rag.close()


def test_no_server_errors(api_schema: Any) -> None:
    # schemathesis' pytest plugin does not run under pytest 9; drive its strategies directly.
    headers = {"Authorization": f"Bearer {_KEY['admin']}"}
    failures: list[str] = []
    tried = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=headers, timeout=30)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.text[:300]}")
            elif response.status_code >= 400:
                body = response.json()
                assert body["error"]["code"] and body["error"]["message"]

        check()
        tried += 1
    assert tried >= 30
    assert failures == []
