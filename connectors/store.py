"""Named sources, per-item sync state and sync reports, in the catalog database.

The tables have their own SQLAlchemy metadata, created on first use in the same database
as the catalog, so the core never needs to know about connectors. Item states are written
as each batch is ingested, so a sync killed half way resumes with the items it has not
done; the source's cursor is written only when a sync finishes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from rsi_rag.errors import ConflictError, UnknownSourceError

__all__ = ["ItemState", "SourceInfo", "SourceStore"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class _Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON}


class _Source(_Base):
    __tablename__ = "connector_sources"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_connector_source_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(50))
    collection: Mapped[str] = mapped_column(String(200))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class _Item(_Base):
    __tablename__ = "connector_items"
    __table_args__ = (UniqueConstraint("source_id", "item_id", name="uq_connector_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[str] = mapped_column(String(2000))
    fingerprint: Mapped[str] = mapped_column(String(64))
    document_source: Mapped[str] = mapped_column(String(2000))
    synced_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class _Sync(_Base):
    __tablename__ = "connector_syncs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


@dataclass(frozen=True)
class SourceInfo:
    """A named source as stored (options hold environment variable names, never secrets)."""

    id: int
    tenant: str
    name: str
    type: str
    collection: str
    options: dict[str, Any]
    interval_s: float | None
    cursor: str | None
    last_sync_at: dt.datetime | None
    last_status: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tenant": self.tenant,
            "type": self.type,
            "collection": self.collection,
            "options": dict(self.options),
            "interval_s": self.interval_s,
            "last_sync_at": self.last_sync_at.isoformat() if self.last_sync_at else None,
            "last_status": self.last_status,
        }


@dataclass(frozen=True)
class ItemState:
    fingerprint: str
    document_source: str


def _info(row: _Source) -> SourceInfo:
    return SourceInfo(
        row.id,
        row.tenant,
        row.name,
        row.type,
        row.collection,
        dict(row.options or {}),
        row.interval_s,
        row.cursor,
        row.last_sync_at,
        row.last_status,
    )


class SourceStore:
    """Sources, item states and sync records on a SQLAlchemy engine (the catalog's)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _Base.metadata.create_all(engine, checkfirst=True)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # -- sources -------------------------------------------------------------------------

    def add(
        self,
        tenant: str,
        name: str,
        type_name: str,
        collection: str,
        options: Mapping[str, Any],
        interval_s: float | None = None,
    ) -> SourceInfo:
        with self._session() as s, s.begin():
            if s.scalar(select(_Source.id).where(_Source.tenant == tenant, _Source.name == name)):
                raise ConflictError(
                    f"a source named {name!r} already exists for tenant {tenant!r}; remove it "
                    "first or choose another name"
                )
            row = _Source(
                tenant=tenant,
                name=name,
                type=type_name,
                collection=collection,
                options=dict(options),
                interval_s=interval_s,
            )
            s.add(row)
            s.flush()
            return _info(row)

    def get(self, tenant: str, name: str) -> SourceInfo:
        with self._session() as s:
            row = s.scalar(select(_Source).where(_Source.tenant == tenant, _Source.name == name))
            if row is None:
                known = ", ".join(s.scalars(select(_Source.name).where(_Source.tenant == tenant)))
                raise UnknownSourceError(
                    f"no source named {name!r} for tenant {tenant!r}; known sources: "
                    f"{known or '(none)'}; add one with 'rsi-rag sources add'"
                )
            return _info(row)

    def list_sources(self, tenant: str | None = None) -> list[SourceInfo]:
        with self._session() as s:
            q = select(_Source).order_by(_Source.tenant, _Source.name)
            if tenant is not None:
                q = q.where(_Source.tenant == tenant)
            return [_info(r) for r in s.scalars(q)]

    def remove(self, tenant: str, name: str) -> list[str]:
        """Forget a source; returns the document sources it had ingested."""
        info = self.get(tenant, name)
        with self._session() as s, s.begin():
            docs = list(s.scalars(select(_Item.document_source).where(_Item.source_id == info.id)))
            s.execute(delete(_Item).where(_Item.source_id == info.id))
            s.execute(delete(_Sync).where(_Sync.source_id == info.id))
            s.execute(delete(_Source).where(_Source.id == info.id))
        return docs

    # -- item states ---------------------------------------------------------------------

    def states(self, source_id: int) -> dict[str, ItemState]:
        with self._session() as s:
            rows = s.execute(
                select(_Item.item_id, _Item.fingerprint, _Item.document_source).where(
                    _Item.source_id == source_id
                )
            )
            return {r[0]: ItemState(r[1], r[2]) for r in rows}

    def save_states(self, source_id: int, states: Mapping[str, ItemState]) -> None:
        if not states:
            return
        with self._session() as s, s.begin():
            ids = list(states)
            for start in range(0, len(ids), 500):
                s.execute(
                    delete(_Item).where(
                        _Item.source_id == source_id, _Item.item_id.in_(ids[start : start + 500])
                    )
                )
            now = _utcnow()
            s.add_all(
                _Item(
                    source_id=source_id,
                    item_id=k,
                    fingerprint=v.fingerprint,
                    document_source=v.document_source,
                    synced_at=now,
                )
                for k, v in states.items()
            )

    def drop_states(self, source_id: int, item_ids: Iterable[str]) -> None:
        ids = list(item_ids)
        with self._session() as s, s.begin():
            for start in range(0, len(ids), 500):
                s.execute(
                    delete(_Item).where(
                        _Item.source_id == source_id, _Item.item_id.in_(ids[start : start + 500])
                    )
                )

    # -- sync records --------------------------------------------------------------------

    def begin_sync(self, source_id: int, stale_after_s: float) -> int:
        """Record a running sync; refuses while another one runs (unless it is stale)."""
        with self._session() as s, s.begin():
            running = s.scalar(
                select(_Sync).where(_Sync.source_id == source_id, _Sync.status == "running")
            )
            if running is not None:
                age = (_utcnow() - running.started_at).total_seconds()
                if age < stale_after_s:
                    raise ConflictError(
                        f"a sync of this source has been running for {age:.0f}s (sync "
                        f"{running.id}); wait for it to finish"
                    )
                running.status = "abandoned"
                running.finished_at = _utcnow()
            row = _Sync(source_id=source_id)
            s.add(row)
            s.flush()
            return int(row.id)

    def end_sync(
        self,
        sync_id: int,
        source_id: int,
        status: str,
        report: dict[str, Any],
        cursor: str | None = None,
        error: str | None = None,
        set_cursor: bool = False,
    ) -> None:
        now = _utcnow()
        with self._session() as s, s.begin():
            sync = s.get(_Sync, sync_id)
            if sync is not None:
                sync.status, sync.finished_at, sync.report, sync.error = status, now, report, error
            src = s.get(_Source, source_id)
            if src is not None:
                src.last_sync_at, src.last_status = now, status
                if set_cursor:
                    src.cursor = cursor

    def syncs(self, source_id: int, limit: int = 20) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.scalars(
                select(_Sync)
                .where(_Sync.source_id == source_id)
                .order_by(_Sync.id.desc())
                .limit(limit)
            )
            return [
                {
                    "id": r.id,
                    "status": r.status,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                    "report": r.report,
                    "error": r.error,
                }
                for r in rows
            ]
