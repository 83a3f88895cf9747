"""Generator training data: provenance, verification, accumulation, frozen refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsi_rag import RAG
from rsi_rag.errors import FrozenDataError, ValidationError
from rsi_rag.generate.prompts import ABSTAIN_TEXT
from rsi_rag.loop.generator_data import (
    ExampleStore,
    GenExample,
    abstention_example,
    collect_user_examples,
    describe_examples,
    synthetic_examples,
    verify_against_chunk,
)
from rsi_rag.testing import FakeGenerator
from rsi_rag.types import SourceDocument

CHUNK = "The incubation period of the virus is 5.2 days on average, with a range of 2 to 14."


def _ex(q: str, prov: str = "user_correction", docs: tuple[int, ...] = (1,)) -> GenExample:
    return GenExample(q, (CHUNK,), "5.2 days", prov, document_ids=docs)


def test_verification_accepts_spans_and_supported_words_only() -> None:
    assert verify_against_chunk("5.2 days", CHUNK)
    assert verify_against_chunk("average incubation: 5.2 days", CHUNK)
    assert not verify_against_chunk("The incubation lasts 3 weeks", CHUNK)
    assert not verify_against_chunk(ABSTAIN_TEXT, CHUNK)
    assert not verify_against_chunk("", CHUNK)


def test_abstention_examples_refuse_passages_holding_the_answer() -> None:
    ex = abstention_example("How long?", ["Masks reduce spread."], ["5.2 days"])
    assert ex.answer == ABSTAIN_TEXT and ex.provenance == "abstention"
    with pytest.raises(ValidationError, match="holding the answer"):
        abstention_example("How long?", [CHUNK], ["5.2 days"])


def test_bad_examples_are_refused() -> None:
    with pytest.raises(ValidationError, match="provenance"):
        GenExample("q", (CHUNK,), "a", "made_up")
    with pytest.raises(ValidationError, match="no context"):
        GenExample("q", (), "a", "synthetic")


def test_store_accumulates_dedupes_and_refuses_frozen(tmp_path: Path) -> None:
    store = ExampleStore(tmp_path / "ex.jsonl", frozen={"what is frozen?"})
    assert store.add([_ex("q1"), _ex("q2")], cycle=1) == 2
    assert store.add([_ex("q1"), _ex("q3")], cycle=2) == 1
    assert [e.cycle for e in store.all()] == [1, 1, 2]
    with pytest.raises(FrozenDataError, match="frozen"):
        store.add([_ex("  What is FROZEN? ")], cycle=3)
    assert len(store.all()) == 3


def test_training_set_caps_synthetic_share_and_drops_deleted(tmp_path: Path) -> None:
    store = ExampleStore(tmp_path / "ex.jsonl")
    store.add([_ex(f"real {i}") for i in range(6)], cycle=1)
    store.add([_ex(f"syn {i}", "synthetic", docs=(2,)) for i in range(20)], cycle=1)
    chosen, manifest = store.training_set(max_synthetic_share=0.25)
    assert manifest["by_provenance"] == {"user_correction": 6, "synthetic": 2}
    assert manifest["synthetic_share"] <= 0.25
    assert manifest["synthetic_dropped_by_cap"] == 18
    chosen, manifest = store.training_set(0.25, excluded_documents={2})
    assert all(e.provenance != "synthetic" for e in chosen)
    assert manifest["excluded_deleted"] == 20
    with pytest.raises(ValidationError, match="max_synthetic_share"):
        store.training_set(1.0)


def test_user_corrections_and_approvals_carry_their_context(fake_rag: RAG) -> None:
    fake_rag.ingest_documents(
        [SourceDocument("a.txt", CHUNK), SourceDocument("b.txt", "Masks reduce spread.")], "c"
    )
    a1 = fake_rag.ask("incubation period of the virus", "c")
    a2 = fake_rag.ask("masks reduce spread", "c")
    a3 = fake_rag.ask("virus range", "c")
    fake_rag.feedback(a1.interaction_id, rating=-1, correction="5.2 days")
    fake_rag.feedback(a2.interaction_id, rating=1)
    fake_rag.feedback(a3.interaction_id, rating=-1)  # no correction: nothing to learn
    got = collect_user_examples(fake_rag, "c")
    assert [(e.provenance, e.answer) for e in got] == [
        ("user_correction", "5.2 days"),
        ("user_approved", a2.text),
    ]
    assert got[0].contexts[0] == a1.hits[0].text
    assert got[0].source == f"interaction:{a1.interaction_id}"
    assert got[0].document_ids


def test_a_correction_is_grounded_in_the_chunk_further_down_that_supports_it(
    fake_rag: RAG,
) -> None:
    texts = {
        "masks.txt": "Masks reduce spread.",
        "bats.txt": "Bats roost in caves.",
        "hands.txt": "Washing hands helps.",
        "incubation.txt": CHUNK,
        "ferrets.txt": "Ferrets are a model.",
    }
    fake_rag.ingest_documents([SourceDocument(n, t) for n, t in texts.items()], "c")
    by_source = {h.source: h.chunk_id for h in fake_rag.retrieve("virus", "c", 10)}
    col = fake_rag.collection("c")
    order = ["masks.txt", "bats.txt", "hands.txt", "ferrets.txt", "incubation.txt"]

    def logged(query: str, correction: str) -> int:
        iid = fake_rag.catalog.log_interaction(
            col,
            kind="ask",
            query=query,
            retrieved_chunk_ids=[by_source[n] for n in order],
            retrieved_scores=[1.0] * len(order),
            answer="",
            abstained=False,
            model_versions={},
            latency_ms=0.0,
        )
        fake_rag.feedback(iid, rating=-1, correction=correction)
        return iid

    logged("How long is the incubation?", "5.2 days on average")
    logged("Where do owls nest?", "in barns")  # no retrieved chunk supports it
    (got,) = collect_user_examples(fake_rag, "c")
    assert got.contexts == (texts["masks.txt"], texts["bats.txt"], CHUNK)
    assert got.chunk_ids[-1] == by_source["incubation.txt"]
    assert got.meta == {"grounded_from_rank": 5}
    assert collect_user_examples(fake_rag, "c", ground=False) == []


def test_synthetic_examples_are_verified_against_their_chunk() -> None:
    gen = FakeGenerator()  # answers with the first sentence of passage [1]
    kept, rejected = synthetic_examples(gen, [("How long?", CHUNK, 7, 1)])
    assert rejected == 0 and kept[0].provenance == "synthetic" and kept[0].chunk_ids == (7,)

    class Liar(FakeGenerator):
        def _stream(self, messages, max_new_tokens):  # type: ignore[no-untyped-def]
            yield "Three weeks [1]."

    kept, rejected = synthetic_examples(Liar(), [("How long?", CHUNK, 7, 1)])
    assert kept == [] and rejected == 1
    kept, rejected = synthetic_examples(Liar(), [("How long?", CHUNK, 7, 1)], verify=False)
    assert len(kept) == 1


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "8"])
def test_top_layers_must_be_a_positive_integer(bad: object) -> None:
    from rsi_rag.errors import ConfigError
    from rsi_rag.loop.train_generator import LoRATrainingConfig

    with pytest.raises(ConfigError, match="top_layers must be a positive integer or None"):
        LoRATrainingConfig(top_layers=bad)  # type: ignore[arg-type]
    assert LoRATrainingConfig(top_layers=4).top_layers == 4


def test_over_length_examples_keep_the_passage_that_holds_the_answer() -> None:
    from rsi_rag.loop.train_generator import drop_least_supporting

    passages = ["Bats roost in caves.", "The incubation period is 5.2 days.", "Masks filter."]
    assert drop_least_supporting(passages, "5.2 days") == passages[:2]
    assert drop_least_supporting(passages[1:], "5.2 days") == passages[1:2]
    assert drop_least_supporting(["Masks filter.", passages[1]], "5.2 days") == [passages[1]]
    # An abstention target is supported by no passage: the last one goes.
    assert drop_least_supporting(passages, ABSTAIN_TEXT) == passages[:2]


def test_describe_examples_counts_provenance_share_and_ids() -> None:
    examples = [_ex("a"), _ex("b"), _ex("c", "synthetic"), _ex("d", "abstention")]
    d = describe_examples(examples)
    assert d["examples"] == 4
    assert d["by_provenance"] == {"user_correction": 2, "synthetic": 1, "abstention": 1}
    assert d["synthetic_share"] == 0.25
    assert d["example_ids"] == sorted(e.id for e in examples)
    assert describe_examples([])["synthetic_share"] == 0.0
