"""The connector registry, option validation and secrets read from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.base import Connector, Fetched, Item, Listing, fingerprint, parse_acl
from connectors.registry import parse_options, read_secret, unregister_connector
from rsi_rag.errors import ConfigError, ConflictError, ValidationError


class _Dummy(Connector):
    type_name = "dummy-test"

    def _list(self, cursor: str | None) -> Listing:
        return Listing([])

    def _fetch(self, item: Item) -> Fetched:
        return Fetched("")


def test_builtin_types_are_registered() -> None:
    assert set(connectors.connector_types()) >= {
        "confluence",
        "filesystem",
        "git",
        "notion",
        "s3",
        "slack",
        "sql",
        "web",
    }


def test_duplicate_type_name_is_refused() -> None:
    connectors.register_connector(_Dummy)
    try:
        with pytest.raises(ConflictError, match="dummy-test"):
            connectors.register_connector(type("Other", (_Dummy,), {}))
    finally:
        unregister_connector("dummy-test")


def test_class_without_type_name_is_refused() -> None:
    class Nameless(_Dummy):
        type_name = ""

    with pytest.raises(ValidationError, match="type_name"):
        connectors.register_connector(Nameless)


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="filesystem"):
        connectors.connector_class("ftp")


def test_options_are_validated_up_front() -> None:
    with pytest.raises(ConfigError) as err:
        parse_options("filesystem", {"rooot": "/x"})
    assert "rooot" in err.value.message and "root" in err.value.message
    with pytest.raises(ConfigError, match="bucket"):
        parse_options("s3", {})
    with pytest.raises(ConfigError, match="max_pages"):
        parse_options("web", {"sitemap_url": "http://x/s.xml", "max_pages": "many"})
    opts: Any = parse_options("filesystem", {"root": "/srv", "acl": "alice, bob"})
    assert opts.acl == ("alice", "bob")


def test_secret_comes_from_the_environment_and_is_named_when_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RSI_TEST_SECRET", "s3cr3t")
    assert read_secret("RSI_TEST_SECRET", "the key") == "s3cr3t"
    monkeypatch.delenv("RSI_TEST_SECRET")
    with pytest.raises(ConfigError) as err:
        read_secret("RSI_TEST_SECRET", "the key")
    assert "RSI_TEST_SECRET" in err.value.message
    assert read_secret(None, "the key") is None


def test_secret_values_cannot_be_options() -> None:
    # Options hold variable names; a raw secret key is an unknown option.
    with pytest.raises(ConfigError, match="secret_access_key"):
        parse_options("s3", {"bucket": "b", "secret_access_key": "plain"})


def test_acl_sidecar_parsing_and_fingerprint() -> None:
    assert parse_acl("alice\n# comment\nbob, carol\n\n") == ("alice", "bob", "carol")
    a = Item("x", "v1", acl=("alice",))
    assert fingerprint(a) != fingerprint(Item("x", "v1", acl=("bob",)))
    assert fingerprint(a) != fingerprint(Item("x", "v2", acl=("alice",)))
    assert fingerprint(a) == fingerprint(Item("x", "v1", acl=("alice",)))


def test_filesystem_roots_confined_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.filesystem import FilesystemConnector

    allowed = tmp_path / "shares"
    (allowed / "team").mkdir(parents=True)
    monkeypatch.setenv("RSI_RAG_FILESYSTEM_ROOTS", str(allowed))
    assert parse_options("filesystem", {"root": str(allowed / "team")})
    with pytest.raises(ConfigError, match="outside the folders"):
        parse_options("filesystem", {"root": str(allowed / ".." / "elsewhere")})
    # A source stored before the variable narrowed is refused when it lists.
    monkeypatch.delenv("RSI_RAG_FILESYSTEM_ROOTS")
    conn = FilesystemConnector(parse_options("filesystem", {"root": str(tmp_path)}))
    monkeypatch.setenv("RSI_RAG_FILESYSTEM_ROOTS", str(allowed))
    with pytest.raises(ConfigError, match="outside the folders"):
        conn.list_changes(None)
