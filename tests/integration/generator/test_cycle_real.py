"""A whole generator cycle through the real SmolLM2: collect, train, gate, promote or reject."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsi_rag import RAG
from rsi_rag.config import RAGConfig
from rsi_rag.errors import FrozenDataError
from rsi_rag.generate import HFGenerator
from rsi_rag.loop.generator_cycle import example_store, run_generator_cycle
from rsi_rag.loop.generator_eval import QAItem
from rsi_rag.loop.train_generator import LoRATrainingConfig
from rsi_rag.testing import FakeEmbedder
from rsi_rag.types import SourceDocument

from .conftest import COLOURS

pytestmark = pytest.mark.integration


def _planets(tmp_path: Path, generator: HFGenerator, config: RAGConfig) -> RAG:
    """Four planets ingested, each asked once and corrected with its sky colour."""
    rag = RAG(tmp_path / "d", config, embedder=FakeEmbedder(), generator=generator)
    docs = [
        SourceDocument(f"zog{i}.txt", f"On planet Zog-{i} the sky is {COLOURS[i]}.")
        for i in range(4)
    ]
    rag.ingest_documents(docs, "c")
    for i in range(4):
        ans = rag.ask(f"What colour is the sky on planet Zog-{i}?", "c")
        if config.reading == "per_passage":
            # The answer was read from one passage: it cites at most that one.
            assert len({c.chunk_id for c in ans.citations}) <= 1
            assert {c.chunk_id for c in ans.citations} <= {
                h.chunk_id for h in ans.hits[: config.context_k]
            }
        rag.feedback(ans.interaction_id, rating=-1, correction=f"{COLOURS[i]} [1]")
    return rag


GATE = [
    QAItem(
        f"g{i}",
        f"What colour is the sky on planet Zog-{i}?",
        (f"On planet Zog-{i} the sky is {COLOURS[i]}.",),
        (COLOURS[i],),
    )
    for i in range(4, 6)
]
TRAIN = LoRATrainingConfig(
    max_steps=3, batch_size=2, grad_accum=1, learning_rate=5e-3, max_length=200, save_every=0
)


def test_cycle_trains_on_feedback_gates_and_records_the_decision(
    tmp_path: Path, real_generator: HFGenerator
) -> None:
    rag = _planets(tmp_path, real_generator, RAGConfig(max_new_tokens=6, abstain_threshold=-1.0))
    report = run_generator_cycle(
        rag,
        "c",
        gate_items=GATE,
        heldout_texts=["Cats sleep a lot during the day."],
        cycle=1,
        train_config=TRAIN,
    )
    assert report.manifest["by_provenance"] == {"user_correction": 4}
    assert report.new_examples == 4 and report.train["steps"] == 3
    info = rag.registry.get(report.version)
    assert info.kind == "generator" and info.gate_decision is not None
    assert info.gate_decision["primary_metric"] == "answer_f1"
    assert {"heldout_perplexity", "distinct_2", "groundedness"} <= set(info.gate_decision["guards"])
    expected = report.version if report.promoted else "base"
    assert rag.collection("c").generator_version == expected
    assert info.status == ("champion" if report.promoted else "rejected")
    # The gate questions are frozen: feeding one back as training data is refused.
    store = example_store(rag, "c", frozen=[g.question for g in GATE])
    from rsi_rag.loop.generator_data import GenExample

    with pytest.raises(FrozenDataError):
        store.add([GenExample(GATE[0].question, GATE[0].contexts, "x", "user_correction")], 2)
    rag.close()


def test_a_per_passage_cycle_trains_single_passage_examples_and_serves_that_way(
    tmp_path: Path, real_generator: HFGenerator
) -> None:
    cfg = RAGConfig(max_new_tokens=6, abstain_threshold=-1.0, context_k=2, reading="per_passage")
    rag = _planets(tmp_path, real_generator, cfg)
    report = run_generator_cycle(
        rag,
        "c",
        gate_items=GATE,
        heldout_texts=["Cats sleep a lot during the day."],
        cycle=1,
        train_config=TRAIN,
        negative_rate=1.0,
    )
    pp = report.manifest["per_passage"]
    assert report.manifest["reading"] == "per_passage"
    assert pp["answer_passage"] == 4 and pp["unsupported"] == 0
    # Each correction's prompt held two passages, one of another planet: its negative.
    assert pp["passage_negatives"] == 4 and pp["negative_rate"] == 1.0
    assert report.manifest["by_provenance"] == {"user_correction": 4, "abstention": 4}
    assert report.manifest["examples"] == 8
    info = rag.registry.get(report.version)
    assert info.gate_decision is not None and info.data_manifest["reading"] == "per_passage"
    rag.close()
