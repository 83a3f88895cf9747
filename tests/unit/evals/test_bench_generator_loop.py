from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from evals.bench_generator_loop import retrieval_hits, retriever_cycle


class _Ranking:
    """A retriever whose ranking per mode is given: question -> list of source ids."""

    def __init__(self, ranking: dict[str, dict[str, list[str]]]) -> None:
        self.ranking = ranking

    def retrieve(self, question: str, collection: str, k: int, mode: str | None = None) -> Any:
        assert collection == "covid"
        return [
            SimpleNamespace(source=s, text=f"text of {s}")
            for s in self.ranking[mode or "dense"][question][:k]
        ]


def _q(qid: int, question: str, gold: str) -> dict[str, Any]:
    return {"id": qid, "question": question, "gold_pids": [gold], "answers": ["a"]}


def test_retrieval_hits_counts_gold_in_the_top_3_and_top_10_per_mode() -> None:
    filler = [f"x{i}" for i in range(12)]
    rag = _Ranking(
        {
            "dense": {"q1": ["g1", *filler], "q2": [*filler[:5], "g2", *filler[5:]]},
            "hybrid": {"q1": [*filler[:2], "g1", *filler], "q2": [*filler, "g2"]},
        }
    )
    qs = [_q(1, "q1", "g1"), _q(2, "q2", "g2")]
    out = retrieval_hits(rag, qs, ("dense", "hybrid"))
    assert out["dense"] == {"hit@3": 0.5, "hit@10": 1.0, "n": 2}
    # g2 sits at rank 13 for hybrid: neither in the top 3 nor in the top 10.
    assert out["hybrid"] == {"hit@3": 0.5, "hit@10": 0.5, "n": 2}


def test_the_retriever_bench_says_which_run_to_make_first_when_its_source_is_missing(
    tmp_path: Path,
) -> None:
    args = argparse.Namespace(
        source=str(tmp_path / "no-run"),
        work_dir=str(tmp_path / "work"),
        sample=10,
        retrieval_mode="hybrid",
        max_new_tokens=8,
        threads=1,
        out=str(tmp_path / "out.json"),
    )
    with pytest.raises(SystemExit) as err:
        retriever_cycle(args)
    assert "holds no catalog.db" in str(err.value)
    assert "bench_generator_loop covid" in str(err.value)
    assert not (tmp_path / "work").exists()


def test_the_retriever_bench_refuses_a_work_dir_that_would_overwrite_its_source(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "catalog.db").write_bytes(b"kept")
    for work in (run, run / "copy"):
        args = argparse.Namespace(source=str(run), work_dir=str(work), threads=1)
        with pytest.raises(SystemExit) as err:
            retriever_cycle(args)
        assert "would overwrite the run" in str(err.value)
    assert (run / "catalog.db").read_bytes() == b"kept"


def test_retrieved_item_puts_the_top_context_k_passages_in_the_prompt() -> None:
    from evals.bench_generator_loop import retrieved_item

    rag = _Ranking({"dense": {"q1": ["x0", "g1", "x1", "x2"]}})
    item, hit3, hit10 = retrieved_item(rag, _q(1, "q1", "g1"), context_k=1)
    assert item.contexts == ("text of x0",)
    assert (hit3, hit10) == (1.0, 1.0)
    item, _, _ = retrieved_item(rag, _q(1, "q1", "g1"))
    assert item.contexts == ("text of x0", "text of g1", "text of x1")


def test_the_reader_bench_says_which_run_to_make_first_when_its_source_is_missing(
    tmp_path: Path,
) -> None:
    from evals.bench_generator_loop import reader_cycle

    args = argparse.Namespace(
        source=str(tmp_path / "no-run"), work_dir=str(tmp_path / "work"), threads=1
    )
    with pytest.raises(SystemExit) as err:
        reader_cycle(args)
    assert "holds no catalog.db" in str(err.value)
    assert "bench_generator_loop retriever --work-dir" in str(err.value)
    assert not (tmp_path / "work").exists()


def test_passage_abstention_abstains_only_when_every_passage_abstains() -> None:
    from evals.bench_generator_loop import passage_abstention
    from tests.unit.generator.test_reading import KeywordReader

    # q1: the gold passage is retrieved (answerable), and three passages lack it.
    # q2: the gold passage is not in the top 10; x3's text names the reader's keyword.
    filler = [f"x{i}" for i in range(12)]
    rag = _Ranking({"dense": {"q1": ["g1", *filler], "q2": filler}})
    reader = KeywordReader("of g1")
    out = passage_abstention(rag, [_q(1, "q1", "g1"), _q(2, "q2", "g2")], reader, 8)
    assert out == {
        "abstain_when_unanswerable": 1.0,
        "n_unanswerable": 2,
        "abstain_when_answerable": 0.0,
        "n_answerable": 1,
    }
    reader.keyword = "of x"
    out = passage_abstention(rag, [_q(1, "q1", "g1"), _q(2, "q2", "g2")], reader, 8)
    assert out["abstain_when_unanswerable"] == 0.0 and out["abstain_when_answerable"] == 0.0


def test_load_says_where_covid_qa_was_looked_for(tmp_path: Path) -> None:
    from evals.bench_generator_loop import load

    with pytest.raises(SystemExit) as err:
        load(tmp_path / "covidqa")
    assert str(tmp_path / "covidqa") in str(err.value)
    assert "RSI_RAG_SHARED_DATA" in str(err.value)
