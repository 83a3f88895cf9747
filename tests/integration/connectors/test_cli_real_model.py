"""End to end through the CLI with the real MiniLM embedder: add a source, sync it, query
as different users, delete at the source, sync again, remove the source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from connectors.cli import register
from rsi_rag import RAG

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(real_embedder: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    import rsi_rag.cli.common as common

    # One MiniLM for the whole session instead of one per command.
    monkeypatch.setattr(
        common,
        "open_rag",
        lambda data_dir, tenant="default": RAG(data_dir, embedder=real_embedder, tenant=tenant),
    )
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_sync_acl_and_deletion_end_to_end(cli: Any, real_embedder: Any, tmp_path: Path) -> None:
    share, data = tmp_path / "share", tmp_path / "data"
    share.mkdir()
    (share / "password.md").write_text(
        "To reset your password, open the account portal and choose 'Forgot password'. "
        "A reset link is emailed to you within five minutes."
    )
    (share / "vpn.txt").write_text(
        "The VPN client must be installed before connecting to the office network remotely."
    )
    (share / "salaries.txt").write_text(
        "Salary bands for 2024: engineers level 3 earn between 90k and 120k per year."
    )
    (share / "salaries.txt.acl").write_text("group:hr")
    d = f"--data-dir={data}"
    cli(
        "sources",
        "add",
        "share",
        "--type",
        "filesystem",
        "--collection",
        "kb",
        "--option",
        f"root={share}",
        "--option",
        "acl=group:staff",
        "--interval",
        "3600",
        d,
    )
    bad = cli(
        "sources",
        "add",
        "x",
        "--type",
        "filesystem",
        "--collection",
        "kb",
        "--option",
        "rootdir=/srv",
        d,
        ok=False,
    )
    assert bad.exit_code == 2 and "rootdir" in bad.output
    listed = json.loads(cli("sources", "list", "--json", d).output)
    assert [s["name"] for s in listed] == ["share"] and listed[0]["interval_s"] == 3600
    report = json.loads(cli("sync", "share", "--json", d).output)
    assert len(report["added"]) == 3 and not report["failed"]
    assert "added 0" in cli("sync", "share", d).output  # progress bar path, nothing to do

    rag = RAG(data, embedder=real_embedder)
    hits = rag.retrieve("how do I reset my password?", "kb", k=3, principals=["group:staff"])
    assert hits[0].source.endswith("password.md")
    assert all("salaries" not in h.source for h in hits)
    hr = rag.retrieve("what do engineers earn?", "kb", k=3, principals=["group:hr"])
    assert [h.source.rsplit("/", 1)[1] for h in hr] == ["salaries.txt"]
    assert rag.retrieve("what do engineers earn?", "kb", k=3, principals=["mallory"]) == []
    vpn_doc = next(x for x in rag.documents("kb") if x.source.endswith("vpn.txt"))
    rag.close()

    (share / "vpn.txt").unlink()
    report = json.loads(cli("sync", "share", "--json", d).output)
    assert [p.rsplit("/", 1)[1] for p in report["deleted"]] == ["vpn.txt"]
    rag = RAG(data, embedder=real_embedder)
    hits = rag.retrieve("VPN client office network", "kb", k=5, principals=["group:staff"])
    assert hits and all(not h.source.endswith("vpn.txt") for h in hits)
    # Deleted documents are marked, which keeps them out of future training data.
    assert vpn_doc.id in rag.catalog.deleted_document_ids(rag.collection("kb").id)
    rag.close()

    history = json.loads(cli("sources", "history", "share", d).output)
    assert [h["status"] for h in history] == ["succeeded"] * 3
    out = cli("sources", "remove", "share", d).output
    assert "2 documents deleted" in out
    assert json.loads(cli("sources", "list", "--json", d).output) == []
    missing = cli("sync", "share", d, ok=False)
    assert missing.exit_code == 2 and "no source named 'share'" in missing.output
