"""The Python SDK against a running service (``make run`` starts one with the demo corpus).

Run: python docs/examples/sdk_quickstart.py  (RSI_RAG_URL and RSI_RAG_API_KEY override the
defaults: http://127.0.0.1:8000 and the demo key in rsi_rag_data/demo.key).
"""

from __future__ import annotations

import os
from pathlib import Path

from rsi_rag.client import Client

url = os.environ.get("RSI_RAG_URL", "http://127.0.0.1:8000")
key = os.environ.get("RSI_RAG_API_KEY") or Path("rsi_rag_data/demo.key").read_text().strip()

# The same calls work on the in-process facade: rag = RAG("rsi_rag_data").
with Client(url, api_key=key) as rag:
    print("collections:", [c.name for c in rag.collections()])
    for hit in rag.retrieve("How is a new retriever promoted?", "demo", k=3):
        print(f"hit {hit.score:.3f} {Path(hit.source).name}")
    answer = rag.ask("What happens to training examples when a document is deleted?", "demo")
    print("answer:", answer.text)
    print(
        "sources:", [Path(c.source).name for c in answer.citations], "abstained:", answer.abstained
    )
    stream = rag.stream("Which file types can be ingested?", "demo")
    print("streamed:", "".join(stream))
    print("interaction:", stream.answer.interaction_id)
    fid = rag.feedback(answer.interaction_id, rating=1)
    print("feedback id:", fid)
