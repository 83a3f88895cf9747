"""What the synchronous and asynchronous clients share: decoding, errors, retries, SSE."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rsi_rag.errors import RsiRagError, ValidationError, error_for_code
from rsi_rag.jobs import JobInfo
from rsi_rag.types import (
    Answer,
    Citation,
    CollectionInfo,
    DocumentInfo,
    Hit,
    IngestFailure,
    IngestReport,
    SourceDocument,
)

__all__ = [
    "RETRY_STATUSES",
    "SSEDecoder",
    "answer_from",
    "collect_files",
    "collection_from",
    "document_from",
    "documents_payload",
    "error_from",
    "hit_from",
    "job_from",
    "report_from",
    "retry_delay",
]

RETRY_STATUSES = frozenset({429, 503})
_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")


def error_from(status: int, body: bytes) -> RsiRagError:
    """The library error for an error response (same class as in-process, by ``code``)."""
    try:
        err = json.loads(body)["error"]
        exc = error_for_code(str(err["code"]), str(err["message"]))
    except (ValueError, KeyError, TypeError):
        text = body[:300].decode("utf-8", "replace")
        exc = RsiRagError(f"HTTP {status} from the service: {text}")
    exc.status = status
    return exc


def retry_delay(attempt: int, retry_after: str | None, backoff: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based); honours ``Retry-After``."""
    if retry_after:
        try:
            return min(60.0, max(0.0, float(retry_after)))
        except ValueError:
            pass
    return float(backoff * (2**attempt))


def hit_from(d: dict[str, Any]) -> Hit:
    return Hit(**d)


def answer_from(d: dict[str, Any]) -> Answer:
    return Answer(
        text=d["text"],
        citations=tuple(Citation(**c) for c in d["citations"]),
        abstained=bool(d["abstained"]),
        hits=tuple(hit_from(h) for h in d["hits"]),
        model_versions=dict(d["model_versions"]),
        interaction_id=d.get("interaction_id"),
    )


def collection_from(d: dict[str, Any]) -> CollectionInfo:
    return CollectionInfo(**d)


def document_from(d: dict[str, Any]) -> DocumentInfo:
    return DocumentInfo(**{**d, "acl": tuple(d.get("acl") or ())})


def job_from(d: dict[str, Any]) -> JobInfo:
    return JobInfo(**{"collection_id": None, **d})


def report_from(job: JobInfo) -> IngestReport:
    """The ingestion report of a finished ``ingest`` job; raises if the job failed."""
    if job.status == "failed":
        raise RsiRagError(f"ingestion job {job.id} failed: {job.error}")
    if job.result is None:
        raise RsiRagError(f"ingestion job {job.id} is still {job.status}; wait for it")
    r = job.result
    return IngestReport(
        added=tuple(r["added"]),
        updated=tuple(r["updated"]),
        unchanged=tuple(r["unchanged"]),
        failed=tuple(IngestFailure(**f) for f in r["failed"]),
        chunks_added=int(r["chunks_added"]),
        chunks_removed=int(r["chunks_removed"]),
    )


def collect_files(paths: str | Path | Sequence[str | Path]) -> list[Path]:
    """Files to upload: the given files, and the supported files under given folders."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(
                f for f in sorted(p.rglob("*")) if f.is_file() and f.suffix.lower() in _SUFFIXES
            )
        elif p.is_file():
            out.append(p)
        else:
            raise ValidationError(f"{p} does not exist; check the path")
    if not out:
        raise ValidationError(f"no supported files ({', '.join(_SUFFIXES)}) under {list(paths)}")
    return out


def documents_payload(documents: Iterable[SourceDocument]) -> dict[str, Any]:
    docs = []
    for d in documents:
        if not isinstance(d, SourceDocument):
            raise ValidationError(
                f"ingest_documents takes SourceDocument items, got {type(d).__name__}"
            )
        docs.append(
            {
                "source_id": d.source_id,
                "text": d.text,
                "metadata": dict(d.metadata),
                "acl": list(d.acl),
                "version": d.version,
            }
        )
    return {"documents": docs}


class SSEDecoder:
    """Turns the lines of a ``text/event-stream`` body into ``(event, data)`` pairs."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> Iterator[tuple[str, Any]]:
        if line == "":
            if self._data:
                yield self._event, json.loads("\n".join(self._data))
            self._event, self._data = "message", []
        elif line.startswith("event:"):
            self._event = line[6:].strip()
        elif line.startswith("data:"):
            self._data.append(line[5:].lstrip())
