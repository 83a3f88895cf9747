"""Files under a folder (a local disk or a mounted file share).

Access lists come from sidecar files: ``report.pdf.acl`` for one file, or a ``.acl`` file
in a folder for everything under it (the nearest one wins), else the ``acl`` option. The
version is the file's modification time and size, so a listing needs no reads.

``RSI_RAG_FILESYSTEM_ROOTS`` (folders separated by ``os.pathsep``) confines roots to those
folders. The service refuses filesystem sources from its API unless it is set, so a tenant
admin cannot read arbitrary folders of the server.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote_from_bytes

from pydantic import field_validator

from connectors.base import (
    ACL_SUFFIX,
    Connector,
    ConnectorOptions,
    Fetched,
    Item,
    Listing,
    parse_acl,
)
from connectors.registry import register_connector
from rsi_rag.errors import ConfigError, IngestError, SourceUnavailableError

__all__ = ["ROOTS_ENV", "FilesystemConnector", "FilesystemOptions", "allowed_roots", "check_root"]

ROOTS_ENV = "RSI_RAG_FILESYSTEM_ROOTS"

DEFAULT_SUFFIXES = (".csv", ".docx", ".htm", ".html", ".json", ".md", ".markdown", ".pdf", ".txt")


class FilesystemOptions(ConnectorOptions):
    """Options of the ``filesystem`` connector.

    Attributes:
        root: The folder to sync (recursively; hidden files and folders are skipped).
        suffixes: File endings to sync; other files are ignored.
    """

    root: str
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES

    @field_validator("root")
    @classmethod
    def _confined(cls, value: str) -> str:
        check_root(value)
        return value


def allowed_roots() -> list[Path] | None:
    """The folders of ``RSI_RAG_FILESYSTEM_ROOTS``, or None when it is unset."""
    raw = os.environ.get(ROOTS_ENV, "").strip()
    if not raw:
        return None
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def check_root(root: str | Path) -> Path:
    """``root`` resolved (links followed); refused when it lies outside the allowed roots."""
    resolved = Path(root).expanduser().resolve()
    allowed = allowed_roots()
    if allowed is not None and not any(resolved.is_relative_to(a) for a in allowed):
        raise ValueError(
            f"root {str(resolved)!r} is outside the folders {ROOTS_ENV} allows "
            f"({', '.join(str(a) for a in allowed)}); pick a folder under one of them"
        )
    return resolved


def _read_acl(path: Path) -> tuple[str, ...]:
    try:
        return parse_acl(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"access list {path} cannot be read ({exc}); fix or remove it") from exc


@register_connector
class FilesystemConnector(Connector):
    """Sync the files under ``root``."""

    type_name = "filesystem"
    Options = FilesystemOptions

    @property
    def root(self) -> Path:
        assert isinstance(self.options, FilesystemOptions)
        try:  # checked again here: the allowed roots may have changed since it was added
            return check_root(self.options.root)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def _list(self, cursor: str | None) -> Listing:
        assert isinstance(self.options, FilesystemOptions)
        root = self.root
        if not root.is_dir():
            raise SourceUnavailableError(
                f"filesystem root {str(root)!r} is not a folder; check the 'root' option "
                "and that the share is mounted"
            )
        suffixes = {
            s.lower() if s.startswith(".") else f".{s.lower()}" for s in self.options.suffixes
        }
        items: list[Item] = []
        # os.scandir and plain strings: a listing stats every file, so it must stay cheap
        # for shares of hundreds of thousands of files.
        stack = [(str(root), tuple(self.options.acl))]
        prefix = len(str(root)) + 1
        while stack:
            folder, inherited = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue  # unreadable or removed while listing; the next sync sees it
            names = {e.name for e in entries}
            here = _read_acl(Path(folder, ACL_SUFFIX)) if ACL_SUFFIX in names else inherited
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, here))
                    continue
                ext = os.path.splitext(name)[1].lower()
                if ext not in suffixes:
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue
                sidecar = name + ACL_SUFFIX
                items.append(
                    Item(
                        id="file://" + quote_from_bytes(os.fsencode(entry.path)),
                        version=f"{st.st_mtime_ns}:{st.st_size}",
                        name=entry.path,
                        size=st.st_size,
                        acl=_read_acl(Path(folder, sidecar)) if sidecar in names else here,
                        metadata={
                            "file_name": name,
                            "file_type": ext.lstrip("."),
                            "path": entry.path[prefix:],
                        },
                    )
                )
        items.sort(key=lambda it: it.name)
        return Listing(items, cursor=None, complete=True)

    def _fetch(self, item: Item) -> Fetched:
        path = Path(item.name)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise IngestError(
                f"{path} was removed after it was listed; the next sync deletes it", source=item.id
            ) from exc
        except OSError as exc:
            raise IngestError(f"{path} cannot be read: {exc}", source=item.id) from exc
        return Fetched(data, str(path))
