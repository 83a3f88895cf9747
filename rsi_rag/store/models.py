"""SQLAlchemy tables of the catalog.

The catalog is the source of truth: indexes on disk are derived from it and repaired
against it, so anything the catalog has committed survives a crash of the process.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKey",
    "AuditLog",
    "Base",
    "Chunk",
    "Collection",
    "Document",
    "EvaluationSet",
    "Feedback",
    "FrozenExample",
    "Interaction",
    "Job",
    "ModelVersion",
    "Tenant",
    "TrainingExample",
    "utcnow",
]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_collection_tenant_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Model versions the serving path uses (the champions).
    retriever_version: Mapped[str] = mapped_column(String(200))
    generator_version: Mapped[str] = mapped_column(String(200))
    # Bumped on every content change; caches derived from chunks key on it.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "source", name="uq_document_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"), index=True)
    source: Mapped[str] = mapped_column(String(2000))
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    source_version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    acl: Mapped[list[Any]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class Chunk(Base):
    __tablename__ = "chunks"
    # AUTOINCREMENT: a chunk id is never reused, so an index entry left by a crash can
    # never be mistaken for a newer chunk.
    __table_args__ = (
        Index("ix_chunks_collection_document", "collection_id", "document_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    document_version: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    acl: Mapped[list[Any]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class Interaction(Base):
    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="ask")
    query: Mapped[str] = mapped_column(Text)
    principals: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    retrieved_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    retrieved_scores: Mapped[list[Any]] = mapped_column(JSON, default=list)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    cited_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    model_versions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    correction: Mapped[str | None] = mapped_column(Text, nullable=True)
    chosen_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rejected_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collections.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))  # "retriever" | "generator"
    parent_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    path: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    code_version: Mapped[str] = mapped_column(String(50), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gate_decision: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    trained_on_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200), default="system")
    action: Mapped[str] = mapped_column(String(100))
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target: Mapped[str] = mapped_column(String(2000), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TrainingExample(Base):
    """One retriever training or gate example with its provenance.

    ``provenance`` is synthetic, user or gold; ``split`` is train or gate (gate examples
    are never trained on); ``status`` is active, filtered (failed a check, kept so the
    cache does not regenerate it) or deleted (its document was deleted).
    """

    __tablename__ = "training_examples"
    __table_args__ = (
        Index("ix_training_examples_collection_status", "collection_id", "status"),
        Index("ix_training_examples_cache", "collection_id", "cache_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"))
    query: Mapped[str] = mapped_column(Text)
    positive_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    negative_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    document_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    provenance: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(40))
    written_by: Mapped[str] = mapped_column(String(200), default="")
    source_chunk_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cache_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    feedback_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    split: Mapped[str] = mapped_column(String(10), default="train")
    status: Mapped[str] = mapped_column(String(20), default="active")
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    frozen: Mapped[bool] = mapped_column(Boolean, default=False)
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class EvaluationSet(Base):
    """A frozen evaluation set registered for a collection (report or gate role).

    Its examples are listed in ``frozen_examples``; training refuses any of them.
    """

    __tablename__ = "evaluation_sets"
    __table_args__ = (UniqueConstraint("collection_id", "name", name="uq_evaluation_set_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default="report")
    format: Mapped[str] = mapped_column(String(20), default="")
    source: Mapped[str] = mapped_column(String(2000), default="")
    num_examples: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class FrozenExample(Base):
    """One frozen evaluation example, kept as a fingerprint of its normalised text."""

    __tablename__ = "frozen_examples"
    __table_args__ = (
        UniqueConstraint("set_id", "example_id", name="uq_frozen_example"),
        Index("ix_frozen_examples_fingerprint", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("evaluation_sets.id"), index=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"))
    example_id: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    doc_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
