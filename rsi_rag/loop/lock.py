"""One improvement cycle at a time per collection, across processes.

An exclusive ``flock`` on ``data_dir/locks/improve-<collection id>.lock``: the operating
system releases it when the holder exits, even on ``kill -9``, so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from rsi_rag.errors import ConflictError

__all__ = ["CycleLock"]


class CycleLock:
    """Context manager holding the improvement lock of one collection.

    Args:
        data_dir: The RAG data directory.
        collection_id: The collection.
        what: Name used in the error message.

    Raises:
        ConflictError: another cycle (or rollback) of this collection is running.
    """

    def __init__(self, data_dir: Path, collection_id: int, what: str = "collection") -> None:
        self.path = Path(data_dir) / "locks" / f"improve-{collection_id}.lock"
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConflictError(
                f"an improvement cycle or rollback is already running for {self.what} "
                f"(process {holder}); wait for it to finish and retry"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CycleLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
