"""The catalog: tenants, collections, documents, chunks, interactions, feedback, jobs,
model versions and the audit log, in a SQL database (SQLite file by default)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from rsi_rag.errors import (
    ConfigError,
    UnknownCollectionError,
    UnknownDocumentError,
    UnknownInteractionError,
    UnknownTenantError,
)
from rsi_rag.store import migrate
from rsi_rag.store.models import (
    AuditLog,
    Chunk,
    Collection,
    Document,
    Feedback,
    Interaction,
    Tenant,
    utcnow,
)
from rsi_rag.types import DocumentInfo, SourceDocument

__all__ = ["Catalog", "ChunkRecord", "CollectionRef", "DocumentChange"]


@dataclass(frozen=True)
class CollectionRef:
    """A resolved collection: ids and the champion model versions."""

    id: int
    tenant_id: int
    tenant: str
    name: str
    retriever_version: str
    generator_version: str
    revision: int


@dataclass(frozen=True)
class ChunkRecord:
    id: int
    document_id: int
    source: str
    text: str
    acl: tuple[str, ...]
    metadata: dict[str, Any]


@dataclass(frozen=True)
class DocumentChange:
    """What an upsert did: ``status`` is added, updated or unchanged."""

    status: str
    document_id: int
    removed_chunk_ids: tuple[int, ...]
    added_chunk_ids: tuple[int, ...]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL keeps readers unblocked during ingestion; NORMAL sync still survives a killed
    # process (the WAL lives in the OS page cache), which is the crash model we promise.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class Catalog:
    """Access to the catalog database.

    Args:
        url: A SQLAlchemy URL (``sqlite:///path.db`` or ``postgresql+psycopg://...``).
    """

    def __init__(self, url: str) -> None:
        if not isinstance(url, str) or "://" not in url:
            raise ConfigError(
                f"catalog URL {url!r} is not a SQLAlchemy URL; use e.g. "
                "'sqlite:////path/catalog.db' or 'postgresql+psycopg://user:pw@host/db'"
            )
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        migrate.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._tenant_lock = threading.Lock()

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Catalog:
        """The SQLite catalog of an embedded data directory."""
        return cls(f"sqlite:///{Path(data_dir).resolve() / 'catalog.db'}")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # -- tenants and collections -------------------------------------------------------

    def tenant_id(self, name: str, *, create: bool = False) -> int:
        with self._tenant_lock, self.session() as s:
            tid = s.scalar(select(Tenant.id).where(Tenant.name == name))
            if tid is not None:
                return int(tid)
            if not create:
                raise UnknownTenantError(
                    f"unknown tenant {name!r}; create it first or check the name"
                )
            t = Tenant(name=name)
            s.add(t)
            s.flush()
            return int(t.id)

    def tenants(self) -> list[str]:
        with self.session() as s:
            return list(s.scalars(select(Tenant.name).order_by(Tenant.name)))

    def _ref(self, s: Session, c: Collection) -> CollectionRef:
        tname = s.scalar(select(Tenant.name).where(Tenant.id == c.tenant_id)) or ""
        return CollectionRef(
            c.id, c.tenant_id, tname, c.name, c.retriever_version, c.generator_version, c.revision
        )

    def get_collection(self, tenant: str, name: str) -> CollectionRef:
        # One plain-column query: this runs on every retrieval to read the fresh revision.
        with self.engine.connect() as conn:
            found = conn.execute(
                select(
                    Collection.id,
                    Collection.tenant_id,
                    Collection.retriever_version,
                    Collection.generator_version,
                    Collection.revision,
                )
                .join(Tenant, Tenant.id == Collection.tenant_id)
                .where(Tenant.name == tenant, Collection.name == name)
            ).first()
        if found is not None:
            cid, tid, rv, gv, rev = found
            return CollectionRef(int(cid), int(tid), tenant, name, str(rv), str(gv), int(rev))
        with self.session() as s:
            row = s.execute(
                select(Collection)
                .join(Tenant, Tenant.id == Collection.tenant_id)
                .where(Tenant.name == tenant, Collection.name == name)
            ).scalar_one_or_none()
            if row is None:
                known = sorted(
                    s.scalars(
                        select(Collection.name)
                        .join(Tenant, Tenant.id == Collection.tenant_id)
                        .where(Tenant.name == tenant)
                    )
                )
                raise UnknownCollectionError(
                    f"unknown collection {name!r} for tenant {tenant!r}; known collections: "
                    f"{known or 'none'} (ingest documents to create one)"
                )
            return self._ref(s, row)

    def collection_by_id(self, collection_id: int) -> CollectionRef:
        with self.session() as s:
            row = s.get(Collection, collection_id)
            if row is None:
                raise UnknownCollectionError(f"unknown collection id {collection_id}")
            return self._ref(s, row)

    def ensure_collection(
        self, tenant: str, name: str, retriever_version: str, generator_version: str
    ) -> CollectionRef:
        tid = self.tenant_id(tenant, create=True)
        try:
            return self.get_collection(tenant, name)
        except UnknownCollectionError:
            pass
        try:
            with self.session() as s:
                c = Collection(
                    tenant_id=tid,
                    name=name,
                    retriever_version=retriever_version,
                    generator_version=generator_version,
                    revision=0,
                )
                s.add(c)
                s.flush()
                s.add(AuditLog(action="collection.create", tenant_id=tid, target=name, details={}))
        except IntegrityError:
            pass  # created concurrently
        return self.get_collection(tenant, name)

    def list_collections(self, tenant: str | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(Collection, Tenant.name).join(Tenant, Tenant.id == Collection.tenant_id)
            if tenant is not None:
                q = q.where(Tenant.name == tenant)
            out = []
            for c, tname in s.execute(q.order_by(Tenant.name, Collection.name)):
                ndocs = s.scalar(
                    select(func.count(Document.id)).where(
                        Document.collection_id == c.id, Document.deleted.is_(False)
                    )
                )
                nchunks = s.scalar(select(func.count(Chunk.id)).where(Chunk.collection_id == c.id))
                out.append(
                    {
                        "name": c.name,
                        "tenant": tname,
                        "num_documents": int(ndocs or 0),
                        "num_chunks": int(nchunks or 0),
                        "retriever_version": c.retriever_version,
                        "generator_version": c.generator_version,
                    }
                )
            return out

    def set_champion(self, collection_id: int, kind: str, version: str) -> None:
        column = {"retriever": "retriever_version", "generator": "generator_version"}[kind]
        with self.session() as s:
            s.execute(
                update(Collection).where(Collection.id == collection_id).values({column: version})
            )

    # -- documents and chunks ------------------------------------------------------------

    def find_document(
        self, collection_id: int, source: str
    ) -> tuple[int, str, tuple[str, ...]] | None:
        """``(document id, content hash, acl)`` of a live document with this source."""
        with self.session() as s:
            row = s.execute(
                select(Document.id, Document.content_hash, Document.acl).where(
                    Document.collection_id == collection_id,
                    Document.source == source,
                    Document.deleted.is_(False),
                )
            ).first()
            return (int(row[0]), str(row[1]), tuple(row[2] or ())) if row else None

    def find_documents(
        self, collection_id: int, sources: Sequence[str]
    ) -> dict[str, tuple[int, str, tuple[str, ...]]]:
        """``source -> (document id, content hash, acl)`` for the live ones among ``sources``."""
        out: dict[str, tuple[int, str, tuple[str, ...]]] = {}
        with self.session() as s:
            for i in range(0, len(sources), 500):
                rows = s.execute(
                    select(Document.source, Document.id, Document.content_hash, Document.acl).where(
                        Document.collection_id == collection_id,
                        Document.source.in_(list(sources[i : i + 500])),
                        Document.deleted.is_(False),
                    )
                )
                for src, did, digest, acl in rows:
                    out[str(src)] = (int(did), str(digest), tuple(acl or ()))
        return out

    def upsert_document(
        self,
        col: CollectionRef,
        doc: SourceDocument,
        content_hash: str,
        chunks: Sequence[str],
    ) -> DocumentChange:
        """Insert or replace one document and its chunks in one transaction."""
        return self.upsert_documents(col, [(doc, content_hash, chunks)])[0]

    def upsert_documents(
        self,
        col: CollectionRef,
        items: Sequence[tuple[SourceDocument, str, Sequence[str]]],
    ) -> list[DocumentChange]:
        """Insert or replace documents and their chunks, all in one transaction.

        Each item is ``(document, content hash, chunk texts)``. A document whose hash and
        ACL are unchanged is left alone.
        """
        changes: list[DocumentChange] = []
        with self.session() as s:
            sources = list({doc.source_id for doc, _, _ in items})
            existing_rows: dict[str, Document] = {}
            for i in range(0, len(sources), 500):
                for d in s.scalars(
                    select(Document).where(
                        Document.collection_id == col.id,
                        Document.source.in_(sources[i : i + 500]),
                    )
                ):
                    existing_rows[d.source] = d
            pending: list[tuple[str, Document, list[int], list[Chunk]]] = []
            for doc, content_hash, chunks in items:
                existing = existing_rows.get(doc.source_id)
                removed: list[int] = []
                if existing is not None and not existing.deleted:
                    if existing.content_hash == content_hash and list(existing.acl) == list(
                        doc.acl
                    ):
                        changes.append(DocumentChange("unchanged", existing.id, (), ()))
                        continue
                    status = "updated"
                else:
                    status = "added"
                if existing is None:
                    existing = Document(
                        collection_id=col.id,
                        source=doc.source_id,
                        content_hash=content_hash,
                        version=1,
                        source_version=doc.version,
                        acl=list(doc.acl),
                        meta=dict(doc.metadata),
                    )
                    s.add(existing)
                    s.flush()
                    existing_rows[doc.source_id] = existing
                else:
                    # collection_id first: the (collection_id, document_id) index applies.
                    mine = (Chunk.collection_id == col.id, Chunk.document_id == existing.id)
                    removed = list(s.scalars(select(Chunk.id).where(*mine)))
                    s.execute(delete(Chunk).where(*mine))
                    existing.version = existing.version + 1
                    existing.content_hash = content_hash
                    existing.source_version = doc.version
                    existing.acl = list(doc.acl)
                    existing.meta = dict(doc.metadata)
                    existing.deleted = False
                    existing.deleted_at = None
                    existing.updated_at = utcnow()
                rows = [
                    Chunk(
                        tenant_id=col.tenant_id,
                        collection_id=col.id,
                        document_id=existing.id,
                        document_version=existing.version,
                        position=i,
                        text=text,
                        acl=list(doc.acl),
                        meta=dict(doc.metadata),
                    )
                    for i, text in enumerate(chunks)
                ]
                s.add_all(rows)
                pending.append((status, existing, removed, rows))
                changes.append(DocumentChange(status, existing.id, (), ()))
            s.flush()
            if pending:
                s.execute(
                    update(Collection)
                    .where(Collection.id == col.id)
                    .values(revision=Collection.revision + 1)
                )
            # Fill in the chunk ids assigned by the flush, in input order.
            it = iter(pending)
            for n, change in enumerate(changes):
                if change.status == "unchanged":
                    continue
                status, doc_row, removed, rows = next(it)
                changes[n] = DocumentChange(
                    status, doc_row.id, tuple(removed), tuple(int(r.id) for r in rows)
                )
        return changes

    def delete_document(
        self, col: CollectionRef, *, document_id: int | None = None, source: str | None = None
    ) -> tuple[int, tuple[int, ...]]:
        """Mark a document deleted and drop its chunks; returns its id and the chunk ids."""
        if (document_id is None) == (source is None):
            raise UnknownDocumentError("give exactly one of document_id or source")
        with self.session() as s:
            q = select(Document).where(
                Document.collection_id == col.id, Document.deleted.is_(False)
            )
            q = (
                q.where(Document.id == document_id)
                if document_id is not None
                else q.where(Document.source == source)
            )
            d = s.execute(q).scalar_one_or_none()
            if d is None:
                what = f"id {document_id}" if document_id is not None else f"source {source!r}"
                raise UnknownDocumentError(
                    f"no document with {what} in collection {col.name!r}; "
                    "list documents to find the right one"
                )
            mine = (Chunk.collection_id == col.id, Chunk.document_id == d.id)
            removed = tuple(s.scalars(select(Chunk.id).where(*mine)))
            s.execute(delete(Chunk).where(*mine))
            d.deleted = True
            d.deleted_at = utcnow()
            s.execute(
                update(Collection)
                .where(Collection.id == col.id)
                .values(revision=Collection.revision + 1)
            )
            s.add(
                AuditLog(
                    action="document.delete",
                    tenant_id=col.tenant_id,
                    target=d.source,
                    details={"document_id": d.id, "collection": col.name},
                )
            )
            return int(d.id), removed

    def documents(self, collection_id: int) -> list[DocumentInfo]:
        with self.session() as s:
            counts = dict(
                s.execute(
                    select(Chunk.document_id, func.count(Chunk.id))
                    .where(Chunk.collection_id == collection_id)
                    .group_by(Chunk.document_id)
                ).all()
            )
            docs = s.scalars(
                select(Document)
                .where(Document.collection_id == collection_id, Document.deleted.is_(False))
                .order_by(Document.id)
            )
            return [
                DocumentInfo(
                    d.id,
                    d.source,
                    d.content_hash,
                    d.version,
                    int(counts.get(d.id, 0)),
                    tuple(d.acl or ()),
                    dict(d.meta or {}),
                )
                for d in docs
            ]

    def deleted_document_ids(self, collection_id: int) -> set[int]:
        with self.session() as s:
            return set(
                s.scalars(
                    select(Document.id).where(
                        Document.collection_id == collection_id, Document.deleted.is_(True)
                    )
                )
            )

    def chunk_ids(self, collection_id: int) -> list[int]:
        with self.session() as s:
            return list(
                s.scalars(
                    select(Chunk.id).where(Chunk.collection_id == collection_id).order_by(Chunk.id)
                )
            )

    def chunk_texts(self, collection_id: int, ids: Sequence[int] | None = None) -> dict[int, str]:
        with self.session() as s:
            q = select(Chunk.id, Chunk.text).where(Chunk.collection_id == collection_id)
            if ids is not None:
                q = q.where(Chunk.id.in_(list(ids)))
            return {int(i): str(t) for i, t in s.execute(q)}

    def chunk_acls(self, collection_id: int) -> list[tuple[int, tuple[str, ...]]]:
        with self.session() as s:
            return [
                (int(i), tuple(a or ()))
                for i, a in s.execute(
                    select(Chunk.id, Chunk.acl)
                    .where(Chunk.collection_id == collection_id)
                    .order_by(Chunk.id)
                )
            ]

    def chunks(self, collection_id: int, ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """Chunk records by id, restricted to the collection (ids of others are dropped)."""
        if not ids:
            return {}
        # Plain columns on a connection, not ORM entities: this runs on every query. The
        # lookup goes by primary key alone and the collection is checked here: with the
        # collection in the WHERE clause, SQLite plans a scan of the collection's chunks.
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    Chunk.id,
                    Chunk.collection_id,
                    Chunk.document_id,
                    Document.source,
                    Chunk.text,
                    Chunk.acl,
                    Chunk.meta,
                )
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.id.in_(list(ids)))
            )
            return {
                int(cid): ChunkRecord(
                    int(cid), int(did), str(src), str(text), tuple(acl or ()), dict(meta or {})
                )
                for cid, col_id, did, src, text, acl, meta in rows
                if col_id == collection_id
            }

    # -- interactions, feedback, audit ---------------------------------------------------

    def log_interaction(self, col: CollectionRef, **fields: Any) -> int:
        with self.session() as s:
            row = Interaction(tenant_id=col.tenant_id, collection_id=col.id, **fields)
            s.add(row)
            s.flush()
            return int(row.id)

    def interaction(self, interaction_id: int) -> dict[str, Any]:
        with self.session() as s:
            row = s.get(Interaction, interaction_id)
            if row is None:
                raise UnknownInteractionError(
                    f"unknown interaction id {interaction_id}; use the interaction_id an "
                    "answer returned"
                )
            return {
                "id": row.id,
                "tenant_id": row.tenant_id,
                "collection_id": row.collection_id,
                "kind": row.kind,
                "query": row.query,
                "retrieved_chunk_ids": list(row.retrieved_chunk_ids or []),
                "retrieved_scores": list(row.retrieved_scores or []),
                "answer": row.answer,
                "cited_chunk_ids": list(row.cited_chunk_ids or []),
                "abstained": row.abstained,
                "model_versions": dict(row.model_versions or {}),
                "created_at": row.created_at.isoformat(),
            }

    def add_feedback(self, interaction_id: int, **fields: Any) -> int:
        self.interaction(interaction_id)
        with self.session() as s:
            row = Feedback(interaction_id=interaction_id, **fields)
            s.add(row)
            s.flush()
            return int(row.id)

    def audit(
        self,
        action: str,
        *,
        target: str = "",
        tenant_id: int | None = None,
        actor: str = "system",
        details: dict[str, Any] | None = None,
    ) -> None:
        with self.session() as s:
            s.add(
                AuditLog(
                    action=action,
                    target=target,
                    tenant_id=tenant_id,
                    actor=actor,
                    details=details or {},
                )
            )

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.scalars(select(AuditLog).order_by(AuditLog.id.desc()).limit(limit))
            return [
                {
                    "at": r.at.isoformat(),
                    "actor": r.actor,
                    "action": r.action,
                    "target": r.target,
                    "details": r.details,
                }
                for r in rows
            ]
