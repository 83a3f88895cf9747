"""Model versions (list, show, promote, rollback), evaluation reports and improvement jobs.

Promotion, rollback and improvement cycles are job kinds the learning loop registers
(``promote``, ``rollback``, ``improve``); while a kind is not registered its route answers
501 and says so.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.exceptions import HTTPException

from rsi_rag.errors import UnknownModelVersionError
from rsi_rag.jobs import JobInfo, job_kinds
from rsi_rag.registry.registry import VersionInfo
from service.metrics import JOBS
from service.schemas import ImproveRequest, PathId, RollbackRequest
from service.state import Principal, ServiceState

__all__ = ["ModelController"]


def _version(v: VersionInfo) -> dict[str, Any]:
    out = v.to_dict()
    out.pop("path", None)  # a server path; not the caller's business
    return out


def _job(info: JobInfo) -> dict[str, Any]:
    out = info.to_dict()
    out.pop("collection_id", None)
    return out


def _submit(
    service: ServiceState, kind: str, collection_id: int, params: dict[str, Any]
) -> dict[str, Any]:
    if kind not in job_kinds():
        raise HTTPException(
            status_code=501,
            detail=(
                f"the {kind!r} job kind is not available in this installation: it is "
                "registered by the learning loop (rsi_rag.loop); registered kinds: "
                f"{job_kinds()}"
            ),
        )
    info = service.worker.submit(kind, collection_id=collection_id, params=params)
    JOBS.labels(kind).inc()
    return _job(info)


def _find_version(
    service: ServiceState, collection_id: int, collection: str, version: str
) -> VersionInfo:
    info = service.rag.registry.find(version)
    if info is None or info.collection_id not in (None, collection_id):
        raise UnknownModelVersionError(
            f"unknown model version {version!r} for collection {collection!r}; "
            f"GET /v1/collections/{collection}/models lists them"
        )
    return info


class ModelController(Controller):
    path = "/v1/collections/{collection:str}"
    tags = ("models",)

    @get("/models", sync_to_thread=True)
    def list_models(
        self, collection: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Model versions of the collection, with the champions it serves."""
        principal.require("read")
        col = service.collection(principal, collection)
        versions = service.rag.registry.list(collection_id=col.id)
        return {
            "champions": {
                "retriever": col.retriever_version,
                "generator": col.generator_version,
            },
            "versions": [_version(v) for v in versions],
        }

    @get("/models/{version:str}", sync_to_thread=True)
    def show_model(
        self, collection: str, version: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """One version and its lineage (newest first)."""
        principal.require("read")
        col = service.collection(principal, collection)
        info = _find_version(service, col.id, collection, version)
        lineage = service.rag.registry.lineage(version)
        return {**_version(info), "lineage": [v.id for v in lineage]}

    @post("/models/{version:str}/promote", sync_to_thread=True, status_code=202)
    def promote(
        self, collection: str, version: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Start promoting a version to champion (a ``promote`` job)."""
        principal.require("admin")
        col = service.collection(principal, collection)
        _find_version(service, col.id, collection, version)
        return _submit(service, "promote", col.id, {"version": version})

    @post("/rollback", sync_to_thread=True, status_code=202)
    def rollback(
        self, collection: str, data: RollbackRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Start a rollback of the retriever or generator (a ``rollback`` job)."""
        principal.require("admin")
        col = service.collection(principal, collection)
        params: dict[str, Any] = {"kind": data.kind, "to_version": data.to_version}
        return _submit(service, "rollback", col.id, params)

    @post("/improve", sync_to_thread=True, status_code=202)
    def improve(
        self, collection: str, data: ImproveRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Start an improvement cycle (an ``improve`` job); one at a time per collection."""
        principal.require("write")
        col = service.collection(principal, collection)
        return _submit(service, "improve", col.id, dict(data.params))

    @get("/improve/{job_id:int}", sync_to_thread=True)
    def improve_status(
        self, collection: str, job_id: PathId, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Status, result or error of an improvement job."""
        principal.require("read")
        col = service.collection(principal, collection)
        info = service.worker.get(job_id, tenant_id=principal.key.tenant_id)
        if info.collection_id != col.id or info.kind != "improve":
            from rsi_rag.errors import NotFoundError

            raise NotFoundError(f"no improvement job {job_id} in collection {collection!r}")
        return _job(info)

    @get("/evaluations", sync_to_thread=True)
    def evaluations(
        self, collection: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Evaluation reports: metrics and gate decisions of the collection's versions."""
        principal.require("read")
        col = service.collection(principal, collection)
        rows = [
            {
                "version": v.id,
                "kind": v.kind,
                "status": v.status,
                "parent": v.parent_id,
                "metrics": v.metrics,
                "gate_decision": v.gate_decision,
                "created_at": v.created_at,
            }
            for v in service.rag.registry.list(collection_id=col.id)
            if v.collection_id == col.id and (v.metrics or v.gate_decision)
        ]
        return {"collection": collection, "reports": rows}
