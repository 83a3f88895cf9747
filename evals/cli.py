"""``rsi-rag eval``: run a suite, or evaluate a collection on any ``beir``/``qa`` folder.

Registered through the ``rsi_rag.cli`` entry-point group; ``python -m evals`` runs the
same command on its own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rsi_rag.cli.common import DataDir, Tenant, console, handle_errors
from rsi_rag.errors import ValidationError

__all__ = ["eval_command", "print_table", "register"]


def print_table(results: dict[str, Any]) -> None:
    """The headline figures as a rich table."""
    from evals.runner import COLUMNS, summary_rows

    rows = summary_rows(results)
    cols = [c for c in COLUMNS if any(r[c] is not None for r in rows)]
    table = Table(title=f"evaluation: {results.get('suite', '')}")
    for c in ("dataset", "system", "n", *cols):
        table.add_column(c, justify="left" if c in ("dataset", "system") else "right")
    for r in rows:
        table.add_row(
            r["dataset"],
            r["system"],
            str(r["n"]),
            *["" if r[c] is None else f"{r[c]:.4g}" for c in cols],
        )
    console.print(table)


@handle_errors
def eval_command(
    suite: Annotated[
        str | None, typer.Option("--suite", help="Suite name: smoke, scifact, covidqa, baselines.")
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="A folder in the beir or qa format.")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="beir or qa (with --dataset).")
    ] = None,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection",
            "-c",
            help="Collection evaluated with --dataset (ingested first if missing).",
        ),
    ] = None,
    answers: Annotated[
        bool, typer.Option("--answers", help="Also score answers (qa format; runs the generator).")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Score at most N queries.")] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Write results JSON here.")
    ] = None,
    html_path: Annotated[
        Path | None, typer.Option("--html", help="Write the HTML report here.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Re-render an HTML report from a results JSON.")
    ] = None,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
) -> None:
    """Evaluate models: a named suite, or a collection's champion on your own gold set."""
    from evals.report import write_reports

    if sum(x is not None for x in (suite, dataset, report)) != 1:
        raise ValidationError("give exactly one of --suite NAME, --dataset DIR or --report JSON")
    if limit is not None and limit <= 0:
        raise ValidationError(f"--limit must be a positive integer, got {limit}")
    log = console.print
    if report is not None:
        if not report.is_file():
            raise ValidationError(f"results file {report} does not exist")
        results = json.loads(report.read_text(encoding="utf-8"))
        html_path = html_path or report.with_suffix(".html")
    elif suite is not None:
        from evals.runner import run_suite

        data = data_dir or Path("runs/eval/data")
        results = run_suite(suite, data, limit=limit, log=log)
        json_path = json_path or Path("runs/eval") / f"{suite}.json"
        html_path = html_path or json_path.with_suffix(".html")
    else:
        from evals.runner import evaluate_folder
        from rsi_rag.cli.common import open_rag

        if fmt not in ("beir", "qa"):
            raise ValidationError(f"--dataset needs --format beir or qa, got {fmt!r}")
        assert dataset is not None
        rag = open_rag(data_dir, tenant)
        try:
            results = evaluate_folder(
                rag,
                dataset,
                fmt,
                collection or f"eval-{dataset.name}",
                answers=answers,
                limit=limit,
                log=log,
            )
        finally:
            rag.close()
    write_reports(results, json_path if report is None else None, html_path)
    if results.get("datasets"):
        print_table(results)
    for label, p in (("results", json_path if report is None else None), ("report", html_path)):
        if p is not None:
            console.print(f"{label}: {p}")


def register(app: typer.Typer) -> None:
    """Add ``eval`` to the ``rsi-rag`` command line."""
    app.command("eval")(eval_command)
