"""promote, reject, roll back and recover retriever versions, blue-green.

A challenger's index is built beside the champion's (``indexes/<collection>/<version>/``)
while the champion keeps serving. The switch is one catalog update of the collection's
``retriever_version``: every query resolves the collection first and then uses that
version's embedder and index together, so a query in flight finishes on the version it
started with and the next one uses the new version. Old indexes are kept for rollback.

The catalog's champion pointer is the truth. :func:`recover` repairs what a killed
process can leave: registry statuses that disagree with the pointer, and half-built
versions (``training`` or ``candidate``), whose model and index folders are removed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rsi_rag.errors import ModelNotFoundError, ValidationError
from rsi_rag.loop.lock import CycleLock
from rsi_rag.loop.train_retriever import partial_dir

if TYPE_CHECKING:
    from rsi_rag.rag import RAG
    from rsi_rag.store.catalog import CollectionRef

__all__ = [
    "RollbackResult",
    "build_index",
    "model_dir",
    "recover",
    "rollback",
    "serve_version",
    "switch",
]


@dataclass(frozen=True)
class RollbackResult:
    """The champion before and after a rollback."""

    collection: str
    previous: str
    champion: str
    index_seconds: float


def model_dir(rag: RAG, collection_id: int, version: str) -> Path:
    """Folder of a trained retriever version."""
    return rag.data_dir / "models" / str(collection_id) / "retriever" / version


def build_index(rag: RAG, col: CollectionRef, version: str) -> float:
    """Build (or bring up to date) the index of ``version`` beside the champion's.

    Returns:
        Seconds taken. The index is reconciled against the catalog, so chunks of deleted
        documents never enter it.
    """
    started = time.perf_counter()
    fresh = rag.catalog.collection_by_id(col.id)
    rag.indexes.get(fresh, version, rag.embedder_for(version))
    return time.perf_counter() - started


def switch(
    rag: RAG,
    col: CollectionRef,
    version: str,
    *,
    action: str = "promote",
    on_stage: Callable[[str, dict[str, Any]], None] | None = None,
) -> str:
    """Make ``version`` the collection's retriever champion; returns the previous one.

    The index must be ready first (see :func:`build_index`); it is brought up to date
    here again in case documents changed in between.
    """
    build_index(rag, col, version)
    previous = rag.catalog.collection_by_id(col.id).retriever_version
    rag.catalog.set_champion(col.id, "retriever", version)
    if on_stage is not None:
        on_stage("switched", {"from": previous, "to": version})
    rag.registry.record_switch(col.id, "retriever", version, previous)
    rag.catalog.audit(
        f"retriever.{action}",
        target=f"{col.tenant}/{col.name}",
        tenant_id=col.tenant_id,
        details={"from": previous, "to": version},
    )
    return previous


def rollback(
    rag: RAG, collection: str, version: str, *, tenant: str | None = None
) -> RollbackResult:
    """Serve an earlier retriever version of ``collection`` again, blue-green."""
    return serve_version(rag, collection, version, tenant=tenant, action="rollback")


def serve_version(
    rag: RAG, collection: str, version: str, *, tenant: str | None = None, action: str
) -> RollbackResult:
    """Serve retriever ``version`` of ``collection``, blue-green, recording ``action``.

    Used for rollbacks and for an admin's manual promotion of a version the gate did not
    promote; the audit log records which it was.

    Raises:
        ValidationError: the version is not a retriever of this collection.
        ModelNotFoundError: its model folder is gone.
        ConflictError: an improvement cycle of the collection is running.
    """
    col = rag.collection(collection, tenant)
    info = rag.registry.get(version)
    if info.kind != "retriever" or info.collection_id not in (None, col.id):
        raise ValidationError(
            f"version {version!r} is a {info.kind} of collection id {info.collection_id}, not a "
            f"retriever of {collection!r}; 'rsi-rag models list -c {collection}' shows its versions"
        )
    if info.status in ("training", "failed"):
        raise ValidationError(
            f"version {version!r} is {info.status} and cannot serve; pick a champion, retired, "
            "rejected or base version"
        )
    path = Path(info.path)
    if not info.path.startswith("instance:") and path.is_absolute() and not path.is_dir():
        raise ModelNotFoundError(f"the model folder of {version!r} ({path}) no longer exists")
    with CycleLock(rag.data_dir, col.id, collection):
        started = time.perf_counter()
        build_index(rag, col, version)
        seconds = time.perf_counter() - started
        previous = switch(rag, col, version, action=action)
    return RollbackResult(collection, previous, version, seconds)


def recover(rag: RAG, col: CollectionRef) -> list[str]:
    """Repair the state a killed cycle left; call with the collection's lock held.

    Returns:
        Ids of the versions cleaned up.
    """
    champion = rag.catalog.collection_by_id(col.id).retriever_version
    cleaned = []
    for info in rag.registry.list(col.id, "retriever"):
        if info.collection_id != col.id:
            continue
        if info.id == champion:
            if info.status != "champion":
                rag.registry.record_switch(col.id, "retriever", champion, None)
            continue
        if info.status in ("training", "candidate"):
            rag.registry.update(info.id, status="failed")
            rag.indexes.drop(col.id, info.id)
            shutil.rmtree(model_dir(rag, col.id, info.id), ignore_errors=True)
            cleaned.append(info.id)
        elif info.status == "champion":
            rag.registry.update(info.id, status="retired")
    root = rag.data_dir / "models" / str(col.id) / "retriever"
    if root.is_dir():
        for leftover in root.glob("*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
    for version in cleaned:
        shutil.rmtree(partial_dir(model_dir(rag, col.id, version)), ignore_errors=True)
    if cleaned:
        rag.catalog.audit(
            "retriever.recover",
            target=f"{col.tenant}/{col.name}",
            tenant_id=col.tenant_id,
            details={"cleaned": cleaned},
        )
    return cleaned
