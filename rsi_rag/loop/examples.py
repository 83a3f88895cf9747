"""Training and gate examples in the catalog, with their provenance.

Examples accumulate across cycles: real (user or gold) examples are never dropped, and
the synthetic share of a training set is capped, because training on a growing share of
self-generated data is what drives model collapse.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from rsi_rag.errors import FrozenDataError, ValidationError
from rsi_rag.loop.config import LoopConfig
from rsi_rag.store.catalog import Catalog
from rsi_rag.store.models import Chunk, TrainingExample

__all__ = [
    "PROVENANCES",
    "Example",
    "add_examples",
    "count_examples",
    "exclude_deleted",
    "gate_examples",
    "refuse_frozen",
    "training_examples",
]

PROVENANCES = ("gold", "synthetic", "user")


@dataclass(frozen=True)
class Example:
    """A query with the chunks that answer it (and, optionally, chunks that do not)."""

    id: int
    query: str
    positive_chunk_ids: tuple[int, ...]
    negative_chunk_ids: tuple[int, ...]
    document_ids: tuple[int, ...]
    provenance: str
    method: str
    written_by: str
    source_chunk_id: int | None
    split: str
    frozen: bool


def _example(r: TrainingExample) -> Example:
    return Example(
        r.id,
        r.query,
        tuple(r.positive_chunk_ids or ()),
        tuple(r.negative_chunk_ids or ()),
        tuple(r.document_ids or ()),
        r.provenance,
        r.method,
        r.written_by,
        r.source_chunk_id,
        r.split,
        bool(r.frozen),
    )


def add_examples(catalog: Catalog, collection_id: int, rows: Iterable[dict[str, Any]]) -> int:
    """Insert example rows (keys of :class:`TrainingExample`); returns how many."""
    n = 0
    with catalog.session() as s:
        for row in rows:
            if row.get("provenance") not in PROVENANCES:
                raise ValidationError(
                    f"provenance must be one of {PROVENANCES}, got {row.get('provenance')!r}"
                )
            s.add(TrainingExample(collection_id=collection_id, **row))
            n += 1
    return n


def refuse_frozen(examples: Sequence[Example]) -> None:
    """Raise :class:`FrozenDataError` if any example is frozen evaluation data."""
    frozen = [e.id for e in examples if e.frozen or e.provenance == "gold" or e.split != "train"]
    if frozen:
        raise FrozenDataError(
            f"examples {frozen[:10]} are frozen evaluation or gate data and cannot be trained "
            "on; select examples with split='train' and frozen=False"
        )


def exclude_deleted(catalog: Catalog, collection_id: int) -> int:
    """Mark examples whose chunks no longer exist (deleted documents) as deleted."""
    with catalog.session() as s:
        live = set(s.scalars(select(Chunk.id).where(Chunk.collection_id == collection_id)))
        rows = s.scalars(
            select(TrainingExample).where(
                TrainingExample.collection_id == collection_id,
                TrainingExample.status != "deleted",
            )
        )
        n = 0
        for r in rows:
            positives = [c for c in r.positive_chunk_ids or () if c in live]
            source_gone = r.source_chunk_id is not None and r.source_chunk_id not in live
            if source_gone or (r.positive_chunk_ids and not positives):
                r.status = "deleted"
                r.reason = "source chunk removed (document deleted or changed)"
                n += 1
                continue
            if len(positives) != len(r.positive_chunk_ids or ()):
                r.positive_chunk_ids = positives
            negatives = [c for c in r.negative_chunk_ids or () if c in live]
            if len(negatives) != len(r.negative_chunk_ids or ()):
                r.negative_chunk_ids = negatives
        return n


def _active(collection_id: int, split: str) -> Any:
    return (
        select(TrainingExample)
        .where(
            TrainingExample.collection_id == collection_id,
            TrainingExample.status == "active",
            TrainingExample.split == split,
        )
        .order_by(TrainingExample.id)
    )


def _without_frozen(
    catalog: Catalog, collection_id: int, rows: list[Example], role: str | None = None
) -> list[Example]:
    """``rows`` minus examples whose query is in a registered frozen set (of ``role``).

    A user may ask exactly what an evaluation set asks; such an example is skipped here
    rather than failing the cycle, and never reaches training.
    """
    from rsi_rag.evaluation.frozen import FrozenSets, fingerprint

    frozen = FrozenSets(catalog).frozen_fingerprints(collection_id, role)
    if not frozen:
        return rows
    return [e for e in rows if fingerprint(e.query) not in frozen]


def training_examples(catalog: Catalog, collection_id: int, config: LoopConfig) -> list[Example]:
    """Every active real training example plus a capped, seeded sample of synthetic ones.

    Examples whose query is in one of the collection's frozen evaluation sets are left out.
    """
    with catalog.session() as s:
        rows = [_example(r) for r in s.scalars(_active(collection_id, "train")) if not r.frozen]
    rows = _without_frozen(catalog, collection_id, rows)
    real = [e for e in rows if e.provenance != "synthetic"]
    synthetic = [e for e in rows if e.provenance == "synthetic"]
    limit = config.max_synthetic_examples
    if real:
        share = config.max_synthetic_share
        limit = min(limit, int(len(real) * share / (1.0 - share)))
    if len(synthetic) > limit:
        synthetic = random.Random(config.seed).sample(synthetic, limit)
    out = real + synthetic
    refuse_frozen(out)
    return out


def gate_examples(catalog: Catalog, collection_id: int) -> tuple[list[Example], str]:
    """The collection's gate examples and their kind.

    Human-grounded examples (held-out user feedback and imported gold) are preferred;
    only when there are none does the gate fall back to held-out synthetic queries. Queries
    of the collection's frozen report sets are left out.
    """
    with catalog.session() as s:
        rows = [_example(r) for r in s.scalars(_active(collection_id, "gate"))]
    # The gate is kept apart from the report sets, so reported figures are not selected on.
    rows = _without_frozen(catalog, collection_id, rows, role="report")
    human = [e for e in rows if e.provenance != "synthetic"]
    if human:
        return human, "human"
    return rows, "synthetic"


def count_examples(catalog: Catalog, collection_id: int) -> dict[str, int]:
    """Active examples per ``provenance/split``, and the total ever created."""
    with catalog.session() as s:
        rows = s.execute(
            select(
                TrainingExample.provenance,
                TrainingExample.split,
                TrainingExample.status,
                func.count(TrainingExample.id),
            )
            .where(TrainingExample.collection_id == collection_id)
            .group_by(TrainingExample.provenance, TrainingExample.split, TrainingExample.status)
        ).all()
    out: dict[str, int] = {"total": 0}
    for prov, split, status, n in rows:
        out["total"] += int(n)
        key = f"{prov}/{split}" if status == "active" else f"{status}"
        out[key] = out.get(key, 0) + int(n)
    return out
