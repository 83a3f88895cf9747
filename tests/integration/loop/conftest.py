from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from rsi_rag.loop.config import LoopConfig
from tests.integration.loop.corpus import QUESTIONS, SYSTEMS, documents

#: Tiny training: a couple of epochs over about a hundred short pairs.
TINY = LoopConfig(
    questions_per_cycle=4,
    crops_per_cycle=8,
    epochs=2,
    batch_size=16,
    learning_rate=2e-4,
    min_train_examples=10,
    min_gate_examples=5,
)


def open_rag(data_dir: Path, embedder: Any) -> Any:
    from rsi_rag import RAG
    from rsi_rag.testing import FakeGenerator

    # The generator's answers are not what these tests are about; the retriever is real.
    return RAG(data_dir, embedder=embedder, generator=FakeGenerator())


def source_chunks(rag: Any, collection: str = "kb") -> dict[str, int]:
    col = rag.collection(collection)
    return {
        rec.source: cid
        for cid, rec in rag.catalog.chunks(col.id, rag.catalog.chunk_ids(col.id)).items()
    }


@pytest.fixture(scope="session")
def kb_template(tmp_path_factory: pytest.TempPathFactory, real_embedder: Any) -> Path:
    """A data dir: the code-name corpus plus user feedback confirming the right document."""
    from rsi_rag.types import SourceDocument

    path = tmp_path_factory.mktemp("loop") / "template"
    rag = open_rag(path, real_embedder)
    rag.ingest_documents([SourceDocument(s, t) for s, t in documents()], "kb")
    chunks = source_chunks(rag)
    for code, _, _ in SYSTEMS:
        for q in QUESTIONS:
            answer = rag.ask(q.format(code=code), "kb", k=len(chunks))
            rag.feedback(
                answer.interaction_id, chosen_chunk_ids=[chunks[f"systems/{code.lower()}.md"]]
            )
    rag.close()
    return path


@pytest.fixture
def kb_dir(kb_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(kb_template, target)
    return target
