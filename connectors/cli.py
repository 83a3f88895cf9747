"""``rsi-rag sources ...`` and ``rsi-rag sync NAME``, added through the ``rsi_rag.cli``
entry-point group."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rsi_rag.cli.common import DataDir, JsonFlag, Tenant, console, emit_json, handle_errors
from rsi_rag.errors import ValidationError

__all__ = ["register"]

sources_app = typer.Typer(
    help="Named connector sources kept in step with collections.", no_args_is_help=True
)


def _runner(data_dir: Path | None, tenant: str) -> Any:
    import connectors
    from rsi_rag.cli.common import open_rag

    return connectors.SyncRunner(open_rag(data_dir, tenant))


def _pairs(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--option {v!r} is not key=value; write e.g. --option root=/srv")
        out[key.strip()] = value.strip()
    return out


@sources_app.command("add")
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="Source name.")],
    type_name: Annotated[str, typer.Option("--type", help="Connector type.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Target collection.")],
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="key=value (repeatable).")
    ] = None,
    interval: Annotated[
        float | None, typer.Option("--interval", help="Sync every N seconds when scheduled.")
    ] = None,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Add a named source (options are validated now; secrets stay in the environment)."""
    info = _runner(data_dir, tenant).add_source(
        name, type_name, collection, _pairs(option or []), interval_s=interval
    )
    if json_out:
        emit_json(info.to_dict())
    else:
        console.print(f"added source {info.name!r} ({info.type}) -> collection {info.collection!r}")


@sources_app.command("list")
@handle_errors
def list_(data_dir: DataDir = None, tenant: Tenant = "default", json_out: JsonFlag = False) -> None:
    """List sources with their last sync."""
    rows = _runner(data_dir, tenant).sources()
    if json_out:
        emit_json([r.to_dict() for r in rows])
        return
    table = Table("source", "type", "collection", "interval", "last sync", "status")
    for r in rows:
        table.add_row(
            r.name,
            r.type,
            r.collection,
            str(r.interval_s or "-"),
            str(r.last_sync_at or "never"),
            r.last_status or "-",
        )
    console.print(table)


@sources_app.command("remove")
@handle_errors
def remove(
    name: Annotated[str, typer.Argument(help="Source name.")],
    keep_documents: Annotated[
        bool, typer.Option("--keep-documents", help="Keep the documents it ingested.")
    ] = False,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Remove a source and, unless told otherwise, the documents it brought in."""
    n = _runner(data_dir, tenant).remove_source(name, delete_documents=not keep_documents)
    if json_out:
        emit_json({"removed": name, "documents_deleted": n})
    else:
        console.print(f"removed source {name!r}; {n} documents deleted")


@sources_app.command("types")
def types() -> None:
    """List the connector types."""
    import connectors

    for t in connectors.connector_types():
        console.print(t)


@sources_app.command("history")
@handle_errors
def history(
    name: Annotated[str, typer.Argument(help="Source name.")],
    data_dir: DataDir = None,
    tenant: Tenant = "default",
) -> None:
    """Show the recent syncs of a source with their reports."""
    runner = _runner(data_dir, tenant)
    emit_json(runner.store.syncs(runner.source(name).id))


@sources_app.command("schedule")
@handle_errors
def schedule(
    once: Annotated[bool, typer.Option("--once", help="Run due syncs once, then exit.")] = False,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between checks.")] = 5.0,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
) -> None:
    """Sync every source whose interval has elapsed, in a loop (Ctrl-C stops)."""
    import connectors

    sched = connectors.Scheduler(_runner(data_dir, tenant), poll_s=poll)
    if once:
        for name, result in sched.run_pending().items():
            console.print(f"{name}: {result if isinstance(result, str) else _summary(result)}")
        return
    try:
        sched.run_forever()
    except KeyboardInterrupt:
        sched.stop()


def _summary(report: Any) -> str:
    return (
        f"added {len(report.added)}, updated {len(report.updated)}, deleted "
        f"{len(report.deleted)}, unchanged {report.unchanged}, failed {len(report.failed)} "
        f"({report.fetched} fetched of {report.listed} listed, {report.seconds:.1f}s)"
    )


@handle_errors
def sync(
    name: Annotated[str, typer.Argument(help="Source name.")],
    allow_mass_delete: Annotated[
        bool,
        typer.Option(
            "--allow-mass-delete", help="Delete even if most of the source's items are gone."
        ),
    ] = False,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Sync a source now: ingest new and changed items, delete removed ones."""
    report = _runner(data_dir, tenant).sync(
        name, progress=not json_out, allow_mass_delete=allow_mass_delete
    )
    if json_out:
        emit_json(report.to_dict())
    else:
        console.print(_summary(report))
        for f in report.failed:
            console.print(
                f"[yellow]failed[/] {f.item} ({f.code}, {f.attempts} attempts): {f.message}"
            )
    if report.failed and not (report.added or report.updated or report.unchanged):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``sources`` group and the ``sync`` command to the ``rsi-rag`` app."""
    app.add_typer(sources_app, name="sources")
    app.command("sync")(sync)
