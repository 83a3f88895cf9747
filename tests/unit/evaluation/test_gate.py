from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rsi_rag.errors import ConfigError, NotEnoughDataError, ValidationError
from rsi_rag.evaluation import EvaluationResult
from rsi_rag.loop.gate import Gate, GateDecision, GatePolicy


def result(
    scores: dict[str, float], version: str = "v", metric: str = "ndcg@10"
) -> EvaluationResult:
    return EvaluationResult("retrieval", metric, True, {metric: dict(scores)}, version)


def test_policy_validation_names_the_bad_value() -> None:
    with pytest.raises(ConfigError, match="ndgc@10"):
        GatePolicy(primary_metrics={"retriever": "ndgc@10"})
    with pytest.raises(ConfigError, match="'ranker'"):
        GatePolicy(primary_metrics={"ranker": "ndcg@10"})
    with pytest.raises(ConfigError, match="entropy"):
        GatePolicy(guard_tolerances={"entropy": 0.1})
    with pytest.raises(ConfigError, match="confidence"):
        GatePolicy(confidence=1.5)
    with pytest.raises(ConfigError, match="min_improvement"):
        GatePolicy(min_improvement=-0.1)
    with pytest.raises(ConfigError, match="required guards"):
        GatePolicy(guard_tolerances={}, required_guards={"generator": ("self_bleu",)})
    assert GatePolicy(primary_metrics={"retriever": "recall@100"}).primary_metric("retriever")


def test_better_challenger_is_promoted_with_interval() -> None:
    champ = result({f"q{i}": 0.5 for i in range(40)}, "champ")
    chal = result({f"q{i}": 0.5 + (0.2 if i % 2 else 0.1) for i in range(40)}, "chal")
    d = Gate().decide("retriever", champ, chal)
    assert d.promote and d.decision == "promote"
    assert 0.1 <= d.ci_low < d.mean_difference < d.ci_high <= 0.2
    assert d.mean_difference == pytest.approx(0.15)
    assert d.champion_version == "champ" and d.challenger_version == "chal"
    assert GateDecision.from_dict(d.to_dict()) == d


def test_min_improvement_and_guards_reject() -> None:
    champ = result({f"q{i}": 0.5 for i in range(40)})
    chal = result({f"q{i}": 0.55 + 0.01 * (i % 3) for i in range(40)})
    assert Gate().decide("retriever", champ, chal).promote
    strict = Gate(GatePolicy(min_improvement=0.1)).decide("retriever", champ, chal)
    assert not strict.promote and "not reliably better" in strict.reasons[0]
    breached = Gate().decide(
        "retriever",
        champ,
        chal,
        challenger_guards={"effective_rank": 80.0, "synthetic_share": 0.3},
        reference_guards={"effective_rank": 100.0},
    )
    assert not breached.promote
    assert breached.guards["effective_rank"]["breached"]
    assert not breached.guards["synthetic_share"]["breached"]
    assert any("effective_rank regressed from 100 to 80" in r for r in breached.reasons)
    ceiling = Gate().decide("retriever", champ, chal, challenger_guards={"synthetic_share": 0.9})
    assert not ceiling.promote and "ceiling" in ceiling.reasons[-1]
    # lower-is-better guard: perplexity up 5% is within the 10% tolerance, 20% is not
    ok = Gate().decide(
        "retriever",
        champ,
        chal,
        challenger_guards={"heldout_perplexity": 21.0},
        reference_guards={"heldout_perplexity": 20.0},
    )
    bad = Gate().decide(
        "retriever",
        champ,
        chal,
        challenger_guards={"heldout_perplexity": 24.0},
        reference_guards={"heldout_perplexity": 20.0},
    )
    assert ok.promote and not bad.promote


def test_required_guard_missing_rejects() -> None:
    champ = result({f"q{i}": 0.2 for i in range(20)})
    chal = result({f"q{i}": 0.9 for i in range(20)})
    gate = Gate(GatePolicy(required_guards={"retriever": ("effective_rank",)}))
    d = gate.decide("retriever", champ, chal)
    assert not d.promote and "required guard effective_rank was not measured" in d.reasons


