"""kill -9 during training, index build and switch: the champion keeps serving, the
catalog and registry stay consistent, and the half-built version is cleaned up."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rsi_rag.loop.lock import CycleLock
from rsi_rag.loop.promote import model_dir, recover
from tests.integration.loop.conftest import open_rag

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("crash_proc.py")


def _crash(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == -9, proc.stdout + proc.stderr[-2000:]
    return proc.stdout


def _recover(rag: Any) -> list[str]:
    col = rag.collection("kb")
    with CycleLock(rag.data_dir, col.id):
        return recover(rag, col)


# Killing at the index build needs a full (tiny) training run first: slow tier.
@pytest.mark.parametrize("stage", ["train.step", pytest.param("index", marks=pytest.mark.slow)])
def test_kill_during_training_or_index_build(kb_dir: Path, real_embedder: Any, stage: str) -> None:
    rag = open_rag(kb_dir, real_embedder)
    champion = rag.collection("kb").retriever_version
    before = [h.chunk_id for h in rag.retrieve("What is KESTREL?", "kb", k=5)]
    rag.close()
    assert f"killing at {stage}" in _crash(str(kb_dir), "cycle", stage)

    rag = open_rag(kb_dir, real_embedder)
    col = rag.collection("kb")
    # The champion still serves, unchanged.
    assert col.retriever_version == champion
    assert [h.chunk_id for h in rag.retrieve("What is KESTREL?", "kb", k=5)] == before
    half = [v for v in rag.registry.list(col.id, "retriever") if v.collection_id == col.id]
    assert len(half) == 1
    assert half[0].status == ("training" if stage == "train.step" else "candidate")
    if stage == "index":
        assert model_dir(rag, col.id, half[0].id).is_dir()
    assert _recover(rag) == [half[0].id]
    assert rag.registry.get(half[0].id).status == "failed"
    assert not model_dir(rag, col.id, half[0].id).exists()
    assert not model_dir(rag, col.id, half[0].id).with_name(half[0].id + ".partial").exists()
    assert not (kb_dir / "indexes" / str(col.id) / half[0].id).exists()
    assert _recover(rag) == []  # consistent: nothing left to repair
    rag.close()


def test_kill_during_switch(kb_dir: Path, real_embedder: Any) -> None:
    from rsi_rag._packaged import packaged_embedder_path

    rag = open_rag(kb_dir, real_embedder)
    col = rag.collection("kb")
    champion = col.retriever_version
    # A challenger with its own model folder (a copy of the base weights is enough here:
    # what is under test is the switch, not the training).
    folder = model_dir(rag, col.id, "kb-copy")
    shutil.copytree(packaged_embedder_path(), folder)
    rag.registry.register(
        "kb-copy",
        "retriever",
        str(folder),
        collection_id=col.id,
        parent_id=champion,
        status="candidate",
    )
    rag.close()
    assert "killing at switched" in _crash(str(kb_dir), "switch", "switched", "kb-copy")

    rag = open_rag(kb_dir, real_embedder)
    col = rag.collection("kb")
    # The pointer moved in one transaction; the registry catches up on recovery.
    assert col.retriever_version == "kb-copy"
    assert rag.registry.get("kb-copy").status == "candidate"
    assert _recover(rag) == []
    assert rag.registry.get("kb-copy").status == "champion"
    hits = rag.retrieve("What is KESTREL?", "kb", k=3)
    assert hits and (kb_dir / "indexes" / str(col.id) / "kb-copy" / "index.faiss").exists()
    rag.close()
