"""Collections, documents (upload, list, delete) and ingestion jobs."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, delete, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body

from rsi_rag.errors import ValidationError
from rsi_rag.jobs import JobInfo
from service.ingest_jobs import INGEST_KIND
from service.metrics import JOBS
from service.schemas import CollectionCreate, PathId, TextDocuments
from service.state import Principal, ServiceState

__all__ = ["CollectionController", "JobController", "UploadForm"]

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class UploadForm:
    """``files``: one or more files; ``acl``: comma-separated principals allowed to read."""

    files: list[UploadFile] = field(default_factory=list)
    acl: str | None = None


def _job(info: JobInfo) -> dict[str, Any]:
    out = info.to_dict()
    out.pop("collection_id", None)
    # Upload folders are server paths; callers need not see them.
    out["params"] = {k: v for k, v in info.params.items() if k in ("acl", "count")}
    return out


class CollectionController(Controller):
    path = "/v1/collections"
    tags = ("collections",)

    @get("/", sync_to_thread=True)
    def list_collections(self, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """The collections of the key's tenant."""
        principal.require("read")
        return {"collections": [c.to_dict() for c in service.rag.collections(principal.tenant)]}

    @post("/", sync_to_thread=True, status_code=201)
    def create_collection(
        self, data: CollectionCreate, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Create a collection (an existing one is returned unchanged)."""
        principal.require("write")
        service.rag.create_collection(data.name, principal.tenant)
        info = [c for c in service.rag.collections(principal.tenant) if c.name == data.name]
        return info[0].to_dict()

    @get("/{collection:str}", sync_to_thread=True)
    def get_collection(
        self, collection: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        principal.require("read")
        service.collection(principal, collection)
        found = [c for c in service.rag.collections(principal.tenant) if c.name == collection]
        return found[0].to_dict()

    @get("/{collection:str}/documents", sync_to_thread=True)
    def list_documents(
        self, collection: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        principal.require("read")
        docs = service.rag.documents(collection, tenant=principal.tenant)
        return {"documents": [d.to_dict() for d in docs]}

    @post("/{collection:str}/documents", sync_to_thread=True, status_code=202)
    def upload(
        self,
        collection: str,
        data: Annotated[UploadForm, Body(media_type=RequestEncodingType.MULTI_PART)],
        principal: Principal,
        service: ServiceState,
    ) -> dict[str, Any]:
        """Upload files (txt, md, html, pdf, docx); returns the ingestion job (202)."""
        principal.require("write")
        files = [f for f in data.files if isinstance(f, UploadFile)]
        if not files:
            raise ValidationError("send at least one file in the multipart field 'files'")
        col = service.rag.create_collection(collection, principal.tenant)
        folder = service.rag.data_dir / "uploads" / uuid.uuid4().hex
        folder.mkdir(parents=True)
        entries = []
        for i, f in enumerate(files):
            name = f.filename or f"upload-{i}.txt"
            path = folder / f"{i}_{_SAFE.sub('_', name)[-100:]}"
            path.write_bytes(f.file.read())
            entries.append({"path": str(path), "name": name})
        acl = [p.strip() for p in (data.acl or "").split(",") if p.strip()]
        params = {"files": entries, "acl": acl, "count": len(entries), "upload_dir": str(folder)}
        return self._submit(service, col.id, params, folder)

    @post("/{collection:str}/documents/text", sync_to_thread=True, status_code=202)
    def upload_text(
        self, collection: str, data: TextDocuments, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Ingest documents given as text (JSON); returns the ingestion job (202)."""
        principal.require("write")
        col = service.rag.create_collection(collection, principal.tenant)
        docs = [
            {
                "source_id": d.source_id,
                "text": d.text,
                "metadata": d.metadata,
                "acl": d.acl,
                "version": d.version,
            }
            for d in data.documents
        ]
        return self._submit(service, col.id, {"documents": docs, "count": len(docs)}, None)

    @staticmethod
    def _submit(
        service: ServiceState, collection_id: int, params: dict[str, Any], folder: Any
    ) -> dict[str, Any]:
        try:
            info = service.worker.submit(INGEST_KIND, collection_id=collection_id, params=params)
        except Exception:
            if folder is not None:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
            raise
        JOBS.labels(INGEST_KIND).inc()
        return _job(info)

    @delete("/{collection:str}/documents/{document_id:int}", sync_to_thread=True, status_code=200)
    def delete_document(
        self, collection: str, document_id: PathId, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Delete a document and its chunks from every index."""
        principal.require("write")
        removed = service.rag.delete_document(
            collection, document_id=document_id, tenant=principal.tenant
        )
        return {"document_id": document_id, "chunks_removed": removed}

    @delete("/{collection:str}/documents", sync_to_thread=True, status_code=200)
    def delete_document_by_source(
        self, collection: str, source: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Delete the document with this ``source`` (the uploaded file name or source id)."""
        principal.require("write")
        col = service.collection(principal, collection)
        # Not via RAG.delete_document's path resolution: a source here is never a server path.
        docs = [
            d for d in service.rag.documents(collection, principal.tenant) if d.source == source
        ]
        if not docs:
            from rsi_rag.errors import UnknownDocumentError

            raise UnknownDocumentError(
                f"no document with source {source!r} in collection {col.name!r}; "
                "list documents to find the right one"
            )
        removed = service.rag.delete_document(
            collection, document_id=docs[0].id, tenant=principal.tenant
        )
        return {"document_id": docs[0].id, "chunks_removed": removed}

    @get("/{collection:str}/jobs", sync_to_thread=True)
    def list_jobs(
        self, collection: str, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        principal.require("read")
        col = service.collection(principal, collection)
        return {"jobs": [_job(j) for j in service.worker.list(collection_id=col.id)]}


class JobController(Controller):
    path = "/v1/jobs"
    tags = ("jobs",)

    @get("/{job_id:int}", sync_to_thread=True)
    def get_job(
        self, job_id: PathId, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """A job's status, result or error (jobs of other tenants are unknown here)."""
        principal.require("read")
        return _job(service.worker.get(job_id, tenant_id=principal.key.tenant_id))
