"""``AsyncClient``: the asynchronous twin of :class:`~rsi_rag.client.Client`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
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

__all__ = ["AsyncAnswerStream", "AsyncClient"]


def _body(question_key: str, text: str, k: Any, mode: Any, principals: Any) -> dict[str, Any]:
    return {
        question_key: text,
        "k": k,
        "mode": mode,
        "principals": list(principals) if principals is not None else None,
    }


class AsyncAnswerStream:
    """``async for`` the answer's text pieces; :attr:`answer` holds the result afterwards."""

    def __init__(self, events: AsyncIterator[tuple[str, Any]]) -> None:
        self._events = events
        self._answer: Answer | None = None
        self.hits: tuple[Hit, ...] = ()

    async def __aiter__(self) -> AsyncIterator[str]:
        async for event, data in self._events:
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
        """The final answer; available once the stream was iterated to its end."""
        if self._answer is None:
            raise RsiRagError("iterate the stream to its end before reading .answer")
        return self._answer

    async def result(self) -> Answer:
        """Consume what is left of the stream and return the answer."""
        async for _ in self:
            pass
        return self.answer


class AsyncClient:
    """An asynchronous client of the rsi_rag service (same arguments as ``Client``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        principals: Sequence[str] | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"}
        if principals is not None:
            headers["X-RSI-Principals"] = ",".join(principals)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self.max_retries = max_retries
        self.backoff = backoff

    async def _request(
        self, method: str, path: str, *, tenant: str | None = None, **kw: Any
    ) -> Any:
        headers = {"X-RSI-Tenant": tenant} if tenant is not None else None
        for attempt in range(self.max_retries + 1):
            resp = await self._http.request(method, path, headers=headers, **kw)
            if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                delay = retry_delay(attempt, resp.headers.get("retry-after"), self.backoff)
                await asyncio.sleep(delay)
                continue
            if resp.status_code >= 400:
                raise error_from(resp.status_code, resp.content)
            return resp.json()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def collections(self, tenant: str | None = None) -> list[CollectionInfo]:
        data = await self._request("GET", "/v1/collections", tenant=tenant)
        return [collection_from(c) for c in data["collections"]]

    async def documents(self, collection: str, tenant: str | None = None) -> list[DocumentInfo]:
        data = await self._request("GET", f"/v1/collections/{collection}/documents", tenant=tenant)
        return [document_from(d) for d in data["documents"]]

    async def ingest(
        self,
        paths: str | Path | Sequence[str | Path],
        collection: str,
        *,
        tenant: str | None = None,
        acl: Sequence[str] = (),
        timeout: float = 3600.0,
    ) -> IngestReport:
        """Upload files (folders are walked) and wait for the ingestion job's report."""
        files = collect_files(paths)
        with ExitStack() as stack:
            parts = [("files", (f.name, stack.enter_context(f.open("rb")))) for f in files]
            job = await self._request(
                "POST",
                f"/v1/collections/{collection}/documents",
                files=parts,
                data={"acl": ",".join(acl)} if acl else None,
                tenant=tenant,
            )
        return report_from(await self.wait_job(job["id"], timeout))

    async def ingest_documents(
        self,
        documents: Iterable[SourceDocument],
        collection: str,
        *,
        tenant: str | None = None,
        timeout: float = 3600.0,
    ) -> IngestReport:
        job = await self._request(
            "POST",
            f"/v1/collections/{collection}/documents/text",
            json=documents_payload(documents),
            tenant=tenant,
        )
        return report_from(await self.wait_job(job["id"], timeout))

    async def delete_document(
        self,
        collection: str,
        *,
        document_id: int | None = None,
        source: str | None = None,
        tenant: str | None = None,
    ) -> int:
        base = f"/v1/collections/{collection}/documents"
        if (document_id is None) == (source is None):
            raise ValidationError("give exactly one of document_id or source")
        if document_id is not None:
            data = await self._request("DELETE", f"{base}/{document_id}", tenant=tenant)
        else:
            data = await self._request("DELETE", base, params={"source": source}, tenant=tenant)
        return int(data["chunks_removed"])

    async def retrieve(
        self,
        query: str,
        collection: str,
        k: int | None = None,
        *,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> list[Hit]:
        data = await self._request(
            "POST",
            f"/v1/collections/{collection}/retrieve",
            json=_body("query", query, k, mode, principals),
            tenant=tenant,
        )
        return [hit_from(h) for h in data["hits"]]

    async def ask(
        self,
        question: str,
        collection: str,
        *,
        k: int | None = None,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> Answer:
        data = await self._request(
            "POST",
            f"/v1/collections/{collection}/query",
            json=_body("question", question, k, mode, principals),
            tenant=tenant,
        )
        return answer_from(data)

    def stream(
        self,
        question: str,
        collection: str,
        *,
        k: int | None = None,
        tenant: str | None = None,
        principals: Sequence[str] | None = None,
        mode: str | None = None,
    ) -> AsyncAnswerStream:
        """Answer as a stream of text pieces (Server-Sent Events); the Answer follows."""
        body = _body("question", question, k, mode, principals)
        headers = {"X-RSI-Tenant": tenant} if tenant is not None else None
        path = f"/v1/collections/{collection}/query/stream"

        async def events() -> AsyncIterator[tuple[str, Any]]:
            for attempt in range(self.max_retries + 1):
                async with self._http.stream("POST", path, json=body, headers=headers) as resp:
                    if resp.status_code in RETRY_STATUSES and attempt < self.max_retries:
                        await resp.aread()
                        delay = retry_delay(attempt, resp.headers.get("retry-after"), self.backoff)
                        await asyncio.sleep(delay)
                        continue
                    if resp.status_code >= 400:
                        raise error_from(resp.status_code, await resp.aread())
                    decoder = SSEDecoder()
                    async for line in resp.aiter_lines():
                        for item in decoder.feed(line):
                            yield item
                    for item in decoder.feed(""):
                        yield item
                    return

        return AsyncAnswerStream(events())

    async def feedback(
        self,
        interaction_id: int,
        *,
        rating: int | None = None,
        correction: str | None = None,
        chosen_chunk_ids: Sequence[int] = (),
        rejected_chunk_ids: Sequence[int] = (),
    ) -> int:
        body = {
            "interaction_id": interaction_id,
            "rating": rating,
            "correction": correction,
            "chosen_chunk_ids": list(chosen_chunk_ids),
            "rejected_chunk_ids": list(rejected_chunk_ids),
        }
        return int((await self._request("POST", "/v1/feedback", json=body))["feedback_id"])

    async def job(self, job_id: int) -> JobInfo:
        return job_from(await self._request("GET", f"/v1/jobs/{job_id}"))

    async def wait_job(self, job_id: int, timeout: float = 3600.0, poll: float = 0.2) -> JobInfo:
        deadline = time.monotonic() + timeout
        while True:
            info = await self.job(job_id)
            if info.done or time.monotonic() >= deadline:
                return info
            await asyncio.sleep(poll)

    async def improve(self, collection: str, **params: Any) -> JobInfo:
        data = await self._request(
            "POST", f"/v1/collections/{collection}/improve", json={"params": params}
        )
        return job_from(data)
