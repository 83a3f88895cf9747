"""Core commands: ingest, retrieve, ask, collections, documents, delete-document, demo."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rsi_rag.cli.common import (
    DataDir,
    JsonFlag,
    Mode,
    Principals,
    Tenant,
    console,
    emit_json,
    handle_errors,
    open_rag,
    print_citations,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="rsi-rag",
    help="A self-improving RAG backend.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Collection = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]


@app.command()
@handle_errors
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    collection: Collection,
    acl: Annotated[
        list[str] | None, typer.Option("--acl", help="Principal allowed to read (repeatable).")
    ] = None,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Ingest files (txt, md, html, pdf, docx) into a collection."""
    rag = open_rag(data_dir, tenant)
    report = rag.ingest(paths, collection, acl=acl or (), progress=not json_out)
    if json_out:
        emit_json(report.to_dict())
    else:
        console.print(
            f"added {len(report.added)}, updated {len(report.updated)}, unchanged "
            f"{len(report.unchanged)}, failed {len(report.failed)}; chunks +"
            f"{report.chunks_added} -{report.chunks_removed}"
        )
        for f in report.failed:
            console.print(f"[yellow]skipped[/] {f.source}: {f.message}")
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


@app.command()
@handle_errors
def retrieve(
    query: Annotated[str, typer.Argument(help="The query.")],
    collection: Collection,
    k: Annotated[int, typer.Option("-k", help="Number of chunks.")] = 10,
    mode: Mode = None,
    principal: Principals = None,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Retrieve the chunks most relevant to a query."""
    rag = open_rag(data_dir, tenant)
    hits = rag.retrieve(query, collection, k, principals=principal, mode=mode)
    if json_out:
        emit_json([h.to_dict() for h in hits])
        return
    table = Table("#", "score", "chunk", "doc", "source", "text")
    for i, h in enumerate(hits, 1):
        table.add_row(
            str(i),
            f"{h.score:.3f}",
            str(h.chunk_id),
            str(h.document_id),
            h.source,
            h.text[:80].replace("\n", " "),
        )
    console.print(table)


@app.command()
@handle_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: Collection,
    k: Annotated[int | None, typer.Option("-k", help="Chunks retrieved.")] = None,
    mode: Mode = None,
    principal: Principals = None,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Answer a question from a collection, with citations (streams the answer)."""
    rag = open_rag(data_dir, tenant)
    stream = rag.stream(question, collection, k=k, principals=principal, mode=mode)
    if json_out:
        emit_json(stream.answer.to_dict())
        return
    for piece in stream:
        console.print(piece, end="", soft_wrap=True, highlight=False)
    console.print()
    print_citations(stream.answer)


@app.command()
@handle_errors
def collections(
    data_dir: DataDir = None, tenant: Tenant = "default", json_out: JsonFlag = False
) -> None:
    """List collections."""
    rag = open_rag(data_dir, tenant)
    rows = rag.collections()
    if json_out:
        emit_json([c.to_dict() for c in rows])
        return
    table = Table("collection", "documents", "chunks", "retriever", "generator")
    for c in rows:
        table.add_row(
            c.name,
            str(c.num_documents),
            str(c.num_chunks),
            c.retriever_version,
            c.generator_version,
        )
    console.print(table)


@app.command()
@handle_errors
def documents(
    collection: Collection,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """List the documents of a collection."""
    rag = open_rag(data_dir, tenant)
    docs = rag.documents(collection)
    if json_out:
        emit_json([d.to_dict() for d in docs])
        return
    table = Table("id", "version", "chunks", "source")
    for d in docs:
        table.add_row(str(d.id), str(d.version), str(d.num_chunks), d.source)
    console.print(table)


@app.command("delete-document")
@handle_errors
def delete_document(
    collection: Collection,
    document_id: Annotated[int | None, typer.Option("--id", help="Document id.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Source path or id.")] = None,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Delete a document (by --id or --source) and its chunks."""
    rag = open_rag(data_dir, tenant)
    removed = rag.delete_document(collection, document_id=document_id, source=source)
    if json_out:
        emit_json({"chunks_removed": removed})
    else:
        console.print(f"deleted; {removed} chunks removed")


@app.command()
@handle_errors
def demo(
    data_dir: DataDir = None,
    docs: Annotated[Path, typer.Option(help="Folder of the demo corpus.")] = Path("docs"),
    json_out: JsonFlag = False,
) -> None:
    """Ingest the demo corpus and answer a few questions about it."""
    from rsi_rag.cli.demo import run_demo

    run_demo(open_rag(data_dir), docs, json_out)


def _load_plugins() -> None:
    for ep in entry_points(group="rsi_rag.cli"):
        ep.load()(app)


def main() -> None:
    _load_plugins()
    app()


from rsi_rag.cli import models as _models  # noqa: E402,F401  (registers models, improve)
