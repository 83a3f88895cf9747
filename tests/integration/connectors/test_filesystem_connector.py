"""The filesystem connector on real files of every supported type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import connectors
from rsi_rag import RAG, RAGConfig
from rsi_rag.errors import SourceUnavailableError
from rsi_rag.testing import FakeEmbedder
from tests.integration.connectors.conftest import minimal_pdf, write_docx

pytestmark = pytest.mark.integration


def _sync(rag: Any, root: Path, **options: Any) -> connectors.SyncReport:
    runner = connectors.SyncRunner(rag, backoff_s=0.001)
    if not runner.sources():
        runner.add_source("share", "filesystem", "kb", {"root": str(root), **options})
    return runner.sync("share")


def test_every_supported_format_is_read(tmp_path: Path, fake_rag: Any) -> None:
    root = tmp_path / "share"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("plain text about aardvarks")
    (root / "b.md").write_text("# Badgers\n\nmarkdown about badgers")
    (root / "c.html").write_text("<html><script>var x;</script><p>html about camels</p></html>")
    (root / "sub" / "d.pdf").write_bytes(minimal_pdf("pdf about dolphins"))
    write_docx(root / "sub" / "e.docx", "docx about elephants")
    (root / "f.csv").write_text("animal,habitat\nflamingo,lagoon\nfox,forest\n")
    (root / "g.json").write_text(json.dumps({"animal": "gazelle", "tags": ["savanna"]}))
    (root / "ignored.bin").write_bytes(b"\x00\x01")
    (root / ".hidden.txt").write_text("hidden")
    report = _sync(fake_rag, root)
    assert not report.failed, report.failed
    assert len(report.added) == 7
    text = {d.metadata["file_name"]: d for d in fake_rag.documents("kb")}
    assert set(text) == {"a.txt", "b.md", "c.html", "d.pdf", "e.docx", "f.csv", "g.json"}
    chunks = " ".join(h.text for h in fake_rag.retrieve("animal", "kb", k=50))
    for word in (
        "aardvarks",
        "badgers",
        "camels",
        "dolphins",
        "elephants",
        "habitat: lagoon",
        "animal: gazelle",
        "tags[0]: savanna",
    ):
        assert word in chunks, word
    assert "var x" not in chunks


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    root = tmp_path / "share"
    root.mkdir()
    (root / "small.txt").write_text("a small file")
    (root / "huge.txt").write_text("x" * 5000)
    rag = RAG(tmp_path / "data", RAGConfig(max_file_bytes=1000), embedder=FakeEmbedder())
    report = _sync(rag, root)
    assert len(report.added) == 1 and report.fetched == 1
    (failure,) = report.failed
    assert failure.code == "file_too_large" and "5000 bytes" in failure.message
    assert "huge.txt" in failure.message
    rag.close()


def test_folder_and_file_sidecars_set_access(tmp_path: Path, fake_rag: Any) -> None:
    root = tmp_path / "share"
    (root / "hr" / "private").mkdir(parents=True)
    (root / "open.txt").write_text("open notes")
    (root / "hr" / ".acl").write_text("group:hr\n")
    (root / "hr" / "pay.txt").write_text("pay scales")
    (root / "hr" / "private" / "case.txt").write_text("case file")
    (root / "hr" / "private" / "case.txt.acl").write_text("alice, group:hr-leads")
    _sync(fake_rag, root, acl="everyone")
    acl = {d.metadata["file_name"]: d.acl for d in fake_rag.documents("kb")}
    assert acl == {
        "open.txt": ("everyone",),
        "pay.txt": ("group:hr",),
        "case.txt": ("alice", "group:hr-leads"),
    }
    # Changing only a sidecar re-syncs the file with its new access list.
    (root / "hr" / "private" / "case.txt.acl").write_text("alice")
    report = _sync(fake_rag, root)
    assert len(report.updated) == 1 and report.fetched == 1
    assert {d.metadata["file_name"]: d.acl for d in fake_rag.documents("kb")}["case.txt"] == (
        "alice",
    )


def test_missing_root_is_a_clear_source_error(tmp_path: Path, fake_rag: Any) -> None:
    with pytest.raises(SourceUnavailableError, match="not a folder"):
        _sync(fake_rag, tmp_path / "nowhere")
