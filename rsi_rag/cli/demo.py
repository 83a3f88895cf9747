"""The README's main job: ingest the demo corpus and answer questions with citations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rsi_rag.cli.common import console, emit_json, print_citations

__all__ = ["DEMO_QUESTIONS", "demo_files", "run_demo"]

DEMO_QUESTIONS = (
    "What must a challenger model beat before it is promoted?",
    "Which file types can be ingested?",
    "What happens to training examples when a document is deleted?",
    "What is the boiling point of liquid nitrogen?",
)


def demo_files(docs: Path) -> list[Path]:
    """The corpus files under ``docs`` (the example scripts in ``docs/examples`` are not)."""
    from rsi_rag.config import RAGConfig

    suffixes = RAGConfig().supported_suffixes
    return [f for f in sorted(docs.rglob("*")) if f.is_file() and f.suffix.lower() in suffixes]


def run_demo(rag: Any, docs: Path, json_out: bool) -> None:
    if not docs.is_dir():
        from rsi_rag.errors import ValidationError

        raise ValidationError(f"demo corpus folder {docs} does not exist; pass --docs DIR")
    report = rag.ingest(demo_files(docs), "demo", progress=not json_out)
    results = []
    if not json_out:
        console.print(
            f"[bold]ingested[/] {len(report.added) + len(report.updated)} new or changed, "
            f"{len(report.unchanged)} unchanged documents from {docs}"
        )
    for q in DEMO_QUESTIONS:
        answer = rag.ask(q, "demo")
        results.append({"question": q, **answer.to_dict()})
        if not json_out:
            console.print(f"\n[bold cyan]Q:[/] {q}\n[bold green]A:[/] {answer.text}")
            print_citations(answer, short_sources=True)
    if json_out:
        emit_json(results)
