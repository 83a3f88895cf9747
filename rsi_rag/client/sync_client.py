"""``Client``: the service over HTTP, with the methods of :class:`rsi_rag.RAG`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from rsi_rag.client._common import (
    RETRY_STATUSES,
    SSEDecoder,
    answer_from,
    collect_files,
    collection_from,
    document_from,
    documents_payload,
    error_from,
    hit_from,
    job_from,
    report_from,
    retry_delay,
)
from rsi_rag.errors import RsiRagError, ValidationError, error_for_code
from rsi_rag.jobs import JobInfo
from rsi_rag.types import (
    Answer,
    CollectionInfo,
    DocumentInfo,
    Hit,
    IngestReport,
    SourceDocument,
)

__all__ = ["Client", "RemoteAnswerStream"]


class RemoteAnswerStream:
    """Iterate for the answer's text pieces; :attr:`answer` holds the result afterwards."""

    def __init__(self, events: Iterator[tuple[str, Any]]) -> None:
        self._events = events
        self._answer: Answer | None = None
        self.hits: tuple[Hit, ...] = ()

    def __iter__(self) -> Iterator[str]:
        for event, data in self._events:
            if event == "hits":
                self.hits = tuple(hit_from(h) for h in data)
            elif event == "token":
                yield str(data["text"])
            elif event == "answer":
                self._answer = answer_from(data)
            elif event == "error":
                raise error_for_code(str(data.get("code")), str(data.get("message")))

    @property
    def answer(self) -> Answer:
        if self._answer is None:
            for _ in self:
                pass
        if self._answer is None:
            raise RsiRagError("the answer stream ended without an answer")
        return self._answer


