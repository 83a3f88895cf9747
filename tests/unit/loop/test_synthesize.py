from __future__ import annotations

from typing import Any

import pytest

from rsi_rag.errors import ConfigError
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.synthesize import _clean_question, cloze_positive, synthesize
from rsi_rag.types import SourceDocument

CFG = LoopConfig(
    questions_per_cycle=4, crops_per_cycle=6, synthetic_gate_fraction=0.0, round_trip_k=3
)


def _synthetic(rag: Any) -> list[Any]:
    from sqlalchemy import select

    from rsi_rag.store.models import TrainingExample

    with rag.catalog.session() as s:
        return list(
            s.scalars(select(TrainingExample).where(TrainingExample.provenance == "synthetic"))
        )


def test_questions_and_crops_are_verified_and_stored_with_provenance(kb: Any) -> None:
    col = kb.collection("kb")
    report = synthesize(kb, col, CFG, cycle=1)
    assert report.generated == {"question": 4, "crop": 6}
    rows = _synthetic(kb)
    assert len(rows) == 10
    kept = [r for r in rows if r.status == "active"]
    assert kept, report.to_dict()
    for r in rows:
        assert r.source_chunk_id in r.positive_chunk_ids and r.cache_key
        assert r.written_by in ("fake-generator-v1", "crop")
    for r in kept:
        # Round trip: the champion ranks the source chunk in the top k for the query.
        hits = kb.retrieve(r.query, "kb", k=CFG.round_trip_k)
        assert r.source_chunk_id in [h.chunk_id for h in hits]
    # The fake generator copies a sentence, and the crop may pick the same one: the
    # duplicate filter must have caught any repeat.
    active_queries = [r.query.lower() for r in kept]
    assert len(active_queries) == len(set(active_queries))


def test_cache_generates_only_for_new_or_changed_chunks(kb: Any) -> None:
    col = kb.collection("kb")
    big = LoopConfig(questions_per_cycle=50, crops_per_cycle=50)
    synthesize(kb, col, big, cycle=1)
    again = synthesize(kb, kb.collection("kb"), big, cycle=2)
    assert again.generated == {} and again.cached_chunks > 0
    kb.ingest_documents(
        [
            SourceDocument(
                "doc0.md",
                "Payroll now pays staff every two weeks "
                "on Thursday. Payslips move to the HR portal. Taxes "
                "are withheld as before from the country tables.",
            )
        ],
        "kb",
    )
    third = synthesize(kb, kb.collection("kb"), big, cycle=3)
    assert third.generated == {"question": 1, "crop": 1}


def test_round_trip_rejects_a_query_about_another_chunk(kb: Any) -> None:
    from rsi_rag.loop.synthesize import SynthesisReport, _verify

    col = kb.collection("kb")
    cid = kb.catalog.chunk_ids(col.id)
    chunks = kb.catalog.chunks(col.id, cid)
    payroll = next(c for c in chunks.values() if c.source == "doc0.md")
    rooms = next(c for c in chunks.values() if c.source == "doc5.md")
    report = SynthesisReport()
    rows = _verify(
        kb,
        col,
        LoopConfig(round_trip_k=1),
        [
            (
                "question",
                "g",
                "When are salaried staff paid by payroll?",
                payroll.id,
                payroll.document_id,
            ),
            (
                "question",
                "g",
                "When are salaried staff paid by payroll?",
                rooms.id,
                rooms.document_id,
            ),
            ("question", "g", "", rooms.id, rooms.document_id),
        ],
        ["k1", "k2", "k3"],
        [],
        1,
        report,
    )
    assert [r["status"] for r in rows] == ["active", "filtered", "filtered"]
    assert report.filtered == {"round trip failed": 1, "malformed": 1}


def test_deleted_documents_yield_no_examples(kb: Any) -> None:
    kb.delete_document("kb", source="doc2.md")
    synthesize(kb, kb.collection("kb"), LoopConfig(questions_per_cycle=50, crops_per_cycle=50))
    docs = {d.id for d in kb.documents("kb")}
    assert all(set(r.document_ids) <= docs for r in _synthetic(kb))


