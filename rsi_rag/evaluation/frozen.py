"""Frozen evaluation sets: registered per collection, refused by training.

A gold set imported for evaluation is recorded in the catalog (``evaluation_sets`` and
``frozen_examples``) as fingerprints of its normalised query texts. Every training path
calls :func:`assert_trainable` on the examples it is about to use; it raises
:class:`~rsi_rag.errors.FrozenDataError` when one of them is marked frozen or matches a
registered evaluation query. Matching on text, not on ids, also catches a frozen question
that reached the training data again through the interaction log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from rsi_rag.errors import ConflictError, FrozenDataError, ValidationError
from rsi_rag.store.catalog import Catalog
from rsi_rag.store.models import EvaluationSet, FrozenExample

__all__ = ["ROLES", "FrozenSets", "assert_trainable", "example_text", "fingerprint"]

ROLES = ("report", "gate")
_TEXT_FIELDS = ("query", "question", "anchor", "text")


def fingerprint(text: str) -> str:
    """A stable hash of ``text`` after lower-casing and collapsing whitespace."""
    norm = " ".join(str(text).lower().split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()


def example_text(example: Any) -> str | None:
    """The query text of an example: a string, or its query/question/anchor/text field."""
    if isinstance(example, str):
        return example
    for name in _TEXT_FIELDS:
        value = example.get(name) if isinstance(example, dict) else getattr(example, name, None)
        if isinstance(value, str):
            return value
    return None


def _is_marked(example: Any) -> bool:
    if isinstance(example, dict):
        return bool(example.get("frozen", False))
    return bool(getattr(example, "frozen", False))


def _describe(example: Any, index: int) -> str:
    ident = example.get("id") if isinstance(example, dict) else getattr(example, "id", None)
    text = example_text(example) or ""
    short = text if len(text) <= 80 else text[:77] + "..."
    return f"example {index}" + (f" (id {ident!r})" if ident is not None else "") + f": {short!r}"


class FrozenSets:
    """The catalog's registry of frozen evaluation sets."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def register(
        self,
        collection_id: int,
        name: str,
        examples: Sequence[Any],
        *,
        role: str = "report",
        format: str = "",
        source: str = "",
        exist_ok: bool = False,
    ) -> dict[str, Any]:
        """Freeze ``examples`` (strings or objects with an id and a query text).

        Args:
            collection_id: The collection the set evaluates.
            name: Set name, unique per collection.
            examples: Query strings, ``QAExample``, or dicts/objects with ``id`` and a text.
            role: ``report`` (results shown to people) or ``gate`` (promotion decisions).
            format: ``beir`` or ``qa``, for display.
            source: Where the set came from (a folder path).
            exist_ok: Return the existing set of that name instead of refusing.
        """
        if role not in ROLES:
            raise ValidationError(f"role must be one of {ROLES}, got {role!r}")
        rows: dict[str, tuple[str, list[str]]] = {}
        for i, ex in enumerate(examples):
            text = example_text(ex)
            if text is None or not text.strip():
                raise ValidationError(f"{_describe(ex, i)} has no query text to freeze")
            ident = (
                ex
                if isinstance(ex, str)
                else (ex.get("id") if isinstance(ex, dict) else getattr(ex, "id", None))
            )
            doc = ex.get("doc_id") if isinstance(ex, dict) else getattr(ex, "doc_id", "")
            rows.setdefault(
                str(ident if ident is not None else i)[:200],
                (fingerprint(text), [doc] if doc else []),
            )
        with self.catalog.session() as s:
            existing = s.scalar(
                select(EvaluationSet).where(
                    EvaluationSet.collection_id == collection_id, EvaluationSet.name == name
                )
            )
            if existing is not None:
                if exist_ok:
                    return self._info(existing)
                raise ConflictError(
                    f"evaluation set {name!r} is already registered for this collection; "
                    "choose another name"
                )
            es = EvaluationSet(
                collection_id=collection_id,
                name=name,
                role=role,
                format=format,
                source=source,
                num_examples=len(rows),
                meta={},
            )
            s.add(es)
            s.flush()
            s.add_all(
                FrozenExample(
                    set_id=es.id,
                    collection_id=collection_id,
                    example_id=eid,
                    fingerprint=fp,
                    doc_ids=docs,
                )
                for eid, (fp, docs) in rows.items()
            )
            s.flush()
            return self._info(es)

    @staticmethod
    def _info(es: EvaluationSet) -> dict[str, Any]:
        return {
            "id": es.id,
            "collection_id": es.collection_id,
            "name": es.name,
            "role": es.role,
            "format": es.format,
            "source": es.source,
            "num_examples": es.num_examples,
        }

    def list(self, collection_id: int | None = None) -> list[dict[str, Any]]:
        with self.catalog.session() as s:
            q = select(EvaluationSet).order_by(EvaluationSet.id)
            if collection_id is not None:
                q = q.where(EvaluationSet.collection_id == collection_id)
            return [self._info(r) for r in s.scalars(q)]

    def frozen_fingerprints(
        self, collection_id: int | None = None, role: str | None = None
    ) -> dict[str, str]:
        """Fingerprint -> name of the set holding it (only sets of ``role`` when given)."""
        with self.catalog.session() as s:
            q = select(FrozenExample.fingerprint, EvaluationSet.name).join(
                EvaluationSet, EvaluationSet.id == FrozenExample.set_id
            )
            if collection_id is not None:
                q = q.where(FrozenExample.collection_id == collection_id)
            if role is not None:
                q = q.where(EvaluationSet.role == role)
            return {fp: name for fp, name in s.execute(q)}

    def is_frozen(self, text: str, collection_id: int | None = None) -> bool:
        return fingerprint(text) in self.frozen_fingerprints(collection_id)


def assert_trainable(
    examples: Iterable[Any],
    *,
    catalog: Catalog | None = None,
    collection_id: int | None = None,
) -> None:
    """Refuse training data that holds frozen evaluation examples.

    Args:
        examples: Training examples: strings, or dicts/objects with a query text in a
            ``query``, ``question``, ``anchor`` or ``text`` field.
        catalog: When given, texts are also checked against the registered frozen sets.
        collection_id: Restrict that check to one collection's sets (all when ``None``).

    Raises:
        FrozenDataError: naming the first frozen example and the set it belongs to.
    """
    frozen = FrozenSets(catalog).frozen_fingerprints(collection_id) if catalog else {}
    for i, ex in enumerate(examples):
        if _is_marked(ex):
            raise FrozenDataError(
                f"{_describe(ex, i)} is marked frozen (evaluation data); remove it from the "
                "training set"
            )
        text = example_text(ex)
        if text is not None and frozen:
            found = frozen.get(fingerprint(text))
            if found is not None:
                raise FrozenDataError(
                    f"{_describe(ex, i)} is in the frozen evaluation set {found!r}; "
                    "evaluation examples are never trained on, remove it from the training set"
                )
