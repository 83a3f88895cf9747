"""``AsyncClient``: concurrent retrievals and a streamed answer."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from rsi_rag.client import AsyncClient

url = os.environ.get("RSI_RAG_URL", "http://127.0.0.1:8000")
key = os.environ.get("RSI_RAG_API_KEY") or Path("rsi_rag_data/demo.key").read_text().strip()


async def main() -> None:
    async with AsyncClient(url, api_key=key) as rag:
        questions = ["How are models promoted?", "How is access controlled?", "What is deleted?"]
        results = await asyncio.gather(*(rag.retrieve(q, "demo", 2) for q in questions))
        for q, hits in zip(questions, results, strict=True):
            print(q, "->", [Path(h.source).name for h in hits])
        stream = rag.stream("How is access controlled?", "demo")
        async for piece in stream:
            print(piece, end="", flush=True)
        print("\ninteraction:", stream.answer.interaction_id)


asyncio.run(main())
