"""``rsi-rag serve`` and ``rsi-rag keys``: added to the CLI through the ``rsi_rag.cli``
entry-point group."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from rsi_rag.cli.common import DataDir, JsonFlag, console, emit_json, handle_errors
from rsi_rag.cli.demo import demo_files

__all__ = ["DEMO_COLLECTION", "demo_files", "demo_key", "register"]

DEMO_COLLECTION = "demo"
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


def _data_dir(data_dir: Path | None) -> Path:
    return data_dir or Path(os.environ.get("RSI_RAG_DATA_DIR", "rsi_rag_data"))


def demo_key(rag: object, data_dir: Path) -> str:
    """The demo key of tenant ``default`` (role ``write``), kept in ``data_dir/demo.key``."""
    from rsi_rag.errors import AuthenticationError
    from rsi_rag.store.keys import ApiKeyStore

    store = ApiKeyStore(rag.catalog)  # type: ignore[attr-defined]
    path = data_dir / "demo.key"
    if path.exists():
        key = path.read_text().strip()
        try:
            store.verify(key)
            return key
        except AuthenticationError:
            pass
    _, key = store.create("default", "write", name="demo")
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_dir: DataDir = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Ingest --docs into collection 'demo' first.")
    ] = False,
    docs: Annotated[Path, typer.Option(help="Folder of the demo corpus.")] = Path("docs"),
) -> None:
    """Run the HTTP service (OpenAI-compatible routes, SDK routes, /schema, /metrics)."""
    handle_errors(_serve)(host, port, _data_dir(data_dir), demo, docs)


def _serve(host: str, port: int, data_dir: Path, demo: bool, docs: Path) -> None:
    import uvicorn

    from rsi_rag.errors import ValidationError
    from rsi_rag.rag import RAG
    from service.app import create_app
    from service.settings import ServiceSettings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    settings = ServiceSettings(host=host, port=port, data_dir=data_dir, demo=demo, demo_docs=docs)
    rag = RAG(settings.data_dir, catalog_url=settings.catalog_url)
    if demo:
        if not docs.is_dir():
            raise ValidationError(f"demo corpus folder {docs} does not exist; pass --docs DIR")
        report = rag.ingest(demo_files(docs), DEMO_COLLECTION, progress=True)
        console.print(
            f"[bold]demo corpus[/] {docs}: {len(report.added) + len(report.updated)} new or "
            f"changed, {len(report.unchanged)} unchanged documents in collection "
            f"'{DEMO_COLLECTION}'"
        )
        key = demo_key(rag, settings.data_dir)
        console.print(
            f"[bold]demo API key[/] (tenant 'default', role 'write', saved in "
            f"{settings.data_dir / 'demo.key'}):\n{key}"
        )
    console.print(f"serving on http://{host}:{port}  (API docs: http://{host}:{port}/schema)")
    uvicorn.run(create_app(settings, rag=rag), host=host, port=port, log_level="info")


@keys_app.command("create")
@handle_errors
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant of the key (created if new).")],
    role: Annotated[str, typer.Option("--role", help="read, write, admin or root.")],
    name: Annotated[str | None, typer.Option("--name", help="A label for the key.")] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """Create an API key and print it (it is shown only this once)."""
    from rsi_rag.store.catalog import Catalog
    from rsi_rag.store.keys import ApiKeyStore

    folder = _data_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    info, key = ApiKeyStore(Catalog.for_data_dir(folder)).create(tenant, role, name)
    if json_out:
        emit_json({**info.to_dict(), "key": key})
    else:
        console.print(f"key {info.id} for tenant {tenant!r}, role {role!r} (shown only once):")
        print(key)


@keys_app.command("list")
@handle_errors
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    data_dir: DataDir = None,
    json_out: JsonFlag = False,
) -> None:
    """List API keys (without their secrets)."""
    from rich.table import Table

    from rsi_rag.store.catalog import Catalog
    from rsi_rag.store.keys import ApiKeyStore

    keys = ApiKeyStore(Catalog.for_data_dir(_data_dir(data_dir))).list(tenant)
    if json_out:
        emit_json([k.to_dict() for k in keys])
        return
    table = Table("id", "tenant", "role", "prefix", "name", "revoked")
    for k in keys:
        table.add_row(str(k.id), k.tenant, k.role, k.prefix, k.name or "", str(k.revoked))
    console.print(table)


@keys_app.command("revoke")
@handle_errors
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="Key id (see 'rsi-rag keys list').")],
    data_dir: DataDir = None,
) -> None:
    """Revoke an API key."""
    from rsi_rag.store.catalog import Catalog
    from rsi_rag.store.keys import ApiKeyStore

    info = ApiKeyStore(Catalog.for_data_dir(_data_dir(data_dir))).revoke(key_id)
    console.print(f"revoked key {info.id} ({info.prefix}) of tenant {info.tenant!r}")


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``keys`` to the ``rsi-rag`` command line."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
