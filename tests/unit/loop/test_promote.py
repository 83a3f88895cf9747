from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from rsi_rag.errors import ConflictError, UnknownModelVersionError, ValidationError
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.cycle import run_cycle
from rsi_rag.loop.lock import CycleLock
from rsi_rag.loop.promote import recover, rollback, switch
from rsi_rag.testing import FakeEmbedder


def _challenger(rag: Any, version: str = "fake-b", status: str = "candidate") -> FakeEmbedder:
    col = rag.collection("kb")
    emb = FakeEmbedder(dim=32, version=version)
    rag.register_embedder(emb)
    rag.registry.register(
        version,
        "retriever",
        f"instance:{version}",
        collection_id=col.id,
        parent_id=col.retriever_version,
        status=status,
    )
    return emb


def test_switch_and_rollback_change_what_serves_and_queries_never_fail(kb: Any) -> None:
    before = kb.retrieve("when is payroll paid", "kb", k=3)
    _challenger(kb)
    errors: list[BaseException] = []
    versions: set[str] = set()
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                hits = kb.retrieve("when is payroll paid", "kb", k=3)
                assert hits
                versions.add(kb.collection("kb").retriever_version)
            except BaseException as exc:  # any failure of a query in flight is a bug
                errors.append(exc)

    thread = threading.Thread(target=query)
    thread.start()
    try:
        previous = switch(kb, kb.collection("kb"), "fake-b")
        for _ in range(50):
            if "fake-b" in versions:
                break
            threading.Event().wait(0.02)
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert previous == "fake-embedder-v1"
    col = kb.collection("kb")
    assert col.retriever_version == "fake-b"
    assert kb.registry.get("fake-b").status == "champion"
    assert (kb.data_dir / "indexes" / str(col.id) / "fake-b" / "index.faiss").exists()
    assert (kb.data_dir / "indexes" / str(col.id) / "fake-embedder-v1" / "index.faiss").exists()
    after = kb.retrieve("when is payroll paid", "kb", k=3)
    assert [h.dense_score for h in after] != [h.dense_score for h in before]
    res = rollback(kb, "kb", "fake-embedder-v1")
    assert (res.previous, res.champion) == ("fake-b", "fake-embedder-v1")
    assert kb.registry.get("fake-b").status == "retired"
    again = kb.retrieve("when is payroll paid", "kb", k=3)
    assert [(h.chunk_id, h.dense_score) for h in again] == [
        (h.chunk_id, h.dense_score) for h in before
    ]


def test_rollback_refuses_bad_versions(kb: Any) -> None:
    with pytest.raises(UnknownModelVersionError, match="nope"):
        rollback(kb, "kb", "nope")
    kb.registry.register("gen-x", "generator", "/tmp/x")
    with pytest.raises(ValidationError, match="generator"):
        rollback(kb, "kb", "gen-x")


def test_recover_cleans_half_built_versions_and_fixes_statuses(kb: Any) -> None:
    from rsi_rag.loop.promote import model_dir

    col = kb.collection("kb")
    _challenger(kb, "half", status="training")
    folder = model_dir(kb, col.id, "half")
    folder.with_name("half.partial").mkdir(parents=True)
    _challenger(kb, "switched", status="candidate")
    kb.catalog.set_champion(col.id, "retriever", "switched")  # killed right after the switch
    cleaned = recover(kb, col)
    assert cleaned == ["half"]
    assert kb.registry.get("half").status == "failed"
    assert not folder.with_name("half.partial").exists()
    assert kb.registry.get("switched").status == "champion"
    assert kb.retrieve("payroll", "kb", k=2)


def test_second_cycle_for_a_collection_is_refused(kb: Any) -> None:
    col = kb.collection("kb")
    with CycleLock(kb.data_dir, col.id, "kb"), pytest.raises(ConflictError, match="already"):
        run_cycle(kb, "kb", use_generator=False)
    # Another process holding the lock is refused the same way.
    code = (
        "import sys, time; sys.path.insert(0, '.')\n"
        "from rsi_rag.loop.lock import CycleLock\n"
        f"l = CycleLock({str(kb.data_dir)!r}, {col.id}); l.acquire(); print('held', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(ConflictError, match="process"):
            CycleLock(kb.data_dir, col.id).acquire()
    finally:
        proc.kill()
        proc.wait()
    # The OS released the killed holder's lock.
    with CycleLock(kb.data_dir, col.id):
        pass


def test_too_little_data_is_a_decision_not_a_crash(kb: Any) -> None:
    res = run_cycle(kb, "kb", use_generator=False, config=LoopConfig(crops_per_cycle=3))
    assert res.decision == "not_enough_data"
    assert "min_train_examples" in res.reasons[0]
    assert res.champion_after == res.champion_before == kb.collection("kb").retriever_version
    assert not [v for v in kb.registry.list(kb.collection("kb").id) if v.collection_id is not None]
    assert any(a["action"] == "retriever.cycle" for a in kb.catalog.audit_log())


def test_promote_job_serves_a_rejected_version_and_audits_the_override(kb: Any) -> None:
    from rsi_rag.jobs import JobInfo
    from rsi_rag.loop.jobs import run_promote_job

    _challenger(kb, "fake-r", status="rejected")
    kb.registry.update("fake-r", gate_decision={"decision": "reject", "reasons": ["ci"]})
    col = kb.collection("kb")
    job = JobInfo(1, "promote", "running", col.id, "kb", col.tenant, {"version": "fake-r"})
    out = run_promote_job(kb, job)
    assert out == {
        "kind": "retriever",
        "previous": "fake-embedder-v1",
        "champion": "fake-r",
        "gate_decision": "reject",
    }
    assert kb.collection("kb").retriever_version == "fake-r"
    assert kb.registry.get("fake-r").status == "champion"
    actions = [a["action"] for a in kb.catalog.audit_log()]
    assert "retriever.manual_promote" in actions
    with pytest.raises(ValidationError, match="needs 'version'"):
        run_promote_job(kb, JobInfo(2, "promote", "running", col.id, "kb", col.tenant, {}))
    with pytest.raises(UnknownModelVersionError):
        run_promote_job(
            kb, JobInfo(3, "promote", "running", col.id, "kb", col.tenant, {"version": "nope"})
        )


def test_generator_rollback_job_acts_in_the_jobs_tenant(kb: Any) -> None:
    from rsi_rag.jobs import JobInfo
    from rsi_rag.loop.jobs import run_rollback_job

    col = kb.create_collection("only-globex", tenant="globex")
    params = {"kind": "generator", "to_version": "base"}
    job = JobInfo(1, "rollback", "running", col.id, "only-globex", "globex", params)
    assert run_rollback_job(kb, job) == {"kind": "generator", "champion": "base"}
    last = kb.catalog.audit_log()[0]
    assert (last["action"], last["target"]) == ("generator.rollback", "only-globex")
