"""Bad requests get 4xx JSON errors with a stable code and a clear message."""

from __future__ import annotations

import pytest

from tests.unit.service.conftest import Tenants


def _err(resp: object, status: int, code: str) -> str:
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert "Traceback" not in resp.text  # type: ignore[attr-defined]
    return str(body["error"]["message"])


def test_missing_and_wrong_keys(service_app: Tenants) -> None:
    c = service_app.client
    msg = _err(c.get("/v1/collections"), 401, "unauthenticated")
    assert "Authorization: Bearer" in msg
    _err(
        c.get("/v1/collections", headers={"Authorization": "Bearer rsk_x_y"}),
        401,
        "unauthenticated",
    )
    _err(c.get("/v1/collections", headers={"Authorization": "Basic abc"}), 401, "unauthenticated")


def test_roles_are_enforced(service_app: Tenants) -> None:
    t = service_app
    msg = _err(
        t.client.post("/v1/collections", json={"name": "x"}, headers=t.h("acme-read")),
        403,
        "permission_denied",
    )
    assert "'write'" in msg and "'read'" in msg
    _err(t.client.get("/v1/keys", headers=t.h("acme-write")), 403, "permission_denied")
    r = t.client.post("/v1/collections", json={"name": "x"}, headers=t.h("acme-write"))
    assert r.status_code == 201


def test_malformed_json_wrong_types_and_unknown_fields(service_app: Tenants) -> None:
    t = service_app
    h = {**t.h("acme-read"), "Content-Type": "application/json"}
    url = "/v1/collections/handbook/query"
    assert (
        "malformed"
        in _err(t.client.post(url, content=b"{oops", headers=h), 400, "validation_error").lower()
    )
    msg = _err(t.client.post(url, json={"question": 42}, headers=h), 400, "validation_error")
    assert "question" in msg and "str" in msg
    msg = _err(
        t.client.post(url, json={"question": "q", "k": 0}, headers=h), 400, "validation_error"
    )
    assert "k" in msg
    msg = _err(
        t.client.post(url, json={"question": "q", "k": 1000}, headers=h), 400, "validation_error"
    )
    assert "between 1 and 100" in msg
    msg = _err(
        t.client.post(url, json={"question": "q", "colour": 1}, headers=h), 400, "validation_error"
    )
    assert "colour" in msg
    msg = _err(t.client.post(url, json={"question": "   "}, headers=h), 400, "validation_error")
    assert "non-empty" in msg
    msg = _err(
        t.client.post(url, json={"question": "q" * 5000}, headers=h), 400, "validation_error"
    )
    assert "4000" in msg
    msg = _err(
        t.client.post(url, json={"question": "q", "mode": "magic"}, headers=h),
        400,
        "validation_error",
    )
    assert "mode" in msg


def test_oversized_body_is_413(service_app: Tenants) -> None:
    t = service_app
    big = {"documents": [{"source_id": "big.md", "text": "x" * 300_000}]}
    _err(
        t.client.post(
            "/v1/collections/handbook/documents/text", json=big, headers=t.h("acme-write")
        ),
        413,
        "payload_too_large",
    )


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/v1/collections/nope", "unknown_collection"),
        ("GET", "/v1/jobs/12345", "not_found"),
        ("DELETE", "/v1/collections/handbook/documents/9999", "unknown_document"),
        ("GET", "/v1/collections/handbook/models/nope-v9", "unknown_model_version"),
        ("GET", "/v1/no/such/route", "not_found"),
    ],
)
def test_unknown_ids(service_app: Tenants, method: str, path: str, code: str) -> None:
    t = service_app
    msg = _err(t.client.request(method, path, headers=t.h("acme-admin")), 404, code)
    assert msg


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/v1/jobs/{2**70}", None),
        ("DELETE", f"/v1/keys/{2**70}", None),
        ("DELETE", f"/v1/collections/handbook/documents/{2**70}", None),
        ("POST", "/v1/feedback", {"interaction_id": 2**70}),
        ("POST", "/v1/collections/handbook/retrieve", {"query": "q", "k": 2**70}),
    ],
)
def test_huge_numbers_are_400(service_app: Tenants, method: str, path: str, body: object) -> None:
    t = service_app
    r = t.client.request(method, path, json=body, headers=t.h("acme-admin"))
    _err(r, 400, "validation_error")


def test_unknown_interaction_and_feedback_rate_limit(service_app: Tenants) -> None:
    t = service_app
    h = t.h("acme-read")
    msg = _err(
        t.client.post("/v1/feedback", json={"interaction_id": 777, "rating": 1}, headers=h),
        404,
        "unknown_interaction",
    )
    assert "777" in msg
    iid = t.client.post(
        "/v1/collections/handbook/query", json={"question": "gate"}, headers=h
    ).json()["interaction_id"]
    statuses = [
        t.client.post("/v1/feedback", json={"interaction_id": iid, "rating": 1}, headers=h)
        for _ in range(6)
    ]
    assert [r.status_code for r in statuses[:4]] == [201] * 4  # 5 per minute, 1 used above
    last = statuses[-1]
    assert "per minute" in _err(last, 429, "rate_limited")
    assert last.headers["retry-after"]
    # the limit is per key: another key of the tenant is not affected
    r = t.client.post(
        "/v1/feedback", json={"interaction_id": iid, "rating": -1}, headers=t.h("acme-write")
    )
    assert r.status_code == 201


def test_feedback_with_unretrieved_chunk_is_400(service_app: Tenants) -> None:
    t = service_app
    h = t.h("acme-read")
    iid = t.client.post(
        "/v1/collections/handbook/query", json={"question": "gate"}, headers=h
    ).json()["interaction_id"]
    msg = _err(
        t.client.post(
            "/v1/feedback", json={"interaction_id": iid, "chosen_chunk_ids": [999]}, headers=h
        ),
        400,
        "validation_error",
    )
    assert "999" in msg


def test_health_metrics_and_schema(service_app: Tenants) -> None:
    c = service_app.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert ready.status_code in (200, 503) and "checks" in ready.json()
    c.post(
        "/v1/collections/handbook/query",
        json={"question": "gate"},
        headers=service_app.h("acme-read"),
    )
    text = c.get("/metrics").text
    assert "rsi_rag_answers_total" in text and "rsi_rag_requests_total" in text
    schema = c.get("/schema/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/v1/chat/completions" in schema["paths"]
    assert "BearerAuth" in schema["components"]["securitySchemes"]
    assert "swagger" in c.get("/schema").text.lower()
