from __future__ import annotations

from typing import Any

from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.synthesize import _clean_question, synthesize
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
