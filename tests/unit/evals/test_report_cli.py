from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from evals.report import decisions_of, write_reports
from rsi_rag.evaluation import EvaluationResult
from rsi_rag.loop.gate import Gate

FIXTURES = Path(__file__).resolve().parents[3] / "evals" / "fixtures"


def _result(v: float, version: str) -> EvaluationResult:
    return EvaluationResult(
        "retrieval",
        "ndcg@10",
        True,
        {
            "ndcg@10": {f"q{i}": v + 0.01 * (i % 3) for i in range(20)},
            "recall@10": {f"q{i}": v for i in range(20)},
        },
        version,
    )


def _results() -> dict[str, object]:
    champ = _result(0.5, "base")
    decisions = []
    for cycle, (score, rank) in enumerate([(0.6, 95.0), (0.65, 60.0)], start=1):
        d = Gate().decide(
            "retriever",
            champ,
            _result(score, f"ft{cycle}"),
            challenger_guards={"effective_rank": rank},
            reference_guards={"effective_rank": 100.0},
        )
        decisions.append({**d.to_dict(), "cycle": cycle})
    return {
        "suite": "unit",
        "datasets": {"toy": {"systems": {"dense": champ.to_dict()}}},
        "decisions": decisions,
        "versions": [
            {
                "id": "gen-1",
                "kind": "generator",
                "data_manifest": {"cycle": 1},
                "gate_decision": {**decisions[0], "kind": "generator"},
            }
        ],
    }


def test_html_report_embeds_every_plot(tmp_path: Path) -> None:
    results = _results()
    ds = decisions_of(results)
    assert [d["label"] for d in ds] == ["gen-1", "ft1", "ft2"]
    assert [d["promote"] for d in ds if d["kind"] == "retriever"] == [True, False]
    write_reports(results, tmp_path / "r.json", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 4  # systems, versions per cycle, guards, gate intervals
    for img in images:
        assert base64.b64decode(img).startswith(b"\x89PNG\r\n\x1a\n")
    assert "guard effective_rank regressed from 100 to 60" in page
    assert "class='reject'" in page and "class='promote'" in page
    assert json.loads((tmp_path / "r.json").read_text())["suite"] == "unit"


def _app() -> typer.Typer:
    from evals.cli import register

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps "eval" a named subcommand
        """Nothing."""

    return app


@pytest.mark.integration
def test_eval_dataset_command_on_a_user_folder(tmp_path: Path) -> None:
    from rsi_rag import RAG
    from rsi_rag.evaluation.frozen import FrozenSets

    runner = CliRunner()
    out = tmp_path / "out.json"
    args = [
        "eval",
        "--dataset",
        str(FIXTURES / "mini_beir"),
        "--format",
        "beir",
        "--collection",
        "mine",
        "--json",
        str(out),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    res = runner.invoke(_app(), args)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    summary = data["datasets"]["mini_beir"]["systems"]["retrieval"]["summary"]
    assert summary["n_queries"] == 10 and summary["ndcg@10"] > 0.8
    assert out.with_suffix(".html").exists() is False  # only when --html is given
    with RAG(tmp_path / "d") as rag:
        assert len(rag.documents("mine")) == 12
        col = rag.collection("mine")
        assert [s["role"] for s in FrozenSets(rag.catalog).list(col.id)] == ["report"]
        assert FrozenSets(rag.catalog).is_frozen("What causes ocean tides?", col.id)
    again = runner.invoke(_app(), [*args, "--html", str(tmp_path / "r.html")])
    assert again.exit_code == 0, again.output
    assert "ingesting" not in again.output  # the collection exists: evaluated as it is
    assert "data:image/png;base64," in (tmp_path / "r.html").read_text()


def test_eval_command_bad_input() -> None:
    runner = CliRunner()
    res = runner.invoke(_app(), ["eval", "--dataset", str(FIXTURES / "mini_beir")])
    assert res.exit_code == 2 and "--format beir or qa" in res.output
    res = runner.invoke(_app(), ["eval"])
    assert res.exit_code == 2 and "exactly one of" in res.output
    res = runner.invoke(_app(), ["eval", "--suite", "nope", "--data-dir", "/tmp/x-unused"])
    assert res.exit_code == 2 and "unknown suite 'nope'" in res.output


def test_python_dash_m_evals() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "evals", "--suite", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "unknown suite" in (res.stdout + res.stderr)
