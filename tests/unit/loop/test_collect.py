from __future__ import annotations

from typing import Any

from rsi_rag.loop.collect import collect_feedback, held_out
from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.examples import gate_examples, training_examples
from tests.unit.loop.conftest import chunk_ids_by_source


def _ask(rag: Any, q: str) -> Any:
    return rag.ask(q, "kb", k=6)


def test_feedback_kinds_become_grounded_pairs(kb: Any) -> None:
    ids = chunk_ids_by_source(kb)
    a = _ask(kb, "when is payroll paid")
    kb.feedback(
        a.interaction_id, chosen_chunk_ids=[ids["doc0.md"]], rejected_chunk_ids=[ids["doc1.md"]]
    )
    b = _ask(kb, "how long are backups kept")
    kb.feedback(b.interaction_id, rating=1)
    c = _ask(kb, "who approves vacation")
    kb.feedback(
        c.interaction_id, correction="The team lead approves vacation requests in the calendar tool"
    )
    d = _ask(kb, "nothing useful here")
    kb.feedback(d.interaction_id, rating=-1)  # no positive: skipped
    col = kb.collection("kb")
    cfg = LoopConfig(holdout_fraction=0.0)
    report = collect_feedback(kb.catalog, col, cfg)
    assert (report.train, report.gate, report.skipped) == (3, 0, 1)
    examples = {e.query: e for e in training_examples(kb.catalog, col.id, cfg)}
    first = examples["when is payroll paid"]
    assert first.positive_chunk_ids == (ids["doc0.md"],)
    assert first.negative_chunk_ids == (ids["doc1.md"],)
    assert first.provenance == "user" and first.method == "feedback"
    assert examples["how long are backups kept"].positive_chunk_ids == (b.citations[0].chunk_id,)
    assert examples["who approves vacation"].positive_chunk_ids == (ids["doc4.md"],)
    # Collected feedback is never collected twice.
    again = collect_feedback(kb.catalog, col, cfg)
    assert (again.train, again.gate) == (0, 0)


def test_holdout_is_about_twenty_percent_and_stable(kb: Any) -> None:
    ids = chunk_ids_by_source(kb)
    for i in range(100):
        a = _ask(kb, f"payroll question number {i}")
        kb.feedback(a.interaction_id, chosen_chunk_ids=[ids["doc0.md"]])
    col = kb.collection("kb")
    cfg = LoopConfig()
    report = collect_feedback(kb.catalog, col, cfg)
    assert 10 <= report.gate <= 30 and report.train + report.gate == 100
    gate, kind = gate_examples(kb.catalog, col.id)
    assert kind == "human" and len(gate) == report.gate
    expected = sum(held_out(f"query:payroll question number {i}", 0.2, 0) for i in range(100))
    assert expected == report.gate
    # Gate examples never reach a training set.
    train_ids = {e.id for e in training_examples(kb.catalog, col.id, cfg)}
    assert not train_ids & {e.id for e in gate}
