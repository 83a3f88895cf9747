"""The catalog on a real PostgreSQL server (started on 127.0.0.1 by the test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsi_rag import RAG, SourceDocument
from rsi_rag.testing import FakeEmbedder, FakeGenerator

pytestmark = pytest.mark.integration


def test_pipeline_runs_on_a_postgresql_catalog(tmp_path: Path) -> None:
    testing = pytest.importorskip("connectors.testing")
    try:
        server = testing.postgres_server()
    except testing.ServerUnavailable as exc:
        pytest.skip(str(exc))
    url = server.url.replace(f"{testing.PG_USER}@", f"{testing.PG_USER}:{testing.PG_PASSWORD}@")
    rag = RAG(tmp_path / "d", catalog_url=url, embedder=FakeEmbedder(), generator=FakeGenerator())
    try:
        assert rag.catalog.engine.dialect.name == "postgresql"
        collection = f"pg_{tmp_path.name[-12:]}".replace("-", "_")
        report = rag.ingest_documents(
            [
                SourceDocument("a", "PostgreSQL stores the catalog rows.", acl=("ops",)),
                SourceDocument("b", "Bananas are a good source of potassium."),
            ],
            collection,
        )
        assert set(report.added) == {"a", "b"}
        assert rag.ingest_documents(
            [SourceDocument("b", "Bananas are a good source of potassium.")], collection
        ).unchanged == ("b",)
        hits = rag.retrieve("catalog rows PostgreSQL", collection, k=2, principals=["guest"])
        assert [h.source for h in hits] == ["b"]
        hits = rag.retrieve("catalog rows PostgreSQL", collection, k=2, principals=["ops"])
        assert hits[0].source == "a"
        answer = rag.ask("Where are catalog rows stored?", collection)
        assert (
            rag.catalog.interaction(answer.interaction_id)["query"]
            == "Where are catalog rows stored?"
        )  # type: ignore[arg-type]
        assert rag.delete_document(collection, source="a") == 1
        assert all(h.source != "a" for h in rag.retrieve("catalog rows", collection, k=5))
    finally:
        rag.close()
