from __future__ import annotations

from typing import Any

import pytest

from rsi_rag.errors import FrozenDataError, ValidationError
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.examples import (
    add_examples,
    count_examples,
    exclude_deleted,
    refuse_frozen,
    training_examples,
)
from tests.unit.loop.conftest import chunk_ids_by_source


def _row(q: str, chunk: int, doc: int, prov: str, **kw: Any) -> dict[str, Any]:
    return {
        "query": q,
        "positive_chunk_ids": [chunk],
        "document_ids": [doc],
        "provenance": prov,
        "method": "crop" if prov == "synthetic" else "feedback",
        "source_chunk_id": chunk if prov == "synthetic" else None,
        **kw,
    }


def test_synthetic_share_is_capped_and_real_data_kept(kb: Any) -> None:
    col = kb.collection("kb")
    ids = chunk_ids_by_source(kb)
    docs = {d.source: d.id for d in kb.documents("kb")}
    add_examples(
        kb.catalog,
        col.id,
        [_row(f"u{i}", ids["doc0.md"], docs["doc0.md"], "user") for i in range(10)],
    )
    add_examples(
        kb.catalog,
        col.id,
        [_row(f"s{i}", ids["doc1.md"], docs["doc1.md"], "synthetic") for i in range(50)],
    )
    cfg = LoopConfig(max_synthetic_share=0.3)
    train = training_examples(kb.catalog, col.id, cfg)
    real = [e for e in train if e.provenance == "user"]
    syn = [e for e in train if e.provenance == "synthetic"]
    assert len(real) == 10
    assert len(syn) == 4  # 10 * 0.3 / 0.7
    assert len(syn) / len(train) <= 0.3
    # Without real data the absolute cap applies.
    other = kb.create_collection("other")
    add_examples(
        kb.catalog,
        other.id,
        [_row(f"s{i}", ids["doc1.md"], docs["doc1.md"], "synthetic") for i in range(50)],
    )
    assert len(training_examples(kb.catalog, other.id, LoopConfig(max_synthetic_examples=7))) == 7


def test_frozen_and_gate_examples_are_refused(kb: Any) -> None:
    col = kb.collection("kb")
    ids = chunk_ids_by_source(kb)
    add_examples(
        kb.catalog,
        col.id,
        [
            _row("gold", ids["doc0.md"], 1, "gold", split="gate", frozen=True),
            _row("train", ids["doc0.md"], 1, "user"),
        ],
    )
    train = training_examples(kb.catalog, col.id, LoopConfig())
    assert [e.query for e in train] == ["train"]
    from sqlalchemy import select

    from rsi_rag.loop.examples import _example
    from rsi_rag.store.models import TrainingExample

    with kb.catalog.session() as s:
        gold = _example(
            s.scalars(select(TrainingExample).where(TrainingExample.query == "gold")).one()
        )
    with pytest.raises(FrozenDataError, match="frozen"):
        refuse_frozen([*train, gold])
    with pytest.raises(ValidationError, match="provenance"):
        add_examples(kb.catalog, col.id, [_row("x", 1, 1, "made-up")])


def test_examples_of_deleted_documents_are_excluded(kb: Any) -> None:
    col = kb.collection("kb")
    ids = chunk_ids_by_source(kb)
    docs = {d.source: d.id for d in kb.documents("kb")}
    add_examples(
        kb.catalog,
        col.id,
        [
            _row("about payroll", ids["doc0.md"], docs["doc0.md"], "user"),
            _row("about badges", ids["doc1.md"], docs["doc1.md"], "synthetic"),
        ],
    )
    kb.delete_document("kb", source="doc1.md")
    assert exclude_deleted(kb.catalog, col.id) == 1
    train = training_examples(kb.catalog, col.id, LoopConfig())
    assert [e.query for e in train] == ["about payroll"]
    assert count_examples(kb.catalog, col.id)["deleted"] == 1


def test_user_queries_equal_to_frozen_evaluation_queries_are_left_out(kb: Any) -> None:
    from rsi_rag.evaluation.frozen import FrozenSets, assert_trainable
    from rsi_rag.loop.examples import gate_examples

    col = kb.collection("kb")
    ids = chunk_ids_by_source(kb)
    docs = {d.source: d.id for d in kb.documents("kb")}
    sets = FrozenSets(kb.catalog)
    sets.register(col.id, "report", [{"id": "r1", "query": "When is payroll paid?"}])
    sets.register(col.id, "gate", [{"id": "g1", "query": "Who approves leave?"}], role="gate")
    c, d = ids["doc0.md"], docs["doc0.md"]
    add_examples(
        kb.catalog,
        col.id,
        [
            _row("when is  PAYROLL paid?", c, d, "user"),  # the report query, asked by a user
            _row("Who approves leave?", c, d, "user"),  # the gate set's query
            _row("How are payslips sent?", c, d, "user"),
            _row("When is payroll paid?", c, d, "user", split="gate"),
            _row("Who approves leave?", c, d, "gold", split="gate"),
        ],
    )
    train = training_examples(kb.catalog, col.id, LoopConfig())
    assert [e.query for e in train] == ["How are payslips sent?"]
    assert_trainable(train, catalog=kb.catalog, collection_id=col.id)  # the cycle's check
    gate, kind = gate_examples(kb.catalog, col.id)
    assert kind == "human" and [e.query for e in gate] == ["Who approves leave?"]
