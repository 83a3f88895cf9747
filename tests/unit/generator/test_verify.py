"""Inference-time verification with fakes: scoring, best-of-n, abstention, query rewrite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rsi_rag import RAG
from rsi_rag.errors import ConfigError
from rsi_rag.generate.prompts import ABSTAIN_TEXT
from rsi_rag.generate.verify import Verifier, VerifyConfig, rewrite_query, score_candidate
from rsi_rag.testing import FakeGenerator
from rsi_rag.types import Hit, SourceDocument

CTX = [
    Hit(1, 1, "a", 0.9, "The incubation period is 5.2 days."),
    Hit(2, 2, "b", 0.5, "Masks help."),
]


def test_scores_reward_grounded_answers_with_valid_citations() -> None:
    good = score_candidate("The incubation period is 5.2 days [1].", CTX)
    uncited = score_candidate("The incubation period is 5.2 days.", CTX)
    wrong_cite = score_candidate("The incubation period is 5.2 days [2].", CTX)
    made_up = score_candidate("It lasts three weeks [1].", CTX)
    assert good.groundedness == 1.0 and good.citation_validity == 1.0
    assert good.score > uncited.score > made_up.score
    assert wrong_cite.citation_validity == 0.0 and wrong_cite.score < good.score
    assert score_candidate(ABSTAIN_TEXT, CTX).score < 0


def test_rewrite_keeps_content_words() -> None:
    assert rewrite_query("What is the incubation period of the virus?") == (
        "incubation period virus"
    )


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="candidates"):
        VerifyConfig(candidates=0)
    with pytest.raises(ConfigError, match="min_groundedness"):
        VerifyConfig(min_groundedness=2.0)


class _Inventor(FakeGenerator):
    def _stream(self, messages: list[dict[str, str]], max_new_tokens: int) -> Iterator[str]:
        yield "Probably about three weeks [1]."


def test_verifier_on_rag_answers_when_grounded_and_abstains_otherwise(fake_rag: RAG) -> None:
    fake_rag.ingest_documents([SourceDocument("a.txt", CTX[0].text)], "c")
    fake_rag.verifier = Verifier(VerifyConfig(candidates=1, rewrite_below=-1.0))
    ans = fake_rag.ask("incubation period", "c")
    assert not ans.abstained and "5.2 days" in ans.text and ans.citations
    fake_rag._generator = _Inventor()
    ans = fake_rag.ask("incubation period", "c")
    assert ans.abstained and ans.text == ABSTAIN_TEXT
    fake_rag.verifier = None
    assert not fake_rag.ask("incubation period", "c").abstained  # off: no check


def test_low_retrieval_score_triggers_one_rewrite(fake_rag: RAG) -> None:
    fake_rag.ingest_documents([SourceDocument("a.txt", CTX[0].text)], "c")
    calls: list[str] = []
    original = fake_rag._prepare

    def spy(q, *a):  # type: ignore[no-untyped-def]
        calls.append(q)
        return original(q, *a)

    fake_rag._prepare = spy  # type: ignore[method-assign]
    fake_rag.verifier = Verifier(VerifyConfig(candidates=1, rewrite_below=0.99))
    ans = fake_rag.ask("What was the incubation period, in days?", "c")
    assert calls == ["What was the incubation period, in days?", "incubation period days"]
    assert not ans.abstained
    calls.clear()
    fake_rag.verifier = Verifier(VerifyConfig(candidates=1, rewrite_below=-1.0))
    fake_rag.ask("What was the incubation period, in days?", "c")
    assert len(calls) == 1
