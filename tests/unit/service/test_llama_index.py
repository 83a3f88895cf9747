"""A llama-index pipeline built around rsi_rag's retriever and query engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.llms import MockLLM
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.query_engine import RetrieverQueryEngine

from rsi_rag import SourceDocument
from rsi_rag.errors import ValidationError
from rsi_rag.integrations.llama_index import RsiRagQueryEngine, RsiRagRetriever, send_feedback

DOCS = [
    SourceDocument("gate.md", "The gate promotes a challenger only when it beats the champion."),
    SourceDocument("delete.md", "Deleting a document removes its chunks from every index."),
    SourceDocument("hr.md", "Salaries are reviewed in March.", acl=("hr",)),
]


@pytest.fixture
def rag(fake_rag: Any) -> Any:
    fake_rag.ingest_documents(DOCS, "kb")
    return fake_rag


def test_retriever_in_a_llama_index_pipeline(rag: Any) -> None:
    retriever = RsiRagRetriever(rag, "kb", k=3, principals=["staff"])
    nodes = retriever.retrieve("does the gate promote a challenger")
    assert nodes[0].node.metadata["source"] == "gate.md"
    assert all(n.node.metadata["source"] != "hr.md" for n in nodes)  # ACL applies
    engine = RetrieverQueryEngine.from_args(
        retriever,
        llm=MockLLM(max_tokens=8),
        node_postprocessors=[SimilarityPostprocessor(similarity_cutoff=0.2)],
    )
    response = engine.query("does the gate promote a challenger")
    assert [n.node.metadata["source"] for n in response.source_nodes] == ["gate.md"]
    assert str(response)  # the application's own LLM wrote it
    anodes = asyncio.run(retriever.aretrieve("deleting a document"))
    assert anodes[0].node.metadata["source"] == "delete.md"


def test_query_engine_and_feedback(rag: Any) -> None:
    engine = RsiRagQueryEngine(backend=rag, collection="kb")
    response = engine.query("does the gate promote a challenger")
    assert "[1]" in str(response) and not response.metadata["abstained"]
    assert [n.node.metadata["source"] for n in response.source_nodes] == ["gate.md"]
    fid = send_feedback(rag, response, rating=1, chosen_nodes=response.source_nodes)
    inter = rag.catalog.interaction(response.metadata["interaction_id"])
    assert fid >= 1 and inter["query"] == "does the gate promote a challenger"
    aresponse = asyncio.run(engine.aquery("deleting a document"))
    assert aresponse.source_nodes[0].node.metadata["source"] == "delete.md"
    with pytest.raises(ValidationError, match="interaction_id"):
        send_feedback(rag, object(), rating=1)
    with pytest.raises(ValidationError, match="retrieve"):
        RsiRagRetriever(object(), "kb")
