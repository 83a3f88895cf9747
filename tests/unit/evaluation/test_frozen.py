from __future__ import annotations

import pytest
from sqlalchemy import inspect

from rsi_rag.errors import ConflictError, FrozenDataError, ValidationError
from rsi_rag.evaluation import QAExample, split_by_document
from rsi_rag.evaluation.frozen import FrozenSets, assert_trainable, fingerprint


def _examples() -> list[QAExample]:
    return [
        QAExample(str(i), f"What is fact number {i}?", (f"fact {i}",), (f"p{i}",), f"doc{i % 7}")
        for i in range(40)
    ]


def test_migration_creates_the_catalog_tables(fake_rag: object) -> None:
    tables = set(inspect(fake_rag.catalog.engine).get_table_names())  # type: ignore[attr-defined]
    assert {"evaluation_sets", "frozen_examples"} <= tables


def test_registered_set_is_refused_by_training(fake_rag: object) -> None:
    rag = fake_rag
    rag.ingest_documents([], "docs")  # type: ignore[attr-defined]
    col = rag.collection("docs")  # type: ignore[attr-defined]
    sets = FrozenSets(rag.catalog)  # type: ignore[attr-defined]
    info = sets.register(col.id, "gold/report", _examples()[:10], role="report", format="qa")
    assert info["num_examples"] == 10 and sets.list(col.id)[0]["name"] == "gold/report"
    with pytest.raises(ConflictError, match="already registered"):
        sets.register(col.id, "gold/report", _examples()[:10])
    assert sets.register(col.id, "gold/report", [], exist_ok=True)["id"] == info["id"]
    with pytest.raises(ValidationError, match="role"):
        sets.register(col.id, "x", _examples(), role="train")

    # The same question reaching training as a plain user pair (text differs in case and
    # spacing) is still refused, and the message names the set.
    user_pairs = [
        {"query": "a fresh question", "positive": "p"},
        {"query": "  what is FACT number 3? ", "positive": "p3"},
    ]
    with pytest.raises(FrozenDataError, match="gold/report") as err:
        assert_trainable(user_pairs, catalog=rag.catalog, collection_id=col.id)  # type: ignore[attr-defined]
    assert "example 1" in str(err.value)
    assert_trainable(user_pairs[:1], catalog=rag.catalog, collection_id=col.id)  # type: ignore[attr-defined]
    # other collections' frozen sets do not block this one when scoped
    assert_trainable(["what is fact number 3?"], catalog=rag.catalog, collection_id=col.id + 1)  # type: ignore[attr-defined]
    assert sets.is_frozen("What is fact number 3?")


def test_examples_marked_frozen_are_refused_without_a_catalog() -> None:
    with pytest.raises(FrozenDataError, match="id '5'"):
        assert_trainable(_examples()[5:6])
    train_copy = [QAExample("5", "q", frozen=False)]
    assert_trainable(train_copy)
    assert fingerprint("A  b") == fingerprint("a b")


def test_split_by_document_keeps_documents_on_one_side() -> None:
    ex = _examples()
    parts = split_by_document(ex, {"train": 0.6, "gate": 0.2, "report": 0.2}, seed=1)
    assert sum(len(v) for v in parts.values()) == len(ex)
    docs = {k: {e.doc_id for e in v} for k, v in parts.items()}
    assert not docs["train"] & docs["gate"] and not docs["train"] & docs["report"]
    assert not docs["gate"] & docs["report"]
    assert all(parts.values())
    again = split_by_document(
        list(reversed(ex)), {"train": 0.6, "gate": 0.2, "report": 0.2}, seed=1
    )
    assert {k: {e.id for e in v} for k, v in again.items()} == {
        k: {e.id for e in v} for k, v in parts.items()
    }
    with pytest.raises(ValidationError, match="sum to 1"):
        split_by_document(ex, {"train": 0.5})
    with pytest.raises(ValidationError, match="doc_id"):
        split_by_document([QAExample("1", "q")], {"all": 1.0})
