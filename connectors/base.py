"""The connector interface: list what changed at a source, then fetch the changed items.

A sync asks a connector for a :class:`Listing` since the source's cursor, compares each
item's version with the version it ingested last time, and fetches only the items whose
version (or access list) differ. Connectors implement two protected methods,
:meth:`Connector._list` and :meth:`Connector._fetch`; the public methods validate.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from rsi_rag.errors import ValidationError

__all__ = [
    "Connector",
    "ConnectorOptions",
    "Fetched",
    "Item",
    "Listing",
    "TransientSourceError",
    "fingerprint",
    "parse_acl",
]

ACL_SUFFIX = ".acl"


class ConnectorOptions(BaseModel):
    """Base of every connector's options: unknown keys are refused, values are typed.

    Secrets are never options: an option names the environment variable that holds the
    secret (e.g. ``secret_access_key_env``), so the catalog and the logs never see it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    acl: tuple[str, ...] = ()
    """Principals given to every item that carries no access list of its own."""


@dataclass(frozen=True)
class Item:
    """One item as a source lists it, before its content is fetched.

    Attributes:
        id: Stable id of the item at the source (path, key, primary key, URL).
        version: Changes whenever the content changes (mtime and size, ETag, blob id,
            updated-at); equal versions are not fetched again.
        name: A file name whose ending tells the reader which format to parse.
        size: Size in bytes when the listing knows it (items over the limit are refused
            without being fetched).
        acl: Principals allowed to read it, or ``None`` when only the fetch tells.
        metadata: Free-form metadata kept with the document.
        content: The content when the listing already carries it (SQL rows, crawled pages).
    """

    id: str
    version: str
    name: str = ""
    size: int | None = None
    acl: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    content: bytes | str | None = None


@dataclass(frozen=True)
class Fetched:
    """An item's content: bytes parsed by file type, or text used as is."""

    content: bytes | str
    name: str = ""
    acl: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    """What a source holds, or what changed since the cursor.

    Attributes:
        items: Items that may have changed (all items when ``complete``).
        cursor: The cursor to store once the sync succeeded (``None`` keeps none).
        complete: ``items`` is everything the source holds, so any item ingested before
            and missing now was deleted.
        present: For incremental listings, the ids of every item still at the source
            when the connector can tell cheaply (e.g. primary keys); deletions follow.
        deleted: Ids the source reports as deleted.
    """

    items: list[Item]
    cursor: str | None = None
    complete: bool = True
    present: frozenset[str] | None = None
    deleted: tuple[str, ...] = ()


class TransientSourceError(Exception):
    """A failure worth retrying (timeout, connection reset, throttling)."""


def parse_acl(text: str) -> tuple[str, ...]:
    """Principals from an access-list sidecar: one per line or comma-separated; ``#`` starts
    a comment."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        out.extend(p.strip() for p in line.split(",") if p.strip())
    return tuple(sorted(set(out)))


def fingerprint(item: Item) -> str:
    """What decides whether an item must be fetched again: its version and access list."""
    acl = "" if item.acl is None else ",".join(sorted(item.acl))
    raw = f"{item.version}\x00{acl}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


class Connector(ABC):
    """A source of documents.

    Subclasses set ``type_name`` and ``Options`` and implement :meth:`_list` and
    :meth:`_fetch`. Errors that concern the whole source raise
    :class:`~rsi_rag.errors.SourceError` subclasses; errors about one item raise
    :class:`~rsi_rag.errors.IngestError` subclasses (not retried) or
    :class:`TransientSourceError` (retried with backoff).

    Args:
        options: Validated options (an instance of ``Options``).
        work_dir: A folder the connector may use for caches (e.g. a git clone).
    """

    type_name: ClassVar[str] = ""
    Options: ClassVar[type[ConnectorOptions]] = ConnectorOptions

    def __init__(self, options: ConnectorOptions, work_dir: Path | None = None) -> None:
        if not isinstance(options, self.Options):
            raise ValidationError(
                f"{type(self).__name__} takes {self.Options.__name__}, got {type(options).__name__}"
            )
        self.options = options
        self.work_dir = work_dir

    def list_changes(self, cursor: str | None) -> Listing:
        """Items that may have changed since ``cursor`` (``None``: a full listing)."""
        listing = self._list(cursor)
        if not isinstance(listing, Listing):
            raise TypeError(f"{type(self).__name__}._list must return a Listing")
        return listing

    def fetch(self, item: Item) -> Fetched:
        """The content of one listed item (listed content is returned without a request)."""
        if item.content is not None:
            return Fetched(item.content, item.name, item.acl, {})
        return self._fetch(item)

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release connections and clients."""

    @abstractmethod
    def _list(self, cursor: str | None) -> Listing: ...

    @abstractmethod
    def _fetch(self, item: Item) -> Fetched: ...
