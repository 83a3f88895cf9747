"""The learning loop's background job kinds: ``improve``, ``promote`` and ``rollback``.

:func:`ensure_registered` adds them to the in-process job worker of
:mod:`rsi_rag.jobs` (once per process). :func:`due_for_improvement` says whether enough
new data has accumulated for a collection to start a cycle on its own; the worker's
one-job-per-kind-and-collection rule plus the cycle lock keep it to one at a time.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from rsi_rag.errors import ValidationError
from rsi_rag.jobs import job_kinds, register_job_kind
from rsi_rag.loop.config import LoopConfig
from rsi_rag.store.models import Chunk, Feedback, Interaction, TrainingExample

if TYPE_CHECKING:
    from rsi_rag.jobs import JobInfo, JobWorker
    from rsi_rag.rag import RAG
    from rsi_rag.store.catalog import CollectionRef

__all__ = [
    "IMPROVE_KIND",
    "AutoImprover",
    "PROMOTE_KIND",
    "ROLLBACK_KIND",
    "due_for_improvement",
    "ensure_registered",
    "run_improve_job",
    "run_promote_job",
    "run_rollback_job",
    "submit_due",
    "submit_if_due",
]

log = logging.getLogger("rsi_rag.loop")

IMPROVE_KIND = "improve"
PROMOTE_KIND = "promote"
ROLLBACK_KIND = "rollback"


def _names(job: JobInfo) -> tuple[str, str | None]:
    if job.collection is None:
        raise ValidationError(f"{job.kind} job {job.id} names no collection")
    return job.collection, job.tenant


def run_improve_job(rag: RAG, job: JobInfo) -> dict[str, Any]:
    """Handler of ``improve``: params ``cycles`` (default 1) and ``use_generator``."""
    from rsi_rag.loop.cycle import run_improvement

    collection, tenant = _names(job)
    cycles = job.params.get("cycles", 1)
    results = run_improvement(
        rag,
        collection,
        cycles,
        tenant=tenant,
        use_generator=bool(job.params.get("use_generator", True)),
    )
    return {
        "cycles": [
            {k: v for k, v in r.to_dict().items() if k != "gate"}
            | {"ci": [r.gate["ci_low"], r.gate["ci_high"]] if r.gate else None}
            for r in results
        ]
    }


def run_rollback_job(rag: RAG, job: JobInfo) -> dict[str, Any]:
    """Handler of ``rollback``: params ``kind`` (retriever or generator) and ``to_version``."""
    collection, tenant = _names(job)
    kind = job.params.get("kind", "retriever")
    target = job.params.get("to_version")
    if kind == "generator":
        from rsi_rag.loop.generator_cycle import rollback_generator

        champion = rollback_generator(rag, collection, target, tenant=tenant)
        return {"kind": kind, "champion": champion}
    if kind != "retriever":
        raise ValidationError(f"kind must be 'retriever' or 'generator', got {kind!r}")
    if not isinstance(target, str) or not target:
        raise ValidationError("a retriever rollback needs 'to_version'; list versions first")
    from rsi_rag.loop.promote import rollback

    res = rollback(rag, collection, target, tenant=tenant)
    return {"kind": kind, "previous": res.previous, "champion": res.champion}


def run_promote_job(rag: RAG, job: JobInfo) -> dict[str, Any]:
    """Handler of ``promote``: an admin serves ``version`` (a retriever or an adapter).

    This is the manual override of the gate: the version serves whatever its gate decision
    said, blue-green for a retriever and hot-swapped for an adapter, and the audit log
    records it as a manual promotion together with that decision.
    """
    collection, tenant = _names(job)
    version = job.params.get("version")
    if not isinstance(version, str) or not version:
        raise ValidationError("a promote job needs 'version'; list the collection's versions first")
    info = rag.registry.get(version)
    decision = (info.gate_decision or {}).get("decision")
    if info.kind == "generator":
        from rsi_rag.loop.generator_cycle import promote_generator

        promote_generator(
            rag, collection, version, action="generator.manual_promote", tenant=tenant
        )
        return {"kind": "generator", "champion": version, "gate_decision": decision}
    if info.kind != "retriever":
        raise ValidationError(
            f"version {version!r} is a {info.kind}; only retrievers and "
            "generator adapters can be promoted"
        )
    from rsi_rag.loop.promote import serve_version

    res = serve_version(rag, collection, version, tenant=tenant, action="manual_promote")
    return {
        "kind": "retriever",
        "previous": res.previous,
        "champion": res.champion,
        "gate_decision": decision,
    }


def ensure_registered() -> None:
    """Register the loop's job kinds once per process (kinds already present are kept)."""
    for name, handler in (
        (IMPROVE_KIND, run_improve_job),
        (PROMOTE_KIND, run_promote_job),
        (ROLLBACK_KIND, run_rollback_job),
    ):
        if name not in job_kinds():
            register_job_kind(name, handler)


