"""A simple interval scheduler: sync each source whose interval has elapsed."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from connectors.sync import SyncReport, SyncRunner
from rsi_rag.errors import RsiRagError

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Scheduler:
    """Runs due syncs one after another, on the calling thread or a background one.

    A source is due when it has an interval and its last sync (successful or not) is older
    than that interval, or it was never synced. A failing sync is logged and retried at
    the next interval; it never stops the scheduler.

    Args:
        runner: The sync runner of the RAG instance.
        poll_s: How often :meth:`run_forever` looks for due sources.
        clock: Returns the current UTC time (tests pass a fake clock).
    """

    def __init__(
        self,
        runner: SyncRunner,
        *,
        poll_s: float = 5.0,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        self.runner = runner
        self.poll_s = poll_s
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self) -> list[str]:
        """Names of the sources due for a sync now."""
        now = self.clock()
        out = []
        for src in self.runner.sources():
            if src.interval_s is None:
                continue
            if (
                src.last_sync_at is None
                or (now - src.last_sync_at).total_seconds() >= src.interval_s
            ):
                out.append(src.name)
        return out

    def run_pending(self) -> dict[str, SyncReport | str]:
        """Sync every due source once; returns each report, or the error message."""
        results: dict[str, SyncReport | str] = {}
        for name in self.due():
            try:
                results[name] = self.runner.sync(name)
            except RsiRagError as exc:
                log.warning("scheduled sync of %r failed: %s", name, exc.message)
                results[name] = exc.message
            except Exception as exc:  # a broken connector must not stop the other sources
                log.exception("scheduled sync of %r failed", name)
                results[name] = f"{type(exc).__name__}: {exc}"
        return results

    def run_forever(self) -> None:
        """Run due syncs until :meth:`stop` is called."""
        while not self._stop.is_set():
            self.run_pending()
            self._stop.wait(self.poll_s)

    def start(self) -> None:
        """Run the scheduler on a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, name="connector-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