def test_bad_inputs_are_clear_errors() -> None:
    champ = result({"a": 1.0, "b": 0.0})
    with pytest.raises(ValidationError, match="different queries"):
        Gate().decide("retriever", champ, result({"a": 1.0, "c": 0.0}))
    with pytest.raises(NotEnoughDataError, match="gate set is empty"):
        Gate().decide("retriever", result({}), result({}))
    with pytest.raises(ValidationError, match="'reranker'"):
        Gate().decide("reranker", champ, champ)
    with pytest.raises(ValidationError, match="was not computed"):
        Gate().decide("generator", champ, champ)
    with pytest.raises(ValidationError, match="unknown guard 'entropy'"):
        Gate().decide("retriever", champ, champ, challenger_guards={"entropy": 1.0})
    with pytest.raises(ValidationError, match="no tolerance"):
        Gate(GatePolicy(guard_tolerances={})).decide(
            "retriever", champ, champ, challenger_guards={"self_bleu": 0.1}
        )


def test_decision_is_stored_with_the_model_version(fake_rag: object) -> None:
    reg = fake_rag.registry  # type: ignore[attr-defined]
    reg.register("chal-1", "retriever", "/tmp/chal-1")
    champ = result({f"q{i}": 0.3 for i in range(30)})
    chal = result({f"q{i}": 0.6 for i in range(30)})
    d = Gate().decide("retriever", champ, chal, challenger_version="chal-1")
    info = Gate().record(reg, "chal-1", d)
    assert info.gate_decision is not None and info.gate_decision["decision"] == "promote"
    assert GateDecision.from_dict(reg.get("chal-1").gate_decision).ci_low == d.ci_low
    assert reg.get("chal-1").metrics["gate_ndcg@10"] == pytest.approx(0.6)


# -- invariants, for all inputs ------------------------------------------------------------

scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
pairs = st.lists(st.tuples(scores, scores), min_size=2, max_size=40)
guard_values = st.dictionaries(
    st.sampled_from(["effective_rank", "distinct_2", "heldout_perplexity", "self_bleu"]),
    st.floats(min_value=0.01, max_value=100.0),
    max_size=3,
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _results(p: list[tuple[float, float]]) -> tuple[EvaluationResult, EvaluationResult]:
    return (
        result({f"q{i}": a for i, (a, _) in enumerate(p)}),
        result({f"q{i}": b for i, (_, b) in enumerate(p)}),
    )


@SETTINGS
@given(pairs, guard_values, guard_values, st.floats(min_value=0.0, max_value=0.3))
def test_never_promotes_with_breach_or_low_bound(
    p: list[tuple[float, float]], chal_g: dict[str, float], ref_g: dict[str, float], min_imp: float
) -> None:
    champ, chal = _results(p)
    gate = Gate(GatePolicy(n_resamples=200, min_improvement=min_imp))
    d = gate.decide("retriever", champ, chal, challenger_guards=chal_g, reference_guards=ref_g)
    if d.promote:
        assert d.ci_low > min_imp
        assert not any(g["breached"] for g in d.guards.values())
    if any(g["breached"] for g in d.guards.values()) or d.ci_low <= min_imp:
        assert not d.promote


@SETTINGS
@given(pairs, st.integers(min_value=0, max_value=2**31), st.randoms(use_true_random=False))
def test_same_seed_same_decision_and_query_order_irrelevant(
    p: list[tuple[float, float]], seed: int, rnd: object
) -> None:
    gate = Gate(GatePolicy(n_resamples=200, seed=seed))
    champ, chal = _results(p)
    first = gate.decide("retriever", champ, chal)
    again = gate.decide("retriever", champ, chal)
    order = list(range(len(p)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    shuffled_champ = result({f"q{i}": p[i][0] for i in order})
    shuffled_chal = result({f"q{i}": p[i][1] for i in order})
    shuffled = gate.decide("retriever", shuffled_champ, shuffled_chal)
    for other in (again, shuffled):
        assert (other.promote, other.ci_low, other.ci_high) == (
            first.promote,
            first.ci_low,
            first.ci_high,
        )


@SETTINGS
@given(st.lists(scores, min_size=1, max_size=40), st.floats(min_value=0.0, max_value=0.2))
def test_identical_challenger_never_promoted(s: list[float], min_imp: float) -> None:
    r = result({f"q{i}": v for i, v in enumerate(s)})
    d = Gate(GatePolicy(n_resamples=200, min_improvement=min_imp)).decide("retriever", r, r)
    assert not d.promote and d.mean_difference == 0.0
