"""OpenAI-compatible routes: chat completions, embeddings and models.

The ``model`` of a request names a collection of the key's tenant. Chat answers the last
user message from that collection; earlier turns are not used for retrieval. Citations are
appended to the text (``Sources:``) and sent in the extra field ``rsi_rag`` of the response
(of the last chunk when streaming), together with the interaction id for feedback.
Sampling fields (``temperature``, ``max_tokens``, ...) are accepted and ignored: the
collection's generator settings apply. ``user`` names the end user whose ACL principal
filters retrieval; ``principals``, ``k`` and ``mode`` may be sent as extra body fields.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from litestar import Controller, get, post
from litestar.response import Stream

from rsi_rag.errors import RsiRagError, ValidationError
from rsi_rag.rag import AnswerStream
from rsi_rag.types import Answer
from service.metrics import ANSWERS
from service.schemas import ChatCompletionRequest, EmbeddingRequest
from service.state import Principal, ServiceState

__all__ = ["OpenAIController", "sources_text"]

log = logging.getLogger("rsi_rag.service")


def sources_text(answer: Answer) -> str:
    """The citation footer appended to an answer's text."""
    if not answer.citations:
        return ""
    lines = [f"[{c.marker}] {c.source} (chunk {c.chunk_id})" for c in answer.citations]
    return "\n\nSources:\n" + "\n".join(lines)


def _extra(answer: Answer) -> dict[str, Any]:
    return {
        "interaction_id": answer.interaction_id,
        "abstained": answer.abstained,
        "citations": [c.to_dict() for c in answer.citations],
        "model_versions": dict(answer.model_versions),
        "hits": [
            {"chunk_id": h.chunk_id, "source": h.source, "score": h.score} for h in answer.hits
        ],
    }


def _question(data: ChatCompletionRequest) -> str:
    for m in reversed(data.messages):
        if m.role != "user":
            continue
        if isinstance(m.content, str):
            return m.content
        if isinstance(m.content, list):
            parts = [p.get("text", "") for p in m.content if p.get("type") == "text"]
            return "\n".join(str(p) for p in parts)
    raise ValidationError("messages must contain a user message with text content")


def _chunk(cid: str, model: str, created: int, delta: dict[str, Any], finish: str | None) -> str:
    body = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return f"data: {json.dumps(body)}\n\n"


def _chat_stream(stream: AnswerStream, model: str) -> Iterator[str]:
    cid, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    yield _chunk(cid, model, created, {"role": "assistant", "content": ""}, None)
    try:
        for piece in stream:
            yield _chunk(cid, model, created, {"content": piece}, None)
        answer = stream.answer
        ANSWERS.labels("abstained" if answer.abstained else "answered").inc()
        footer = sources_text(answer)
        if footer:
            yield _chunk(cid, model, created, {"content": footer}, None)
        last = json.loads(_chunk(cid, model, created, {}, "stop")[6:])
        last["rsi_rag"] = _extra(answer)
        yield f"data: {json.dumps(last, default=str)}\n\n"
    except RsiRagError as exc:
        yield f"data: {json.dumps({'error': {'code': exc.code, 'message': exc.message}})}\n\n"
    except Exception:  # headers are sent; report in the stream
        log.exception("chat stream failed")
        yield 'data: {"error": {"code": "internal_error", "message": "internal error"}}\n\n'
    yield "data: [DONE]\n\n"


class OpenAIController(Controller):
    path = "/v1"
    tags = ("openai",)

    @post("/chat/completions", sync_to_thread=True, status_code=200, response_model=None)
    def chat_completions(
        self, data: ChatCompletionRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any] | Stream:
        """Answer the last user message from the collection named by ``model``."""
        principal.require("read")
        question = _question(data)
        service.check_query(question, data.k)
        requested = (
            data.principals if data.principals is not None else ([data.user] if data.user else None)
        )
        stream = service.rag.stream(
            question,
            data.model,
            k=data.k,
            tenant=principal.tenant,
            principals=principal.principals(requested),
            mode=data.mode,
        )
        if data.stream:
            return Stream(
                _chat_stream(stream, data.model),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        answer = stream.answer
        ANSWERS.labels("abstained" if answer.abstained else "answered").inc()
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": data.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text + sources_text(answer)},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "rsi_rag": _extra(answer),
        }

    @post("/embeddings", sync_to_thread=True, status_code=200)
    def embeddings(
        self, data: EmbeddingRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Embed texts with the retriever of the collection named by ``model``."""
        principal.require("read")
        col = service.collection(principal, data.model)
        texts = [data.input] if isinstance(data.input, str) else list(data.input)
        too_long = [i for i, t in enumerate(texts) if len(t) > 8 * service.settings.max_query_chars]
        if too_long:
            raise ValidationError(
                f"input {too_long[0]} has more than {8 * service.settings.max_query_chars} "
                "characters; split it"
            )
        emb = service.rag.embedder_for(col.retriever_version)
        if data.dimensions is not None and data.dimensions != emb.dim:
            raise ValidationError(
                f"dimensions={data.dimensions} is not supported: this model returns {emb.dim}"
            )
        vectors = emb.encode(texts)
        rows = []
        for i, v in enumerate(vectors):
            value: Any
            if data.encoding_format == "base64":
                value = base64.b64encode(v.astype("<f4").tobytes()).decode("ascii")
            else:
                value = [float(x) for x in v]
            rows.append({"object": "embedding", "index": i, "embedding": value})
        tokens = sum(emb.count_tokens(t) for t in texts)
        return {
            "object": "list",
            "data": rows,
            "model": data.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    @get("/models", sync_to_thread=True)
    def models(self, principal: Principal, service: ServiceState) -> dict[str, Any]:
        """The tenant's collections, one model each."""
        principal.require("read")
        cols = service.rag.collections(principal.tenant)
        return {
            "object": "list",
            "data": [
                {"id": c.name, "object": "model", "created": 0, "owned_by": principal.tenant}
                for c in cols
            ],
        }

    @get("/models/{model:str}", sync_to_thread=True)
    def model(self, model: str, principal: Principal, service: ServiceState) -> dict[str, Any]:
        principal.require("read")
        service.collection(principal, model)
        return {"id": model, "object": "model", "created": 0, "owned_by": principal.tenant}
