"""Mail in IMAP folders: one document per message.

An item is a message named by its folder and ``Message-ID`` (a message replaced under the
same id is an update); its version is the folder's UIDVALIDITY and the message's UID, so
a listing (one ``UID FETCH`` of headers per folder) never downloads a body twice.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import imaplib
import re
import threading
from email.message import EmailMessage
from typing import Any

from connectors.base import Connector, ConnectorOptions, Fetched, Item, Listing
from connectors.registry import read_secret, register_connector
from rsi_rag.errors import (
    CorruptFileError,
    EmptyFileError,
    IngestError,
    SourceAuthError,
    SourceUnavailableError,
)

__all__ = ["IMAPConnector", "IMAPOptions"]

_FETCH_ROW = re.compile(rb"UID (\d+).*?RFC822\.SIZE (\d+)", re.S)


class IMAPOptions(ConnectorOptions):
    """Options of the ``imap`` connector.

    Attributes:
        host: The IMAP server.
        port: Its port (993 with TLS, 143 without).
        tls: Connect with TLS (IMAPS).
        username: The mailbox user.
        password_env: Environment variable holding the password.
        folders: Folders to sync.
        timeout_s: Socket timeout.
    """

    host: str
    port: int = 993
    tls: bool = True
    username: str
    password_env: str
    folders: tuple[str, ...] = ("INBOX",)
    timeout_s: float = 15.0


def _text(msg: EmailMessage, name: str) -> str:
    parts = [p for p in msg.walk() if p.get_content_maintype() == "text"]
    plain = [p for p in parts if p.get_content_subtype() == "plain"] or parts
    out = []
    for part in plain:
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            body = data.decode(charset)
        except (UnicodeDecodeError, LookupError) as exc:
            raise CorruptFileError(
                f"{name}: the message body is not valid {charset.upper()}; fix the message's "
                "charset at the source",
                source=name,
            ) from exc
        if part.get_content_subtype() == "html":
            from bs4 import BeautifulSoup

            body = BeautifulSoup(body, "html.parser").get_text("\n")
        out.append(body.strip())
    head = "\n".join(f"{h}: {msg[h]}" for h in ("Subject", "From", "Date") if msg[h])
    body = "\n\n".join(p for p in out if p)
    if not body:
        raise EmptyFileError(f"{name} has no text body", source=name)
    return f"{head}\n\n{body}"


@register_connector
class IMAPConnector(Connector):
    """Sync the messages of IMAP folders."""

    type_name = "imap"
    Options = IMAPOptions
    _conn: Any = None

    @property
    def opts(self) -> IMAPOptions:
        assert isinstance(self.options, IMAPOptions)
        return self.options

    def __init__(self, options: ConnectorOptions, work_dir: Any = None) -> None:
        super().__init__(options, work_dir)
        # imaplib connections are not thread-safe: fetches take turns on one connection.
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        if self._conn is not None:
            return self._conn
        o = self.opts
        where = f"IMAP server {o.host}:{o.port}"
        try:
            cls = imaplib.IMAP4_SSL if o.tls else imaplib.IMAP4
            conn = cls(o.host, o.port, timeout=o.timeout_s)
        except (TimeoutError, OSError, imaplib.IMAP4.error) as exc:
            raise SourceUnavailableError(
                f"{where} is unreachable ({exc}); check host and port"
            ) from exc
        try:
            conn.login(o.username, read_secret(o.password_env, "the IMAP password") or "")
        except imaplib.IMAP4.error as exc:
            conn.logout()
            raise SourceAuthError(
                f"{where} refused the login of {o.username!r} ({exc}); check the user and "
                f"the password in ${o.password_env}"
            ) from exc
        self._conn = conn
        return conn

    def _select(self, conn: Any, folder: str) -> str:
        typ, _ = conn.select(f'"{folder}"', readonly=True)
        if typ != "OK":
            raise SourceUnavailableError(f"IMAP folder {folder!r} does not exist; check 'folders'")
        typ, data = conn.response("UIDVALIDITY")
        return str(data[0].decode() if data and data[0] else "0")

    def _list(self, cursor: str | None) -> Listing:
        o = self.opts
        items: list[Item] = []
        with self._lock:
            conn = self._connect()
            for folder in o.folders:
                validity = self._select(conn, folder)
                typ, data = conn.uid(
                    "FETCH", "1:*", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
                )
                if typ != "OK":
                    raise SourceUnavailableError(f"listing IMAP folder {folder!r} failed: {data}")
                for row in data:
                    if not isinstance(row, tuple):
                        continue
                    m = _FETCH_ROW.search(row[0])
                    if m is None:
                        continue
                    uid, size = m.group(1).decode(), int(m.group(2))
                    header = email.message_from_bytes(row[1], policy=email.policy.default)
                    mid = str(header.get("Message-ID", "")).strip() or f"uid-{validity}-{uid}"
                    items.append(
                        Item(
                            id=f"imap://{o.username}@{o.host}/{folder}#{mid}",
                            version=f"{validity}:{uid}",
                            name=f"{folder}/{uid}.eml",
                            size=size,
                            acl=tuple(o.acl),
                            metadata={"folder": folder, "uid": uid, "message_id": mid},
                        )
                    )
        return Listing(items, complete=True)

    def _fetch(self, item: Item) -> Fetched:
        folder, uid = str(item.metadata["folder"]), str(item.metadata["uid"])
        with self._lock:
            conn = self._connect()
            self._select(conn, folder)
            typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = next((r[1] for r in data if isinstance(r, tuple)), None) if typ == "OK" else None
        if raw is None:
            raise IngestError(f"{item.id} was removed after it was listed", source=item.id)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        text = _text(msg, item.id)
        meta = {"subject": str(msg.get("Subject", "")), "from": str(msg.get("From", ""))}
        return Fetched(text, item.name, None, meta)

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self._conn.logout()
            self._conn = None
