"""The official ``openai`` package against a live server over the fakes: citations travel
in the text and in the extra field ``rsi_rag``; feedback goes back through the SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.service.conftest import serve_in_thread


@pytest.fixture
def fake_server(tmp_path: Path) -> Iterator[tuple[str, str, Any]]:
    from rsi_rag import RAG, SourceDocument
    from rsi_rag.testing import FakeEmbedder, FakeGenerator
    from service.app import create_app
    from service.settings import ServiceSettings

    rag = RAG(tmp_path, embedder=FakeEmbedder(), generator=FakeGenerator())
    rag.ingest_documents(
        [SourceDocument("gate.md", "A challenger must beat the champion on frozen data.")],
        "handbook",
        tenant="acme",
    )
    app = create_app(ServiceSettings(data_dir=tmp_path), rag=rag)
    key = app.state.service.keys.create("acme", "read")[1]
    url, server, thread = serve_in_thread(app)
    yield url, key, rag
    server.should_exit = True
    thread.join(10)
    rag.close()


def test_openai_chat_carries_citations_and_feedback(fake_server: Any) -> None:
    from openai import OpenAI

    from rsi_rag.client import Client

    url, key, _rag = fake_server
    oai = OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)
    q = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "What must a challenger beat?"}]},
    ]
    resp = oai.chat.completions.create(model="handbook", messages=q)
    text = resp.choices[0].message.content
    extra = resp.model_extra["rsi_rag"]
    assert text.startswith("A challenger must beat the champion on frozen data [1].")
    assert text.endswith("Sources:\n[1] gate.md (chunk 1)")
    assert extra["citations"][0]["source"] == "gate.md" and not extra["abstained"]
    chunks = list(oai.chat.completions.create(model="handbook", messages=q, stream=True))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text
    assert chunks[-1].model_extra["rsi_rag"]["citations"] == extra["citations"]
    with Client(url, key) as client:
        fid = client.feedback(extra["interaction_id"], rating=1, chosen_chunk_ids=[1])
    assert fid >= 1
