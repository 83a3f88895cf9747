from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.datasets import load_beir, load_dataset, load_qa
from evals.runner import qa_splits
from rsi_rag.errors import ValidationError

FIXTURES = Path(__file__).resolve().parents[3] / "evals" / "fixtures"


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "mini_beir", tmp_path / "beir"))


@pytest.fixture
def qa(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURES / "mini_qa", tmp_path / "qa"))


def test_fixtures_load() -> None:
    b = load_beir(FIXTURES / "mini_beir")
    rs = b.retrieval_set("test")
    assert len(b.corpus) == 12 and len(rs) == 10 and rs.qrels["q1"] == {"p1": 1} and rs.frozen
    q = load_qa(FIXTURES / "mini_qa")
    assert len(q.questions) == 12 and sum(not e.answerable for e in q.questions) == 2
    assert q.questions[0].doc_id == "solar" and q.questions[0].frozen
    assert len(q.retrieval_set()) == 10
    splits = qa_splits(q)
    docs = [{e.doc_id for e in v} for v in splits.values()]
    assert sum(len(d) for d in docs) == len(set().union(*docs))


def _append(path: Path, line: str) -> None:
    with path.open("a") as fh:
        fh.write(line + "\n")


def test_bad_json_names_file_and_line(beir: Path) -> None:
    _append(beir / "corpus.jsonl", '{"_id": "p13", "text": ')
    with pytest.raises(ValidationError, match=r"corpus\.jsonl:13: not valid JSON"):
        load_beir(beir)


def test_missing_field_and_duplicates(beir: Path, qa: Path) -> None:
    _append(beir / "queries.jsonl", json.dumps({"_id": "q99"}))
    with pytest.raises(ValidationError, match=r"queries\.jsonl:11: missing field 'text'"):
        load_beir(beir)
    _append(qa / "corpus.jsonl", json.dumps({"_id": "moon_1", "text": "again"}))
    with pytest.raises(ValidationError, match="duplicate _id 'moon_1'"):
        load_qa(qa)


def test_qrels_ids_must_exist(beir: Path) -> None:
    _append(beir / "qrels" / "test.tsv", "q1\tp404\t1")
    with pytest.raises(ValidationError, match=r"test\.tsv:\d+: corpus id 'p404' is not in corpus"):
        load_beir(beir)


def test_qrels_unknown_query_and_bad_score(beir: Path) -> None:
    qrels = beir / "qrels" / "test.tsv"
    original = qrels.read_text()
    _append(qrels, "q404\tp1\t1")
    with pytest.raises(ValidationError, match="query id 'q404'"):
        load_beir(beir)
    qrels.write_text(original + "q1\tp1\tmany\n")
    with pytest.raises(ValidationError, match="score 'many'"):
        load_beir(beir)
    qrels.write_text(original + "q1\tp1\n")
    with pytest.raises(ValidationError, match="query-id<TAB>corpus-id<TAB>score"):
        load_beir(beir)


def test_qa_gold_ids_and_consistency(qa: Path) -> None:
    path = qa / "questions.jsonl"
    original = path.read_text()
    _append(path, json.dumps({"id": 99, "question": "q", "answers": ["a"], "gold_pids": ["x_9"]}))
    with pytest.raises(ValidationError, match=r"questions\.jsonl:13: gold passage 'x_9'"):
        load_qa(qa)
    path.write_text(original)
    _append(path, json.dumps({"id": 99, "question": "q", "answers": ["a"], "gold_pids": []}))
    with pytest.raises(ValidationError, match="answers but no gold_pids"):
        load_qa(qa)
    path.write_text(original)
    _append(path, json.dumps({"id": 99, "question": "q", "answers": "a", "gold_pids": []}))
    with pytest.raises(ValidationError, match="'answers' must be list"):
        load_qa(qa)


def test_missing_folder_files_and_format(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        load_beir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match=r"has no corpus\.jsonl"):
        load_qa(tmp_path / "empty")
    with pytest.raises(ValidationError, match="format must be one of"):
        load_dataset(tmp_path, "csv")
