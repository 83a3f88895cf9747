"""Small-scale collapse demonstration on COVID-QA (slow: several training rounds)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_gate_rejects_the_replace_regime_every_cycle(shared_data: Path, tmp_path: Path) -> None:
    from evals.bench_generator_loop import load, split
    from evals.generator_collapse import collapse_demo

    corpus, questions = load(shared_data / "covidqa")
    train_q, eval_q, _ = split(questions)
    args = argparse.Namespace(
        cycles=2,
        train_questions=4,
        gate=4,
        steps=3,
        max_new_tokens=16,
        work_dir=str(tmp_path),
        rank=8,
        lr=2e-3,
        batch=2,
        accum=2,
        top_layers=2,
    )
    result = collapse_demo(corpus, train_q, eval_q, args)
    replace = [r for r in result["regimes"]["replace"] if "guards" in r]
    assert replace and not any(r["promote"] for r in replace)
    assert all(r["guards"]["synthetic_share"] == 1.0 for r in replace)
    assert all(any("synthetic_share" in reason for reason in r["reasons"]) for r in replace)
    accumulate = [r for r in result["regimes"]["accumulate"] if "guards" in r]
    assert all(r["guards"]["synthetic_share"] <= 0.3 for r in accumulate)
    assert Path(result["plot"]).exists()
