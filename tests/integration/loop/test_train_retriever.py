from __future__ import annotations

from pathlib import Path

from rsi_rag._packaged import packaged_embedder_path
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.train_retriever import TrainPair, partial_dir, train_retriever
from tests.integration.loop.corpus import SYSTEMS, documents


def test_short_training_sequences_leave_the_saved_encoding_limit(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    corpus = [text for _, text in documents()]
    codes = [code for code, _, _ in SYSTEMS]
    pairs = [TrainPair(f"What does {c} do?", t) for c, t in zip(codes, corpus, strict=True)]
    out = tmp_path / "model"
    cfg = LoopConfig(epochs=1, batch_size=4, train_max_seq_length=32, negative_range=(0, 3))
    res = train_retriever(str(packaged_embedder_path()), pairs, corpus, out, cfg, device="cpu")

    assert res.steps >= 1 and out.is_dir() and not partial_dir(out).exists()
    base = SentenceTransformer(str(packaged_embedder_path()), device="cpu")
    trained = SentenceTransformer(str(out), device="cpu")
    assert base.max_seq_length == 256
    assert trained.max_seq_length == base.max_seq_length


def test_training_precision_is_recorded_and_bf16_trains(tmp_path: Path) -> None:
    """bfloat16 mixed precision trains the real MiniLM (its weights move, stay float32)."""
    import numpy as np
    from sentence_transformers import SentenceTransformer

    corpus = [text for _, text in documents()]
    codes = [code for code, _, _ in SYSTEMS]
    pairs = [TrainPair(f"What does {c} do?", t) for c, t in zip(codes, corpus, strict=True)]
    cfg = LoopConfig(epochs=1, batch_size=4, train_max_seq_length=32, negative_range=(0, 3))
    out = tmp_path / "bf16"
    res = train_retriever(
        str(packaged_embedder_path()), pairs, corpus, out, cfg, device="cpu", precision="bf16"
    )
    assert res.precision == "bf16"
    base = SentenceTransformer(str(packaged_embedder_path()), device="cpu")
    trained = SentenceTransformer(str(out), device="cpu")
    w0 = base[0].auto_model.embeddings.word_embeddings.weight
    w1 = trained[0].auto_model.embeddings.word_embeddings.weight
    assert w1.dtype == w0.dtype and str(w1.dtype) == "torch.float32"
    a = base.encode(corpus[:4], normalize_embeddings=True)
    b = trained.encode(corpus[:4], normalize_embeddings=True)
    assert not np.allclose(a, b, atol=1e-4)
