"""The llama-index integration over the SDK against the live service."""

from __future__ import annotations

import pytest

from tests.integration.service.conftest import LiveServer

pytestmark = pytest.mark.integration


def test_llama_index_over_the_sdk(live_server: LiveServer) -> None:
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    from rsi_rag.client import Client
    from rsi_rag.integrations.llama_index import (
        RsiRagQueryEngine,
        RsiRagRetriever,
        send_feedback,
    )

    q = "What happens to training examples when a document is deleted?"
    with Client(live_server.url, live_server.keys["acme"]) as client:
        retriever = RsiRagRetriever(client, "demo", k=4)
        engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM(max_tokens=4))
        response = engine.query(q)
        sources = [n.node.metadata["source"] for n in response.source_nodes]
        expected = [h.source for h in live_server.rag.retrieve(q, "demo", 4, tenant="acme")]
        assert sources == expected and any("deletion" in s for s in sources[:2])
        rsi = RsiRagQueryEngine(backend=client, collection="demo").query(q)
        assert rsi.metadata["interaction_id"] and str(rsi)
        assert send_feedback(client, rsi, rating=-1, correction="They are excluded.") >= 1
