"""The one place mapping errors to HTTP responses.

Every error body reads ``{"error": {"code", "message", "type"}}``; the shape is the one the
OpenAI clients parse, so their exceptions carry rsi_rag's message. No stack trace leaves the
server: unexpected exceptions are logged and answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from rsi_rag.errors import RateLimitedError, RsiRagError

__all__ = ["error_body", "exception_handlers"]

log = logging.getLogger("rsi_rag.service")

_HTTP_CODES = {
    400: "validation_error",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, status: int) -> dict[str, Any]:
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    return {"error": {"code": code, "message": message, "type": kind}}


def _respond(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(
        error_body(code, message, status),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _rsi_error(_: Request[Any, Any, Any], exc: RsiRagError) -> Response[Any]:
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    headers = {"Retry-After": "1"} if isinstance(exc, RateLimitedError) else None
    return _respond(exc.code, exc.message, exc.status, headers)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    details = exc.extra if isinstance(exc.extra, list) else []
    parts = [
        f"{d.get('key') or d.get('source') or 'body'}: {d.get('message')}"
        for d in details
        if isinstance(d, dict)
    ]
    message = exc.detail + (" (" + "; ".join(parts) + ")" if parts else "")
    return _respond("validation_error", message, 400)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if status == 501:
        return _respond("not_implemented", str(exc.detail), status)
    if status >= 500:
        log.error("HTTP %s: %s", status, exc.detail)
        return _respond("internal_error", "internal error; see the server log", status)
    code = _HTTP_CODES.get(status, "client_error")
    return _respond(code, str(exc.detail), status, exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond("internal_error", "internal error; see the server log", 500)


exception_handlers: ExceptionHandlersMap = {
    RsiRagError: _rsi_error,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
