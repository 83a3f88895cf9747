"""Reading one passage at a time: the serving path, the evaluator and the training examples."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from rsi_rag import RAG
from rsi_rag.config import RAGConfig
from rsi_rag.errors import ConfigError, ValidationError
from rsi_rag.generate.base import Generator, Message
from rsi_rag.generate.prompts import ABSTAIN_TEXT
from rsi_rag.generate.reading import read_each
from rsi_rag.loop.generator_data import GenExample, per_passage_examples
from rsi_rag.loop.generator_eval import GeneratorEvaluator, QAItem
from rsi_rag.testing import FakeEmbedder
from rsi_rag.types import Hit, SourceDocument


class KeywordReader(Generator):
    """Answers with passage [1]'s first sentence when it names ``keyword``, else abstains;
    counts the prompts it was given and how many passages each held."""

    def __init__(self, keyword: str) -> None:
        self.keyword = keyword
        self.passages_per_prompt: list[int] = []

    @property
    def version(self) -> str:
        return "keyword-reader"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _stream(self, messages: list[Message], max_new_tokens: int) -> Iterator[str]:
        user = messages[-1]["content"]
        self.passages_per_prompt.append(len(re.findall(r"^\[\d+\] ", user, flags=re.M)))
        m = re.search(r"^\[1\] (.+?)(?:[.!?](?:\s|$)|\n|$)", user, flags=re.M)
        if m and self.keyword.lower() in m.group(1).lower():
            yield f"{m.group(1).strip()} [1]."
        else:
            yield ABSTAIN_TEXT


def _hit(i: int, text: str) -> Hit:
    return Hit(chunk_id=100 + i, document_id=i, source=f"s{i}", score=1.0 - i / 10, text=text)


def test_read_each_answers_from_the_first_passage_that_does_not_abstain() -> None:
    gen = KeywordReader("hearts")
    hits = [
        _hit(0, "Squids live in the sea."),
        _hit(1, "Octopuses have three hearts."),
        _hit(2, "Hearts pump blood."),
    ]
    text, hit, read = read_each(gen, "How many hearts?", hits, 16)
    assert text == "Octopuses have three hearts [1]."
    assert hit is hits[1] and read == 2
    # One passage per prompt, and reading stops at the first answer.
    assert gen.passages_per_prompt == [1, 1]


def test_read_each_abstains_when_every_passage_abstains() -> None:
    gen = KeywordReader("kidneys")
    hits = [_hit(0, "Squids live in the sea."), _hit(1, "Octopuses have three hearts.")]
    assert read_each(gen, "How many kidneys?", hits, 16) == (ABSTAIN_TEXT, None, 2)
    assert read_each(gen, "How many kidneys?", [], 16) == (ABSTAIN_TEXT, None, 0)


def test_reading_is_checked_by_the_config() -> None:
    with pytest.raises(ConfigError, match="reading must be one of joint, per_passage"):
        RAGConfig(reading="sequential")  # type: ignore[arg-type]
    # A config saved before the setting existed still loads, reading jointly.
    old = RAGConfig().to_dict()
    del old["reading"]
    assert RAGConfig.from_dict(old).reading == "joint"
    with pytest.raises(ConfigError, match="reading must be one of"):
        GeneratorEvaluator([], 8, "sequential")


def _rag(tmp_path: Path, reading: str, gen: Generator) -> RAG:
    rag = RAG(
        tmp_path / "d",
        RAGConfig(reading=reading, context_k=3, abstain_threshold=-1.0),  # type: ignore[arg-type]
        embedder=FakeEmbedder(),
        generator=gen,
    )
    rag.ingest_documents(
        [
            SourceDocument("squid", "Squids live in the deep sea and squirt ink."),
            SourceDocument("octopus", "Octopuses have three hearts and blue blood."),
            SourceDocument("whale", "Whales breathe air through a blowhole."),
        ],
        "c",
    )
    return rag


def test_per_passage_serving_cites_the_passage_it_read_and_logs_it(tmp_path: Path) -> None:
    gen = KeywordReader("hearts")
    rag = _rag(tmp_path, "per_passage", gen)
    answer = rag.ask("Which sea animal has hearts and ink and a blowhole?", "c")
    assert not answer.abstained
    assert answer.text == "Octopuses have three hearts and blue blood [1]."
    assert [c.source for c in answer.citations] == ["octopus"]
    assert all(n == 1 for n in gen.passages_per_prompt)
    logged = rag.catalog.interaction(answer.interaction_id)  # type: ignore[arg-type]
    assert logged["cited_chunk_ids"] == [answer.citations[0].chunk_id]
    assert len(logged["retrieved_chunk_ids"]) == 3
    # No passage names the keyword: every reading abstains, so does the answer.
    gen.keyword = "kidneys"
    none = rag.ask("Which sea animal has kidneys?", "c")
    assert none.abstained and none.text == ABSTAIN_TEXT and none.citations == ()
    rag.close()


def test_joint_serving_puts_every_passage_in_one_prompt(tmp_path: Path) -> None:
    gen = KeywordReader("hearts")
    rag = _rag(tmp_path, "joint", gen)
    rag.ask("Which sea animal has hearts and ink and a blowhole?", "c")
    assert gen.passages_per_prompt == [3]
    rag.close()


def test_the_evaluator_reads_per_passage_and_scores_groundedness_on_the_passage_read() -> None:
    items = [
        QAItem(
            "q1",
            "How many hearts?",
            ("Squids squirt ink.", "Octopuses have three hearts.", "Whales breathe air."),
            ("Octopuses have three hearts",),
        ),
        QAItem("q2", "How many kidneys?", ("Squids squirt ink.", "Whales breathe air."), ()),
    ]
    gen = KeywordReader("hearts")
    joint = GeneratorEvaluator(items, 16).evaluate(gen)
    assert joint.scores("answer_f1") == {"q1": 0.0, "q2": 1.0}
    ev = GeneratorEvaluator(items, 16, "per_passage")
    res = ev.evaluate(gen)
    assert res.scores("answer_f1") == {"q1": 1.0, "q2": 1.0}
    assert res.scores("groundedness")["q1"] == 1.0
    assert ev.passages_read == {"q1": 2, "q2": 2}


ANSWER = "three hearts"
P_SUPPORT = "Octopuses have three hearts and blue blood."
P_LACK = "Squids squirt ink when they are afraid."
P_PARTIAL = "The heart of a whale weighs as much as a car."


def _multi(contexts: tuple[str, ...], provenance: str = "user_correction") -> GenExample:
    answer = ABSTAIN_TEXT if provenance == "abstention" else ANSWER
    return GenExample(
        "How many hearts does an octopus have?",
        contexts,
        answer,
        provenance,
        chunk_ids=tuple(range(1, len(contexts) + 1)),
        document_ids=(7,),
        source="interaction:5",
    )


def test_per_passage_examples_keep_the_supporting_passage_and_add_a_negative() -> None:
    out, counts = per_passage_examples([_multi((P_LACK, P_SUPPORT, P_PARTIAL))], negative_rate=1.0)
    assert counts == {"kept": 0, "answer_passage": 1, "passage_negatives": 1, "unsupported": 0}
    pos, neg = out
    assert (pos.contexts, pos.answer, pos.provenance) == ((P_SUPPORT,), ANSWER, "user_correction")
    assert pos.chunk_ids == (2,) and pos.document_ids == (7,)
    assert pos.meta["passage_rank"] == 2 and pos.source == "interaction:5#p2"
    assert (neg.contexts, neg.answer, neg.provenance) == ((P_LACK,), ABSTAIN_TEXT, "abstention")
    assert neg.chunk_ids == (1,) and neg.meta["passage_rank"] == 1
    assert pos.id != neg.id


def test_per_passage_examples_never_use_a_passage_holding_the_answer_as_a_negative() -> None:
    holding = "Cephalopods: three hearts pump their blood, the octopus says."
    out, counts = per_passage_examples([_multi((P_SUPPORT, holding))], negative_rate=1.0)
    assert counts["passage_negatives"] == 0
    assert [e.contexts for e in out] == [(P_SUPPORT,)]


def test_per_passage_examples_rate_unsupported_abstention_and_single_passages() -> None:
    many = [_multi((P_LACK, P_SUPPORT)) for _ in range(200)]
    many = [
        GenExample(e.question + f" {i}", e.contexts, e.answer, e.provenance)
        for i, e in enumerate(many)
    ]
    _, none = per_passage_examples(many)  # the default adds no passage negatives
    assert none["passage_negatives"] == 0 and none["answer_passage"] == 200
    _, half = per_passage_examples(many, negative_rate=0.5, seed=3)
    assert 70 <= half["passage_negatives"] <= 130
    assert per_passage_examples(many, negative_rate=0.5, seed=3)[1] == half

    unsupported = _multi((P_LACK, P_PARTIAL))
    abst = _multi((P_LACK, P_PARTIAL), "abstention")
    single = GenExample("q?", (P_SUPPORT,), ANSWER, "synthetic")
    out, counts = per_passage_examples([unsupported, abst, single], negative_rate=1.0)
    assert counts == {"kept": 2, "answer_passage": 0, "passage_negatives": 0, "unsupported": 1}
    assert [e.contexts for e in out] == [(P_LACK,), (P_SUPPORT,)]
    assert out[0].answer == ABSTAIN_TEXT and out[1] == single
    with pytest.raises(ValidationError, match="negative_rate"):
        per_passage_examples([], negative_rate=1.5)
