"""Shared CLI plumbing: the data directory option, JSON output and error reporting."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from rsi_rag.errors import RsiRagError

__all__ = [
    "DataDir",
    "JsonFlag",
    "Mode",
    "Principals",
    "Tenant",
    "console",
    "emit_json",
    "handle_errors",
    "open_rag",
    "print_citations",
]

console = Console()
err_console = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="RSI_RAG_DATA_DIR",
        help="Data directory (catalog, indexes, models). Default ./rsi_rag_data.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
Tenant = Annotated[str, typer.Option("--tenant", help="Tenant name.")]
Mode = Annotated[str | None, typer.Option(help="dense, hybrid or bm25.")]
Principals = Annotated[
    list[str] | None, typer.Option("--principal", help="Reader principal (repeatable).")
]

F = TypeVar("F", bound=Callable[..., Any])


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def handle_errors(fn: F) -> F:
    """Turn library errors into a one-line message and exit status 1 (2 for bad input)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RsiRagError as exc:
            if kwargs.get("json_out"):
                emit_json({"error": {"code": exc.code, "message": exc.message}})
            else:
                err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}")
            raise typer.Exit(2 if 400 <= exc.status < 500 else 1) from None

    return wrapper  # type: ignore[return-value]


def open_rag(data_dir: Path | None, tenant: str = "default") -> Any:
    from rsi_rag.rag import RAG

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return RAG(data_dir, tenant=tenant)


def print_citations(answer: Any, short_sources: bool = False) -> None:
    """Print an answer's abstention flag and citations under it."""
    from pathlib import Path

    if answer.abstained:
        console.print("  [dim](abstained: no relevant passage in the collection)[/]")
    for c in answer.citations:
        tag = " (inferred)" if c.inferred else ""
        source = Path(c.source).name if short_sources else c.source
        console.print(f"  [{c.marker}] {source} chunk {c.chunk_id}{tag}")
