"""Encoding precision: bfloat16 where the CPU computes it natively, float32 otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from rsi_rag.config import RAGConfig
from rsi_rag.embed.precision import native_bf16, resolve_precision
from rsi_rag.errors import ConfigError

TEXTS = [
    "Vitamin D supplementation lowers the risk of respiratory infections in children.",
    "The FAISS index maps each chunk id to its vector so chunks can be removed.",
    "A gate compares the challenger with the champion on a frozen evaluation set. " * 8,
]


def test_auto_follows_the_hardware() -> None:
    expected = "bf16" if native_bf16("cpu") else "fp32"
    assert resolve_precision("auto", "cpu") == expected
    assert resolve_precision("fp32", "cpu") == "fp32"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("auto", "meta") == "fp32"


def test_unknown_precision_is_refused() -> None:
    with pytest.raises(ConfigError, match="precision must be one of"):
        RAGConfig(precision="fp8")
    with pytest.raises(ConfigError, match="precision must be"):
        resolve_precision("half", "cpu")


def test_bf16_encoding_agrees_with_fp32(real_embedder: object) -> None:
    """The real MiniLM under bfloat16 autocast: unit vectors within 1e-3 cosine of fp32's,
    and not bit-identical (the products did run in bfloat16)."""
    from rsi_rag.embed import SentenceTransformerEmbedder

    base = real_embedder
    assert isinstance(base, SentenceTransformerEmbedder)
    fp32 = SentenceTransformerEmbedder(base.name_or_path, device="cpu", precision="fp32")
    bf16 = SentenceTransformerEmbedder(base.name_or_path, device="cpu", precision="bf16")
    bf16.bf16_min_batch = 1
    a, b = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(axis=1)
    assert cos.min() > 0.999, cos
    assert not np.array_equal(a, b)
    assert fp32.precision == "fp32" and bf16.precision == "bf16"


def test_small_calls_encode_in_fp32(real_embedder: object) -> None:
    """A query (below ``bf16_min_batch`` texts) is encoded exactly as in float32."""
    from rsi_rag.embed import SentenceTransformerEmbedder

    base = real_embedder
    assert isinstance(base, SentenceTransformerEmbedder)
    fp32 = SentenceTransformerEmbedder(base.name_or_path, device="cpu", precision="fp32")
    bf16 = SentenceTransformerEmbedder(base.name_or_path, device="cpu", precision="bf16")
    np.testing.assert_array_equal(fp32.encode_query(TEXTS[0]), bf16.encode_query(TEXTS[0]))
    many = TEXTS * 6
    assert len(many) >= bf16.bf16_min_batch
    assert not np.array_equal(fp32.encode(many), bf16.encode(many))
