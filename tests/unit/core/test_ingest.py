from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rsi_rag import RAG, SourceDocument
from rsi_rag.errors import UnknownCollectionError, UnknownDocumentError, ValidationError


def _index_ids(rag: RAG, collection: str) -> set[int]:
    col = rag.collection(collection)
    index = rag.indexes.get(col, col.retriever_version, rag.embedder_for(col.retriever_version))
    return set(index.ids().tolist())


def test_ingest_is_idempotent_and_replaces_changed_documents(fake_rag: RAG, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Alpha centauri is a star system near the sun.")
    (docs / "b.md").write_text("Bananas are yellow fruit rich in potassium.")
    first = fake_rag.ingest(docs, "c")
    assert len(first.added) == 2 and first.chunks_added == 2
    calls = fake_rag.embedder.calls  # type: ignore[attr-defined]
    again = fake_rag.ingest(docs, "c")
    assert len(again.unchanged) == 2 and not again.added and again.chunks_added == 0
    assert fake_rag.embedder.calls == calls  # type: ignore[attr-defined]

    before = _index_ids(fake_rag, "c")
    (docs / "a.txt").write_text("Alpha centauri has three stars. Proxima is the closest.")
    changed = fake_rag.ingest(docs, "c")
    assert changed.updated == (str((docs / "a.txt").resolve()),)
    assert changed.chunks_removed == 1 and changed.chunks_added == 1
    after = _index_ids(fake_rag, "c")
    col = fake_rag.collection("c")
    assert after == set(fake_rag.catalog.chunk_ids(col.id))
    assert len(before - after) == 1
    hits = fake_rag.retrieve("Proxima closest stars", "c", k=1)
    assert "Proxima" in hits[0].text
    info = {d.source: d for d in fake_rag.documents("c")}
    assert info[str((docs / "a.txt").resolve())].version == 2


def test_bad_file_in_folder_is_reported_and_rest_ingested(fake_rag: RAG, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("good content about llamas")
    (docs / "bad.pdf").write_bytes(b"not a pdf at all")
    (docs / "notes.xyz").write_text("unknown type")
    (docs / ".hidden.txt").write_text("skipped silently")
    report = fake_rag.ingest([docs, tmp_path / "missing.txt"], "c")
    assert [Path(s).name for s in report.added] == ["good.txt"]
    codes = {Path(f.source).name: f.code for f in report.failed}
    assert codes == {
        "bad.pdf": "corrupt_file",
        "notes.xyz": "unsupported_file",
        "missing.txt": "ingest_error",
    }


def test_delete_document_removes_chunks_everywhere(fake_rag: RAG, tmp_path: Path) -> None:
    fake_rag.ingest_documents(
        [
            SourceDocument("s1", "zebras have stripes"),
            SourceDocument("s2", "giraffes have long necks"),
        ],
        "c",
    )
    removed = fake_rag.delete_document("c", source="s1")
    assert removed == 1
    hits = fake_rag.retrieve("zebras stripes", "c", k=5)
    assert all(h.source != "s1" for h in hits)
    assert _index_ids(fake_rag, "c") == set(fake_rag.catalog.chunk_ids(fake_rag.collection("c").id))
    with pytest.raises(UnknownDocumentError, match="s1"):
        fake_rag.delete_document("c", source="s1")
    # A deleted source can come back as a new version.
    report = fake_rag.ingest_documents([SourceDocument("s1", "zebras are back")], "c")
    assert report.updated == ("s1",) or report.added == ("s1",)
    assert fake_rag.retrieve("zebras back", "c", k=1)[0].source == "s1"


def test_unknown_collection_and_bad_names(fake_rag: RAG) -> None:
    with pytest.raises(UnknownCollectionError, match="nope"):
        fake_rag.retrieve("q", "nope")
    with pytest.raises(ValidationError, match="collection name"):
        fake_rag.ingest_documents([], "bad name!")
    with pytest.raises(ValidationError, match="SourceDocument"):
        fake_rag.ingest_documents(["just a string"], "c")  # type: ignore[list-item]


def test_oversized_and_empty_documents_are_reported(tmp_path: Path) -> None:
    from rsi_rag import RAGConfig
    from rsi_rag.testing import FakeEmbedder, FakeGenerator

    rag = RAG(
        tmp_path / "d",
        RAGConfig(max_file_bytes=100),
        embedder=FakeEmbedder(),
        generator=FakeGenerator(),
    )
    report = rag.ingest_documents(
        [
            SourceDocument("big", "x " * 100),
            SourceDocument("empty", "  "),
            SourceDocument("ok", "fine"),
        ],
        "c",
    )
    assert report.added == ("ok",)
    assert {f.source: f.code for f in report.failed} == {
        "big": "file_too_large",
        "empty": "empty_file",
    }


def test_index_is_repaired_against_the_catalog(fake_rag: RAG, tmp_path: Path) -> None:
    fake_rag.ingest_documents(
        [SourceDocument(f"d{i}", f"document number {i}") for i in range(5)], "c"
    )
    col = fake_rag.collection("c")
    path = fake_rag.indexes.path(col.id, col.retriever_version)
    # Simulate a crash that lost the index file and left a stale id in another copy.
    path.unlink()
    from rsi_rag import RAG as Fresh
    from rsi_rag.testing import FakeEmbedder, FakeGenerator

    reopened = Fresh(fake_rag.data_dir, embedder=FakeEmbedder(), generator=FakeGenerator())
    ids = _index_ids(reopened, "c")
    assert ids == set(reopened.catalog.chunk_ids(col.id))
    assert reopened.indexes.last_reconcile is not None
    assert reopened.indexes.last_reconcile.added == 5
    index = reopened.indexes.get(col, col.retriever_version, reopened.embedder)
    index.add(np.array([10_000]), np.ones((1, 64), dtype="float32") / 8)
    index.save()
    again = Fresh(fake_rag.data_dir, embedder=FakeEmbedder(), generator=FakeGenerator())
    assert 10_000 not in _index_ids(again, "c")
