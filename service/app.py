"""``create_app``: the litestar application over one :class:`~rsi_rag.rag.RAG`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from rsi_rag._version import __version__
from rsi_rag.rag import RAG
from service.errors import exception_handlers
from service.ingest_jobs import ensure_registered
from service.metrics import MetricsController, prometheus_config
from service.routes.admin import AdminController
from service.routes.collections import CollectionController, JobController
from service.routes.health import HealthController
from service.routes.models import ModelController
from service.routes.openai_compat import OpenAIController
from service.routes.query import FeedbackController, QueryController
from service.settings import ServiceSettings
from service.state import ServiceState, provide_principal, provide_service

__all__ = ["create_app"]

log = logging.getLogger("rsi_rag.service")


def _warm(service: ServiceState) -> None:
    # Load the models before the first request needs them; /readyz reports when done.
    try:
        _ = service.rag.embedder.dim
        _ = service.rag.generator.version
        service.ready = True
    except Exception:
        log.exception("loading the models failed")


def _register_loop_jobs(service: ServiceState) -> Any:
    """Register the loop's job kinds; returns the automatic improver when one is set."""
    try:
        from rsi_rag.loop import jobs as loop_jobs
    except ImportError:  # an installation without the learning loop: its routes answer 501
        log.warning("the learning loop is not installed; improvement routes answer 501")
        return None
    loop_jobs.ensure_registered()
    if service.settings.auto_improve_s > 0:
        return loop_jobs.AutoImprover(service.worker, service.rag, service.settings.auto_improve_s)
    return None


def create_app(settings: ServiceSettings | None = None, *, rag: RAG | None = None) -> Litestar:
    """Build the service.

    Args:
        settings: Service settings; read from ``RSI_RAG_*`` environment variables if omitted.
        rag: An existing facade (tests pass one with fakes); built from ``settings`` otherwise
            and closed when the app shuts down.

    Returns:
        The litestar application (serve it with uvicorn: ``rsi-rag serve``).
    """
    settings = settings or ServiceSettings()
    owns_rag = rag is None
    if rag is None:
        rag = RAG(settings.data_dir, catalog_url=settings.catalog_url)
    ensure_registered()
    service = ServiceState(settings, rag)
    improver = _register_loop_jobs(service) if settings.loop_jobs else None

    def startup(app: Litestar) -> None:
        app.state.service = service
        service.worker.start()
        if improver is not None:
            improver.start()
        threading.Thread(target=_warm, args=(service,), name="rsi-rag-warm", daemon=True).start()

    def shutdown(_: Litestar) -> None:
        if improver is not None:
            improver.stop()
        service.worker.stop()
        if owns_rag:
            rag.close()

    openapi = OpenAPIConfig(
        title="rsi_rag",
        version=__version__,
        description=(
            "A self-improving RAG backend. Send 'Authorization: Bearer <API key>'; errors read "
            '{"error": {"code", "message", "type"}}.'
        ),
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
        components=Components(
            security_schemes={"BearerAuth": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"BearerAuth": []}],
    )
    handlers: list[Any] = [
        HealthController,
        MetricsController,
        AdminController,
        CollectionController,
        JobController,
        QueryController,
        FeedbackController,
        ModelController,
        OpenAIController,
    ]
    app = Litestar(
        route_handlers=handlers,
        dependencies={
            "service": Provide(provide_service, sync_to_thread=False),
            "principal": Provide(provide_principal, sync_to_thread=False),
        },
        exception_handlers=exception_handlers,
        on_startup=[startup],
        on_shutdown=[shutdown],
        openapi_config=openapi,
        middleware=[prometheus_config.middleware],
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )
    app.state.service = service
    _install_connectors(app)
    return app


def _install_connectors(app: Litestar) -> None:
    # The connectors package adds /v1/sources and its sync job kind when it is installed.
    try:
        from connectors.service import install
    except ImportError:
        return
    install(app)
