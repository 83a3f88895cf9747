"""The improvement, promotion and rollback routes run registered job kinds."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.unit.service.conftest import Tenants, job_kind


@pytest.fixture
def improve_kind() -> Any:
    gate = threading.Event()
    seen: list[Any] = []

    def improve(rag: Any, job: Any) -> dict[str, Any]:
        gate.wait(10)
        seen.append((job.tenant, job.collection, job.params))
        return {"decision": "rejected", "chunks": len(rag.catalog.chunk_ids(job.collection_id))}

    with job_kind("improve", improve):
        yield gate, seen
        gate.set()


def test_improve_without_registered_kind_is_501(service_app: Tenants) -> None:
    t = service_app
    with job_kind("improve", None), job_kind("rollback", None):
        _check_501(t)


def _check_501(t: Tenants) -> None:
    r = t.client.post("/v1/collections/handbook/improve", json={}, headers=t.h("acme-write"))
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "not_implemented"
    assert "learning loop" in r.json()["error"]["message"]
    r = t.client.post(
        "/v1/collections/handbook/rollback", json={"kind": "retriever"}, headers=t.h("acme-admin")
    )
    assert r.status_code == 501


def test_improve_job_lifecycle(service_app: Tenants, improve_kind: Any) -> None:
    t = service_app
    gate, seen = improve_kind
    h = t.h("acme-write")
    r = t.client.post("/v1/collections/handbook/improve", json={"params": {"cycles": 2}}, headers=h)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "improve" and job["status"] in ("queued", "running")
    again = t.client.post("/v1/collections/handbook/improve", json={}, headers=h)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    gate.set()
    done = t.service.worker.wait(job["id"], 10)
    assert done.status == "succeeded"
    r = t.client.get(f"/v1/collections/handbook/improve/{job['id']}", headers=h)
    assert r.json()["status"] == "succeeded"
    assert r.json()["result"] == {"decision": "rejected", "chunks": 1}
    assert seen == [("acme", "handbook", {"cycles": 2})]
    assert t.client.get(f"/v1/jobs/{job['id']}", headers=h).json()["status"] == "succeeded"
    # a read key may watch but not start
    r = t.client.post("/v1/collections/handbook/improve", json={}, headers=t.h("acme-read"))
    assert r.status_code == 403


def test_upload_job_reports_bad_files(service_app: Tenants) -> None:
    t = service_app
    files = [
        ("files", ("good.md", b"Uploaded text about rollbacks.", "text/markdown")),
        ("files", ("bad.pdf", b"not a pdf", "application/pdf")),
        ("files", ("photo.png", b"\x89PNG", "image/png")),
    ]
    r = t.client.post(
        "/v1/collections/up/documents",
        files=files,
        data={"acl": "team-a"},
        headers=t.h("acme-write"),
    )
    assert r.status_code == 202, r.text
    done = t.service.worker.wait(r.json()["id"], 10)
    assert done.status == "succeeded", done.error
    assert done.result["added"] == ["good.md"]
    assert {f["source"] for f in done.result["failed"]} == {"bad.pdf", "photo.png"}
    docs = t.service.rag.documents("up", tenant="acme")
    assert docs[0].acl == ("team-a",)
    # the upload folder is removed once ingested
    assert not any((t.service.rag.data_dir / "uploads").iterdir())


def test_end_user_principals_filter_retrieval(service_app: Tenants) -> None:
    t = service_app
    docs = {
        "documents": [
            {"source_id": "pay.md", "text": "Salaries are reviewed in March.", "acl": ["hr"]},
            {"source_id": "all.md", "text": "Salaries are paid monthly.", "acl": []},
        ]
    }
    r = t.client.post("/v1/collections/acl/documents/text", json=docs, headers=t.h("acme-write"))
    assert t.service.worker.wait(r.json()["id"], 10).status == "succeeded"

    def sources(headers: dict[str, str], body: dict[str, object]) -> list[str]:
        resp = t.client.post(
            "/v1/collections/acl/retrieve",
            json={"query": "salaries reviewed", **body},
            headers={**t.h("acme-read"), **headers},
        )
        return sorted(h["source"] for h in resp.json()["hits"])

    assert sources({"X-RSI-Principals": "staff"}, {}) == ["all.md"]
    assert sources({"X-RSI-Principals": "staff, hr"}, {}) == ["all.md", "pay.md"]
    assert sources({}, {"principals": ["bob"]}) == ["all.md"]
    assert sources({}, {}) == ["all.md", "pay.md"]  # no end user named: the key's full view
    chat = t.client.post(
        "/v1/chat/completions",
        json={
            "model": "acl",
            "user": "bob",
            "messages": [{"role": "user", "content": "salaries reviewed"}],
        },
        headers=t.h("acme-read"),
    ).json()
    assert [h["source"] for h in chat["rsi_rag"]["hits"]] == ["all.md"]


def test_promote_route_serves_the_version_through_the_loop_job(service_app: Tenants) -> None:
    from rsi_rag.loop.jobs import PROMOTE_KIND, run_promote_job
    from rsi_rag.testing import FakeEmbedder

    t = service_app
    rag = t.service.rag
    col = rag.collection("handbook", tenant="acme")
    rag.register_embedder(FakeEmbedder(dim=32, version="fake-c"))
    rag.registry.register(
        "fake-c",
        "retriever",
        "instance:fake-c",
        collection_id=col.id,
        parent_id=col.retriever_version,
        status="rejected",
    )
    with job_kind(PROMOTE_KIND, run_promote_job):
        url = "/v1/collections/handbook/models/fake-c/promote"
        r = t.client.post(url, headers=t.h("acme-write"))
        assert r.status_code == 403  # promotion is an admin's decision
        r = t.client.post(url, headers=t.h("acme-admin"))
        assert r.status_code == 202, r.text
        done = t.service.worker.wait(r.json()["id"], 20)
    assert done.status == "succeeded", done.error
    assert done.result == {
        "kind": "retriever",
        "previous": col.retriever_version,
        "champion": "fake-c",
        "gate_decision": None,
    }
    r = t.client.get("/v1/collections/handbook/models", headers=t.h("acme-admin"))
    assert r.json()["champions"]["retriever"] == "fake-c"
    # Globex's collection of the same name is untouched.
    assert rag.collection("handbook", tenant="globex").retriever_version != "fake-c"
