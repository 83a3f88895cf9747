"""One harness per connector: writes items into that connector's real source.

The contract suite speaks to every source through the same small interface: ``put`` an
item (text or raw bytes, with an optional access list), ``remove`` it, ``publish`` the
changes (a git commit, a new export, a regenerated sitemap), and ``broken_options`` for a
source that cannot be reached.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path
from typing import Any

from connectors.testing import (
    IMAP_PASSWORD,
    IMAP_USER,
    PG_PASSWORD,
    S3_KEY,
    S3_SECRET,
    DovecotServer,
    HttpServer,
    PostgresServer,
    S3Server,
    free_port,
)

__all__ = ["HARNESSES", "Harness"]


class Harness:
    """Base: items are files named ``<name><suffix>`` under ``self.root``."""

    type_name = ""
    item_acl = True  # the source carries per-item access lists
    suffix = ".md"

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "source"
        self.root.mkdir(parents=True, exist_ok=True)

    def principal(self, user: str) -> str:
        return user

    def key(self, name: str) -> str:
        """A string found in the item id (and document source) of item ``name``."""
        return name

    def options(self) -> dict[str, Any]:
        return {"root": str(self.root), "acl": "staff"}

    def broken_options(self) -> dict[str, Any]:
        return {"root": str(self.tmp / "no-such-folder")}

    def _path(self, name: str) -> Path:
        return self.root / f"{name}{self.suffix}"

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        data = text if isinstance(text, bytes) else text.encode()
        self._path(name).write_bytes(data)
        side = Path(str(self._path(name)) + ".acl")
        if acl is not None:
            side.write_text("\n".join(acl))
        elif side.exists():
            side.unlink()

    def remove(self, name: str) -> None:
        self._path(name).unlink()
        Path(str(self._path(name)) + ".acl").unlink(missing_ok=True)

    def publish(self) -> None:
        pass

    def close(self) -> None:
        pass


class FilesystemHarness(Harness):
    type_name = "filesystem"


class S3Harness(Harness):
    type_name = "s3"

    def __init__(self, tmp: Path, server: S3Server) -> None:
        super().__init__(tmp)
        self.server = server
        self.bucket = f"contract-{uuid.uuid4().hex[:12]}"
        self.s3: Any = server.client()
        self.s3.create_bucket(Bucket=self.bucket)

    def options(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "endpoint_url": self.server.endpoint,
            "access_key_id_env": "RSI_TEST_S3_KEY",
            "secret_access_key_env": "RSI_TEST_S3_SECRET",
            "acl": "staff",
        }

    def broken_options(self) -> dict[str, Any]:
        return {**self.options(), "endpoint_url": f"http://127.0.0.1:{free_port()}", "timeout_s": 2}

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        key = f"docs/{name}{self.suffix}"
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=text if isinstance(text, bytes) else text.encode()
        )
        if acl is not None:
            self.s3.put_object(Bucket=self.bucket, Key=key + ".acl", Body="\n".join(acl).encode())
        else:
            self.s3.delete_object(Bucket=self.bucket, Key=key + ".acl")

    def remove(self, name: str) -> None:
        key = f"docs/{name}{self.suffix}"
        self.s3.delete_object(Bucket=self.bucket, Key=key)
        self.s3.delete_object(Bucket=self.bucket, Key=key + ".acl")


class SQLHarness(Harness):
    type_name = "sql"

    def __init__(self, tmp: Path, server: PostgresServer) -> None:
        super().__init__(tmp)
        from sqlalchemy import create_engine

        self.server = server
        self.table = f"kb_{uuid.uuid4().hex[:10]}"
        self.engine = create_engine(server.url.replace(f"{'rsi'}@", f"rsi:{PG_PASSWORD}@"))
        self.clock = dt.datetime(2024, 1, 1)
        self._exec(
            f"CREATE TABLE {self.table} (id text PRIMARY KEY, body bytea, acl text, "
            "updated_at timestamp NOT NULL)"
        )

    def _exec(self, sql: str, **params: Any) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def options(self) -> dict[str, Any]:
        return {
            "url": self.server.url,
            "password_env": "RSI_TEST_PG_PASSWORD",
            "query": f"SELECT id, body, acl, updated_at FROM {self.table}",
            "acl_column": "acl",
        }

    def broken_options(self) -> dict[str, Any]:
        return {
            **self.options(),
            "url": f"postgresql+psycopg://rsi@127.0.0.1:{free_port()}/x",
            "timeout_s": 2,
        }

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        # bytea holds any bytes, so a row can carry text that is not valid UTF-8.
        self.clock += dt.timedelta(seconds=1)
        self._exec(
            f"INSERT INTO {self.table} (id, body, acl, updated_at) VALUES (:i, :b, :a, :u) "
            "ON CONFLICT (id) DO UPDATE SET body = :b, acl = :a, updated_at = :u",
            i=name,
            b=text if isinstance(text, bytes) else text.encode(),
            a=",".join(acl) if acl is not None else "staff",
            u=self.clock,
        )

    def remove(self, name: str) -> None:
        self._exec(f"DELETE FROM {self.table} WHERE id = :i", i=name)

    def close(self) -> None:
        self._exec(f"DROP TABLE {self.table}")
        self.engine.dispose()


class GitHarness(Harness):
    type_name = "git"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self._git("init", "-q", "-b", "main")

    def _git(self, *args: str) -> None:
        subprocess.run(
            [
                "git",
                "-C",
                str(self.root),
                "-c",
                "user.name=Tester",
                "-c",
                "user.email=tester@example.com",
                *args,
            ],
            check=True,
            capture_output=True,
        )

    def options(self) -> dict[str, Any]:
        return {"repo": self.root.as_uri(), "ref": "main", "acl": "staff"}

    def broken_options(self) -> dict[str, Any]:
        return {"repo": (self.tmp / "missing.git").as_uri(), "ref": "main"}

    def publish(self) -> None:
        self._git("add", "-A")
        self._git("commit", "-q", "--allow-empty", "-m", "change")


class WebHarness(Harness):
    """A sitemap over a static site; pages carry no access list (the option applies)."""

    type_name = "web"
    item_acl = False
    suffix = ".html"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.server = HttpServer(self.root)
        self.lastmod: dict[str, str] = {}
        self.tick = 0

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        body = (
            text
            if isinstance(text, bytes)
            else (
                f"<html><head><title>{name}</title></head><body><p>{text}</p></body></html>".encode()
            )
        )
        self._path(name).write_bytes(body)
        self.tick += 1
        self.lastmod[name] = (dt.datetime(2024, 1, 1) + dt.timedelta(minutes=self.tick)).isoformat()

    def remove(self, name: str) -> None:
        self._path(name).unlink()
        self.lastmod.pop(name)

    def publish(self) -> None:
        urls = "".join(
            f"<url><loc>{self.server.url}/{n}.html</loc><lastmod>{m}</lastmod></url>"
            for n, m in sorted(self.lastmod.items())
        )
        (self.root / "sitemap.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><urlset '
            f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )

    def options(self) -> dict[str, Any]:
        return {"sitemap_url": f"{self.server.url}/sitemap.xml", "acl": "staff"}

    def broken_options(self) -> dict[str, Any]:
        return {"sitemap_url": f"http://127.0.0.1:{free_port()}/sitemap.xml", "timeout_s": 2}

    def close(self) -> None:
        self.server.stop()


class ConfluenceHarness(Harness):
    """A Confluence HTML space export in a folder; space permissions come from the option."""

    type_name = "confluence"
    item_acl = False
    suffix = ".html"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.space = self.root / "ENG"
        self.space.mkdir()
        (self.space / "index.html").write_text("<html><body>Space index</body></html>")
        self.ids: dict[str, int] = {}

    def key(self, name: str) -> str:
        return f"/{self.ids.setdefault(name, 100000 + len(self.ids))}"

    def _path(self, name: str) -> Path:
        pid = self.ids.setdefault(name, 100000 + len(self.ids))
        return self.space / f"{name.capitalize()}_{pid}.html"

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        body = (
            text
            if isinstance(text, bytes)
            else (
                f'<html><head><title>ENG : {name}</title></head><body><div id="breadcrumbs">Home'
                f'</div><div id="main-content" class="wiki-content group"><p>{text}</p></div>'
                "</body></html>"
            ).encode()
        )
        self._path(name).write_bytes(body)

    def remove(self, name: str) -> None:
        self._path(name).unlink()

    def options(self) -> dict[str, Any]:
        return {"path": str(self.root), "acl": "staff"}

    def broken_options(self) -> dict[str, Any]:
        return {"path": str(self.tmp / "missing-export")}


class NotionHarness(Harness):
    """A Notion Markdown & CSV export, written as the .zip Notion hands out."""

    type_name = "notion"
    item_acl = False

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.pages: dict[str, bytes] = {}
        self.zip = tmp / "notion-export.zip"

    def key(self, name: str) -> str:
        return uuid.uuid5(uuid.NAMESPACE_URL, name).hex

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        self.pages[name] = text if isinstance(text, bytes) else f"# {name}\n\n{text}\n".encode()

    def remove(self, name: str) -> None:
        self.pages.pop(name)

    def publish(self) -> None:
        tmp = self.zip.with_suffix(".tmp")
        with zipfile.ZipFile(tmp, "w") as z:
            for name, data in sorted(self.pages.items()):
                z.writestr(f"Workspace/{name.capitalize()} {self.key(name)}.md", data)
        shutil.move(tmp, self.zip)

    def options(self) -> dict[str, Any]:
        return {"path": str(self.zip), "acl": "staff"}

    def broken_options(self) -> dict[str, Any]:
        return {"path": str(self.tmp / "missing.zip")}


class SlackHarness(Harness):
    """A Slack export folder: an item is a channel's day; an access list makes it private."""

    type_name = "slack"

    def principal(self, user: str) -> str:
        return f"slack:U{user.upper()}"

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp)
        self.channels: dict[str, tuple[str, ...] | None] = {}

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        folder = self.root / name
        folder.mkdir(exist_ok=True)
        body = (
            text
            if isinstance(text, bytes)
            else json.dumps(
                [{"type": "message", "user": "UALICE", "text": text, "ts": "1704067200.000100"}]
            ).encode()
        )
        (folder / "2024-01-01.json").write_bytes(body)
        self.channels[name] = tuple(a.removeprefix("slack:") for a in acl) if acl else None
        self._write_lists()

    def remove(self, name: str) -> None:
        shutil.rmtree(self.root / name)
        self.channels.pop(name)
        self._write_lists()

    def _write_lists(self) -> None:
        public = [
            {"id": f"C{n}", "name": n, "members": []} for n, m in self.channels.items() if m is None
        ]
        private = [
            {"id": f"G{n}", "name": n, "members": list(m)}
            for n, m in self.channels.items()
            if m is not None
        ]
        (self.root / "channels.json").write_text(json.dumps(public))
        (self.root / "groups.json").write_text(json.dumps(private))
        (self.root / "users.json").write_text(
            json.dumps([{"id": "UALICE", "name": "alice", "real_name": "Alice Liddell"}])
        )

    def options(self) -> dict[str, Any]:
        return {"path": str(self.root), "acl": "staff"}

    def broken_options(self) -> dict[str, Any]:
        return {"path": str(self.tmp / "missing-export")}


