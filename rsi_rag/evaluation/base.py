"""The evaluator contract: per-query scores, a declared primary metric and its direction.

Every evaluator returns an :class:`EvaluationResult` holding one score per query for
every metric, so that two models evaluated on the same queries can be compared *paired*
(the gate bootstraps the per-query differences).
"""

from __future__ import annotations

import abc
import math
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from rsi_rag.errors import NotEnoughDataError, ValidationError

__all__ = ["EvaluationResult", "Evaluator"]

S = TypeVar("S")


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of one model on one evaluation set.

    Attributes:
        evaluator: Name of the evaluator that produced it (e.g. ``"retrieval"``).
        primary_metric: The metric the gate compares.
        greater_is_better: Direction of ``primary_metric``.
        per_query: ``metric -> query id -> score``; every metric covers the same query ids.
        model_version: The model version evaluated (free text for baselines).
        aggregates: Figures that are not per-query means (latency percentiles, counts).
    """

    evaluator: str
    primary_metric: str
    greater_is_better: bool
    per_query: dict[str, dict[str, float]]
    model_version: str = ""
    aggregates: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.primary_metric not in self.per_query:
            raise ValidationError(
                f"primary metric {self.primary_metric!r} has no per-query scores; "
                f"metrics present: {sorted(self.per_query)}"
            )

    @property
    def query_ids(self) -> list[str]:
        """Sorted ids of the queries scored."""
        return sorted(self.per_query[self.primary_metric])

    @property
    def metrics(self) -> list[str]:
        return sorted(self.per_query)

    def scores(self, metric: str | None = None) -> dict[str, float]:
        """Per-query scores of ``metric`` (the primary metric by default)."""
        metric = metric or self.primary_metric
        if metric not in self.per_query:
            raise ValidationError(
                f"metric {metric!r} was not computed; available: {sorted(self.per_query)}"
            )
        return dict(self.per_query[metric])

    def mean(self, metric: str | None = None) -> float:
        """Mean of ``metric`` over queries (NaN-free scores are required)."""
        values = list(self.scores(metric).values())
        if not values:
            raise NotEnoughDataError(f"no queries were scored for {metric or self.primary_metric}")
        return math.fsum(values) / len(values)

    def summary(self) -> dict[str, float]:
        """Means of every metric plus the aggregates, rounded for display."""
        out = {m: round(self.mean(m), 4) for m in self.metrics}
        out.update({k: round(v, 4) for k, v in self.aggregates.items()})
        out["n_queries"] = float(len(self.query_ids))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluator": self.evaluator,
            "primary_metric": self.primary_metric,
            "greater_is_better": self.greater_is_better,
            "model_version": self.model_version,
            "summary": self.summary(),
            "aggregates": dict(self.aggregates),
            "per_query": {m: dict(v) for m, v in self.per_query.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationResult:
        return cls(
            evaluator=str(data["evaluator"]),
            primary_metric=str(data["primary_metric"]),
            greater_is_better=bool(data["greater_is_better"]),
            per_query={
                m: {str(q): float(s) for q, s in v.items()} for m, v in data["per_query"].items()
            },
            model_version=str(data.get("model_version", "")),
            aggregates={k: float(v) for k, v in data.get("aggregates", {}).items()},
        )


class Evaluator(abc.ABC, Generic[S]):
    """Scores a system on a fixed set of queries.

    Subclasses set :attr:`name`, :attr:`primary_metric` and :attr:`greater_is_better`
    and implement :meth:`_evaluate`; :meth:`evaluate` times the run and checks the result.
    """

    name: str = "evaluator"
    primary_metric: str = ""
    greater_is_better: bool = True

    @property
    @abc.abstractmethod
    def query_ids(self) -> list[str]:
        """Ids of the queries this evaluator scores."""

    def evaluate(self, system: S, *, model_version: str = "") -> EvaluationResult:
        """Score ``system`` on every query.

        Args:
            system: What is evaluated; each subclass documents the callable it expects.
            model_version: Recorded in the result.

        Returns:
            Per-query scores of every metric, with ``seconds`` in the aggregates.
        """
        if not self.query_ids:
            raise NotEnoughDataError(f"{self.name} evaluator has no queries to score")
        started = time.perf_counter()
        per_query, aggregates = self._evaluate(system)
        aggregates = {**aggregates, "seconds": time.perf_counter() - started}
        return EvaluationResult(
            self.name,
            self.primary_metric,
            self.greater_is_better,
            per_query,
            model_version,
            aggregates,
        )

    @abc.abstractmethod
    def _evaluate(self, system: S) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        """Return ``(metric -> query id -> score, aggregates)``."""
