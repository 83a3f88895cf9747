"""The SDK retries 429 and 503 with backoff and maps errors to the library's classes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rsi_rag.client import AsyncClient, Client
from rsi_rag.errors import RateLimitedError, UnknownCollectionError


def _transport(statuses: list[int], seen: list[float]) -> httpx.MockTransport:
    import time

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(time.monotonic())
        status = statuses.pop(0) if statuses else 200
        if status == 200:
            return httpx.Response(200, json={"collections": []})
        code = "rate_limited" if status == 429 else "model_error"
        return httpx.Response(
            status,
            json={"error": {"code": code, "message": "busy", "type": "x"}},
            headers={"Retry-After": "0"} if status == 429 else {},
        )

    return httpx.MockTransport(handler)


def test_retries_then_succeeds_with_backoff() -> None:
    seen: list[float] = []
    c = Client("http://x", "k", backoff=0.05, transport=_transport([503, 503, 429], seen))
    assert c.collections() == []
    assert len(seen) == 4
    assert seen[2] - seen[1] >= 0.09  # second 503 waited 2 x backoff
    seen.clear()
    c = Client(
        "http://x", "k", max_retries=1, backoff=0.01, transport=_transport([429, 429, 429], seen)
    )
    with pytest.raises(RateLimitedError, match="busy"):
        c.collections()
    assert len(seen) == 2


def test_errors_map_to_library_classes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"error": {"code": "unknown_collection", "message": "unknown collection 'x'"}}
        )

    c = Client("http://x", "k", transport=httpx.MockTransport(handler))
    with pytest.raises(UnknownCollectionError, match="unknown collection 'x'") as err:
        c.retrieve("q", "x")
    assert err.value.status == 404

    async def run() -> None:
        a = AsyncClient("http://x", "k", transport=httpx.MockTransport(handler))
        with pytest.raises(UnknownCollectionError):
            await a.ask("q", "x")
        await a.aclose()

    asyncio.run(run())
