"""Sync jobs: keep a collection in step with a named source.

One sync lists the source since its cursor, fetches only the items whose version or access
list changed, ingests them in batches (recording each batch's item states, so a restart
resumes where it stopped), deletes the documents of items gone from the source, and stores
the cursor. A failing item is retried with exponential backoff, then reported; it never
stops the sync.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from connectors.base import Connector, Item, Listing, TransientSourceError, fingerprint
from connectors.convert import to_text
from connectors.registry import create_connector, parse_options
from connectors.report import SyncFailure, SyncReport, Tally, _Bar
from connectors.store import ItemState, SourceInfo, SourceStore
from rsi_rag.errors import (
    ConflictError,
    FileTooLargeError,
    RsiRagError,
    UnknownCollectionError,
    ValidationError,
)
from rsi_rag.types import SourceDocument

if TYPE_CHECKING:
    from rsi_rag.rag import RAG

__all__ = ["SyncFailure", "SyncReport", "SyncRunner"]

log = logging.getLogger(__name__)
_MASS_DELETE_MIN = 20
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


class SyncRunner:
    """Adds, lists, removes and syncs the named sources of one RAG instance.

    Args:
        rag: The RAG whose catalog stores the sources and whose collections are synced.
        retries: Attempts per item for transient failures.
        backoff_s: First wait between attempts; doubles each time, up to ``max_backoff_s``.
        batch_size: Items ingested (and their state recorded) per batch.
        stale_after_s: A sync still marked running after this long is taken as abandoned.
        fetch_workers: Items fetched at the same time (connectors are thread-safe).
        tenant: The tenant whose sources these are (default: the RAG's tenant).
        max_delete_fraction: A sync that would delete more than this share of a source's
            items (of at least 20) stops instead, unless told otherwise.
    """

    def __init__(
        self,
        rag: RAG,
        *,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        batch_size: int = 256,
        stale_after_s: float = 3600.0,
        fetch_workers: int = 8,
        tenant: str | None = None,
        max_delete_fraction: float = 0.5,
    ) -> None:
        if retries < 1 or backoff_s < 0 or batch_size < 1:
            raise ValidationError(
                f"retries ({retries}) and batch_size ({batch_size}) must be >= 1 and "
                f"backoff_s ({backoff_s}) >= 0"
            )
        self.rag = rag
        self.tenant = tenant or rag.tenant
        self.max_delete_fraction = max_delete_fraction
        self.store = SourceStore(rag.catalog.engine)
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.batch_size = batch_size
        self.stale_after_s = stale_after_s
        self.fetch_workers = max(1, fetch_workers)

    # -- sources -------------------------------------------------------------------------

    def add_source(
        self,
        name: str,
        type_name: str,
        collection: str,
        options: Mapping[str, Any] | None = None,
        *,
        interval_s: float | None = None,
    ) -> SourceInfo:
        """Validate and store a named source (options are checked before anything is kept)."""
        if not isinstance(name, str) or not name or len(name) > 128 or set(name) - _NAME_CHARS:
            raise ValidationError(
                f"source name {name!r} is invalid; use 1-128 letters, digits, '-', '_' or '.'"
            )
        if interval_s is not None and interval_s <= 0:
            raise ValidationError(
                f"interval must be a positive number of seconds, got {interval_s}"
            )
        if not isinstance(collection, str) or not collection or set(collection) - _NAME_CHARS:
            raise ValidationError(
                f"collection name {collection!r} is invalid; use letters, digits, '-', '_', '.'"
            )
        opts = parse_options(type_name, options or {})
        stored = opts.model_dump(mode="json", exclude_defaults=True)
        return self.store.add(self.tenant, name, type_name, collection, stored, interval_s)

    def sources(self) -> list[SourceInfo]:
        return self.store.list_sources(self.tenant)

    def source(self, name: str) -> SourceInfo:
        return self.store.get(self.tenant, name)

    def remove_source(self, name: str, *, delete_documents: bool = True) -> int:
        """Forget a source; by default also delete the documents it brought in."""
        info = self.store.get(self.tenant, name)
        docs = self.store.remove(self.tenant, name)
        return self._delete(info.collection, docs) if delete_documents else 0

    def _delete(self, collection: str, document_sources: Sequence[str]) -> int:
        """Delete documents by source (one index write for all); returns how many existed."""
        if not document_sources:
            return 0
        try:
            return self.rag.delete_documents(collection, document_sources, tenant=self.tenant)
        except UnknownCollectionError:
            return 0

    # -- syncing -------------------------------------------------------------------------

    def connector(self, info: SourceInfo) -> Connector:
        work = self.rag.data_dir / "connectors" / f"{info.tenant}-{info.name}"
        return create_connector(info.type, info.options, work)

    def sync(
        self, name: str, *, progress: bool = False, allow_mass_delete: bool = False
    ) -> SyncReport:
        """Sync one source now.

        Args:
            name: The source's name.
            progress: Show a progress bar over the items fetched.
            allow_mass_delete: Delete even when more than ``max_delete_fraction`` of the
                items synced before are gone from the source.

        Raises:
            SourceError: the source could not be listed (unreachable, credentials refused).
            ConflictError: another sync of this source is running, or the source lost most
                of its items at once (see ``allow_mass_delete``).
        """
        started = time.perf_counter()
        info = self.store.get(self.tenant, name)
        sync_id = self.store.begin_sync(info.id, self.stale_after_s)
        tally = Tally()
        listing: Listing | None = None
        try:
            connector = self.connector(info)
            try:
                t0 = time.perf_counter()
                listing = connector.list_changes(info.cursor)
                tally.timings["list"] += time.perf_counter() - t0
                self._apply(info, connector, listing, tally, progress, allow_mass_delete)
            finally:
                connector.close()
        except BaseException as exc:
            report = self._report(info, tally, listing, started)
            message = (
                exc.message if isinstance(exc, RsiRagError) else f"{type(exc).__name__}: {exc}"
            )
            self.store.end_sync(sync_id, info.id, "failed", report.to_dict(), error=message)
            log.warning("sync of source %r failed: %s", name, message)
            raise
        report = self._report(info, tally, listing, started)
        # An incremental cursor moves only when every item made it, or failed items would
        # never be listed again.
        advance = listing.complete or not tally.failed
        self.store.end_sync(
            sync_id,
            info.id,
            "succeeded",
            report.to_dict(),
            cursor=listing.cursor,
            set_cursor=advance,
        )
        log.info(
            "synced source %r: +%d ~%d -%d failed %d in %.2fs",
            name,
            len(report.added),
            len(report.updated),
            len(report.deleted),
            len(report.failed),
            report.seconds,
        )
        return report

    def _report(
        self, info: SourceInfo, t: Tally, listing: Listing | None, started: float
    ) -> SyncReport:
        return SyncReport(
            info.name,
            tuple(t.added),
            tuple(t.updated),
            tuple(t.deleted),
            tuple(t.failed),
            t.unchanged,
            len(listing.items) if listing else 0,
            t.fetched,
            time.perf_counter() - started,
            listing.cursor if listing else None,
            {k: round(v, 4) for k, v in t.timings.items()},
        )

    def _apply(
        self,
        info: SourceInfo,
        connector: Connector,
        listing: Listing,
        tally: Tally,
        progress: bool,
        allow_mass_delete: bool,
    ) -> None:
        known = self.store.states(info.id)
        todo = [
            it
            for it in listing.items
            if it.id not in known or known[it.id].fingerprint != fingerprint(it)
        ]
        tally.unchanged += len(listing.items) - len(todo)
        present: set[str] | frozenset[str] | None = (
            {it.id for it in listing.items} if listing.complete else listing.present
        )
        gone = set(listing.deleted)
        if present is not None:
            gone |= set(known) - present
        gone &= set(known)
        # An unmounted share or an emptied bucket looks like "everything was deleted";
        # refuse to act on it unless told to.
        if (
            not allow_mass_delete
            and len(known) >= _MASS_DELETE_MIN
            and len(gone) > self.max_delete_fraction * len(known)
        ):
            raise ConflictError(
                f"source {info.name!r} no longer lists {len(gone)} of the {len(known)} items "
                f"synced before (over {self.max_delete_fraction:.0%}); check that it is "
                "mounted and complete, or sync with allow_mass_delete (--allow-mass-delete)"
            )
        bar = _Bar(len(todo), f"sync {info.name}") if progress and todo else None
        try:
            with ThreadPoolExecutor(self.fetch_workers, thread_name_prefix="fetch") as pool:
                for start in range(0, len(todo), self.batch_size):
                    batch = todo[start : start + self.batch_size]
                    self._ingest_batch(info, connector, batch, tally, bar, pool)
        finally:
            if bar is not None:
                bar.close()
        if not listing.complete:
            # Items an incremental listing left out are unchanged too.
            tally.unchanged += len(set(known) - {it.id for it in listing.items} - gone)
        t0 = time.perf_counter()
        self._delete(info.collection, [known[i].document_source for i in sorted(gone)])
        tally.timings["delete"] += time.perf_counter() - t0
        tally.deleted.extend(sorted(gone))
        self.store.drop_states(info.id, gone)

    def _ingest_batch(
        self,
        info: SourceInfo,
        connector: Connector,
        batch: Sequence[Item],
        tally: Tally,
        bar: _Bar | None,
        pool: ThreadPoolExecutor,
    ) -> None:
        by_doc: dict[str, Item] = {}
        docs: list[SourceDocument] = []
        t0 = time.perf_counter()
        # Fetches overlap (network sources wait on round trips); results keep list order.
        for item, (outcome, fetched) in zip(
            batch, pool.map(lambda it: self._fetch(info, connector, it), batch), strict=True
        ):
            tally.fetched += fetched
            if bar is not None:
                bar.advance()
            if isinstance(outcome, SyncFailure):
                tally.failed.append(outcome)
            else:
                by_doc[outcome.source_id] = item
                docs.append(outcome)
        tally.timings["fetch"] += time.perf_counter() - t0
        if not docs:
            return
        t0 = time.perf_counter()
        result = self.rag.ingest_documents(iter(docs), info.collection, tenant=self.tenant)
        tally.timings["ingest"] += time.perf_counter() - t0
        states: dict[str, ItemState] = {}
        for bucket, names in (
            (tally.added, result.added),
            (tally.updated, result.updated),
            (None, result.unchanged),
        ):
            for source_id in names:
                item = by_doc[source_id]
                states[item.id] = ItemState(fingerprint(item), source_id)
                if bucket is None:
                    tally.unchanged += 1
                else:
                    bucket.append(item.id)
        for f in result.failed:
            item_id = by_doc[f.source].id if f.source in by_doc else f.source
            tally.failed.append(SyncFailure(item_id, f.code, f.message))
        self.store.save_states(info.id, states)

    def _fetch(
        self, info: SourceInfo, connector: Connector, item: Item
    ) -> tuple[SourceDocument | SyncFailure, bool]:
        """The item as a document, or its failure; and whether its content was requested."""
        limit = self.rag.config.max_file_bytes
        attempts = 0
        try:
            if item.size is not None and item.size > limit:
                raise FileTooLargeError(
                    f"{item.id} is {item.size} bytes, over the limit of {limit}; split it at "
                    "the source or raise max_file_bytes",
                    source=item.id,
                )
            for attempt in Retrying(
                stop=stop_after_attempt(self.retries),
                wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
                retry=retry_if_exception_type(TransientSourceError),
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    fetched = connector.fetch(item)
            text = to_text(fetched.content, fetched.name or item.name or item.id, limit)
        except TransientSourceError as exc:
            return SyncFailure(item.id, "source_unavailable", str(exc), attempts), True
        except RsiRagError as exc:
            message = exc.message if item.id in exc.message else f"{item.id}: {exc.message}"
            return SyncFailure(item.id, exc.code, message, max(attempts, 1)), attempts > 0
        except Exception as exc:  # one broken item must not stop the sync
            failure = SyncFailure(
                item.id, "fetch_error", f"{item.id}: {type(exc).__name__}: {exc}", max(attempts, 1)
            )
            return failure, True
        acl = fetched.acl if fetched.acl is not None else item.acl
        if acl is None:
            acl = tuple(info.options.get("acl", ()))
        metadata = {
            "connector": info.type,
            "source_name": info.name,
            "item_id": item.id,
            **item.metadata,
            **fetched.metadata,
        }
        return SourceDocument(item.id, text, metadata, tuple(acl), item.version), True
