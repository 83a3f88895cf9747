"""``rsi-rag keys`` and ``rsi-rag serve`` through the CLI's plugin entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rsi_rag.cli.app import _load_plugins, app


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    if not any(c.name == "serve" for c in app.registered_commands):
        _load_plugins()  # what main() does: the entry point adds serve and keys
    return CliRunner()


def test_keys_create_list_revoke(cli: CliRunner, tmp_path: Path) -> None:
    d = str(tmp_path)
    r = cli.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "read", "--data-dir", d])
    assert r.exit_code == 0, r.output
    key = r.output.strip().splitlines()[-1]
    assert key.startswith("rsk_")
    r = cli.invoke(app, ["keys", "list", "--data-dir", d, "--json"])
    listed = json.loads(r.output)
    assert [(k["tenant"], k["role"], k["revoked"]) for k in listed] == [("acme", "read", False)]
    assert key not in r.output
    r = cli.invoke(app, ["keys", "revoke", str(listed[0]["id"]), "--data-dir", d])
    assert r.exit_code == 0 and "revoked" in r.output
    r = cli.invoke(app, ["keys", "create", "--tenant", "acme", "--role", "boss", "--data-dir", d])
    assert r.exit_code == 2 and "role must be one of" in " ".join(r.output.split())


def test_serve_demo_without_corpus_is_a_clear_error(cli: CliRunner, tmp_path: Path) -> None:
    r = cli.invoke(
        app, ["serve", "--demo", "--docs", str(tmp_path / "nope"), "--data-dir", str(tmp_path)]
    )
    assert r.exit_code == 2 and "does not exist" in " ".join(r.output.split())


def test_demo_key_is_kept_and_reused(fake_rag: object, tmp_path: Path) -> None:
    from service.cli import demo_files, demo_key

    first = demo_key(fake_rag, tmp_path)
    assert demo_key(fake_rag, tmp_path) == first
    assert (tmp_path / "demo.key").stat().st_mode & 0o777 == 0o600
    docs = Path(__file__).resolve().parents[3] / "docs"
    files = demo_files(docs)
    assert files and all(f.suffix == ".md" for f in files)
