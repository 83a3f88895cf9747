"""Exports of Confluence (space export as HTML), Notion (Markdown & CSV) and Slack
(workspace export), read from the folder or the ``.zip`` the product writes.

An export's file list is its listing: a file's version is its zip CRC and size (or its
modification time and size in a folder), so a new export re-ingests only what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from connectors.base import Connector, ConnectorOptions, Fetched, Item, Listing
from connectors.convert import decode_utf8
from connectors.registry import register_connector
from rsi_rag.errors import CorruptFileError, IngestError, SourceUnavailableError

__all__ = ["ConfluenceConnector", "ExportOptions", "NotionConnector", "SlackConnector"]

_NOTION_ID = re.compile(r"^(?P<title>.*?)\s*(?P<id>[0-9a-f]{32})$")
_CONFLUENCE_ID = re.compile(r"(?:^|_)(?P<id>\d+)\.html$")


class ExportOptions(ConnectorOptions):
    """Options of the export connectors.

    Attributes:
        path: The export: a folder, or the ``.zip`` file as downloaded.
    """

    path: str


class _Archive:
    """Uniform read access to an export folder or zip file."""

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser().resolve()
        if not self.path.exists():
            raise SourceUnavailableError(
                f"export {str(self.path)!r} does not exist; check the 'path' option"
            )
        self._zip: zipfile.ZipFile | None = None
        if self.path.is_file():
            try:
                self._zip = zipfile.ZipFile(self.path)
            except zipfile.BadZipFile as exc:
                raise SourceUnavailableError(
                    f"export {str(self.path)!r} is neither a folder nor a valid zip file"
                ) from exc

    def entries(self) -> dict[str, tuple[str, int]]:
        """``{relative posix path: (version, size)}`` for every file."""
        if self._zip is not None:
            return {
                i.filename: (f"{i.CRC:08x}:{i.file_size}", i.file_size)
                for i in self._zip.infolist()
                if not i.is_dir()
            }
        out = {}
        for f in self.path.rglob("*"):
            if f.is_file():
                st = f.stat()
                out[f.relative_to(self.path).as_posix()] = (
                    f"{st.st_mtime_ns}:{st.st_size}",
                    st.st_size,
                )
        return out

    def read(self, name: str) -> bytes:
        try:
            if self._zip is not None:
                return self._zip.read(name)
            return (self.path / name).read_bytes()
        except (KeyError, OSError) as exc:
            raise IngestError(f"{name} cannot be read from the export: {exc}", source=name) from exc

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


class _ExportConnector(Connector):
    Options = ExportOptions

    @contextmanager
    def archive(self) -> Iterator[_Archive]:
        assert isinstance(self.options, ExportOptions)
        arc = _Archive(self.options.path)
        try:
            yield arc
        finally:
            arc.close()

    def _fetch(self, item: Item) -> Fetched:
        with self.archive() as arc:
            return self._convert(item, arc.read(str(item.metadata["export_path"])))

    def _convert(self, item: Item, data: bytes) -> Fetched:
        return Fetched(data, item.name)


@register_connector
class ConfluenceConnector(_ExportConnector):
    """A Confluence space exported as HTML: one document per page, by page id."""

    type_name = "confluence"

    def _list(self, cursor: str | None) -> Listing:
        items = []
        with self.archive() as arc:
            for name, (version, size) in sorted(arc.entries().items()):
                p = PurePosixPath(name)
                if p.suffix != ".html" or p.name == "index.html" or "attachments" in p.parts:
                    continue
                m = _CONFLUENCE_ID.search(p.name)
                page = m.group("id") if m else p.stem
                items.append(
                    Item(
                        id=f"confluence:{p.parent.name or 'space'}/{page}",
                        version=version,
                        name=name,
                        size=size,
                        acl=tuple(self.options.acl),
                        metadata={"export_path": name, "page_id": page, "space": p.parent.name},
                    )
                )
        return Listing(items, complete=True)

    def _convert(self, item: Item, data: bytes) -> Fetched:
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(decode_utf8(data, item.name), "html.parser")
        title = soup.title.get_text(" ", strip=True) if soup.title else ""
        # Export titles read "SPACE : Page title"; keep the page's own title.
        title = title.split(" : ", 1)[-1]
        body = soup.find(id="main-content") or soup.body or soup
        for tag in body.find_all(["script", "style"]):
            tag.decompose()
        lines = (ln.strip() for ln in body.get_text("\n").splitlines())
        text = "\n".join(ln for ln in lines if ln)
        return Fetched(f"{title}\n\n{text}" if title else text, item.name, None, {"title": title})


@register_connector
class NotionConnector(_ExportConnector):
    """A Notion "Markdown & CSV" export: pages and databases, by their Notion id."""

    type_name = "notion"

    def _list(self, cursor: str | None) -> Listing:
        items = []
        with self.archive() as arc:
            for name, (version, size) in sorted(arc.entries().items()):
                p = PurePosixPath(name)
                if p.suffix not in (".md", ".csv") or p.stem.endswith("_all"):
                    continue
                m = _NOTION_ID.match(p.stem)
                page, title = (m.group("id"), m.group("title")) if m else (name, p.stem)
                items.append(
                    Item(
                        id=f"notion:{page}",
                        version=version,
                        name=name,
                        size=size,
                        acl=tuple(self.options.acl),
                        metadata={
                            "export_path": name,
                            "page_id": page,
                            "title": title,
                            "kind": "database" if p.suffix == ".csv" else "page",
                        },
                    )
                )
        return Listing(items, complete=True)


@register_connector
class SlackConnector(_ExportConnector):
    """A Slack workspace export: one document per channel and day.

    Public channels get the ``acl`` option; private channels, group and direct messages
    get their members, as ``slack:<user id>`` principals.
    """

    type_name = "slack"

    def _json(self, arc: _Archive, name: str, entries: dict[str, tuple[str, int]]) -> Any:
        if name not in entries:
            return []
        try:
            return json.loads(decode_utf8(arc.read(name), name))
        except json.JSONDecodeError as exc:
            raise SourceUnavailableError(
                f"{name} in the Slack export is not valid JSON: {exc}; re-export the workspace"
            ) from exc

    def _list(self, cursor: str | None) -> Listing:
        items = []
        with self.archive() as arc:
            entries = arc.entries()
            channels: dict[str, tuple[str, tuple[str, ...] | None]] = {}
            for c in self._json(arc, "channels.json", entries):
                channels[c["name"]] = (c.get("id", c["name"]), None)
            for file in ("groups.json", "mpims.json", "dms.json"):
                for c in self._json(arc, file, entries):
                    folder = c.get("name") or c["id"]
                    channels[folder] = (
                        c["id"],
                        tuple(sorted(f"slack:{u}" for u in c.get("members", []))),
                    )
            for name, (version, size) in sorted(entries.items()):
                p = PurePosixPath(name)
                if len(p.parts) != 2 or p.suffix != ".json" or p.parts[0] not in channels:
                    continue
                cid, private = channels[p.parts[0]]
                acl: tuple[str, ...] = private if private is not None else tuple(self.options.acl)
                tag = hashlib.sha256(",".join(acl).encode()).hexdigest()[:8]
                items.append(
                    Item(
                        id=f"slack:{p.parts[0]}/{p.stem}",
                        version=f"{version}:{tag}",
                        name=name,
                        size=size,
                        acl=acl,
                        metadata={
                            "export_path": name,
                            "channel": p.parts[0],
                            "channel_id": cid,
                            "date": p.stem,
                            "private": private is not None,
                        },
                    )
                )
        return Listing(items, complete=True)

    def _fetch(self, item: Item) -> Fetched:
        with self.archive() as arc:
            entries = arc.entries()
            users = {
                u["id"]: u.get("real_name") or u.get("name") or u["id"]
                for u in self._json(arc, "users.json", entries)
            }
            raw = arc.read(str(item.metadata["export_path"]))
        try:
            messages = json.loads(decode_utf8(raw, item.name))
        except json.JSONDecodeError as exc:
            raise CorruptFileError(
                f"{item.name} is not valid JSON (line {exc.lineno}: {exc.msg}); re-export it",
                source=item.id,
            ) from exc
        mention = re.compile(r"<@(U[A-Z0-9]+)>")
        lines = [f"#{item.metadata['channel']} {item.metadata['date']}"]
        for msg in messages if isinstance(messages, list) else []:
            text = str(msg.get("text", "")).strip()
            if not text:
                continue
            who = users.get(msg.get("user", ""), msg.get("user_name") or msg.get("user", "?"))
            text = mention.sub(lambda m: "@" + str(users.get(m.group(1), m.group(1))), text)
            lines.append(f"{who}: {text}")
        return Fetched("\n".join(lines) if len(lines) > 1 else "", item.name)
