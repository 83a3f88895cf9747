"""The SDK against the live service: same methods, types and errors as the facade."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from rsi_rag.errors import PermissionDeniedError, UnknownCollectionError, ValidationError
from rsi_rag.types import Answer, Hit, IngestReport
from tests.integration.service.conftest import LiveServer

pytestmark = pytest.mark.integration

Q = "How is a new retriever promoted?"


def top_sources(backend: Any) -> list[str]:
    """Code that runs unchanged on ``RAG`` and on ``Client``."""
    return [h.source for h in backend.retrieve(Q, "demo", 5, tenant="acme")]


def test_same_code_embedded_and_remote(live_server: LiveServer) -> None:
    from rsi_rag.client import Client

    with Client(live_server.url, live_server.keys["acme"]) as remote:
        assert top_sources(remote) == top_sources(live_server.rag)
        hits = remote.retrieve(Q, "demo", 3)
        assert all(isinstance(h, Hit) for h in hits) and len(hits) == 3
        assert hits[0].score >= hits[1].score >= hits[2].score
        with pytest.raises(PermissionDeniedError):
            remote.retrieve(Q, "demo", tenant="globex")


def test_ingest_ask_stream_feedback_delete(live_server: LiveServer, tmp_path: Path) -> None:
    from rsi_rag.client import Client

    (tmp_path / "lunch.md").write_text("The canteen serves lunch from noon until two pm.")
    (tmp_path / "parking.txt").write_text("Visitors park on level minus two of the garage.")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    with Client(live_server.url, live_server.keys["acme"]) as c:
        report = c.ingest(tmp_path, "sdk")
        assert isinstance(report, IngestReport)
        assert sorted(report.added) == ["lunch.md", "parking.txt"]
        assert c.ingest(tmp_path / "lunch.md", "sdk").unchanged == ("lunch.md",)
        assert [h.source for h in c.retrieve("where do visitors park", "sdk", 1)] == ["parking.txt"]
        answer = c.ask("When is lunch served?", "sdk")
        assert isinstance(answer, Answer) and answer.interaction_id
        assert answer.hits[0].source == "lunch.md"
        stream = c.stream("When is lunch served?", "sdk")
        pieces = list(stream)
        assert stream.hits[0].source == "lunch.md"
        assert "".join(pieces).strip() == stream.answer.text or stream.answer.abstained
        assert c.feedback(answer.interaction_id, rating=1, correction="From noon to 2 pm.") > 0
        with pytest.raises(ValidationError, match="were not retrieved"):
            c.feedback(answer.interaction_id, chosen_chunk_ids=[10**6])
        assert c.delete_document("sdk", source="lunch.md") >= 1
        assert [d.source for d in c.documents("sdk")] == ["parking.txt"]
        with pytest.raises(UnknownCollectionError, match="nope"):
            c.ask("anything", "nope")
    # globex cannot see the collection acme just made
    with Client(live_server.url, live_server.keys["globex"]) as g:
        assert [x.name for x in g.collections()] == ["demo"]
        with pytest.raises(UnknownCollectionError):
            g.retrieve("lunch", "sdk")


async def _collect(stream: Any) -> list[str]:
    return [p async for p in stream]


def test_async_client(live_server: LiveServer) -> None:
    from rsi_rag.client import AsyncClient

    async def main() -> tuple[list[Hit], list[str], Answer]:
        async with AsyncClient(live_server.url, live_server.keys["acme-read"]) as c:
            stream = c.stream(Q, "demo")
            hits, pieces = await asyncio.gather(c.retrieve(Q, "demo", 4), _collect(stream))
            return hits, pieces, stream.answer

    hits, pieces, answer = asyncio.run(main())
    assert [h.source for h in hits][:3] == top_sources(live_server.rag)[:3]
    assert pieces and answer.interaction_id and not answer.abstained
