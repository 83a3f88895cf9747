from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def fake_rag(tmp_path: Path) -> Iterator[object]:
    """A RAG over a temporary data directory with the fake embedder and generator."""
    from rsi_rag import RAG
    from rsi_rag.testing import FakeEmbedder, FakeGenerator

    rag = RAG(tmp_path / "data", embedder=FakeEmbedder(), generator=FakeGenerator())
    yield rag
    rag.close()


@pytest.fixture(scope="session")
def real_embedder() -> object:
    """The packaged MiniLM, loaded once per test session."""
    from rsi_rag.embed import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder(device="cpu")
    _ = emb.dim
    return emb


@pytest.fixture(scope="session")
def real_generator() -> object:
    """The packaged SmolLM2-135M-Instruct, loaded once per test session."""
    from rsi_rag.generate import HFGenerator

    gen = HFGenerator(device="cpu")
    _ = gen.version
    return gen


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
