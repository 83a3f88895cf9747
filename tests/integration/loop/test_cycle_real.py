"""The loop through the real MiniLM: a promoted retriever changes what queries return,
a rejected one changes nothing, and queries in flight never fail during the switch."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from rsi_rag.loop.cycle import run_cycle
from rsi_rag.loop.gate import GatePolicy
from tests.integration.loop.conftest import TINY, open_rag, source_chunks
from tests.integration.loop.corpus import SYSTEMS

pytestmark = pytest.mark.integration

PROBES = [f"What does {code} stand for in our company?" for code, _, _ in SYSTEMS]


def _top(rag: Any) -> list[list[tuple[int, float]]]:
    return [[(h.chunk_id, round(h.score, 5)) for h in rag.retrieve(q, "kb", k=5)] for q in PROBES]


def _hit_rate(rag: Any) -> float:
    chunks = source_chunks(rag)
    right = sum(
        rag.retrieve(q, "kb", k=1)[0].chunk_id == chunks[f"systems/{code.lower()}.md"]
        for q, (code, _, _) in zip(PROBES, SYSTEMS, strict=True)
    )
    return right / len(PROBES)


def test_rejected_changes_nothing_promoted_changes_results(
    kb_dir: Path, real_embedder: Any
) -> None:
    rag = open_rag(kb_dir, real_embedder)
    before = _top(rag)
    base_rate = _hit_rate(rag)
    champion = rag.collection("kb").retriever_version

    # A gate that demands the impossible rejects the challenger: nothing changes.
    strict = GatePolicy(min_improvement=0.99)
    rejected = run_cycle(rag, "kb", config=TINY, policy=strict)
    assert rejected.decision == "reject", rejected.reasons
    assert rag.collection("kb").retriever_version == champion
    assert rag.registry.get(rejected.challenger).status == "rejected"
    assert rejected.gate and rejected.gate["challenger_score"] > rejected.gate["champion_score"]
    assert _top(rag) == before

    # The same data under the default gate: promoted, with the interval above zero, and
    # what the service returns changes, for the better on held-out phrasings.
    errors: list[BaseException] = []
    served: set[str] = set()
    stop = threading.Event()

    def query() -> None:
        while not stop.is_set():
            try:
                assert rag.retrieve(PROBES[0], "kb", k=3)
                served.add(rag.collection("kb").retriever_version)
            except BaseException as exc:
                errors.append(exc)

    thread = threading.Thread(target=query, daemon=True)
    thread.start()
    try:
        promoted = run_cycle(rag, "kb", config=TINY)
    finally:
        stop.set()
        thread.join(30)
    assert promoted.decision == "promote", promoted.reasons
    assert promoted.gate is not None and promoted.gate["ci_low"] > 0
    assert not errors, errors[:1]
    assert champion in served
    col = rag.collection("kb")
    assert col.retriever_version == promoted.challenger
    info = rag.registry.get(promoted.challenger)
    assert info.status == "champion" and info.parent_id == champion
    assert info.data_manifest["by_provenance"]["user"] > 0
    assert _top(rag) != before
    assert _hit_rate(rag) > base_rate
    # Synthetic examples are cached per chunk content: the second cycle wrote for other
    # chunks, never again for one it had already covered.
    from collections import Counter

    from sqlalchemy import select

    from rsi_rag.store.models import TrainingExample

    with rag.catalog.session() as s:
        keys = Counter(
            s.scalars(
                select(TrainingExample.cache_key).where(TrainingExample.provenance == "synthetic")
            )
        )
    assert keys and max(keys.values()) == 1
    assert promoted.synthesis["cached_chunks"] > 0
    rag.close()
