"""Prometheus metrics: litestar's request metrics plus rsi_rag's own counters."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import Counter

__all__ = ["ANSWERS", "FEEDBACK", "JOBS", "MetricsController", "prometheus_config"]

# Module-level: prometheus_client refuses a second registration of the same name.
ANSWERS = Counter("rsi_rag_answers_total", "Answers served, by outcome", ["outcome"])
FEEDBACK = Counter("rsi_rag_feedback_total", "Feedback records accepted")
JOBS = Counter("rsi_rag_jobs_submitted_total", "Jobs submitted, by kind", ["kind"])

prometheus_config = PrometheusConfig(
    app_name="rsi_rag",
    prefix="rsi_rag",
    group_path=True,
    exclude=["/metrics"],
)


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False
