"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from sqlalchemy import text

from service.state import ServiceState

__all__ = ["HealthController"]


class HealthController(Controller):
    tags = ("health",)

    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @get("/readyz", sync_to_thread=True)
    def readyz(self, service: ServiceState) -> Response[dict[str, Any]]:
        """Ready when the catalog answers, the job worker runs and the models are loaded."""
        checks: dict[str, bool] = {"models": service.ready, "worker": service.worker.alive}
        try:
            with service.rag.catalog.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["catalog"] = True
        except Exception:
            checks["catalog"] = False
        ok = all(checks.values())
        return Response(
            {"status": "ready" if ok else "not_ready", "checks": checks},
            status_code=200 if ok else 503,
        )