def test_clean_question() -> None:
    assert _clean_question("Question: When is payroll paid?\nMore text") == (
        "When is payroll paid?"
    )
    assert _clean_question("ok") is None


PASSAGE = (
    "Payroll runs every two weeks on Thursday. Payslips appear on the HR portal the day "
    "before. Taxes are withheld from the country tables."
)


def test_cloze_positive_removes_the_query_span_from_its_chunk() -> None:
    query = "Payslips appear on the HR portal the day before."
    rest = cloze_positive(query, PASSAGE, keep_fraction=0.0)
    assert query not in rest and "Payroll runs every two weeks" in rest and "Taxes" in rest
    assert "  " not in rest
    # keep_fraction 1.0: every pair trains against the whole chunk.
    assert cloze_positive(query, PASSAGE, keep_fraction=1.0) == PASSAGE
    # A query that is not a span of the chunk (a generated question) leaves it whole.
    assert cloze_positive("When is payroll run?", PASSAGE, keep_fraction=0.0) == PASSAGE
    # Nothing useful would be left: the chunk stays whole.
    assert cloze_positive(PASSAGE, PASSAGE, keep_fraction=0.0) == PASSAGE


def test_cloze_keep_fraction_is_seeded_and_respected() -> None:
    texts = [f"Sentence number {i} is the query here. {PASSAGE}" for i in range(400)]
    queries = [f"Sentence number {i} is the query here." for i in range(400)]
    first = [cloze_positive(q, t, 0.25) for q, t in zip(queries, texts, strict=True)]
    again = [cloze_positive(q, t, 0.25) for q, t in zip(queries, texts, strict=True)]
    assert first == again
    kept = sum(p == t for p, t in zip(first, texts, strict=True)) / len(texts)
    assert 0.17 < kept < 0.33, kept


def test_cycle_trains_crops_and_titles_against_the_chunk_without_them(kb: Any) -> None:
    from rsi_rag.loop.cycle import _pairs
    from rsi_rag.loop.examples import training_examples

    col = kb.collection("kb")
    synthesize(kb, col, LoopConfig(questions_per_cycle=4, crops_per_cycle=6, round_trip_k=3))
    examples = training_examples(kb.catalog, col.id, LoopConfig())
    crops = [e for e in examples if e.method == "crop"]
    questions = [e for e in examples if e.method == "question"]
    assert crops and questions
    texts = kb.catalog.chunk_texts(col.id)
    pairs = {p.query: p for p in _pairs(kb, col, examples, LoopConfig(cloze_keep_fraction=0.0))}
    for e in crops:
        assert e.query in texts[e.positive_chunk_ids[0]]
        assert e.query not in pairs[e.query].positive
    for e in questions:
        assert pairs[e.query].positive == texts[e.positive_chunk_ids[0]]
    whole = {p.query: p for p in _pairs(kb, col, examples, LoopConfig(cloze_keep_fraction=1.0))}
    assert all(whole[e.query].positive == texts[e.positive_chunk_ids[0]] for e in crops)


def _example(i: int, provenance: str) -> Any:
    from rsi_rag.loop.examples import Example

    method = "crop" if provenance == "synthetic" else "citation"
    return Example(i, f"q{i}", (i,), (), (1,), provenance, method, "m", i, "train", False)


def test_synthetic_only_training_sets_train_for_capped_epochs() -> None:
    from rsi_rag.loop.cycle import training_config

    config = LoopConfig(epochs=3, synthetic_only_max_epochs=1)
    synthetic = [_example(i, "synthetic") for i in range(4)]
    assert training_config(config, synthetic).epochs == 1
    # One user- or gold-grounded example lifts the cap; the rest of the config is kept.
    for provenance in ("user", "gold"):
        mixed = [*synthetic, _example(9, provenance)]
        assert training_config(config, mixed) == config
    assert training_config(LoopConfig(epochs=3, synthetic_only_max_epochs=0), synthetic).epochs == 3
    assert training_config(LoopConfig(epochs=1, synthetic_only_max_epochs=2), synthetic).epochs == 1
    assert training_config(config, synthetic).seed == config.seed
    with pytest.raises(ConfigError, match="synthetic_only_max_epochs"):
        LoopConfig(synthetic_only_max_epochs=-1)