def due_for_improvement(rag: RAG, col: CollectionRef, config: LoopConfig | None = None) -> bool:
    """True when new feedback plus new chunks since the last cycle reach the threshold."""
    config = config or LoopConfig.for_data_dir(rag.data_dir)
    with rag.catalog.session() as s:
        collected = s.scalar(
            select(func.count(TrainingExample.id)).where(
                TrainingExample.collection_id == col.id, TrainingExample.feedback_id.is_not(None)
            )
        )
        feedback = s.scalar(
            select(func.count(Feedback.id))
            .join(Interaction, Interaction.id == Feedback.interaction_id)
            .where(Interaction.collection_id == col.id)
        )
        synthesized = s.scalar(
            select(func.count(func.distinct(TrainingExample.source_chunk_id))).where(
                TrainingExample.collection_id == col.id
            )
        )
        chunks = s.scalar(select(func.count(Chunk.id)).where(Chunk.collection_id == col.id))
    new = max(0, int(feedback or 0) - int(collected or 0))
    # Chunks never synthesized from count too, but a large corpus only once it is covered
    # by the per-cycle budget, so an initial ingest alone does not start cycle after cycle.
    unseen = max(0, int(chunks or 0) - int(synthesized or 0))
    new += min(unseen, config.crops_per_cycle) if not synthesized else unseen
    return new >= config.auto_min_new_examples


def submit_if_due(worker: JobWorker, rag: RAG, col: CollectionRef) -> JobInfo | None:
    """Queue an ``improve`` job when :func:`due_for_improvement`; None otherwise."""
    if not due_for_improvement(rag, col):
        return None
    ensure_registered()
    from rsi_rag.errors import ConflictError

    try:
        return worker.submit(IMPROVE_KIND, collection_id=col.id, params={"cycles": 1})
    except ConflictError:
        return None  # one is already queued or running for this collection


def submit_due(worker: JobWorker, rag: RAG) -> list[JobInfo]:
    """Check every collection of every tenant; queue ``improve`` jobs where one is due."""
    queued = []
    for row in rag.catalog.list_collections():
        try:
            col = rag.collection(row["name"], row["tenant"])
            job = submit_if_due(worker, rag, col)
        except Exception:  # one collection's trouble must not stop the others' cycles
            log.exception(
                "checking %s/%s for an improvement cycle failed", row["tenant"], row["name"]
            )
            continue
        if job is not None:
            log.info("queued improvement job %s for %s/%s", job.id, row["tenant"], row["name"])
            queued.append(job)
    return queued


class AutoImprover:
    """Every ``interval_s`` seconds, queue the improvement cycles that are due.

    The job worker runs them one at a time per collection; this thread only decides when.
    """

    def __init__(self, worker: JobWorker, rag: RAG, interval_s: float) -> None:
        if interval_s <= 0:
            raise ValidationError(f"interval_s must be positive, got {interval_s!r}")
        self.worker, self.rag, self.interval_s = worker, rag, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        ensure_registered()
        self._thread = threading.Thread(target=self._run, name="rsi-rag-auto-improve", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                submit_due(self.worker, self.rag)
            except Exception:
                log.exception("the automatic improvement check failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