class Client:
    """A client of the rsi_rag service.

    Args:
        base_url: The service, e.g. ``http://127.0.0.1:8000``.
        api_key: An API key (``rsi-rag keys create``); its tenant is the client's tenant.
        principals: ACL principals of the end user, sent with every request.
        timeout: Seconds per request.
        max_retries: Retries of a request answered 429 or 503, with exponential backoff.
        backoff: Seconds before the first retry (doubled each time; ``Retry-After`` wins).
        transport: An httpx transport (tests pass an ASGI transport).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        principals: Sequence[str] | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        if principals is not None:
            headers["X-RSI-Principals"] = ",".join(principals)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.max_retries = max_retries
        self.backoff = backoff

    # -- plumbing ------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, tenant: str | None = None, **kw: Any) -> Any:
        headers = {"X-RSI-Tenant": tenant} if tenant is not None else None
        for attempt in range(self.max_retries + 1):
            resp = self._http.request(method, path, headers=headers, **kw)
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                time.sleep(retry_delay(attempt, resp.headers.get("retry-after"), self.backoff))
                continue
            if resp.status_code >= 400:
                raise error_from(resp.status_code, resp.content)
            return resp.json()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- collections and documents -------------------------------------------------------

    def collections(self, tenant: str | None = None) -> list[CollectionInfo]:
        data = self._request("GET", "/v1/collections", tenant=tenant)
        return [collection_from(c) for c in data["collections"]]

    def create_collection(self, name: str, tenant: str | None = None) -> CollectionInfo:
        return collection_from(
            self._request("POST", "/v1/collections", json={"name": name}, tenant=tenant)
        )

    def documents(self, collection: str, tenant: str | None = None) -> list[DocumentInfo]:
        data = self._request("GET", f"/v1/collections/{collection}/documents", tenant=tenant)
        return [document_from(d) for d in data["documents"]]

    def ingest(
        self,
        paths: str | Path | Sequence[str | Path],
        collection: str,
        *,
        tenant: str | None = None,
        acl: Sequence[str] = (),
        progress: bool = False,
        timeout: float = 3600.0,
    ) -> IngestReport:
        """Upload files (folders are walked) and wait for the ingestion job's report."""
        files = collect_files(paths)
        with ExitStack() as stack:
            parts = [("files", (f.name, stack.enter_context(f.open("rb")))) for f in files]
            job = self._request(
                "POST",
                f"/v1/collections/{collection}/documents",
                files=parts,
                data={"acl": ",".join(acl)} if acl else None,
                tenant=tenant,
            )
        return report_from(self.wait_job(job["id"], timeout))

    def ingest_documents(
        self,
        documents: Iterable[SourceDocument],
        collection: str,
        *,
        tenant: str | None = None,
        progress: bool = False,
        total: int | None = None,
        timeout: float = 3600.0,
    ) -> IngestReport:
        """Send documents as text and wait for the ingestion job's report."""
        job = self._request(
            "POST",
            f"/v1/collections/{collection}/documents/text",
            json=documents_payload(documents),
            tenant=tenant,
        )
        return report_from(self.wait_job(job["id"], timeout))

    def delete_document(
        self,
        collection: str,
        *,
        document_id: int | None = None,
        source: str | None = None,
        tenant: str | None = None,
    ) -> int:
        """Delete a document by id or source; returns how many chunks were removed."""
        base = f"/v1/collections/{collection}/documents"
        if (document_id is None) == (source is None):
            raise ValidationError("give exactly one of document_id or source")
        if document_id is not None:
            data = self._request("DELETE", f"{base}/{document_id}", tenant=tenant)
        else:
            data = self._request("DELETE", base, params={"source": source}, tenant=tenant)
        return int(data["chunks_removed"])

    # -- retrieval and answers -----------------------------------------------------------

    def retrieve(
        self,
        query: str,
        collection: str,
        k: int | None = None,
        *,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        body = {
            "query": query,
            "k": k,
            "mode": mode,
            "principals": list(principals) if principals is not None else None,
        }
        data = self._request(
            "POST", f"/v1/collections/{collection}/retrieve", json=body, tenant=tenant
        )
        return [hit_from(h) for h in data["hits"]]

    def ask(
        self,
        question: str,
        collection: str,
        *,
        k: int | None = None,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> Answer:
        body = {
            "question": question,
            "k": k,
            "mode": mode,
            "principals": list(principals) if principals is not None else None,
        }
        return answer_from(
            self._request("POST", f"/v1/collections/{collection}/query", json=body, tenant=tenant)
        )

    def stream(
        self,
        question: str,
        collection: str,
        *,
        k: int | None = None,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> RemoteAnswerStream:
        """Answer as a stream of text pieces (Server-Sent Events); the Answer follows."""
        body = {
            "question": question,
            "k": k,
            "mode": mode,
            "principals": list(principals) if principals is not None else None,
        }
        headers = {"X-RSI-Tenant": tenant} if tenant is not None else None
        path = f"/v1/collections/{collection}/query/stream"

        def events() -> Iterator[tuple[str, Any]]:
            for attempt in range(self.max_retries + 1):
                with self._http.stream("POST", path, json=body, headers=headers) as resp:
                    if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                        resp.read()
                        delay = retry_delay(attempt, resp.headers.get("retry-after"), self.backoff)
                        time.sleep(delay)
                        continue
                    if resp.status_code >= 400:
                        raise error_from(resp.status_code, resp.read())
                    decoder = SSEDecoder()
                    for line in resp.iter_lines():
                        yield from decoder.feed(line)
                    yield from decoder.feed("")
                    return

        return RemoteAnswerStream(events())

    def feedback(
        self,
        interaction_id: int,
        *,
        rating: int | None = None,
        correction: str | None = None,
        chosen_chunk_ids: Sequence[int] = (),
        rejected_chunk_ids: Sequence[int] = (),
    ) -> int:
        """Record feedback on an answer; returns the feedback id."""
        body = {
            "interaction_id": interaction_id,
            "rating": rating,
            "correction": correction,
            "chosen_chunk_ids": list(chosen_chunk_ids),
            "rejected_chunk_ids": list(rejected_chunk_ids),
        }
        return int(self._request("POST", "/v1/feedback", json=body)["feedback_id"])

    # -- jobs and models -----------------------------------------------------------------

    def job(self, job_id: int) -> JobInfo:
        return job_from(self._request("GET", f"/v1/jobs/{job_id}"))

    def wait_job(self, job_id: int, timeout: float = 3600.0, poll: float = 0.2) -> JobInfo:
        """Poll a job until it succeeded or failed (or ``timeout`` passed)."""
        deadline = time.monotonic() + timeout
        while True:
            info = self.job(job_id)
            if info.done or time.monotonic() >= deadline:
                return info
            time.sleep(poll)

    def improve(self, collection: str, **params: Any) -> JobInfo:
        """Start an improvement cycle of the collection (a background job)."""
        return job_from(
            self._request("POST", f"/v1/collections/{collection}/improve", json={"params": params})
        )

    def models(self, collection: str) -> dict[str, Any]:
        """The collection's champions and model versions."""
        data: dict[str, Any] = self._request("GET", f"/v1/collections/{collection}/models")
        return data
