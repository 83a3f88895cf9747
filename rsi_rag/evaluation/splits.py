"""Splits by source document, so that no document feeds two sides of a split."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from rsi_rag.errors import ValidationError

__all__ = ["split_by_document"]

T = TypeVar("T")


def _document_of(item: Any) -> str:
    for attr in ("doc_id", "document_id", "document"):
        value = item.get(attr) if isinstance(item, dict) else getattr(item, attr, None)
        if value:
            return str(value)
    raise ValidationError(
        f"cannot split {item!r} by document: it has no doc_id; pass document= to say where "
        "its source document is"
    )


def split_by_document(
    items: Sequence[T],
    fractions: Mapping[str, float],
    *,
    seed: int = 0,
    document: Callable[[T], str] | None = None,
) -> dict[str, list[T]]:
    """Assign whole documents to named splits, deterministically.

    Documents are ordered by a seeded hash of their id and cut by the cumulative
    fractions, so the same seed and documents give the same split whatever the order of
    ``items``, and adding documents moves few of the existing ones.

    Args:
        items: Examples with a ``doc_id`` (attribute or key), or use ``document``.
        fractions: Split name -> share of documents; shares must sum to 1.
        seed: Seed of the hash.
        document: Returns the source document of an item.

    Returns:
        Split name -> items, in their input order.
    """
    if not fractions or any(not 0 <= f <= 1 for f in fractions.values()):
        raise ValidationError(f"fractions must be shares in [0, 1], got {dict(fractions)!r}")
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValidationError(f"fractions must sum to 1, got {sum(fractions.values())!r}")
    doc_of = document or _document_of
    docs = sorted(
        {doc_of(it) for it in items},
        key=lambda d: hashlib.sha256(f"{seed}:{d}".encode()).hexdigest(),
    )
    assign: dict[str, str] = {}
    names = list(fractions)
    start = 0.0
    for i, name in enumerate(names):
        end = start + fractions[name] * len(docs)
        last = i == len(names) - 1
        for d in docs[round(start) : (len(docs) if last else round(end))]:
            assign[d] = name
        start = end
    out: dict[str, list[T]] = {n: [] for n in names}
    for it in items:
        out[assign[doc_of(it)]].append(it)
    return out
