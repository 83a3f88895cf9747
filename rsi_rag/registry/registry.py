"""Model versions: lineage, data manifests, metrics, gate decisions and champions."""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from rsi_rag._version import __version__
from rsi_rag.errors import ConflictError, UnknownModelVersionError, ValidationError
from rsi_rag.store.catalog import Catalog
from rsi_rag.store.models import ModelVersion

__all__ = ["KINDS", "STATUSES", "ModelRegistry", "VersionInfo"]

KINDS = ("retriever", "generator")
#: Life of a version: ``base`` (shipped), ``training`` -> ``candidate`` (trained, being
#: evaluated) -> ``champion`` (serving) or ``rejected`` (by the gate); a replaced champion
#: becomes ``retired``; an interrupted run ends ``failed``.
STATUSES = ("base", "candidate", "champion", "failed", "rejected", "retired", "training")


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version."""

    id: str
    kind: str
    path: str
    collection_id: int | None
    parent_id: str | None
    status: str
    config: dict[str, Any] = field(default_factory=dict)
    data_manifest: dict[str, Any] = field(default_factory=dict)
    code_version: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    gate_decision: dict[str, Any] | None = None
    trained_on_deleted: bool = False
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _info(row: ModelVersion) -> VersionInfo:
    return VersionInfo(
        id=row.id,
        kind=row.kind,
        path=row.path,
        collection_id=row.collection_id,
        parent_id=row.parent_id,
        status=row.status,
        config=dict(row.config or {}),
        data_manifest=dict(row.data_manifest or {}),
        code_version=row.code_version,
        metrics=dict(row.metrics or {}),
        gate_decision=dict(row.gate_decision) if row.gate_decision else None,
        trained_on_deleted=bool(row.trained_on_deleted),
        created_at=row.created_at.isoformat() if isinstance(row.created_at, dt.datetime) else "",
    )


class ModelRegistry:
    """Records every model version in the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def register(
        self,
        version_id: str,
        kind: str,
        path: str,
        *,
        collection_id: int | None = None,
        parent_id: str | None = None,
        status: str = "candidate",
        config: dict[str, Any] | None = None,
        data_manifest: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        exist_ok: bool = False,
    ) -> VersionInfo:
        """Add a version; a duplicate id is refused unless ``exist_ok``."""
        if kind not in KINDS:
            raise ValidationError(f"model kind must be one of {KINDS}, got {kind!r}")
        with self.catalog.session() as s:
            row = s.get(ModelVersion, version_id)
            if row is not None:
                if exist_ok:
                    return _info(row)
                raise ConflictError(f"model version {version_id!r} is already registered")
            row = ModelVersion(
                id=version_id,
                kind=kind,
                path=path,
                collection_id=collection_id,
                parent_id=parent_id,
                status=status,
                config=config or {},
                data_manifest=data_manifest or {},
                code_version=__version__,
                metrics=metrics or {},
            )
            s.add(row)
            s.flush()
            return _info(row)

    def get(self, version_id: str) -> VersionInfo:
        with self.catalog.session() as s:
            row = s.get(ModelVersion, version_id)
            if row is None:
                raise UnknownModelVersionError(
                    f"unknown model version {version_id!r}; 'rsi-rag models list' shows them"
                )
            return _info(row)

    def find(self, version_id: str) -> VersionInfo | None:
        try:
            return self.get(version_id)
        except UnknownModelVersionError:
            return None

    def list(self, collection_id: int | None = None, kind: str | None = None) -> list[VersionInfo]:
        with self.catalog.session() as s:
            q = select(ModelVersion).order_by(ModelVersion.created_at, ModelVersion.id)
            if collection_id is not None:
                q = q.where(
                    (ModelVersion.collection_id == collection_id)
                    | (ModelVersion.collection_id.is_(None))
                )
            if kind is not None:
                q = q.where(ModelVersion.kind == kind)
            return [_info(r) for r in s.scalars(q)]

    def update(self, version_id: str, **fields: Any) -> VersionInfo:
        allowed = {"status", "metrics", "gate_decision", "trained_on_deleted", "data_manifest"}
        bad = set(fields) - allowed
        if bad:
            raise ValidationError(f"cannot update {sorted(bad)}; updatable: {sorted(allowed)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValidationError(f"status must be one of {STATUSES}, got {fields['status']!r}")
        with self.catalog.session() as s:
            row = s.get(ModelVersion, version_id)
            if row is None:
                raise UnknownModelVersionError(f"unknown model version {version_id!r}")
            for k, v in fields.items():
                setattr(row, k, v)
            s.flush()
            return _info(row)

    def lineage(self, version_id: str) -> builtins.list[VersionInfo]:
        """The version and its ancestors, newest first."""
        out = []
        current: str | None = version_id
        while current is not None:
            info = self.get(current)
            out.append(info)
            current = info.parent_id
            if len(out) > 10_000:
                break
        return out

    def record_switch(
        self, collection_id: int, kind: str, champion: str, previous: str | None
    ) -> None:
        """Statuses after a switch: ``champion`` serves, the previous one is ``retired``.

        Shared versions (no collection, such as the shipped base model) keep their status:
        they may still serve other collections.
        """
        with self.catalog.session() as s:
            new = s.get(ModelVersion, champion)
            if new is not None and new.collection_id is not None:
                new.status = "champion"
            others = s.scalars(
                select(ModelVersion).where(
                    ModelVersion.collection_id == collection_id,
                    ModelVersion.kind == kind,
                    ModelVersion.status == "champion",
                    ModelVersion.id != champion,
                )
            )
            for row in others:
                row.status = "retired"
            if previous and previous != champion:
                old = s.get(ModelVersion, previous)
                if old is not None and old.collection_id is not None:
                    old.status = "retired"

    def mark_trained_on_deleted(
        self, collection_id: int, document_ids: set[int]
    ) -> builtins.list[str]:
        """Flag every version of the collection whose training data used these documents.

        Returns the ids newly flagged. A version's manifest lists the documents it was
        trained on under ``document_ids``.
        """
        if not document_ids:
            return []
        flagged = []
        with self.catalog.session() as s:
            rows = s.scalars(
                select(ModelVersion).where(
                    ModelVersion.collection_id == collection_id,
                    ModelVersion.trained_on_deleted.is_(False),
                )
            )
            for row in rows:
                used = set((row.data_manifest or {}).get("document_ids", ()))
                if used & document_ids:
                    row.trained_on_deleted = True
                    flagged.append(row.id)
        return flagged
