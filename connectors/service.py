"""The service's ``/v1/sources`` routes and the ``connector_sync`` job kind.

``install(app)`` adds both to a litestar app built by :func:`service.app.create_app`.
Syncs run on the service's job worker, so a request returns at once with the job (202)
and ``GET /v1/jobs/{id}`` gives the sync report when it is done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from litestar import Controller, Litestar, delete, get, post

from connectors.filesystem import ROOTS_ENV, allowed_roots
from connectors.sync import SyncRunner
from rsi_rag.errors import PermissionDeniedError
from rsi_rag.jobs import JobInfo, job_kinds, register_job_kind
from service.state import Principal, ServiceState

if TYPE_CHECKING:
    from rsi_rag.rag import RAG

__all__ = ["SYNC_KIND", "SourceController", "SourceCreate", "install", "run_sync_job"]

SYNC_KIND = "connector_sync"


def run_sync_job(rag: RAG, job: JobInfo) -> dict[str, Any]:
    """Sync the source named in the job's parameters; returns the sync report."""
    runner = SyncRunner(rag, tenant=job.tenant)
    return runner.sync(str(job.params["source"])).to_dict()


def ensure_registered() -> None:
    if SYNC_KIND not in job_kinds():
        register_job_kind(SYNC_KIND, run_sync_job)


@dataclass
class SourceCreate:
    """A named source: its connector type, target collection and options."""

    name: str
    type: str
    collection: str
    options: dict[str, Any] = field(default_factory=dict)
    interval_s: float | None = None


class SourceController(Controller):
    """Named sources of the caller's tenant, and their syncs."""

    path = "/v1/sources"
    tags: ClassVar[list[str]] = ["sources"]  # type: ignore[misc]

    @get("/", sync_to_thread=True)
    def list_sources(self, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """The tenant's sources with their last sync."""
        principal.require("read")
        runner = SyncRunner(service.rag, tenant=principal.tenant)
        return {"sources": [s.to_dict() for s in runner.sources()]}

    @post("/", sync_to_thread=True, status_code=201)
    def add_source(
        self, data: SourceCreate, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Add a source; options are validated now, secrets stay in the environment."""
        principal.require("admin")
        if data.type == "filesystem" and allowed_roots() is None:
            raise PermissionDeniedError(
                f"filesystem sources are refused over the API until the server confines them: "
                f"set {ROOTS_ENV} to the folders tenants may sync (or add the source with "
                "'rsi-rag sources add' on the server)"
            )
        runner = SyncRunner(service.rag, tenant=principal.tenant)
        info = runner.add_source(
            data.name, data.type, data.collection, data.options, interval_s=data.interval_s
        )
        service.rag.catalog.audit(
            "source.add",
            target=data.name,
            tenant_id=principal.key.tenant_id,
            actor=principal.actor,
            details={"type": data.type, "collection": data.collection},
        )
        return info.to_dict()

    @delete("/{name:str}", sync_to_thread=True, status_code=200)
    def remove_source(
        self, name: str, principal: Principal, service: ServiceState, keep_documents: bool = False
    ) -> dict[str, Any]:
        """Remove a source and, unless ``keep_documents``, the documents it brought in."""
        principal.require("admin")
        runner = SyncRunner(service.rag, tenant=principal.tenant)
        n = runner.remove_source(name, delete_documents=not keep_documents)
        service.rag.catalog.audit(
            "source.remove",
            target=name,
            tenant_id=principal.key.tenant_id,
            actor=principal.actor,
            details={"documents_deleted": n},
        )
        return {"removed": name, "documents_deleted": n}

    @post("/{name:str}/sync", sync_to_thread=True, status_code=202)
    def sync(self, name: str, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """Queue a sync of the source; the job's result is the sync report."""
        principal.require("write")
        info = SyncRunner(service.rag, tenant=principal.tenant).source(name)
        col = service.rag.create_collection(info.collection, principal.tenant)
        job = service.worker.submit(SYNC_KIND, collection_id=col.id, params={"source": name})
        return job.to_dict()

    @get("/{name:str}/syncs", sync_to_thread=True)
    def history(self, name: str, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """The source's recent syncs with their reports."""
        principal.require("read")
        runner = SyncRunner(service.rag, tenant=principal.tenant)
        return {"syncs": runner.store.syncs(runner.source(name).id)}


def install(app: Litestar) -> None:
    """Add the ``/v1/sources`` routes and the sync job kind to a service app."""
    ensure_registered()
    app.register(SourceController)
