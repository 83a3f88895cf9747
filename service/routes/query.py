"""Retrieve, answer (JSON and Server-Sent Events) and feedback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from litestar import Controller, post
from litestar.response import Stream

from rsi_rag.errors import RsiRagError
from rsi_rag.rag import AnswerStream
from service.metrics import ANSWERS, FEEDBACK
from service.schemas import FeedbackRequest, QueryRequest, RetrieveRequest
from service.state import Principal, ServiceState

__all__ = ["FeedbackController", "QueryController", "sse"]

log = logging.getLogger("rsi_rag.service")


def sse(event: str, data: Any) -> str:
    """One Server-Sent Event with a JSON payload."""
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _stream_events(stream: AnswerStream) -> Iterator[str]:
    yield sse("hits", [h.to_dict() for h in stream.hits])
    try:
        for piece in stream:
            yield sse("token", {"text": piece})
        answer = stream.answer
        ANSWERS.labels("abstained" if answer.abstained else "answered").inc()
        yield sse("answer", answer.to_dict())
    except RsiRagError as exc:
        yield sse("error", {"code": exc.code, "message": exc.message})
    except Exception:  # the status line is sent already; report in the stream
        log.exception("answer stream failed")
        yield sse("error", {"code": "internal_error", "message": "internal error"})


class QueryController(Controller):
    path = "/v1/collections/{collection:str}"
    tags = ("query",)

    @post("/retrieve", sync_to_thread=True, status_code=200)
    def retrieve(
        self, collection: str, data: RetrieveRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Top-k chunks for a query, filtered by the end user's ACL principals."""
        principal.require("read")
        service.check_query(data.query, data.k)
        hits = service.rag.retrieve(
            data.query,
            collection,
            data.k,
            tenant=principal.tenant,
            principals=principal.principals(data.principals),
            mode=data.mode,
        )
        return {"hits": [h.to_dict() for h in hits]}

    @post("/query", sync_to_thread=True, status_code=200)
    def query(
        self, collection: str, data: QueryRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Answer a question with citations, scores and model versions (or abstain)."""
        principal.require("read")
        service.check_query(data.question, data.k)
        answer = service.rag.ask(
            data.question,
            collection,
            k=data.k,
            tenant=principal.tenant,
            principals=principal.principals(data.principals),
            mode=data.mode,
        )
        ANSWERS.labels("abstained" if answer.abstained else "answered").inc()
        return answer.to_dict()

    @post("/query/stream", sync_to_thread=True, status_code=200)
    def query_stream(
        self, collection: str, data: QueryRequest, principal: Principal, service: ServiceState
    ) -> Stream:
        """The answer as Server-Sent Events: ``hits``, ``token``..., then ``answer``."""
        principal.require("read")
        service.check_query(data.question, data.k)
        stream = service.rag.stream(
            data.question,
            collection,
            k=data.k,
            tenant=principal.tenant,
            principals=principal.principals(data.principals),
            mode=data.mode,
        )
        return Stream(
            _stream_events(stream),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )


class FeedbackController(Controller):
    path = "/v1/feedback"
    tags = ("feedback",)

    @post("/", sync_to_thread=True, status_code=201)
    def feedback(
        self, data: FeedbackRequest, principal: Principal, service: ServiceState
    ) -> dict[str, Any]:
        """Rate an answer, correct it, or mark the chunks that helped; limited per key."""
        principal.require("read")
        service.feedback_limiter.check(principal.key.id, "feedback")
        # An interaction of another tenant is reported unknown, exactly like a missing one.
        inter = service.rag.catalog.interaction(data.interaction_id)
        if inter["tenant_id"] != principal.key.tenant_id:
            from rsi_rag.errors import UnknownInteractionError

            raise UnknownInteractionError(
                f"unknown interaction id {data.interaction_id}; use the interaction_id an "
                "answer returned"
            )
        fid = service.rag.feedback(
            data.interaction_id,
            rating=data.rating,
            correction=data.correction,
            chosen_chunk_ids=data.chosen_chunk_ids,
            rejected_chunk_ids=data.rejected_chunk_ids,
        )
        FEEDBACK.inc()
        return {"feedback_id": fid, "interaction_id": data.interaction_id}
