"""Background jobs: a registry of job kinds and an in-process worker.

Jobs live in the catalog's ``jobs`` table, so their status survives the process. One worker
thread runs them one at a time, in submission order. A kind may run only once at a time per
collection: asking again while one is queued or running raises :class:`ConflictError`.

Other packages add kinds with :func:`register_job_kind`; a handler receives the
:class:`~rsi_rag.rag.RAG` instance and the :class:`JobInfo` and returns a JSON-serialisable
result (or ``None``). An exception fails the job with its message.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from rsi_rag.errors import ConflictError, NotFoundError, RsiRagError, ValidationError
from rsi_rag.store.models import Collection, Job, Tenant, utcnow

if TYPE_CHECKING:
    from rsi_rag.rag import RAG

__all__ = [
    "JOB_STATUSES",
    "JobHandler",
    "JobInfo",
    "JobWorker",
    "job_handler",
    "job_kinds",
    "register_job_kind",
    "unregister_job_kind",
]

log = logging.getLogger(__name__)

JOB_STATUSES = ("queued", "running", "succeeded", "failed")
JobHandler = Callable[["RAG", "JobInfo"], "dict[str, Any] | None"]

_KINDS: dict[str, JobHandler] = {}
_KINDS_LOCK = threading.Lock()


def register_job_kind(name: str, handler: JobHandler) -> None:
    """Register a job kind; a name already registered is refused.

    Args:
        name: The kind's name, e.g. ``"improve"``.
        handler: Called as ``handler(rag, job)`` on the worker thread.

    Raises:
        ConflictError: ``name`` is already registered.
        ValidationError: ``name`` is empty or ``handler`` is not callable.
    """
    if not isinstance(name, str) or not name or len(name) > 50:
        raise ValidationError(f"job kind name must be 1-50 characters, got {name!r}")
    if not callable(handler):
        raise ValidationError(f"the handler of job kind {name!r} must be callable")
    with _KINDS_LOCK:
        if name in _KINDS:
            raise ConflictError(
                f"job kind {name!r} is already registered; unregister it first or pick another name"
            )
        _KINDS[name] = handler


def unregister_job_kind(name: str) -> None:
    """Remove a job kind (no error when it is not registered)."""
    with _KINDS_LOCK:
        _KINDS.pop(name, None)


def job_handler(name: str) -> JobHandler | None:
    """The handler registered for ``name``, or ``None``."""
    with _KINDS_LOCK:
        return _KINDS.get(name)


def job_kinds() -> list[str]:
    """Names of the registered job kinds, sorted."""
    with _KINDS_LOCK:
        return sorted(_KINDS)


@dataclass(frozen=True)
class JobInfo:
    """One job as the catalog records it."""

    id: int
    kind: str
    status: str
    collection_id: int | None
    collection: str | None
    tenant: str | None
    params: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class JobWorker:
    """Runs jobs of the registered kinds on one background thread.

    Args:
        rag: The facade handed to every handler.
        poll_interval: Seconds between looks at the queue when idle.
    """

    def __init__(self, rag: RAG, *, poll_interval: float = 0.5) -> None:
        self.rag = rag
        self.catalog = rag.catalog
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._submit_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    def recover(self) -> int:
        """Fail the jobs a stopped process left ``running``; returns how many."""
        now = utcnow()
        with self.catalog.session() as s:
            rows = list(s.scalars(select(Job).where(Job.status == "running")))
            for row in rows:
                row.status = "failed"
                row.finished_at = now
                row.error = (
                    f"interrupted: the process running this {row.kind} job stopped before it "
                    f"finished (found at restart, {now.isoformat()}Z); submit it again"
                )
            return len(rows)

    def start(self) -> None:
        """Recover interrupted jobs and start the worker thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.recover()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="rsi-rag-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the current job (a running job finishes first, up to ``timeout``)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- submitting and reading ----------------------------------------------------------

    def submit(
        self, kind: str, *, collection_id: int | None = None, params: dict[str, Any] | None = None
    ) -> JobInfo:
        """Queue a job.

        Raises:
            ValidationError: ``kind`` is not registered.
            ConflictError: a job of this kind is already queued or running for the collection.
        """
        if kind not in job_kinds():
            raise ValidationError(
                f"job kind {kind!r} is not registered; registered kinds: {job_kinds()}"
            )
        with self._submit_lock, self.catalog.session() as s:
            busy = s.scalar(
                select(Job.id).where(
                    Job.kind == kind,
                    Job.collection_id.is_(None)
                    if collection_id is None
                    else Job.collection_id == collection_id,
                    Job.status.in_(("queued", "running")),
                )
            )
            if busy is not None:
                raise ConflictError(
                    f"a {kind} job (id {busy}) is already queued or running for this "
                    "collection; wait for it to finish (GET /v1/jobs/{id}) and try again"
                )
            row = Job(kind=kind, collection_id=collection_id, status="queued", params=params or {})
            s.add(row)
            s.flush()
            job_id = int(row.id)
        self._wake.set()
        return self.get(job_id)

    def get(self, job_id: int, *, tenant_id: int | None = None) -> JobInfo:
        """A job by id; with ``tenant_id``, jobs of other tenants are reported unknown."""
        with self.catalog.session() as s:
            row = s.get(Job, job_id)
            info = self._info(s, row) if row is not None else None
        if info is None or (tenant_id is not None and self._tenant_of(job_id) != tenant_id):
            raise NotFoundError(f"unknown job id {job_id}; use the id a submission returned")
        return info

    def list(self, *, collection_id: int | None = None, limit: int = 100) -> list[JobInfo]:
        with self.catalog.session() as s:
            q = select(Job).order_by(Job.id.desc()).limit(limit)
            if collection_id is not None:
                q = q.where(Job.collection_id == collection_id)
            return [self._info(s, r) for r in s.scalars(q)]

    def wait(self, job_id: int, timeout: float = 600.0) -> JobInfo:
        """Block until the job is done or ``timeout`` seconds passed; returns its state."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.get(job_id)
            if info.done or time.monotonic() >= deadline:
                return info
            time.sleep(min(0.05, self.poll_interval))

    def _tenant_of(self, job_id: int) -> int | None:
        with self.catalog.session() as s:
            return s.scalar(
                select(Collection.tenant_id)
                .join(Job, Job.collection_id == Collection.id)
                .where(Job.id == job_id)
            )

    def _info(self, s: Any, row: Job) -> JobInfo:
        col_name = tenant = None
        if row.collection_id is not None:
            found = s.execute(
                select(Collection.name, Tenant.name)
                .join(Tenant, Tenant.id == Collection.tenant_id)
                .where(Collection.id == row.collection_id)
            ).first()
            if found is not None:
                col_name, tenant = found
        return JobInfo(
            id=row.id,
            kind=row.kind,
            status=row.status,
            collection_id=row.collection_id,
            collection=col_name,
            tenant=tenant,
            params=dict(row.params or {}),
            result=dict(row.result) if row.result is not None else None,
            error=row.error,
            created_at=_iso(row.created_at) or "",
            started_at=_iso(row.started_at),
            finished_at=_iso(row.finished_at),
        )

    # -- the worker thread ---------------------------------------------------------------

    def _claim(self) -> JobInfo | None:
        with self.catalog.session() as s:
            row = s.scalars(
                select(Job).where(Job.status == "queued").order_by(Job.id).limit(1)
            ).first()
            if row is None:
                return None
            row.status = "running"
            row.started_at = utcnow()
            s.flush()
            return self._info(s, row)

    def _finish(self, job_id: int, result: dict[str, Any] | None, error: str | None) -> None:
        with self.catalog.session() as s:
            row = s.get(Job, job_id)
            if row is None:
                return
            row.status = "failed" if error is not None else "succeeded"
            row.result = result
            row.error = error
            row.finished_at = utcnow()

    def run_one(self) -> JobInfo | None:
        """Run the oldest queued job on the calling thread; returns it, or ``None``."""
        job = self._claim()
        if job is None:
            return None
        with _KINDS_LOCK:
            handler = _KINDS.get(job.kind)
        result: dict[str, Any] | None = None
        error: str | None = None
        try:
            if handler is None:
                raise ValidationError(f"job kind {job.kind!r} is no longer registered")
            out = handler(self.rag, job)
            result = dict(out) if out is not None else None
        except RsiRagError as exc:
            error = f"{exc.code}: {exc.message}"
        except Exception as exc:  # a handler bug must fail its job, not the worker
            log.exception("job %s (%s) failed", job.id, job.kind)
            error = f"{type(exc).__name__}: {exc}"
        self._finish(job.id, result, error)
        return self.get(job.id)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_one()
            except Exception:  # the catalog may be briefly unavailable; keep serving
                log.exception("job worker could not read the queue")
                ran = None
            if ran is None:
                self._wake.wait(self.poll_interval)
                self._wake.clear()
