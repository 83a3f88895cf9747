"""Commands of the learning loop: ``models list|show|rollback`` and ``improve``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from rsi_rag.cli.app import app
from rsi_rag.cli.common import (
    DataDir,
    JsonFlag,
    Tenant,
    console,
    emit_json,
    handle_errors,
    open_rag,
)

__all__ = ["models_app"]

models_app = typer.Typer(help="Model versions: list, show, roll back.", no_args_is_help=True)
app.add_typer(models_app, name="models")

Collection = Annotated[str, typer.Option("--collection", "-c", help="Collection name.")]


def _status(info: Any, champions: set[str]) -> str:
    return "champion" if info.id in champions else info.status


@models_app.command("list")
@handle_errors
def list_models(
    collection: Collection,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Model versions of a collection, newest last; the serving ones are champions."""
    rag = open_rag(data_dir, tenant)
    col = rag.collection(collection)
    champions = {col.retriever_version, col.generator_version}
    versions = rag.registry.list(col.id)
    if json_out:
        emit_json(
            {
                "champions": {
                    "retriever": col.retriever_version,
                    "generator": col.generator_version,
                },
                "versions": [v.to_dict() | {"status": _status(v, champions)} for v in versions],
            }
        )
        return
    table = Table("version", "kind", "status", "parent", "gate", "nDCG@10 (gate)", "flags")
    for v in versions:
        gate = v.gate_decision or {}
        score = gate.get("challenger_score")
        table.add_row(
            v.id,
            v.kind,
            _status(v, champions),
            v.parent_id or "",
            gate.get("decision", ""),
            f"{score:.4f}" if isinstance(score, float) else "",
            "trained on deleted docs" if v.trained_on_deleted else "",
        )
    console.print(table)


@models_app.command("show")
@handle_errors
def show_model(
    version: Annotated[str, typer.Argument(help="Version id.")],
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """One version: lineage, data manifest, metrics and gate decision."""
    rag = open_rag(data_dir, tenant)
    info = rag.registry.get(version)
    out = info.to_dict()
    out["data_manifest"] = {
        k: v for k, v in info.data_manifest.items() if k not in ("example_ids", "document_ids")
    } | {"documents": len(info.data_manifest.get("document_ids", []))}
    out["lineage"] = [v.id for v in rag.registry.lineage(version)]
    if json_out:
        emit_json(out)
        return
    for key, value in out.items():
        console.print(f"[bold]{key}[/]: {value}")


@models_app.command("rollback")
@handle_errors
def rollback_model(
    version: Annotated[str, typer.Argument(help="Retriever version to serve again.")],
    collection: Collection,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Serve an earlier retriever version again (its index is rebuilt beside, then switched)."""
    from rsi_rag.loop.promote import rollback

    rag = open_rag(data_dir, tenant)
    res = rollback(rag, collection, version)
    if json_out:
        emit_json({"collection": collection, "previous": res.previous, "champion": res.champion})
    else:
        console.print(f"{collection}: retriever {res.previous} -> {res.champion}")


@app.command()
@handle_errors
def improve(
    collection: Collection,
    cycles: Annotated[int, typer.Option("--cycles", min=1, help="Consecutive cycles.")] = 1,
    no_generator: Annotated[
        bool, typer.Option("--no-generator", help="Synthesize crops and titles only.")
    ] = False,
    data_dir: DataDir = None,
    tenant: Tenant = "default",
    json_out: JsonFlag = False,
) -> None:
    """Run retriever improvement cycles: synthesize, train, gate, promote or reject."""
    from rsi_rag.loop.cycle import run_improvement

    rag = open_rag(data_dir, tenant)

    def progress(stage: str, info: dict[str, Any]) -> None:
        if not json_out and stage != "train.step":
            console.print(f"[dim]{stage}[/] {info or ''}")

    results = run_improvement(
        rag, collection, cycles, use_generator=not no_generator, on_stage=progress
    )
    if json_out:
        emit_json([r.to_dict() for r in results])
        return
    for r in results:
        gate = r.gate or {}
        ci = f" CI [{gate['ci_low']:+.4f}, {gate['ci_high']:+.4f}]" if gate else ""
        console.print(f"cycle {r.cycle}: [bold]{r.decision}[/] {r.challenger or ''}{ci}")
        for reason in r.reasons:
            console.print(f"  {reason}")
