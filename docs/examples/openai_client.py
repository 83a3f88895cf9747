"""The official ``openai`` client against a running rsi_rag service.

The model name selects the collection. Citations come in the text (``Sources:``) and in the
extra field ``rsi_rag`` (with the interaction id used for feedback).
"""

from __future__ import annotations

import os
from pathlib import Path

from openai import OpenAI

url = os.environ.get("RSI_RAG_URL", "http://127.0.0.1:8000")
key = os.environ.get("RSI_RAG_API_KEY") or Path("rsi_rag_data/demo.key").read_text().strip()
client = OpenAI(base_url=f"{url}/v1", api_key=key)

resp = client.chat.completions.create(
    model="demo",
    messages=[{"role": "user", "content": "How is a new retriever promoted?"}],
)
print("answer:", resp.choices[0].message.content)
extra = resp.model_extra["rsi_rag"]
print("interaction:", extra["interaction_id"], "abstained:", extra["abstained"])

print("streamed: ", end="")
for chunk in client.chat.completions.create(
    model="demo",
    messages=[{"role": "user", "content": "Which file types can be ingested?"}],
    stream=True,
):
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
print()

emb = client.embeddings.create(model="demo", input=["blue-green index switch"])
print("embedding dims:", len(emb.data[0].embedding))
print("models:", [m.id for m in client.models.list()])
