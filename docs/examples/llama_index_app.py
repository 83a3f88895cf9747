"""A llama-index application switched to rsi_rag in a few lines.

The retriever slots into llama-index's own query engine; ``RsiRagQueryEngine`` lets rsi_rag
answer (citations, abstention) and ``send_feedback`` closes the learning loop.
"""

from __future__ import annotations

import os
from pathlib import Path

from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from rsi_rag.client import Client
from rsi_rag.integrations.llama_index import RsiRagQueryEngine, RsiRagRetriever, send_feedback

url = os.environ.get("RSI_RAG_URL", "http://127.0.0.1:8000")
key = os.environ.get("RSI_RAG_API_KEY") or Path("rsi_rag_data/demo.key").read_text().strip()
backend = Client(url, api_key=key)  # or: RAG("rsi_rag_data")

retriever = RsiRagRetriever(backend, collection="demo", k=3)
# MockLLM stands in for the application's own LLM.
engine = RetrieverQueryEngine.from_args(retriever, llm=MockLLM(max_tokens=8))
response = engine.query("What does the gate compare?")
print("llama-index sources:", [Path(n.node.metadata["source"]).name for n in response.source_nodes])

rsi_engine = RsiRagQueryEngine(backend=backend, collection="demo")
answer = rsi_engine.query("What does the gate compare?")
print("rsi_rag answer:", answer)
print("feedback id:", send_feedback(backend, answer, rating=1))
