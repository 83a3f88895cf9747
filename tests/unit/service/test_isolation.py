"""A key of tenant acme never reads, retrieves, cites, trains on or deletes globex data."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from rsi_rag.jobs import register_job_kind, unregister_job_kind
from tests.unit.service.conftest import SECRET, Tenants, job_kind


def _globex_ids(t: Tenants) -> dict[str, Any]:
    rag = t.service.rag
    handbook = rag.collection("handbook", tenant="globex")
    secret = rag.collection("secret", tenant="globex")
    doc = rag.documents("handbook", tenant="globex")[0]
    answer = rag.ask("gate plan", "handbook", tenant="globex")
    register_job_kind("iso-kind", lambda rag, job: {"text": SECRET})
    try:
        job = t.service.worker.submit("iso-kind", collection_id=secret.id)
        t.service.worker.wait(job.id, 10)
    finally:
        unregister_job_kind("iso-kind")
    globex_key = t.service.keys.list("globex")[0]
    return {
        "handbook": handbook,
        "secret": secret,
        "doc": doc.id,
        "interaction": answer.interaction_id,
        "job": job.id,
        "key": globex_key.id,
    }


def test_cross_tenant_attempts_through_every_route(service_app: Tenants) -> None:
    t = service_app
    g = _globex_ids(t)
    with ExitStack() as stack:
        for kind in ("improve", "promote", "rollback"):
            stack.enter_context(job_kind(kind, lambda rag, job: {"ok": True}))
        _attempts(t, g)


def _attempts(t: Tenants, g: dict[str, Any]) -> None:
    covered: set[tuple[str, str]] = set()
    h = t.h("acme-admin")

    def call(method: str, template: str, path: str, expect: set[int], **kw: Any) -> Any:
        covered.add((method, template))
        resp = t.client.request(method, path, headers={**h, **kw.pop("headers", {})}, **kw)
        assert resp.status_code in expect, (method, path, resp.status_code, resp.text)
        assert SECRET not in resp.text, (method, path)
        return resp

    nf = {404}
    # collections and documents: globex's 'secret' does not exist for acme
    r = call("GET", "/v1/collections", "/v1/collections", {200})
    assert [c["name"] for c in r.json()["collections"]] == ["handbook"]
    call("GET", "/v1/collections/{collection}", "/v1/collections/secret", nf)
    call("GET", "/v1/collections/{collection}/documents", "/v1/collections/secret/documents", nf)
    r = call(
        "GET",
        "/v1/collections/{collection}/documents",
        "/v1/collections/handbook/documents",
        {200},
    )
    assert [d["source"] for d in r.json()["documents"]] == ["gate.md"]
    call("POST", "/v1/collections", "/v1/collections", {201}, json={"name": "mine"})
    call(
        "DELETE",
        "/v1/collections/{collection}/documents/{document_id}",
        f"/v1/collections/handbook/documents/{g['doc']}",
        nf,
    )
    call(
        "DELETE",
        "/v1/collections/{collection}/documents",
        "/v1/collections/handbook/documents?source=plan.md",
        nf,
    )
    call(
        "DELETE",
        "/v1/collections/{collection}/documents/{document_id}",
        f"/v1/collections/secret/documents/{g['doc']}",
        nf,
    )
    # uploads by acme into a name globex uses land in acme's own collection
    r = call(
        "POST",
        "/v1/collections/{collection}/documents",
        "/v1/collections/secret/documents",
        {202},
        files=[("files", ("x.md", b"acme text about the gate", "text/markdown"))],
    )
    t.service.worker.wait(r.json()["id"], 10)
    r = call(
        "POST",
        "/v1/collections/{collection}/documents/text",
        "/v1/collections/secret/documents/text",
        {202, 409},
        json={"documents": [{"source_id": "y.md", "text": "more acme gate text"}]},
    )
    if r.status_code == 202:
        t.service.worker.wait(r.json()["id"], 10)
    assert [d.source for d in t.service.rag.documents("secret", tenant="globex")] == ["secret.md"]
    # retrieval and answers never see globex chunks
    for col in ("handbook", "secret"):
        r = call(
            "POST",
            "/v1/collections/{collection}/retrieve",
            f"/v1/collections/{col}/retrieve",
            {200},
            json={"query": "gate plan wins"},
        )
        assert all(hit["source"] != "plan.md" for hit in r.json()["hits"])
        call(
            "POST",
            "/v1/collections/{collection}/query",
            f"/v1/collections/{col}/query",
            {200},
            json={"question": "gate plan"},
        )
        call(
            "POST",
            "/v1/collections/{collection}/query/stream",
            f"/v1/collections/{col}/query/stream",
            {200},
            json={"question": "gate plan"},
        )
    call(
        "POST",
        "/v1/feedback",
        "/v1/feedback",
        nf,
        json={"interaction_id": g["interaction"], "rating": 1},
    )
    # jobs, models, evaluations, improvement
    call("GET", "/v1/jobs/{job_id}", f"/v1/jobs/{g['job']}", nf)
    call("GET", "/v1/collections/{collection}/jobs", "/v1/collections/nope/jobs", nf)
    r = call("GET", "/v1/collections/{collection}/jobs", "/v1/collections/secret/jobs", {200})
    assert g["job"] not in [j["id"] for j in r.json()["jobs"]]
    call("GET", "/v1/collections/{collection}/models", "/v1/collections/nope/models", nf)
    call(
        "GET",
        "/v1/collections/{collection}/models/{version}",
        "/v1/collections/nope/models/fake-embedder-v1",
        nf,
    )
    call(
        "POST",
        "/v1/collections/{collection}/models/{version}/promote",
        "/v1/collections/nope/models/fake-embedder-v1/promote",
        nf,
    )
    call(
        "POST",
        "/v1/collections/{collection}/rollback",
        "/v1/collections/nope/rollback",
        nf,
        json={"kind": "retriever"},
    )
    call(
        "POST",
        "/v1/collections/{collection}/improve",
        "/v1/collections/nope/improve",
        nf,
        json={},
    )
    call(
        "GET",
        "/v1/collections/{collection}/improve/{job_id}",
        f"/v1/collections/secret/improve/{g['job']}",
        nf,
    )
    call(
        "GET",
        "/v1/collections/{collection}/evaluations",
        "/v1/collections/nope/evaluations",
        nf,
    )
    # OpenAI-compatible routes: the model name resolves in acme only
    call(
        "POST",
        "/v1/chat/completions",
        "/v1/chat/completions",
        nf,
        json={"model": "nope", "messages": [{"role": "user", "content": "gate plan"}]},
    )
    r = call(
        "POST",
        "/v1/chat/completions",
        "/v1/chat/completions",
        {200},
        json={"model": "handbook", "messages": [{"role": "user", "content": "gate"}]},
    )
    assert "plan.md" not in r.text
    call("POST", "/v1/embeddings", "/v1/embeddings", nf, json={"model": "nope", "input": "x"})
    r = call("GET", "/v1/models", "/v1/models", {200})
    assert sorted(m["id"] for m in r.json()["data"]) == ["handbook", "mine", "secret"]
    call("GET", "/v1/models/{model}", "/v1/models/nope", nf)
    # admin routes stay inside the tenant
    r = call("GET", "/v1/tenants", "/v1/tenants", {200})
    assert r.json()["tenants"] == ["acme"]
    call("POST", "/v1/tenants", "/v1/tenants", {403}, json={"name": "evil"})
    r = call("GET", "/v1/keys", "/v1/keys", {200})
    assert {k["tenant"] for k in r.json()["keys"]} == {"acme"}
    call("POST", "/v1/keys", "/v1/keys", {403}, json={"role": "read", "tenant": "globex"})
    call("POST", "/v1/keys", "/v1/keys", {403}, json={"role": "root"})
    call("DELETE", "/v1/keys/{key_id}", f"/v1/keys/{g['key']}", nf)
    call("GET", "/v1/collections", "/v1/collections", {403}, headers={"X-RSI-Tenant": "globex"})

    if any(getattr(r, "path", "").startswith("/v1/sources") for r in t.app.routes):
        _source_attempts(t, call)

    # globex's data is intact
    assert [d.source for d in t.service.rag.documents("handbook", tenant="globex")] == ["plan.md"]
    assert not t.service.keys.list("globex")[0].revoked
    # every authenticated route of the app was attempted
    routes = {
        (m, r.path.replace(":str", "").replace(":int", ""))
        for r in t.app.routes
        for m in getattr(r, "methods", ())
        if m not in ("HEAD", "OPTIONS") and r.path.startswith("/v1")
    }
    assert len(routes) >= 30 and routes - covered == set(), sorted(routes - covered)


def _source_attempts(t: Tenants, call: Any) -> None:
    """The connectors package's /v1/sources routes, when it is installed."""
    import os
    import tempfile

    from connectors.sync import SyncRunner

    root = tempfile.mkdtemp()
    os.environ["RSI_RAG_FILESYSTEM_ROOTS"] = root  # the service refuses unconfined roots
    try:
        SyncRunner(t.service.rag, tenant="globex").add_source(
            "gsrc", "filesystem", "handbook", {"root": root}
        )
        r = call("GET", "/v1/sources", "/v1/sources", {200})
        assert "gsrc" not in r.text
        call("DELETE", "/v1/sources/{name}", "/v1/sources/gsrc", {404})
        call("POST", "/v1/sources/{name}/sync", "/v1/sources/gsrc/sync", {404})
        call("GET", "/v1/sources/{name}/syncs", "/v1/sources/gsrc/syncs", {404})
        call(
            "POST",
            "/v1/sources",
            "/v1/sources",
            {201},
            json={
                "name": "mine",
                "type": "filesystem",
                "collection": "handbook",
                "options": {"root": root},
            },
        )
    finally:
        del os.environ["RSI_RAG_FILESYSTEM_ROOTS"]
    assert [s.name for s in SyncRunner(t.service.rag, tenant="globex").sources()] == ["gsrc"]
