"""Evaluation data: corpus entries, retrieval sets and question-answer examples."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AnswerRecord", "CorpusEntry", "QAExample", "RetrievalSet"]


@dataclass(frozen=True)
class CorpusEntry:
    """One corpus passage of an evaluation set.

    Attributes:
        id: The passage id that qrels and ``gold_pids`` refer to.
        text: The passage text.
        title: Optional title (prepended when ingested).
        doc_id: The source document the passage comes from (splits group on it).
    """

    id: str
    text: str
    title: str = ""
    doc_id: str = ""

    @property
    def document(self) -> str:
        return self.doc_id or self.id


@dataclass(frozen=True)
class RetrievalSet:
    """Queries with graded relevance judgements (the ``beir`` layout).

    Attributes:
        name: Set name, e.g. ``"scifact/test"``.
        queries: ``query id -> text``; only judged queries are kept.
        qrels: ``query id -> passage id -> relevance`` (> 0 relevant).
        frozen: Evaluation sets are frozen: training must refuse their queries.
    """

    name: str
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    frozen: bool = True

    def __len__(self) -> int:
        return len(self.queries)

    def subset(self, query_ids: list[str], name: str | None = None) -> RetrievalSet:
        keep = [q for q in query_ids if q in self.queries]
        return RetrievalSet(
            name or self.name,
            {q: self.queries[q] for q in keep},
            {q: dict(self.qrels[q]) for q in keep},
            self.frozen,
        )


@dataclass(frozen=True)
class QAExample:
    """One question of the ``qa`` layout.

    Attributes:
        id: Question id.
        question: The question text.
        answers: Acceptable answers; empty means the corpus does not answer it.
        gold_pids: Passage ids holding the answer.
        doc_id: Source document of the question (splits group on it).
        split: Optional split label from the file.
        frozen: True for evaluation examples; training must refuse them.
    """

    id: str
    question: str
    answers: tuple[str, ...] = ()
    gold_pids: tuple[str, ...] = ()
    doc_id: str = ""
    split: str = ""
    frozen: bool = True

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


@dataclass(frozen=True)
class AnswerRecord:
    """What a system answered to one question, as the answer evaluator needs it.

    Attributes:
        text: The answer text.
        abstained: True when the system declined to answer.
        cited_ids: Passage ids the answer cites.
        evidence: Texts of the cited passages (or of the whole context when none is cited),
            used for groundedness.
        latency_ms: Time to answer.
    """

    text: str
    abstained: bool = False
    cited_ids: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default_factory=tuple)
    latency_ms: float = 0.0