class IMAPHarness(Harness):
    """A folder of a real IMAP mailbox; an item is a message with a stable Message-ID."""

    type_name = "imap"
    item_acl = False

    def __init__(self, tmp: Path, server: DovecotServer) -> None:
        import imaplib

        super().__init__(tmp)
        self.server = server
        self.folder = f"T{uuid.uuid4().hex[:10]}"
        self.conn = imaplib.IMAP4("127.0.0.1", server.port)
        self.conn.login(IMAP_USER, IMAP_PASSWORD)
        self.conn.create(self.folder)

    def options(self) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": self.server.port,
            "tls": False,
            "username": IMAP_USER,
            "password_env": "RSI_TEST_IMAP_PASSWORD",
            "folders": self.folder,
            "acl": "staff",
        }

    def broken_options(self) -> dict[str, Any]:
        return {**self.options(), "port": free_port(), "timeout_s": 2}

    def put(self, name: str, text: str | bytes, acl: tuple[str, ...] | None = None) -> None:
        self.remove(name)
        body = text if isinstance(text, bytes) else text.encode()
        msg = (
            (
                f"From: Ann <ann@example.com>\r\nSubject: {name}\r\nMessage-ID: <{name}@rsi.test>"
                "\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n"
            ).encode()
            + body
            + b"\r\n"
        )
        self.conn.append(self.folder, None, None, msg)

    def remove(self, name: str) -> None:
        self.conn.select(self.folder)
        _, data = self.conn.uid("SEARCH", "HEADER", "Message-ID", f"<{name}@rsi.test>")
        for uid in data[0].split():
            self.conn.uid("STORE", uid, "+FLAGS", "(\\Deleted)")
        self.conn.expunge()

    def close(self) -> None:
        self.conn.logout()


HARNESSES = ["filesystem", "s3", "sql", "git", "web", "confluence", "notion", "slack", "imap"]

# Tests export these before syncing; the options only name the variables.
ENV = {
    "RSI_TEST_S3_KEY": S3_KEY,
    "RSI_TEST_S3_SECRET": S3_SECRET,
    "RSI_TEST_PG_PASSWORD": PG_PASSWORD,
    "RSI_TEST_IMAP_PASSWORD": IMAP_PASSWORD,
    # The web harness serves its site on the loopback interface.
    "RSI_RAG_WEB_PRIVATE_HOSTS": "127.0.0.1",
}
