"""Files under a folder (a local disk or a mounted file share).

Access lists come from sidecar files: ``report.pdf.acl`` for one file, or a ``.acl`` file
in a folder for everything under it (the nearest one wins), else the ``acl`` option. The
version is the file's modification time and size, so a listing needs no reads.
"""

from __future__ import annotations

import os
from pathlib import Path

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

__all__ = ["FilesystemConnector", "FilesystemOptions"]

DEFAULT_SUFFIXES = (".csv", ".docx", ".htm", ".html", ".json", ".md", ".markdown", ".pdf", ".txt")


class FilesystemOptions(ConnectorOptions):
    """Options of the ``filesystem`` connector.

    Attributes:
        root: The folder to sync (recursively; hidden files and folders are skipped).
        suffixes: File endings to sync; other files are ignored.
    """

    root: str
    suffixes: tuple[str, ...] = DEFAULT_SUFFIXES


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
        return Path(self.options.root).expanduser().resolve()

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
        default_acl = tuple(self.options.acl)
        items: list[Item] = []
        folder_acl: dict[str, tuple[str, ...]] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            here = Path(dirpath)
            parent = str(here.parent) if here != root else None
            inherited = folder_acl.get(parent, default_acl) if parent else default_acl
            names = set(filenames)
            acl_here = _read_acl(here / ACL_SUFFIX) if ACL_SUFFIX in names else inherited
            folder_acl[dirpath] = acl_here
            for name in sorted(filenames):
                if name.startswith(".") or Path(name).suffix.lower() not in suffixes:
                    continue
                path = here / name
                try:
                    st = path.stat()
                except OSError:
                    continue  # removed while listing; the next sync sees it gone
                sidecar = name + ACL_SUFFIX
                acl = _read_acl(here / sidecar) if sidecar in names else acl_here
                items.append(
                    Item(
                        id=path.as_uri(),
                        version=f"{st.st_mtime_ns}:{st.st_size}",
                        name=str(path),
                        size=st.st_size,
                        acl=acl,
                        metadata={
                            "file_name": name,
                            "file_type": path.suffix.lower().lstrip("."),
                            "path": str(path.relative_to(root)),
                        },
                    )
                )
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
