from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from rsi_rag.errors import ValidationError
from rsi_rag.loop.cycle import run_cycle


def test_versions_trained_on_deleted_documents_are_marked(kb: Any) -> None:
    col = kb.collection("kb")
    docs = {d.source: d.id for d in kb.documents("kb")}
    kb.registry.register(
        "v-old",
        "retriever",
        "/x",
        collection_id=col.id,
        data_manifest={"document_ids": [docs["doc0.md"], docs["doc1.md"]]},
    )
    kb.registry.register(
        "v-other",
        "retriever",
        "/y",
        collection_id=col.id,
        data_manifest={"document_ids": [docs["doc2.md"]]},
    )
    kb.delete_document("kb", source="doc1.md")
    # A cycle starts by syncing deletions (it then stops: too little data).
    assert run_cycle(kb, "kb", use_generator=False).decision == "not_enough_data"
    assert kb.registry.get("v-old").trained_on_deleted
    assert not kb.registry.get("v-other").trained_on_deleted


def test_status_must_be_known(kb: Any) -> None:
    kb.registry.register("v1", "retriever", "/x")
    with pytest.raises(ValidationError, match="status"):
        kb.registry.update("v1", status="shiny")


def test_models_cli_list_show_and_errors(kb: Any) -> None:
    from rsi_rag.cli import app

    col = kb.collection("kb")
    kb.registry.register(
        "kb-r1-abc",
        "retriever",
        "/x",
        collection_id=col.id,
        parent_id=col.retriever_version,
        status="rejected",
        data_manifest={"document_ids": [1, 2], "examples": 5},
    )
    kb.registry.update("kb-r1-abc", gate_decision={"decision": "reject", "challenger_score": 0.5})
    runner = CliRunner()
    base = ["--data-dir", str(kb.data_dir)]
    out = runner.invoke(app, ["models", "list", "-c", "kb", "--json", *base])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["champions"]["retriever"] == "fake-embedder-v1"
    statuses = {v["id"]: v["status"] for v in data["versions"]}
    assert statuses["kb-r1-abc"] == "rejected"
    assert statuses["fake-embedder-v1"] == "champion"
    out = runner.invoke(app, ["models", "show", "kb-r1-abc", "--json", *base])
    shown = json.loads(out.output)
    assert shown["lineage"] == ["kb-r1-abc", "fake-embedder-v1"]
    assert shown["data_manifest"]["documents"] == 2
    out = runner.invoke(app, ["models", "show", "missing", *base])
    assert out.exit_code == 2 and "missing" in out.output
    out = runner.invoke(app, ["models", "rollback", "missing", "-c", "kb", *base])
    assert out.exit_code == 2 and "unknown model version" in out.output
    out = runner.invoke(app, ["improve", "-c", "nope", *base])
    assert out.exit_code == 2 and "unknown collection" in out.output


def test_improve_job_kind_runs_through_the_worker(kb: Any) -> None:
    from rsi_rag.jobs import JobWorker, job_kinds, unregister_job_kind
    from rsi_rag.loop.jobs import IMPROVE_KIND, ROLLBACK_KIND, ensure_registered

    had = {k for k in (IMPROVE_KIND, ROLLBACK_KIND) if k in job_kinds()}
    ensure_registered()
    ensure_registered()  # idempotent
    worker = JobWorker(kb, poll_interval=0.05)
    worker.start()
    try:
        job = worker.submit(
            IMPROVE_KIND,
            collection_id=kb.collection("kb").id,
            params={"cycles": 2, "use_generator": False},
        )
        info = worker.wait(job.id, 60)
    finally:
        worker.stop()
        for k in (IMPROVE_KIND, ROLLBACK_KIND):
            if k not in had:
                unregister_job_kind(k)
    assert info.status == "succeeded", info.error
    assert info.result is not None
    assert [c["decision"] for c in info.result["cycles"]] == ["not_enough_data"]


def test_due_for_improvement_counts_new_feedback(kb: Any) -> None:
    from rsi_rag.loop.collect import collect_feedback
    from rsi_rag.loop.config import LoopConfig
    from rsi_rag.loop.jobs import due_for_improvement
    from rsi_rag.loop.synthesize import synthesize

    cfg = LoopConfig(auto_min_new_examples=5, crops_per_cycle=50, questions_per_cycle=50)
    col = kb.collection("kb")
    synthesize(kb, col, cfg)  # every chunk seen: only feedback counts from here
    assert not due_for_improvement(kb, col, cfg)
    for i in range(5):
        a = kb.ask(f"payroll question {i}", "kb", k=3)
        kb.feedback(a.interaction_id, chosen_chunk_ids=[a.hits[0].chunk_id])
    assert due_for_improvement(kb, col, cfg)
    collect_feedback(kb.catalog, col, cfg)
    assert not due_for_improvement(kb, col, cfg)


def test_submit_due_queues_one_improve_job_per_due_collection(kb: Any) -> None:
    import threading

    from rsi_rag.jobs import JobWorker
    from rsi_rag.loop.jobs import AutoImprover, submit_due

    worker = JobWorker(kb)  # not started: jobs stay queued
    assert submit_due(worker, kb) == []  # 6 unseen chunks, under the default threshold of 50
    (kb.data_dir / "loop.json").write_text(json.dumps({"auto_min_new_examples": 3}))
    queued = submit_due(worker, kb)
    assert [(j.kind, j.collection, j.status) for j in queued] == [("improve", "kb", "queued")]
    assert submit_due(worker, kb) == []  # one queued for the collection already
    auto = AutoImprover(worker, kb, interval_s=0.05)
    auto.start()
    threading.Event().wait(0.3)
    auto.stop()
    assert [j.kind for j in worker.list()] == ["improve"]
    with pytest.raises(ValidationError, match="interval_s"):
        AutoImprover(worker, kb, interval_s=0)
