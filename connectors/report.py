"""What a sync reports: per-item failures, counts and timings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SyncFailure", "SyncReport", "Tally"]


@dataclass(frozen=True)
class SyncFailure:
    """One item that could not be synced, after its retries."""

    item: str
    code: str
    message: str
    attempts: int = 1


@dataclass(frozen=True)
class SyncReport:
    """What one sync did.

    Attributes:
        listed: Items the listing returned.
        fetched: Items whose content was fetched (the rest were unchanged by version).
        unchanged: Items left alone: same version, or fetched with the same content.
        seconds: Wall time of the whole sync; ``timings`` splits it into listing the
            source, fetching and converting items, ingesting (chunk, embed, index) and
            deleting.
    """

    source: str
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    failed: tuple[SyncFailure, ...] = ()
    unchanged: int = 0
    listed: int = 0
    fetched: int = 0
    seconds: float = 0.0
    cursor: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["failed"] = [asdict(f) for f in self.failed]
        for key in ("added", "updated", "deleted"):
            d[key] = list(d[key])
        return d


@dataclass
class Tally:
    """What a sync has done so far (the report is built from it)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[SyncFailure] = field(default_factory=list)
    unchanged: int = 0
    fetched: int = 0
    timings: dict[str, float] = field(
        default_factory=lambda: {"list": 0.0, "fetch": 0.0, "ingest": 0.0, "delete": 0.0}
    )


class _Bar:
    """A rich progress bar over the items a sync fetches."""

    def __init__(self, total: int, label: str) -> None:
        from rich.progress import Progress

        self._p = Progress(transient=False)
        self._p.start()
        self._task = self._p.add_task(label, total=total)

    def advance(self) -> None:
        self._p.advance(self._task)

    def close(self) -> None:
        self._p.stop()
