"""Sources through the service: add, sync on the job worker, access control for end users
on the retrieval route, deletion after a re-sync, tenant isolation and roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[Any]:
    from litestar.testing import TestClient

    from rsi_rag import RAG
    from rsi_rag.testing import FakeEmbedder, FakeGenerator
    from service.app import create_app
    from service.settings import ServiceSettings

    rag = RAG(tmp_path / "data", embedder=FakeEmbedder(), generator=FakeGenerator())
    app = create_app(ServiceSettings(loop_jobs=False, data_dir=tmp_path / "data"), rag=rag)
    service = app.state.service
    keys = {
        who: service.keys.create(tenant, role)[1]
        for who, tenant, role in [
            ("admin", "acme", "admin"),
            ("reader", "acme", "read"),
            ("other", "globex", "admin"),
        ]
    }
    with TestClient(app) as client:
        client.service, client.keys = service, keys  # type: ignore[attr-defined]
        yield client
    rag.close()


def _h(client: Any, who: str, principals: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {client.keys[who]}"}
    if principals is not None:
        headers["X-RSI-Principals"] = principals
    return headers


def _sync(client: Any) -> dict[str, Any]:
    resp = client.post("/v1/sources/share/sync", headers=_h(client, "admin"))
    assert resp.status_code == 202, resp.text
    job = client.service.worker.wait(resp.json()["id"], timeout=60)
    assert job.status == "succeeded", job.error
    return dict(job.result)


def _retrieve(client: Any, principals: list[str]) -> set[str]:
    resp = client.post(
        "/v1/collections/kb/retrieve",
        headers=_h(client, "reader"),
        json={"query": "travel policy salary", "k": 10, "principals": principals},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    hits = body["hits"] if isinstance(body, dict) else body
    return {h["source"].rsplit("/", 1)[1] for h in hits}


def test_filesystem_sources_over_the_api_need_confined_roots(
    svc: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"name": "etc", "type": "filesystem", "collection": "kb", "options": {"root": "/etc"}}
    monkeypatch.delenv("RSI_RAG_FILESYSTEM_ROOTS", raising=False)
    resp = svc.post("/v1/sources", json=body, headers=_h(svc, "admin"))
    assert resp.status_code == 403 and "RSI_RAG_FILESYSTEM_ROOTS" in resp.text
    monkeypatch.setenv("RSI_RAG_FILESYSTEM_ROOTS", str(tmp_path / "shares"))
    resp = svc.post("/v1/sources", json=body, headers=_h(svc, "admin"))
    assert resp.status_code == 400 and "outside the folders" in resp.text
    # A link inside the allowed folder that points out of it is refused too.
    (tmp_path / "shares").mkdir()
    (tmp_path / "shares" / "escape").symlink_to("/etc")
    body["options"] = {"root": str(tmp_path / "shares" / "escape")}
    resp = svc.post("/v1/sources", json=body, headers=_h(svc, "admin"))
    assert resp.status_code == 400 and "outside the folders" in resp.text
    assert svc.get("/v1/sources", headers=_h(svc, "admin")).json()["sources"] == []


def test_sources_sync_and_acl_through_the_service(
    svc: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    share = tmp_path / "share"
    share.mkdir()
    monkeypatch.setenv("RSI_RAG_FILESYSTEM_ROOTS", str(share))
    (share / "travel.txt").write_text("The travel policy allows economy flights.")
    (share / "salary.txt").write_text("The salary policy is confidential.")
    (share / "salary.txt.acl").write_text("group:hr")
    body = {
        "name": "share",
        "type": "filesystem",
        "collection": "kb",
        "options": {"root": str(share), "acl": ["group:staff"]},
    }
    assert svc.post("/v1/sources", json=body, headers=_h(svc, "reader")).status_code == 403
    resp = svc.post("/v1/sources", json=body, headers=_h(svc, "admin"))
    assert resp.status_code == 201, resp.text
    bad = svc.post(
        "/v1/sources",
        json={**body, "name": "bad", "options": {"roots": "/x"}},
        headers=_h(svc, "admin"),
    )
    assert bad.status_code == 400 and "roots" in bad.text
    assert [
        s["name"] for s in svc.get("/v1/sources", headers=_h(svc, "reader")).json()["sources"]
    ] == ["share"]
    # Another tenant neither sees nor syncs it.
    assert svc.get("/v1/sources", headers=_h(svc, "other")).json()["sources"] == []
    assert svc.post("/v1/sources/share/sync", headers=_h(svc, "other")).status_code == 404

    report = _sync(svc)
    assert len(report["added"]) == 2
    assert _retrieve(svc, ["group:staff"]) == {"travel.txt"}
    assert _retrieve(svc, ["group:hr"]) == {"salary.txt"}
    assert _retrieve(svc, ["nobody"]) == set()

    (share / "travel.txt").unlink()
    report = _sync(svc)
    assert [p.rsplit("/", 1)[1] for p in report["deleted"]] == ["travel.txt"]
    assert _retrieve(svc, ["group:staff", "group:hr"]) == {"salary.txt"}
    history = svc.get("/v1/sources/share/syncs", headers=_h(svc, "reader")).json()["syncs"]
    assert [h["status"] for h in history] == ["succeeded", "succeeded"]
    resp = svc.delete("/v1/sources/share", headers=_h(svc, "admin"))
    assert resp.status_code == 200 and resp.json()["documents_deleted"] == 1
    assert svc.get("/v1/sources", headers=_h(svc, "admin")).json()["sources"] == []
