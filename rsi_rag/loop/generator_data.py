"""Training examples for the generator adapter, with provenance, accumulated across cycles.

Three sources feed the generator: users (corrections, and answers they approved, each with
the context that was retrieved for it), synthetic examples whose answers are verified
against their source chunk, and abstention examples (context without the answer, target
the abstention text). Examples are appended per cycle and never replaced, because
training a model only on its own latest outputs is what drives collapse; the share of
synthetic examples in a training set is capped instead.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rsi_rag.errors import FrozenDataError, ValidationError
from rsi_rag.generate.citations import content_words, support
from rsi_rag.generate.prompts import ABSTAIN_TEXT

__all__ = [
    "PROVENANCES",
    "ExampleStore",
    "GenExample",
    "abstention_example",
    "collect_user_examples",
    "describe_examples",
    "per_passage_examples",
    "question_key",
    "synthetic_examples",
    "verify_against_chunk",
]

PROVENANCES = ("abstention", "synthetic", "user_approved", "user_correction")
_SPACE = re.compile(r"\s+")


def question_key(question: str) -> str:
    """Normalised question text: what frozen evaluation sets are matched on."""
    return _SPACE.sub(" ", question.strip().lower())


@dataclass(frozen=True)
class GenExample:
    """One (question, context, answer) training example.

    Attributes:
        contexts: The passages of the prompt, in order (as retrieved at serving time).
        provenance: One of :data:`PROVENANCES`.
        chunk_ids: Catalog ids of the passages (0 for passages from outside the catalog).
        document_ids: Documents the example derives from; deleting one excludes it.
        source: Free-form origin (an interaction id, a chunk id, a dataset id).
        cycle: The improvement cycle that added it.
    """

    question: str
    contexts: tuple[str, ...]
    answer: str
    provenance: str
    chunk_ids: tuple[int, ...] = ()
    document_ids: tuple[int, ...] = ()
    source: str = ""
    cycle: int = 0
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.provenance not in PROVENANCES:
            raise ValidationError(
                f"provenance must be one of {PROVENANCES}, got {self.provenance!r}"
            )
        if not self.question.strip() or not self.answer.strip():
            raise ValidationError(f"example {self.source!r} needs a question and an answer")
        if not self.contexts:
            raise ValidationError(
                f"example {self.question[:60]!r} has no context; the generator is trained on "
                "the serving prompt, which always has passages"
            )

    @property
    def id(self) -> str:
        raw = json.dumps([question_key(self.question), self.answer.strip(), self.contexts])
        return hashlib.sha1(raw.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["contexts"] = list(self.contexts)
        d["chunk_ids"] = list(self.chunk_ids)
        d["document_ids"] = list(self.document_ids)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GenExample:
        return cls(
            question=d["question"],
            contexts=tuple(d["contexts"]),
            answer=d["answer"],
            provenance=d["provenance"],
            chunk_ids=tuple(d.get("chunk_ids", ())),
            document_ids=tuple(d.get("document_ids", ())),
            source=d.get("source", ""),
            cycle=int(d.get("cycle", 0)),
            meta=dict(d.get("meta", {})),
        )


def verify_against_chunk(answer: str, chunk: str) -> bool:
    """Is ``answer`` an extractive span of ``chunk``, or are all its content words in it?"""
    a = _SPACE.sub(" ", answer.strip().lower())
    if not a or a == question_key(ABSTAIN_TEXT):
        return False
    if a in _SPACE.sub(" ", chunk.lower()):
        return True
    words = content_words(answer)
    vocab = set(content_words(chunk))
    return bool(words) and all(w in vocab for w in words)


def abstention_example(
    question: str, contexts: Sequence[str], answers: Sequence[str], **kw: Any
) -> GenExample:
    """A context that lacks every gold answer, with the abstention text as target.

    Raises:
        ValidationError: A passage still holds one of the answers.
    """
    for ctx in contexts:
        low = ctx.lower()
        if any(a.strip() and a.strip().lower() in low for a in answers):
            raise ValidationError(
                f"an abstention example for {question[:60]!r} has a passage holding the "
                "answer; drop the passages that contain it"
            )
    return GenExample(question, tuple(contexts), ABSTAIN_TEXT, "abstention", **kw)


class ExampleStore:
    """Append-only example file of one collection; duplicates are ignored.

    Args:
        path: The JSONL file (created on first add).
        frozen: Normalised questions of frozen evaluation and gate sets
            (:func:`question_key`); adding one of them raises ``FrozenDataError``.
    """

    def __init__(self, path: str | Path, frozen: Collection[str] = ()) -> None:
        self.path = Path(path)
        self.frozen = set(frozen)

    def all(self) -> list[GenExample]:
        if not self.path.exists():
            return []
        out = []
        for n, line in enumerate(self.path.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    out.append(GenExample.from_dict(json.loads(line)))
                except (ValueError, KeyError) as exc:
                    raise ValidationError(f"{self.path}:{n} is not a valid example: {exc}") from exc
        return out

    def add(self, examples: Iterable[GenExample], cycle: int) -> int:
        """Append examples tagged with ``cycle``; returns how many were new."""
        batch = list(examples)
        bad = [e.question for e in batch if question_key(e.question) in self.frozen]
        if bad:
            raise FrozenDataError(
                f"{len(bad)} example(s) ask a question of a frozen evaluation set (e.g. "
                f"{bad[0][:80]!r}); frozen examples evaluate models and are never trained on"
            )
        seen = {e.id for e in self.all()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        added = 0
        with self.path.open("a") as fh:
            for e in batch:
                if e.id in seen:
                    continue
                seen.add(e.id)
                d = e.to_dict()
                d["cycle"] = cycle
                fh.write(json.dumps(d) + "\n")
                added += 1
        return added

    def training_set(
        self,
        max_synthetic_share: float = 0.3,
        excluded_documents: Collection[int] = (),
        seed: int = 0,
    ) -> tuple[list[GenExample], dict[str, Any]]:
        """Every real example plus synthetic ones up to the cap; returns (examples, manifest).

        Examples derived from a deleted document are left out.
        """
        if not 0.0 <= max_synthetic_share < 1.0:
            raise ValidationError(
                f"max_synthetic_share must be in [0, 1), got {max_synthetic_share!r}"
            )
        gone = set(excluded_documents)
        pool = [e for e in self.all() if not gone.intersection(e.document_ids)]
        real = [e for e in pool if e.provenance != "synthetic"]
        synth = [e for e in pool if e.provenance == "synthetic"]
        cap = int(max_synthetic_share * len(real) / (1.0 - max_synthetic_share))
        random.Random(seed).shuffle(synth)
        chosen = real + synth[:cap]
        manifest = {
            **describe_examples(chosen),
            "synthetic_dropped_by_cap": max(0, len(synth) - cap),
            "excluded_deleted": len(self.all()) - len(pool),
        }
        return chosen, manifest


def describe_examples(examples: Sequence[GenExample]) -> dict[str, Any]:
    """The manifest entries a training set is described by: its size, count per provenance,
    synthetic share and sorted example ids."""
    counts = dict(Counter(e.provenance for e in examples))
    return {
        "examples": len(examples),
        "by_provenance": counts,
        "synthetic_share": counts.get("synthetic", 0) / len(examples) if examples else 0.0,
        "example_ids": sorted(e.id for e in examples),
    }


def collect_user_examples(
    rag: Any,
    collection: str,
    tenant: str | None = None,
    min_support: float = 0.6,
    ground: bool = True,
) -> list[GenExample]:
    """User corrections and approved answers of a collection, with their retrieved context.

    A correction becomes the target as written; an answer rated +1 without a correction is
    an approved answer. The context is the passages the serving path put in the prompt
    (the first ``context_k`` retrieved chunks that still exist). A target whose content
    words the context does not support (share below ``min_support``) would teach the model
    to answer beyond its passages instead of abstaining, so it is grounded or left out:
    with ``ground``, the first chunk further down the logged ranking that supports the
    target on its own replaces the last passage of the prompt (the rank it came from is
    kept in ``meta["grounded_from_rank"]``); without one, the example is dropped.
    """
    from sqlalchemy import select

    from rsi_rag.store.models import Feedback, Interaction

    col = rag.collection(collection, tenant)
    with rag.catalog.session() as s:
        rows = s.execute(
            select(Interaction, Feedback)
            .join(Feedback, Feedback.interaction_id == Interaction.id)
            .where(Interaction.collection_id == col.id)
            .order_by(Feedback.id)
        ).all()
        picked = [
            (
                i.id,
                i.query,
                list(i.retrieved_chunk_ids or []),
                i.answer,
                i.abstained,
                f.rating,
                f.correction,
            )
            for i, f in rows
        ]
    out: list[GenExample] = []
    k = rag.config.context_k
    for iid, query, chunk_ids, answer, abstained, rating, correction in picked:
        if correction and correction.strip():
            target, prov = correction.strip(), "user_correction"
        elif rating == 1 and answer and not abstained:
            target, prov = answer.strip(), "user_approved"
        else:
            continue
        records = rag.catalog.chunks(col.id, chunk_ids)
        ranked = [(rank, records[c]) for rank, c in enumerate(chunk_ids, 1) if c in records]
        if not ranked:
            continue
        kept = [r for _, r in ranked[:k]]
        meta: dict[str, Any] = {}
        # Citation markers such as [1] are not content the passages must hold.
        plain = re.sub(r"\[\d{1,3}\]", " ", target)
        if support(plain, " ".join(r.text for r in kept)) < min_support:
            below = [(n, r) for n, r in ranked[k:] if support(plain, r.text) >= min_support]
            if not ground or not below:
                continue
            kept = [*kept[: k - 1], below[0][1]]
            meta["grounded_from_rank"] = below[0][0]
        out.append(
            GenExample(
                query,
                tuple(r.text for r in kept),
                target,
                prov,
                chunk_ids=tuple(r.id for r in kept),
                document_ids=tuple(sorted({r.document_id for r in kept})),
                source=f"interaction:{iid}",
                meta=meta,
            )
        )
    return out


def synthetic_examples(
    generator: Any,
    items: Iterable[tuple[str, str, int, int]],
    *,
    verify: bool = True,
    max_new_tokens: int = 48,
) -> tuple[list[GenExample], int]:
    """Answers written by ``generator`` for (question, chunk text, chunk id, document id).

    Each answer is produced on the serving prompt with its source chunk as the only
    passage; with ``verify`` only answers that pass :func:`verify_against_chunk` are kept.
    Returns (examples, number rejected by the check).
    """
    from rsi_rag.generate.prompts import build_messages
    from rsi_rag.types import Hit

    out: list[GenExample] = []
    rejected = 0
    for question, chunk, chunk_id, doc_id in items:
        raw = generator.generate(
            build_messages(question, [Hit(chunk_id, doc_id, "", 0.0, chunk)]), max_new_tokens
        ).strip()
        answer = re.sub(r"\s*\[\d{1,3}\]", "", raw).strip()
        if verify and not verify_against_chunk(answer, chunk):
            rejected += 1
            continue
        if not answer:
            rejected += 1
            continue
        out.append(
            GenExample(
                question,
                (chunk,),
                raw,
                "synthetic",
                chunk_ids=(chunk_id,),
                document_ids=(doc_id,),
                source=f"chunk:{chunk_id}",
            )
        )
    return out, rejected


def per_passage_examples(
    examples: Iterable[GenExample],
    *,
    min_support: float = 0.6,
    max_negative_support: float = 0.34,
    negative_rate: float = 0.0,
    seed: int = 0,
) -> tuple[list[GenExample], dict[str, int]]:
    """Single-passage training examples for a reader that asks each passage alone.

    An answer example of several passages becomes the question with the one passage that
    supports the answer best (share of its content words at least ``min_support``; an
    example no single passage supports is left out). For a seeded ``negative_rate`` share of
    them, the best-ranked passage of the same prompt that lacks the answer (support at most
    ``max_negative_support``, the answer's text absent) becomes an abstention example: the
    reader learns to pass on a passage that does not answer, which is what lets
    :func:`rsi_rag.generate.reading.read_each` move on to the next one. The default is no
    such negatives: on COVID-QA, SmolLM2-135M learnt from them to abstain on passages of
    that kind, the answering ones included, at 0.5 and at 0.1 alike (``evals/RESULTS.md``);
    a reader that can tell the two apart may gain from a small rate. An abstention example
    keeps its first passage. Single-passage examples pass unchanged.

    Returns:
        The examples, and counts of what was kept, added and left out.
    """
    if not 0.0 <= negative_rate <= 1.0:
        raise ValidationError(f"negative_rate must be in [0, 1], got {negative_rate!r}")
    rng = random.Random(seed)
    out: list[GenExample] = []
    counts = {"kept": 0, "answer_passage": 0, "passage_negatives": 0, "unsupported": 0}

    def one(e: GenExample, i: int, answer: str, provenance: str, tag: str) -> GenExample:
        return GenExample(
            e.question,
            (e.contexts[i],),
            answer,
            provenance,
            chunk_ids=e.chunk_ids[i : i + 1],
            document_ids=e.document_ids,
            source=f"{e.source}#{tag}",
            cycle=e.cycle,
            meta={**e.meta, "passage_rank": i + 1},
        )

    for e in examples:
        if len(e.contexts) <= 1:
            out.append(e)
            counts["kept"] += 1
            continue
        if e.provenance == "abstention":
            out.append(one(e, 0, e.answer, e.provenance, "p1"))
            counts["kept"] += 1
            continue
        plain = re.sub(r"\[\d{1,3}\]", " ", e.answer)
        scores = [support(plain, c) for c in e.contexts]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        if scores[best] < min_support:
            counts["unsupported"] += 1
            continue
        out.append(one(e, best, e.answer, e.provenance, f"p{best + 1}"))
        counts["answer_passage"] += 1
        if rng.random() >= negative_rate:
            continue
        low = plain.strip().lower()
        lacking = [
            i
            for i, c in enumerate(e.contexts)
            if scores[i] <= max_negative_support and low not in c.lower()
        ]
        if lacking:
            out.append(one(e, lacking[0], ABSTAIN_TEXT, "abstention", f"n{lacking[0] + 1}"))
            counts["passage_negatives"] += 1
    return out, counts
