from __future__ import annotations

import threading
from typing import Any

import pytest

from rsi_rag.errors import ConflictError, NotFoundError, ValidationError
from rsi_rag.jobs import JobWorker, job_kinds, register_job_kind, unregister_job_kind
from rsi_rag.store.models import Job


@pytest.fixture
def kind() -> Any:
    name = "test-echo"
    release = threading.Event()

    def handler(rag: Any, job: Any) -> dict[str, Any]:
        if job.params.get("block"):
            release.wait(10)
        if job.params.get("fail"):
            raise ValueError("asked to fail")
        return {"echo": job.params.get("value"), "collection": job.collection}

    register_job_kind(name, handler)
    yield name, release
    release.set()
    unregister_job_kind(name)


def test_registry_refuses_duplicates_and_bad_names(kind: Any) -> None:
    name, _ = kind
    assert name in job_kinds()
    with pytest.raises(ConflictError, match="already registered"):
        register_job_kind(name, lambda rag, job: None)
    with pytest.raises(ValidationError):
        register_job_kind("", lambda rag, job: None)
    with pytest.raises(ValidationError, match="callable"):
        register_job_kind("x-not-callable", 3)  # type: ignore[arg-type]


def test_job_runs_and_records_result(fake_rag: Any, kind: Any) -> None:
    name, _ = kind
    col = fake_rag.create_collection("c1")
    worker = JobWorker(fake_rag, poll_interval=0.05)
    worker.start()
    try:
        job = worker.submit(name, collection_id=col.id, params={"value": 7})
        assert job.kind == name and job.collection == "c1"
        done = worker.wait(job.id, 10)
        assert done.status == "succeeded"
        assert done.result == {"echo": 7, "collection": "c1"}
        assert done.tenant == "default" and done.finished_at is not None
        failed = worker.wait(worker.submit(name, collection_id=col.id, params={"fail": 1}).id, 10)
        assert failed.status == "failed" and "asked to fail" in (failed.error or "")
    finally:
        worker.stop()


def test_second_job_for_same_kind_and_collection_is_refused(fake_rag: Any, kind: Any) -> None:
    name, release = kind
    a = fake_rag.create_collection("a")
    b = fake_rag.create_collection("b")
    worker = JobWorker(fake_rag, poll_interval=0.05)
    worker.start()
    try:
        first = worker.submit(name, collection_id=a.id, params={"block": True})
        with pytest.raises(ConflictError, match=f"id {first.id}"):
            worker.submit(name, collection_id=a.id)
        other = worker.submit(name, collection_id=b.id)  # another collection is fine
        release.set()
        assert worker.wait(first.id, 10).status == "succeeded"
        assert worker.wait(other.id, 10).status == "succeeded"
        again = worker.submit(name, collection_id=a.id)  # allowed once the first finished
        assert worker.wait(again.id, 10).status == "succeeded"
    finally:
        worker.stop()


def test_unknown_kind_and_unknown_job(fake_rag: Any) -> None:
    worker = JobWorker(fake_rag)
    with pytest.raises(ValidationError, match="not registered"):
        worker.submit("no-such-kind")
    with pytest.raises(NotFoundError, match="unknown job id 999"):
        worker.get(999)


def test_jobs_left_running_by_a_killed_process_fail_on_restart(fake_rag: Any, kind: Any) -> None:
    name, _ = kind
    col = fake_rag.create_collection("c1")
    with fake_rag.catalog.session() as s:
        s.add(Job(kind=name, collection_id=col.id, status="running", params={}))
        s.add(Job(kind=name, collection_id=col.id, status="queued", params={"value": 1}))
    worker = JobWorker(fake_rag, poll_interval=0.05)
    worker.start()  # a new process starting: recovers, then runs what was queued
    try:
        interrupted = worker.get(1)
        assert interrupted.status == "failed"
        assert "interrupted" in (interrupted.error or "") and "submit it again" in interrupted.error
        assert worker.wait(2, 10).status == "succeeded"
    finally:
        worker.stop()


def test_job_of_another_tenant_is_unknown(fake_rag: Any, kind: Any) -> None:
    name, _ = kind
    col = fake_rag.create_collection("c1", tenant="acme")
    worker = JobWorker(fake_rag)
    job = worker.submit(name, collection_id=col.id)
    other = fake_rag.catalog.tenant_id("globex", create=True)
    with pytest.raises(NotFoundError):
        worker.get(job.id, tenant_id=other)
    assert worker.get(job.id, tenant_id=col.tenant_id).id == job.id
