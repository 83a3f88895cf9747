"""Ingestion: documents to chunks to vectors, in the catalog and the index.

Order of writes, per batch: embed, commit the catalog, update the in-memory index, and
save the index file at the end. A kill at any point leaves the catalog either with or
without each document, never half; the index is repaired against the catalog when next
opened (see :mod:`rsi_rag.index.manager`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rsi_rag.errors import IngestError, RsiRagError
from rsi_rag.ingest.readers import read_file
from rsi_rag.types import IngestFailure, IngestReport, SourceDocument

if TYPE_CHECKING:
    from rsi_rag.embed.base import Embedder
    from rsi_rag.index.manager import IndexManager
    from rsi_rag.ingest.chunker import Chunker
    from rsi_rag.store.catalog import Catalog, CollectionRef

__all__ = ["Ingestor", "content_hash", "iter_files", "load_files"]


def content_hash(doc: SourceDocument) -> str:
    return hashlib.sha256(doc.text.encode("utf-8")).hexdigest()


def iter_files(paths: Iterable[Path | str]) -> Iterator[Path]:
    """Files named, and files under folders named (hidden ones skipped), sorted."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if f.is_file() and not any(part.startswith(".") for part in rel.parts):
                    yield f
        else:
            yield path


def load_files(
    paths: Iterable[Path | str],
    max_bytes: int,
    failures: list[IngestFailure],
    acl: tuple[str, ...] = (),
) -> Iterator[SourceDocument]:
    """Read files lazily; each bad file is added to ``failures`` and skipped."""
    for path in iter_files(paths):
        try:
            if not path.exists():
                raise IngestError(f"{path} does not exist; check the path", source=str(path))
            text = read_file(path, max_bytes)
        except IngestError as exc:
            failures.append(IngestFailure(str(path), exc.code, exc.message))
            continue
        except OSError as exc:
            failures.append(IngestFailure(str(path), "io_error", f"{path}: {exc}"))
            continue
        resolved = path.resolve()
        yield SourceDocument(
            source_id=str(resolved),
            text=text,
            metadata={"file_name": path.name, "file_type": path.suffix.lower().lstrip(".")},
            acl=acl,
        )


@dataclass
class _Pending:
    doc: SourceDocument
    digest: str
    chunks: list[str]


class Ingestor:
    """Ingests documents into one collection's champion index."""

    def __init__(
        self,
        catalog: Catalog,
        indexes: IndexManager,
        embedder: Embedder,
        chunker: Chunker,
        *,
        batch_chunks: int = 512,
        save_every_chunks: int = 4096,
        embed_batch_size: int = 64,
    ) -> None:
        self.catalog = catalog
        self.indexes = indexes
        self.embedder = embedder
        self.chunker = chunker
        self.batch_chunks = batch_chunks
        self.save_every_chunks = save_every_chunks
        self.embed_batch_size = embed_batch_size

    def ingest(
        self,
        col: CollectionRef,
        docs: Iterable[SourceDocument],
        *,
        failures: list[IngestFailure] | None = None,
        progress: bool = False,
        total: int | None = None,
    ) -> IngestReport:
        import numpy as np

        failures = failures if failures is not None else []
        version = col.retriever_version
        index = self.indexes.get(col, version, self.embedder)
        added: list[str] = []
        updated: list[str] = []
        unchanged: list[str] = []
        n_added = n_removed = since_save = 0
        pending: list[_Pending] = []
        pending_chunks = 0

        def flush() -> None:
            nonlocal pending_chunks, n_added, n_removed, since_save
            if not pending:
                return
            texts = [c for p in pending for c in p.chunks]
            vectors = self.embedder.encode(texts, batch_size=self.embed_batch_size)
            offsets = np.cumsum([0] + [len(p.chunks) for p in pending])
            with self.indexes.lock(col.id, version):
                changes = self.catalog.upsert_documents(
                    col, [(p.doc, p.digest, p.chunks) for p in pending]
                )
                for i, (p, change) in enumerate(zip(pending, changes, strict=True)):
                    if change.status == "unchanged":
                        unchanged.append(p.doc.source_id)
                        continue
                    (added if change.status == "added" else updated).append(p.doc.source_id)
                    n_removed += index.remove(np.asarray(change.removed_chunk_ids))
                    index.add(
                        np.asarray(change.added_chunk_ids), vectors[offsets[i] : offsets[i + 1]]
                    )
                    n_added += len(change.added_chunk_ids)
                    since_save += len(change.added_chunk_ids)
                if since_save >= self.save_every_chunks:
                    index.save()
                    since_save = 0
            pending.clear()
            pending_chunks = 0

        def prepare(batch: list[SourceDocument]) -> None:
            nonlocal pending_chunks
            known = self.catalog.find_documents(col.id, [d.source_id for d in batch])
            for doc in batch:
                try:
                    digest = content_hash(doc)
                    found = known.get(doc.source_id)
                    # Same content and same ACL: nothing to do (an ACL change rewrites).
                    if found is not None and found[1] == digest and found[2] == tuple(doc.acl):
                        unchanged.append(doc.source_id)
                        continue
                    chunks = self.chunker.split(doc.text)
                    if not chunks:
                        raise IngestError(f"{doc.source_id} holds no text", source=doc.source_id)
                except RsiRagError as exc:
                    failures.append(IngestFailure(doc.source_id, exc.code, exc.message))
                    continue
                pending.append(_Pending(doc, digest, chunks))
                pending_chunks += len(chunks)
                if pending_chunks >= self.batch_chunks:
                    flush()

        bar = _progress(progress, total)
        batch: list[SourceDocument] = []
        try:
            for doc in docs:
                if bar is not None:
                    bar.advance()
                batch.append(doc)
                if len(batch) >= 256:
                    prepare(batch)
                    batch = []
            prepare(batch)
            flush()
        finally:
            if bar is not None:
                bar.close()
            with self.indexes.lock(col.id, version):
                index.save()
                fresh = self.catalog.collection_by_id(col.id)
                self.indexes.mark_current(col.id, version, index, fresh.revision)
        return IngestReport(
            added=tuple(added),
            updated=tuple(updated),
            unchanged=tuple(unchanged),
            failed=tuple(failures),
            chunks_added=n_added,
            chunks_removed=n_removed,
        )


class _Progress:
    """A rich progress bar over documents."""

    def __init__(self, total: int | None) -> None:
        from rich.progress import Progress

        self._p = Progress(transient=False)
        self._p.start()
        self._task = self._p.add_task("ingesting", total=total)

    def advance(self) -> None:
        self._p.advance(self._task)

    def close(self) -> None:
        self._p.stop()


def _progress(enabled: bool, total: int | None) -> _Progress | None:
    return _Progress(total) if enabled else None
