"""Loaders for the two evaluation formats: ``beir`` and ``qa``.

Both formats are described in ``shared/data/README.md``. Every problem in a file is
reported with the file, the line and the bad value, so that a user bringing their own gold
set can fix it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsi_rag.errors import NotEnoughDataError, ValidationError
from rsi_rag.evaluation.types import CorpusEntry, QAExample, RetrievalSet

__all__ = ["FORMATS", "BeirDataset", "QADataset", "load_beir", "load_dataset", "load_qa"]

FORMATS = ("beir", "qa")


def _need(folder: Path, name: str, fmt: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise ValidationError(
            f"{folder} has no {name}; the {fmt} format needs it (see shared/data/README.md)"
        )
    return path


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValidationError(f"{path}:{lineno}: expected a JSON object, got {obj!r:.60}")
            yield lineno, obj


def _field(path: Path, lineno: int, obj: dict[str, Any], name: str, kind: type = str) -> Any:
    if name not in obj:
        raise ValidationError(f"{path}:{lineno}: missing field {name!r}")
    value = obj[name]
    if kind is str and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, kind):
        raise ValidationError(
            f"{path}:{lineno}: field {name!r} must be {kind.__name__}, got {value!r:.60}"
        )
    return value


def _corpus(path: Path) -> dict[str, CorpusEntry]:
    corpus: dict[str, CorpusEntry] = {}
    for lineno, obj in _jsonl(path):
        pid = _field(path, lineno, obj, "_id")
        text = _field(path, lineno, obj, "text")
        if pid in corpus:
            raise ValidationError(f"{path}:{lineno}: duplicate _id {pid!r}")
        title = obj.get("title") or ""
        doc = obj.get("doc_id")
        corpus[pid] = CorpusEntry(pid, text, str(title), "" if doc is None else str(doc))
    if not corpus:
        raise NotEnoughDataError(f"{path} holds no passages")
    return corpus


@dataclass(frozen=True)
class BeirDataset:
    """A ``beir`` folder: corpus, queries and qrels per split."""

    name: str
    path: Path
    corpus: dict[str, CorpusEntry]
    queries: dict[str, str]
    qrels: dict[str, dict[str, dict[str, int]]]

    def retrieval_set(self, split: str = "test") -> RetrievalSet:
        if split not in self.qrels:
            raise ValidationError(
                f"{self.path} has no qrels/{split}.tsv; splits present: {sorted(self.qrels)}"
            )
        judged = self.qrels[split]
        return RetrievalSet(
            f"{self.name}/{split}", {q: self.queries[q] for q in judged}, judged, frozen=True
        )


def load_beir(folder: str | Path, name: str | None = None) -> BeirDataset:
    """Read a ``beir`` folder; every qrels id is checked against the corpus and queries."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"dataset folder {folder} does not exist")
    corpus = _corpus(_need(folder, "corpus.jsonl", "beir"))
    qpath = _need(folder, "queries.jsonl", "beir")
    queries = {_field(qpath, n, o, "_id"): _field(qpath, n, o, "text") for n, o in _jsonl(qpath)}
    qrels_dir = folder / "qrels"
    files = sorted(qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    if not files:
        raise ValidationError(f"{folder} has no qrels/<split>.tsv files; the beir format needs one")
    qrels: dict[str, dict[str, dict[str, int]]] = {}
    for path in files:
        split: dict[str, dict[str, int]] = {}
        with path.open(encoding="utf-8", newline="") as fh:
            for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
                if lineno == 1 or not row or not "".join(row).strip():
                    continue  # the header line
                if len(row) != 3:
                    raise ValidationError(
                        f"{path}:{lineno}: expected query-id<TAB>corpus-id<TAB>score, got {row!r}"
                    )
                qid, pid, score = (c.strip() for c in row)
                try:
                    rel = int(float(score))
                except ValueError:
                    raise ValidationError(
                        f"{path}:{lineno}: score {score!r} is not a number"
                    ) from None
                if qid not in queries:
                    raise ValidationError(
                        f"{path}:{lineno}: query id {qid!r} is not in queries.jsonl"
                    )
                if pid not in corpus:
                    raise ValidationError(
                        f"{path}:{lineno}: corpus id {pid!r} is not in corpus.jsonl"
                    )
                if rel > 0:
                    split.setdefault(qid, {})[pid] = rel
        qrels[path.stem] = split
    return BeirDataset(name or folder.name, folder, corpus, queries, qrels)


@dataclass(frozen=True)
class QADataset:
    """A ``qa`` folder: passages and questions with answers and gold passage ids."""

    name: str
    path: Path
    corpus: dict[str, CorpusEntry]
    questions: list[QAExample]

    def retrieval_set(
        self, examples: list[QAExample] | None = None, name: str = ""
    ) -> RetrievalSet:
        """Answerable questions as a retrieval set (their gold passages are the qrels)."""
        chosen = [e for e in (examples if examples is not None else self.questions) if e.gold_pids]
        return RetrievalSet(
            name or self.name,
            {e.id: e.question for e in chosen},
            {e.id: dict.fromkeys(e.gold_pids, 1) for e in chosen},
            frozen=True,
        )


def load_qa(folder: str | Path, name: str | None = None) -> QADataset:
    """Read a ``qa`` folder; gold passage ids are checked against the corpus."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValidationError(f"dataset folder {folder} does not exist")
    corpus = _corpus(_need(folder, "corpus.jsonl", "qa"))
    path = _need(folder, "questions.jsonl", "qa")
    questions: list[QAExample] = []
    seen: set[str] = set()
    for lineno, obj in _jsonl(path):
        qid = _field(path, lineno, obj, "id")
        if qid in seen:
            raise ValidationError(f"{path}:{lineno}: duplicate question id {qid!r}")
        seen.add(qid)
        question = _field(path, lineno, obj, "question")
        answers = _field(path, lineno, obj, "answers", list)
        gold = [str(p) for p in _field(path, lineno, obj, "gold_pids", list)]
        if any(not isinstance(a, str) for a in answers):
            raise ValidationError(f"{path}:{lineno}: answers must be strings, got {answers!r:.80}")
        for pid in gold:
            if pid not in corpus:
                raise ValidationError(
                    f"{path}:{lineno}: gold passage {pid!r} is not in corpus.jsonl"
                )
        if bool(answers) != bool(gold):
            raise ValidationError(
                f"{path}:{lineno}: question {qid!r} has answers but no gold_pids (or the reverse);"
                " give both, or leave both empty for an unanswerable question"
            )
        doc = obj.get("doc_id")
        if doc is None and gold:
            doc = corpus[gold[0]].doc_id or None
        questions.append(
            QAExample(
                qid,
                question,
                tuple(answers),
                tuple(gold),
                "" if doc is None else str(doc),
                str(obj.get("split") or ""),
            )
        )
    if not questions:
        raise NotEnoughDataError(f"{path} holds no questions")
    return QADataset(name or folder.name, folder, corpus, questions)


def load_dataset(folder: str | Path, fmt: str) -> BeirDataset | QADataset:
    """Load ``folder`` in format ``beir`` or ``qa``."""
    if fmt == "beir":
        return load_beir(folder)
    if fmt == "qa":
        return load_qa(folder)
    raise ValidationError(f"format must be one of {FORMATS}, got {fmt!r}")
