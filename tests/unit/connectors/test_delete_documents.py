"""``RAG.delete_documents``: the batch deletion connectors use for items gone at the source."""

from __future__ import annotations

from typing import Any

from rsi_rag import SourceDocument


def test_batch_deletion_removes_from_catalog_index_and_marks_deleted(fake_rag: Any) -> None:
    docs = [SourceDocument(f"s://{n}", f"{n} notes about {n} things") for n in ("a", "b", "c")]
    fake_rag.ingest_documents(docs, "kb")
    ids = {d.source: d.id for d in fake_rag.documents("kb")}
    assert fake_rag.delete_documents("kb", ["s://a", "s://b", "s://missing"]) == 2
    assert fake_rag.delete_documents("kb", ["s://a"]) == 0  # repeating is harmless
    assert [d.source for d in fake_rag.documents("kb")] == ["s://c"]
    assert {h.source for h in fake_rag.retrieve("notes things a b c", "kb", k=10)} == {"s://c"}
    deleted = fake_rag.catalog.deleted_document_ids(fake_rag.collection("kb").id)
    assert deleted == {ids["s://a"], ids["s://b"]}
    # A fresh process rebuilds the same view from the catalog and the saved index.
    from rsi_rag import RAG
    from rsi_rag.testing import FakeEmbedder

    again = RAG(fake_rag.data_dir, embedder=FakeEmbedder())
    assert {h.source for h in again.retrieve("notes things", "kb", k=10)} == {"s://c"}
    again.close()
