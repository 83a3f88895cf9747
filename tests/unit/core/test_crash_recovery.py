"""A process killed with SIGKILL in the middle of ingestion leaves a state a restart repairs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from rsi_rag import RAG, RAGConfig, SourceDocument
from rsi_rag.testing import FakeEmbedder, FakeGenerator

N_DOCS = 400

CHILD = textwrap.dedent(
    """
    import sys, time
    from rsi_rag import RAG, RAGConfig, SourceDocument
    from rsi_rag.testing import FakeEmbedder, FakeGenerator

    class SlowEmbedder(FakeEmbedder):
        def _encode(self, texts, **kw):
            time.sleep(0.05)
            return super()._encode(texts, **kw)

    rag = RAG(sys.argv[1], RAGConfig(embed_batch_size=2), embedder=SlowEmbedder(),
              generator=FakeGenerator())
    docs = (SourceDocument(f"doc{i}", f"document {i} about topic {i % 7}") for i in range(N))
    rag.ingest_documents(docs, "c")
    print("finished", flush=True)
    """
).replace("range(N)", f"range({N_DOCS})")


def _count_documents(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("select count(*) from documents").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_kill_9_mid_ingest_is_repaired_on_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])},
    )
    deadline = time.time() + 120
    while _count_documents(data / "catalog.db") < 40 and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    committed = _count_documents(data / "catalog.db")
    assert 0 < committed < N_DOCS, "the kill must land mid-ingest"

    rag = RAG(
        data, RAGConfig(embed_batch_size=2), embedder=FakeEmbedder(), generator=FakeGenerator()
    )
    col = rag.collection("c")
    index = rag.indexes.get(col, col.retriever_version, rag.embedder)
    catalog_ids = set(rag.catalog.chunk_ids(col.id))
    # Every committed document has its chunks, and every chunk is searchable again.
    assert set(index.ids().tolist()) == catalog_ids
    assert len(catalog_ids) == committed
    assert all(d.num_chunks == 1 for d in rag.documents("c"))

    report = rag.ingest_documents(
        (SourceDocument(f"doc{i}", f"document {i} about topic {i % 7}") for i in range(N_DOCS)), "c"
    )
    assert len(report.unchanged) == committed
    assert len(report.added) == N_DOCS - committed
    assert set(index.ids().tolist()) == set(rag.catalog.chunk_ids(col.id))
    assert len(rag.documents("c")) == N_DOCS
