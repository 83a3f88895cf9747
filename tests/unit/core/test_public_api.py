from __future__ import annotations

import subprocess
import sys

import rsi_rag
from rsi_rag import errors


def test_exports_are_curated_and_sorted() -> None:
    assert rsi_rag.__all__ == sorted(rsi_rag.__all__, key=str)
    assert set(rsi_rag.__all__) == {
        "RAG",
        "Answer",
        "AnswerStream",
        "Citation",
        "CollectionInfo",
        "DocumentInfo",
        "Hit",
        "IngestFailure",
        "IngestReport",
        "RAGConfig",
        "RsiRagError",
        "SourceDocument",
        "__version__",
    }
    for name in rsi_rag.__all__:
        assert getattr(rsi_rag, name) is not None


def test_import_does_not_load_heavy_modules() -> None:
    code = (
        "import sys, rsi_rag; from rsi_rag import RAG; "
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'faiss') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_error_tree_codes_are_unique_and_round_trip() -> None:
    classes = errors._all_error_classes()
    codes = [c.code for c in classes]
    assert len(codes) == len(set(codes))
    for cls in classes:
        rebuilt = errors.error_for_code(cls.code, "msg")
        assert type(rebuilt) is cls
        assert isinstance(rebuilt, errors.RsiRagError)
        assert 400 <= cls.status < 600
    assert type(errors.error_for_code("no-such-code", "m")) is errors.RsiRagError
    assert errors.__all__ == sorted(errors.__all__)
