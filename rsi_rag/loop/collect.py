"""collect: user feedback becomes user-grounded retrieval examples.

A query's positives are the chunks the user confirmed: chosen citations, the cited chunks
of an answer rated +1, and the retrieved chunk that best supports a correction. Rejected
chunks (and the citations of an answer rated -1) become negatives. A seeded share of the
user-grounded examples is held out from training forever and joins the gate set.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select

from rsi_rag.loop.config import LoopConfig
from rsi_rag.loop.examples import add_examples
from rsi_rag.store.catalog import Catalog, CollectionRef
from rsi_rag.store.models import Chunk, Feedback, Interaction, TrainingExample

__all__ = ["CollectReport", "collect_feedback", "held_out"]

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class CollectReport:
    """What :func:`collect_feedback` added."""

    train: int
    gate: int
    skipped: int


def held_out(key: str, fraction: float, seed: int) -> bool:
    """A stable coin flip: the same key lands on the same side in every cycle."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _best_support(correction: str, texts: dict[int, str]) -> int | None:
    words = set(_WORD.findall(correction.lower()))
    if not words:
        return None
    best, best_overlap = None, 0.0
    for cid, text in texts.items():
        overlap = len(words & set(_WORD.findall(text.lower()))) / len(words)
        if overlap > best_overlap:
            best, best_overlap = cid, overlap
    # A correction that shares under half its words with every passage names no source.
    return best if best_overlap >= 0.5 else None


def collect_feedback(
    catalog: Catalog, col: CollectionRef, config: LoopConfig, cycle: int = 0
) -> CollectReport:
    """Turn feedback not yet collected into examples; returns the counts added."""
    with catalog.session() as s:
        done = set(
            s.scalars(
                select(TrainingExample.feedback_id).where(
                    TrainingExample.collection_id == col.id,
                    TrainingExample.feedback_id.is_not(None),
                )
            )
        )
        rows = s.execute(
            select(Feedback, Interaction)
            .join(Interaction, Interaction.id == Feedback.interaction_id)
            .where(Interaction.collection_id == col.id)
            .order_by(Feedback.id)
        ).all()
        pending = [(f, i) for f, i in rows if f.id not in done]
        wanted = {c for f, i in pending for c in (*i.retrieved_chunk_ids, *f.chosen_chunk_ids)}
        chunk_rows = s.execute(
            select(Chunk.id, Chunk.document_id, Chunk.text).where(
                Chunk.collection_id == col.id, Chunk.id.in_(list(wanted))
            )
        ).all()
        items = [
            (
                f.id,
                f.rating,
                f.correction,
                list(f.chosen_chunk_ids or ()),
                list(f.rejected_chunk_ids or ()),
                i.id,
                i.query,
                list(i.cited_chunk_ids or ()),
                list(i.retrieved_chunk_ids or ()),
            )
            for f, i in pending
        ]
    doc_of = {int(c): int(d) for c, d, _ in chunk_rows}
    text_of = {int(c): str(t) for c, _, t in chunk_rows}
    new: list[dict[str, object]] = []
    skipped = 0
    for fid, rating, correction, chosen, rejected, iid, query, cited, retrieved in items:
        positives = list(chosen)
        negatives = list(rejected)
        if rating == 1:
            positives += [c for c in cited if c not in positives]
        elif rating == -1:
            negatives += [c for c in cited if c not in negatives and c not in positives]
        if correction:
            best = _best_support(correction, {c: text_of[c] for c in retrieved if c in text_of})
            if best is not None and best not in positives:
                positives.append(best)
        positives = [c for c in positives if c in doc_of]
        negatives = [c for c in negatives if c in doc_of and c not in positives]
        if not positives:
            # Nothing confirmed that still exists: no grounded pair to learn from.
            skipped += 1
            continue
        # Held out by query text, so a repeated question never sits on both sides.
        key = f"query:{' '.join(query.lower().split())}"
        split = "gate" if held_out(key, config.holdout_fraction, config.seed) else "train"
        new.append(
            {
                "query": query,
                "positive_chunk_ids": positives,
                "negative_chunk_ids": negatives,
                "document_ids": sorted({doc_of[c] for c in positives}),
                "provenance": "user",
                "method": "feedback",
                "written_by": f"interaction:{iid}",
                "feedback_id": fid,
                "split": split,
                "cycle": cycle,
            }
        )
    add_examples(catalog, col.id, new)
    gate = sum(1 for r in new if r["split"] == "gate")
    return CollectReport(len(new) - gate, gate, skipped)
