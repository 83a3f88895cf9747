"""The promotion gate: a challenger serves only if it is reliably better and not collapsing.

Usage::

    from rsi_rag.loop.gate import Gate, GatePolicy

    gate = Gate(GatePolicy(min_improvement=0.0, confidence=0.95))
    decision = gate.decide(
        "retriever", champion_result, challenger_result,
        challenger_guards={"effective_rank": 210.0},
        reference_guards={"effective_rank": 230.0},
        champion_version="minilm", challenger_version="minilm-ft1",
    )
    gate.record(rag.registry, "minilm-ft1", decision)   # stored with the version
    if decision.promote: ...

The rule: take the per-query differences (challenger minus champion, signed so that
positive is better) on the gate set, bootstrap a confidence interval of their mean with
a fixed seed, and promote only if the interval's lower bound lies strictly above
``min_improvement`` and no guard is breached. Query ids are sorted before resampling, so
the order in which queries were evaluated cannot change a decision.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from rsi_rag.errors import ConfigError, NotEnoughDataError, ValidationError
from rsi_rag.evaluation.base import EvaluationResult
from rsi_rag.evaluation.guards import GUARDS
from rsi_rag.evaluation.metrics import IR_METRICS

if TYPE_CHECKING:
    from rsi_rag.registry.registry import ModelRegistry, VersionInfo

__all__ = [
    "ANSWER_METRICS",
    "DEFAULT_TOLERANCES",
    "Gate",
    "GateDecision",
    "GatePolicy",
    "paired_bootstrap_ci",
]

#: Per-query answer metrics an answer evaluator produces (all: greater is better).
ANSWER_METRICS = (
    "abstention_accuracy",
    "answer_f1",
    "citation_precision",
    "citation_recall",
    "exact_match",
    "groundedness",
)

#: Tolerances applied when a policy names none; see :data:`rsi_rag.evaluation.GUARDS`.
DEFAULT_TOLERANCES: dict[str, float] = {
    "heldout_perplexity": 0.10,  # at most 10% higher than the reference
    "distinct_1": 0.10,
    "distinct_2": 0.10,  # at most 10% lower
    "self_bleu": 0.05,  # at most 0.05 higher
    "effective_rank": 0.10,
    "mean_pairwise_cosine": 0.05,
    "synthetic_share": 0.50,  # at most half of the training set synthetic
    "groundedness": 0.05,
    "abstention_accuracy": 0.05,
    "citation_precision": 0.05,
    "latency_p95_ms": 0.50,
}

KINDS = ("retriever", "generator")


def _known_metric(name: str) -> bool:
    if name in ANSWER_METRICS:
        return True
    base, _, cut = name.partition("@")
    return base in IR_METRICS and (not cut or cut.isdigit())


@dataclass(frozen=True)
class GatePolicy:
    """What a challenger must show to be promoted.

    Attributes:
        primary_metrics: The compared metric per model kind (``retriever``, ``generator``).
        min_improvement: The interval's lower bound must lie strictly above this (>= 0).
        confidence: Two-sided confidence level of the bootstrap interval, in (0.5, 1).
        guard_tolerances: Tolerance per guard name (see ``GUARDS`` for how each applies).
        required_guards: Guards that must be measured per model kind; a missing one rejects.
        n_resamples: Bootstrap resamples.
        seed: Seed of the resampling; a fixed seed gives the same decision.
    """

    primary_metrics: dict[str, str] = field(
        default_factory=lambda: {"retriever": "ndcg@10", "generator": "answer_f1"}
    )
    min_improvement: float = 0.0
    confidence: float = 0.95
    guard_tolerances: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    required_guards: dict[str, tuple[str, ...]] = field(default_factory=dict)
    n_resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        for kind, metric in self.primary_metrics.items():
            if kind not in KINDS:
                raise ConfigError(f"primary_metrics names unknown model kind {kind!r}; use {KINDS}")
            if not isinstance(metric, str) or not _known_metric(metric):
                raise ConfigError(
                    f"unknown primary metric {metric!r} for {kind}; use a ranking metric "
                    f"({', '.join(IR_METRICS)} with @k) or one of {ANSWER_METRICS}"
                )
        if not isinstance(self.min_improvement, (int, float)) or not (
            0 <= self.min_improvement < math.inf
        ):
            raise ConfigError(
                f"min_improvement must be a finite number >= 0, got {self.min_improvement!r}"
            )
        if not isinstance(self.confidence, float) or not 0.5 < self.confidence < 1:
            raise ConfigError(
                f"confidence must be a float in (0.5, 1), e.g. 0.95; got {self.confidence!r}"
            )
        for name, tol in self.guard_tolerances.items():
            if name not in GUARDS:
                raise ConfigError(
                    f"unknown guard {name!r} in guard_tolerances; known: {sorted(GUARDS)}"
                )
            if not isinstance(tol, (int, float)) or not 0 <= tol < math.inf:
                raise ConfigError(
                    f"tolerance of guard {name!r} must be a finite number >= 0, got {tol!r}"
                )
        for kind, names in self.required_guards.items():
            if kind not in KINDS:
                raise ConfigError(f"required_guards names unknown model kind {kind!r}; use {KINDS}")
            missing = [n for n in names if n not in self.guard_tolerances]
            if missing:
                raise ConfigError(
                    f"required guards {missing} have no tolerance in guard_tolerances"
                )
        if not isinstance(self.n_resamples, int) or self.n_resamples < 100:
            raise ConfigError(f"n_resamples must be an integer >= 100, got {self.n_resamples!r}")
        if not isinstance(self.seed, int):
            raise ConfigError(f"seed must be an integer, got {self.seed!r}")

    def primary_metric(self, kind: str) -> str:
        if kind not in self.primary_metrics:
            raise ValidationError(
                f"the gate policy has no primary metric for model kind {kind!r}; "
                f"it covers {sorted(self.primary_metrics)}"
            )
        return self.primary_metrics[kind]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["required_guards"] = {k: list(v) for k, v in self.required_guards.items()}
        return d


@dataclass(frozen=True)
class GateDecision:
    """The outcome of one gate run, with every number behind it."""

    promote: bool
    kind: str
    primary_metric: str
    greater_is_better: bool
    champion_version: str
    challenger_version: str
    champion_score: float
    challenger_score: float
    mean_difference: float
    ci_low: float
    ci_high: float
    confidence: float
    min_improvement: float
    n_queries: int
    guards: dict[str, dict[str, Any]]
    reasons: tuple[str, ...]
    seed: int
    n_resamples: int
    method: str
    decided_at: str = ""

    @property
    def decision(self) -> str:
        return "promote" if self.promote else "reject"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reasons"] = list(self.reasons)
        d["decision"] = self.decision
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateDecision:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["reasons"] = tuple(fields.get("reasons", ()))
        return cls(**fields)


def paired_bootstrap_ci(
    differences: Any, *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float, str]:
    """Bootstrap interval of the mean of paired differences (scipy BCa, seeded).

    Returns:
        ``(low, high, method)``; a constant sample gives the degenerate interval at its value.
    """
    import numpy as np
    from scipy.stats import bootstrap

    d = np.asarray(differences, dtype=np.float64)
    if d.size == 0:
        raise NotEnoughDataError("the gate set is empty: no paired scores to compare")
    if not np.isfinite(d).all():
        raise ValidationError("per-query scores hold NaN or infinite values")
    if d.size == 1 or np.ptp(d) == 0:
        return float(d[0]), float(d[0]), "degenerate"
    import warnings

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = bootstrap(
                (d,),
                np.mean,
                confidence_level=confidence,
                n_resamples=n_resamples,
                method=method,
                rng=np.random.default_rng(seed),
                vectorized=True,
            )
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if math.isfinite(low) and math.isfinite(high):
            return low, high, method
    return float(d.mean()), float(d.mean()), "degenerate"


def _guard_check(name: str, value: float, reference: float | None, tol: float) -> tuple[bool, str]:
    spec = GUARDS[name]
    if not math.isfinite(value):
        return True, f"guard {name} is not a finite number ({value})"
    if spec.tolerance == "ceiling":
        return value > tol, f"guard {name} = {value:.4g} exceeds its ceiling {tol:.4g}"
    if reference is None or not math.isfinite(reference):
        return True, f"guard {name} has no reference value to compare {value:.4g} against"
    worse = (reference - value) if spec.greater_is_better else (value - reference)
    allowed = tol * abs(reference) if spec.tolerance == "relative" else tol
    kind = f"{tol:.0%} of the reference" if spec.tolerance == "relative" else f"{tol:.4g}"
    return worse > allowed + 1e-12, (
        f"guard {name} regressed from {reference:.4g} to {value:.4g} (allowed: {kind})"
    )


class Gate:
    """Applies a :class:`GatePolicy` to a champion and a challenger."""

    def __init__(self, policy: GatePolicy | None = None) -> None:
        self.policy = policy or GatePolicy()

    def decide(
        self,
        kind: str,
        champion: EvaluationResult,
        challenger: EvaluationResult,
        *,
        challenger_guards: Mapping[str, float] | None = None,
        reference_guards: Mapping[str, float] | None = None,
        champion_version: str | None = None,
        challenger_version: str | None = None,
    ) -> GateDecision:
        """Compare paired per-query scores and guards; see the module docstring for the rule.

        Args:
            kind: ``retriever`` or ``generator`` (selects the primary metric).
            champion: The serving model's result on the gate set.
            challenger: The candidate's result on the same queries.
            challenger_guards: Guard values measured for the candidate.
            reference_guards: The same guards for the champion (or the first cycle).
            champion_version: Recorded in the decision (defaults to the result's version).
            challenger_version: Recorded in the decision (defaults to the result's version).
        """
        p = self.policy
        metric = p.primary_metric(kind)
        champ, chal = champion.scores(metric), challenger.scores(metric)
        if set(champ) != set(chal):
            only = sorted(set(champ) ^ set(chal))
            raise ValidationError(
                f"champion and challenger were scored on different queries ({len(only)} differ, "
                f"e.g. {only[:3]}); evaluate both on the same gate set"
            )
        if not champ:
            raise NotEnoughDataError("the gate set is empty: no queries to compare on")
        greater = champion.greater_is_better if metric == champion.primary_metric else True
        ids = sorted(champ)
        sign = 1.0 if greater else -1.0
        diffs = [sign * (chal[q] - champ[q]) for q in ids]
        low, high, method = paired_bootstrap_ci(
            diffs, confidence=p.confidence, n_resamples=p.n_resamples, seed=p.seed
        )
        reasons: list[str] = []
        if low > p.min_improvement:
            reasons.append(
                f"{metric} improved: {p.confidence:.0%} interval of the difference "
                f"[{low:+.4f}, {high:+.4f}] lies above {p.min_improvement:+.4f}"
            )
            better = True
        else:
            reasons.append(
                f"{metric} not reliably better: {p.confidence:.0%} interval of the difference "
                f"[{low:+.4f}, {high:+.4f}] does not lie above {p.min_improvement:+.4f}"
            )
            better = False
        guards, breached = self._guards(kind, challenger_guards or {}, reference_guards or {})
        reasons.extend(g["reason"] for g in guards.values() if g["breached"])
        reasons.extend(breached)
        n = len(ids)
        return GateDecision(
            promote=better and not breached and not any(g["breached"] for g in guards.values()),
            kind=kind,
            primary_metric=metric,
            greater_is_better=greater,
            champion_version=champion_version or champion.model_version,
            challenger_version=challenger_version or challenger.model_version,
            champion_score=math.fsum(champ.values()) / n,
            challenger_score=math.fsum(chal.values()) / n,
            mean_difference=math.fsum(diffs) / n,
            ci_low=low,
            ci_high=high,
            confidence=p.confidence,
            min_improvement=float(p.min_improvement),
            n_queries=n,
            guards=guards,
            reasons=tuple(reasons),
            seed=p.seed,
            n_resamples=p.n_resamples,
            method=method,
            decided_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    def _guards(
        self, kind: str, values: Mapping[str, float], refs: Mapping[str, float]
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        out: dict[str, dict[str, Any]] = {}
        for name, value in sorted(values.items()):
            if name not in GUARDS:
                raise ValidationError(f"unknown guard {name!r}; known guards: {sorted(GUARDS)}")
            if name not in self.policy.guard_tolerances:
                raise ValidationError(
                    f"guard {name!r} was measured but the policy gives it no tolerance; "
                    "add it to GatePolicy.guard_tolerances"
                )
            tol = float(self.policy.guard_tolerances[name])
            ref = refs.get(name)
            breached, reason = _guard_check(
                name, float(value), None if ref is None else float(ref), tol
            )
            out[name] = {
                "value": float(value),
                "reference": None if ref is None else float(ref),
                "tolerance": tol,
                "tolerance_kind": GUARDS[name].tolerance,
                "greater_is_better": GUARDS[name].greater_is_better,
                "breached": breached,
                "reason": reason if breached else "",
            }
        missing = [
            f"required guard {g} was not measured"
            for g in self.policy.required_guards.get(kind, ())
            if g not in values
        ]
        return out, missing

    def record(
        self, registry: ModelRegistry, version_id: str, decision: GateDecision
    ) -> VersionInfo:
        """Store the decision (and the challenger's score) with the model version."""
        info = registry.get(version_id)
        metrics = dict(info.metrics)
        metrics[f"gate_{decision.primary_metric}"] = decision.challenger_score
        return registry.update(version_id, gate_decision=decision.to_dict(), metrics=metrics)
