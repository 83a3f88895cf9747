"""The ``ingest`` job kind: uploaded files and text documents, ingested on the worker."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsi_rag.errors import IngestError
from rsi_rag.ingest.readers import read_bytes
from rsi_rag.jobs import JobInfo, job_kinds, register_job_kind
from rsi_rag.types import IngestFailure, SourceDocument

if TYPE_CHECKING:
    from rsi_rag.rag import RAG

__all__ = ["INGEST_KIND", "ensure_registered", "run_ingest_job"]

INGEST_KIND = "ingest"


def _documents(params: dict[str, Any], failures: list[IngestFailure]) -> list[SourceDocument]:
    acl = tuple(params.get("acl") or ())
    docs: list[SourceDocument] = []
    for f in params.get("files", []):
        path, name = Path(f["path"]), str(f["name"])
        try:
            text = read_bytes(path.read_bytes(), name)
        except IngestError as exc:
            failures.append(IngestFailure(name, exc.code, exc.message))
            continue
        suffix = Path(name).suffix.lower().lstrip(".")
        docs.append(
            SourceDocument(name, text, {"file_name": Path(name).name, "file_type": suffix}, acl)
        )
    for d in params.get("documents", []):
        docs.append(
            SourceDocument(
                d["source_id"],
                d["text"],
                dict(d.get("metadata") or {}),
                tuple(d.get("acl") or ()),
                d.get("version"),
            )
        )
    return docs


def run_ingest_job(rag: RAG, job: JobInfo) -> dict[str, Any]:
    """Ingest the job's files or documents into its collection; returns the report."""
    assert job.collection is not None and job.tenant is not None
    failures: list[IngestFailure] = []
    try:
        docs = _documents(job.params, failures)
        report = rag.ingest_documents(docs, job.collection, tenant=job.tenant)
    finally:
        upload_dir = job.params.get("upload_dir")
        if upload_dir:
            shutil.rmtree(upload_dir, ignore_errors=True)
    report = dataclasses.replace(report, failed=(*failures, *report.failed))
    return report.to_dict()


def ensure_registered() -> None:
    """Register the ``ingest`` kind once per process."""
    if INGEST_KIND not in job_kinds():
        register_job_kind(INGEST_KIND, run_ingest_job)
