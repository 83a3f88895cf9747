"""S3 and SQL connectors against their real servers: credentials, missing containers,
secrets kept out of logs and the catalog, and cursors that survive a restart."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

import connectors
from connectors.testing import PG_PASSWORD, S3_SECRET, PostgresServer, S3Server
from rsi_rag import RAG
from rsi_rag.errors import ConfigError, SourceAuthError, SourceUnavailableError
from rsi_rag.testing import FakeEmbedder

pytestmark = pytest.mark.integration


def _s3_options(s3: S3Server, bucket: str, **extra: Any) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "endpoint_url": s3.endpoint,
        "access_key_id_env": "RSI_TEST_S3_KEY",
        "secret_access_key_env": "RSI_TEST_S3_SECRET",
        **extra,
    }


def test_s3_wrong_credentials_and_missing_bucket(
    s3: S3Server, fake_rag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = f"creds-{uuid.uuid4().hex[:8]}"
    s3.client().create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    runner = connectors.SyncRunner(fake_rag)
    runner.add_source("s3", "s3", "kb", _s3_options(s3, bucket))
    runner.add_source("nob", "s3", "kb", _s3_options(s3, "no-such-bucket-here"))
    monkeypatch.setenv("RSI_TEST_S3_SECRET", "wrong-secret")
    with pytest.raises(SourceAuthError, match="RSI_TEST_S3_SECRET"):
        runner.sync("s3")
    monkeypatch.delenv("RSI_TEST_S3_SECRET")
    with pytest.raises(ConfigError, match="RSI_TEST_S3_SECRET"):
        runner.sync("s3")
    monkeypatch.setenv("RSI_TEST_S3_SECRET", S3_SECRET)
    with pytest.raises(SourceUnavailableError, match="does not exist"):
        runner.sync("nob")


def test_s3_secret_never_reaches_catalog_or_logs(
    s3: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bucket = f"secret-{uuid.uuid4().hex[:8]}"
    client: Any = s3.client()
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="a.txt", Body=b"object storage text")
    rag = RAG(tmp_path / "data", embedder=FakeEmbedder())
    runner = connectors.SyncRunner(rag)
    runner.add_source("s3", "s3", "kb", _s3_options(s3, bucket))
    with caplog.at_level(logging.DEBUG):
        report = runner.sync("s3")
    assert report.added == (f"s3://{bucket}/a.txt",)
    assert S3_SECRET not in caplog.text
    rag.close()
    assert S3_SECRET.encode() not in (tmp_path / "data" / "catalog.db").read_bytes()
    assert runner.source("s3").options["secret_access_key_env"] == "RSI_TEST_S3_SECRET"


def _table(pg: PostgresServer) -> tuple[Any, str]:
    engine = create_engine(pg.url.replace("rsi@", f"rsi:{PG_PASSWORD}@"))
    name = f"faq_{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        c.execute(
            text(
                f"CREATE TABLE {name} (id int PRIMARY KEY, question text, answer text, "
                "team text, updated_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        for i in range(5):
            c.execute(
                text(
                    f"INSERT INTO {name} (id, question, answer, team, updated_at) VALUES "
                    "(:i, :q, :a, 'support', now() - make_interval(mins => 5 - :i))"
                ),
                {"i": i, "q": f"question {i}?", "a": f"answer number {i}"},
            )
    return engine, name


def test_sql_cursor_survives_a_restart_and_lists_only_changed_rows(
    pg: PostgresServer, tmp_path: Path
) -> None:
    engine, table = _table(pg)
    options = {
        "url": pg.url,
        "password_env": "RSI_TEST_PG_PASSWORD",
        "query": f"SELECT id, question, answer, team, updated_at FROM {table}",
        "text_columns": "question,answer",
        "metadata_columns": "team",
    }
    rag = RAG(tmp_path / "data", embedder=FakeEmbedder())
    runner = connectors.SyncRunner(rag)
    runner.add_source("faq", "sql", "kb", options)
    first = runner.sync("faq")
    assert len(first.added) == 5 and first.listed == 5
    assert runner.source("faq").cursor is not None
    rag.close()
    with engine.begin() as c:
        c.execute(
            text(
                f"UPDATE {table} SET answer = 'a brand new answer', "
                "updated_at = now() + interval '1 second' WHERE id = 2"
            )
        )
        c.execute(text(f"DELETE FROM {table} WHERE id = 4"))
    rag = RAG(tmp_path / "data", embedder=FakeEmbedder())  # a restarted process
    report = connectors.SyncRunner(rag).sync("faq")
    assert report.listed == 1 and report.fetched == 1, report
    assert [u.rsplit("#", 1)[1] for u in report.updated] == ["2"]
    assert [u.rsplit("#", 1)[1] for u in report.deleted] == ["4"]
    docs = {d.metadata["row_id"]: d for d in rag.documents("kb")}
    assert sorted(docs) == ["0", "1", "2", "3"] and docs["2"].metadata["team"] == "support"
    rag.close()
    engine.dispose()


def test_sql_wrong_password_unreachable_and_bad_query(
    pg: PostgresServer, fake_rag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = connectors.SyncRunner(fake_rag)
    base = {"url": pg.url, "password_env": "RSI_TEST_PG_PASSWORD", "query": "SELECT 1 AS id"}
    runner.add_source("db", "sql", "kb", base)
    runner.add_source("badq", "sql", "kb", {**base, "query": "SELECT * FROM no_such_table"})
    monkeypatch.setenv("RSI_TEST_PG_PASSWORD", "not-the-password")
    with pytest.raises(SourceAuthError, match="refused the credentials"):
        runner.sync("db")
    monkeypatch.setenv("RSI_TEST_PG_PASSWORD", PG_PASSWORD)
    with pytest.raises(ConfigError, match="no_such_table"):
        runner.sync("badq")


def test_imap_wrong_password_and_missing_folder(
    fake_rag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.testing import IMAP_USER, ServerUnavailable, dovecot_server

    try:
        server = dovecot_server()
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    base = {
        "host": "127.0.0.1",
        "port": server.port,
        "tls": False,
        "username": IMAP_USER,
        "password_env": "RSI_TEST_IMAP_PASSWORD",
    }
    runner = connectors.SyncRunner(fake_rag)
    runner.add_source("mail", "imap", "kb", base)
    runner.add_source("nofolder", "imap", "kb", {**base, "folders": "Nope"})
    with pytest.raises(SourceUnavailableError, match="'Nope' does not exist"):
        runner.sync("nofolder")
    monkeypatch.setenv("RSI_TEST_IMAP_PASSWORD", "wrong")
    with pytest.raises(SourceAuthError, match="RSI_TEST_IMAP_PASSWORD"):
        runner.sync("mail")
