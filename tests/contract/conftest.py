"""Fixtures of the contract suites."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.testing import ServerUnavailable, dovecot_server, postgres_server, s3_server
from tests.contract.connector_harnesses import (
    ENV,
    HARNESSES,
    ConfluenceHarness,
    FilesystemHarness,
    GitHarness,
    Harness,
    IMAPHarness,
    NotionHarness,
    S3Harness,
    SlackHarness,
    SQLHarness,
    WebHarness,
)


@pytest.fixture(params=HARNESSES)
def harness(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """Each connector's real source, empty, with its secrets in the environment."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    name = request.param
    try:
        if name == "s3":
            h: Harness = S3Harness(tmp_path, s3_server())
        elif name == "sql":
            h = SQLHarness(tmp_path, postgres_server())
        elif name == "imap":
            h = IMAPHarness(tmp_path, dovecot_server())
        else:
            h = {
                "filesystem": FilesystemHarness,
                "git": GitHarness,
                "web": WebHarness,
                "confluence": ConfluenceHarness,
                "notion": NotionHarness,
                "slack": SlackHarness,
            }[name](tmp_path)
    except ServerUnavailable as exc:
        pytest.skip(str(exc))
    yield h
    h.close()
