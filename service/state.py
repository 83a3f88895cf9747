"""What every request handler shares: the facade, the job worker, keys and limits."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State

from rsi_rag.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from rsi_rag.jobs import JobWorker
from rsi_rag.rag import RAG
from rsi_rag.store.catalog import CollectionRef
from rsi_rag.store.keys import ApiKeyInfo, ApiKeyStore, role_allows
from service.settings import ServiceSettings

__all__ = ["Principal", "RateLimiter", "ServiceState", "provide_principal", "provide_service"]


@dataclass(frozen=True)
class Principal:
    """The caller: an API key's tenant and role, and the end user it speaks for.

    Attributes:
        key: The verified key record.
        user_principals: ACL principals of the end user (``X-RSI-Principals``), or ``None``
            when the request names no end user.
    """

    key: ApiKeyInfo
    user_principals: tuple[str, ...] | None

    @property
    def tenant(self) -> str:
        return self.key.tenant

    @property
    def actor(self) -> str:
        return f"{self.key.prefix} ({self.key.role})"

    def require(self, role: str) -> None:
        """Raise ``PermissionDeniedError`` unless the key's role includes ``role``."""
        if not role_allows(self.key.role, role):
            raise PermissionDeniedError(
                f"this operation needs a key with role {role!r} or higher; the key "
                f"{self.key.prefix} has role {self.key.role!r}"
            )

    def principals(self, requested: list[str] | None) -> list[str] | None:
        """Principals filtering retrieval: the body's list, else the header's."""
        if requested is not None:
            return list(requested)
        return list(self.user_principals) if self.user_principals is not None else None


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: int, what: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RateLimitedError(
                    f"too many {what} requests for this key ({int(self.capacity)} per minute); "
                    f"retry in {wait:.1f} s"
                )
            self._buckets[key_id] = (tokens - 1.0, now)


class ServiceState:
    """The objects one service instance shares between requests."""

    def __init__(self, settings: ServiceSettings, rag: RAG) -> None:
        self.settings = settings
        self.rag = rag
        self.keys = ApiKeyStore(rag.catalog)
        self.worker = JobWorker(rag)
        self.feedback_limiter = RateLimiter(settings.feedback_per_minute)
        self.ready = False

    def collection(self, principal: Principal, name: str) -> CollectionRef:
        """The caller's collection ``name``; collections of other tenants do not exist here."""
        return self.rag.collection(name, tenant=principal.tenant)

    def check_query(self, query: Any, k: int | None) -> None:
        limit = self.settings.max_query_chars
        if not isinstance(query, str) or not query.strip():
            raise ValidationError("the query must be a non-empty string")
        if len(query) > limit:
            raise ValidationError(
                f"the query has {len(query)} characters; the limit is {limit} (shorten it)"
            )
        if k is not None and not 1 <= k <= self.settings.max_k:
            raise ValidationError(f"k must be between 1 and {self.settings.max_k}, got {k}")


def provide_service(state: State) -> ServiceState:
    svc: ServiceState = state.service
    return svc


def _bearer(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        raise AuthenticationError("the Authorization header must read 'Bearer <API key>'")
    return request.headers.get("x-api-key")


def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """Verify the request's API key; the end user's principals come from a header."""
    svc: ServiceState = state.service
    key = _bearer(request)
    if not key:
        raise AuthenticationError(
            "this route needs an API key: send 'Authorization: Bearer <key>' (create one with "
            "'rsi-rag keys create --tenant T --role read')"
        )
    info = svc.keys.verify(key)
    named = request.headers.get("x-rsi-tenant")
    if named is not None and named != info.tenant:
        raise PermissionDeniedError(
            f"the key {info.prefix} belongs to tenant {info.tenant!r}, not {named!r}; use a key "
            f"of tenant {named!r}"
        )
    raw = request.headers.get("x-rsi-principals")
    users = None
    if raw is not None:
        users = tuple(p.strip() for p in raw.split(",") if p.strip())
    return Principal(info, users)
