"""Rows of a SQL query as documents, through SQLAlchemy (PostgreSQL, MySQL, SQLite...).

Each row becomes one document: its text columns joined, its id column as the item id.
The cursor is the largest updated-at value seen, so a sync reads only rows changed since
(``>=``, because rows committed later may carry the same timestamp; their unchanged
versions are then skipped). Deleted rows are found by listing the ids alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from connectors.base import Connector, ConnectorOptions, Fetched, Item, Listing, parse_acl
from connectors.registry import read_secret, register_connector
from rsi_rag.errors import ConfigError, SourceAuthError, SourceUnavailableError

__all__ = ["SQLConnector", "SQLOptions"]

_AUTH_HINTS = ("password authentication failed", "access denied", "authentication failed")


class SQLOptions(ConnectorOptions):
    """Options of the ``sql`` connector.

    Attributes:
        url: SQLAlchemy URL without the password, e.g.
            ``postgresql+psycopg://reader@db.internal:5432/kb``.
        password_env: Environment variable holding the password, if any.
        query: A SELECT returning the id, text, updated-at (and optional) columns.
        id_column: Column with a stable row id.
        text_columns: Columns joined into the document text.
        updated_at_column: Column that grows whenever a row changes.
        acl_column: Column with the row's principals (comma-separated text or an array).
        metadata_columns: Columns copied into the document metadata.
    """

    url: str
    password_env: str | None = None
    query: str
    id_column: str = "id"
    text_columns: tuple[str, ...] = ("body",)
    updated_at_column: str = "updated_at"
    acl_column: str | None = None
    metadata_columns: tuple[str, ...] = ()
    timeout_s: int = 10


def _dump_cursor(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "dt:" + value.isoformat()
    if isinstance(value, dt.date):
        return "d:" + value.isoformat()
    if isinstance(value, int):
        return f"int:{value}"
    return f"str:{value}"


def _load_cursor(cursor: str) -> Any:
    kind, _, raw = cursor.partition(":")
    if kind == "dt":
        return dt.datetime.fromisoformat(raw)
    if kind == "d":
        return dt.date.fromisoformat(raw)
    if kind == "int":
        return int(raw)
    return raw


@register_connector
class SQLConnector(Connector):
    """Sync the rows of one query."""

    type_name = "sql"
    Options = SQLOptions
    _engine: Any = None

    @property
    def opts(self) -> SQLOptions:
        assert isinstance(self.options, SQLOptions)
        return self.options

    def engine(self) -> Any:
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                url = make_url(self.opts.url)
            except ArgumentError as exc:
                raise ConfigError(f"sql 'url' {self.opts.url!r} is not a SQLAlchemy URL") from exc
            password = read_secret(self.opts.password_env, "the database password")
            if password is not None:
                url = url.set(password=password)
            args = (
                {"connect_timeout": self.opts.timeout_s}
                if url.get_backend_name() in ("postgresql", "mysql")
                else {}
            )
            self._engine = create_engine(url, connect_args=args, pool_pre_ping=True)
        return self._engine

    def _source_error(self, exc: Exception) -> Exception:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import OperationalError, ProgrammingError

        where = make_url(self.opts.url).render_as_string(hide_password=True)
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else ""
        if any(h in str(exc).lower() for h in _AUTH_HINTS):
            return SourceAuthError(
                f"database {where} refused the credentials ({detail}); check the user in "
                f"'url' and the password in ${self.opts.password_env}"
            )
        if isinstance(exc, ProgrammingError):
            return ConfigError(f"the sql 'query' failed on {where}: {detail}; fix the query")
        if isinstance(exc, OperationalError):
            return SourceUnavailableError(f"database {where} is unreachable: {detail}")
        return SourceUnavailableError(f"database {where} failed: {type(exc).__name__}: {detail}")

    def _list(self, cursor: str | None) -> Listing:
        from sqlalchemy import text
        from sqlalchemy.exc import SQLAlchemyError

        o = self.opts
        base = o.query.strip().rstrip(";")
        rows_sql = f"SELECT * FROM ({base}) AS src"
        params: dict[str, Any] = {}
        if cursor is not None:
            rows_sql += f" WHERE src.{o.updated_at_column} >= :cursor"
            params["cursor"] = _load_cursor(cursor)
        try:
            with self.engine().connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(text(rows_sql), params)]
                present = None
                if cursor is not None:
                    ids_sql = f"SELECT src.{o.id_column} FROM ({base}) AS src"
                    present = frozenset(f"{r[0]}" for r in conn.execute(text(ids_sql)))
        except SQLAlchemyError as exc:
            raise self._source_error(exc) from exc
        where = self._where()
        items = []
        newest: Any = _load_cursor(cursor) if cursor is not None else None
        for row in rows:
            missing = [
                c for c in (o.id_column, o.updated_at_column, *o.text_columns) if c not in row
            ]
            if missing:
                raise ConfigError(
                    f"the sql 'query' returns no column(s) {missing}; it returns {sorted(row)}"
                )
            updated = row[o.updated_at_column]
            if updated is not None and (newest is None or updated > newest):
                newest = updated
            parts = [row[c] for c in o.text_columns if row[c] is not None]
            content = b"\n\n".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)
            acl: tuple[str, ...] = tuple(o.acl)
            if o.acl_column:
                raw = row.get(o.acl_column)
                acl = (
                    tuple(sorted(str(a) for a in raw))
                    if isinstance(raw, (list, tuple))
                    else parse_acl(str(raw or ""))
                )
            row_id = str(row[o.id_column])
            items.append(
                Item(
                    id=f"{where}#{row_id}",
                    version=str(updated),
                    name=f"{row_id}.txt",
                    size=len(content),
                    acl=acl,
                    metadata={
                        "row_id": row_id,
                        **{c: _jsonable(row.get(c)) for c in o.metadata_columns},
                    },
                    content=content,
                )
            )
        ids = None if present is None else frozenset(f"{where}#{i}" for i in present)
        return Listing(
            items,
            cursor=_dump_cursor(newest) if newest is not None else cursor,
            complete=cursor is None,
            present=ids,
        )

    def _where(self) -> str:
        from sqlalchemy.engine import make_url

        url = make_url(self.opts.url)
        return f"{url.get_backend_name()}://{url.host or ''}/{url.database or ''}"

    def _fetch(self, item: Item) -> Fetched:
        raise AssertionError("sql listings carry their rows' content")  # pragma: no cover

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
