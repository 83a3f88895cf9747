"""The web connector fetches public addresses only, unless the server lists a host."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from connectors.testing import HttpServer
from connectors.web import PRIVATE_HOSTS_ENV, WebConnector, WebOptions, check_public
from rsi_rag.errors import ConfigError


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/admin",
        "http://localhost/",
        "http://10.1.2.3/wiki",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9000/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_non_public_addresses_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRIVATE_HOSTS_ENV, raising=False)
    with pytest.raises(ConfigError, match=PRIVATE_HOSTS_ENV):
        check_public(url)


def test_public_addresses_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRIVATE_HOSTS_ENV, raising=False)
    check_public("https://8.8.8.8/page.html")
    check_public("http://[2606:4700:4700::1111]/")


def test_listed_hosts_pass_and_only_they(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PRIVATE_HOSTS_ENV, "wiki.internal, 10.1.2.3:8080")
    check_public("http://10.1.2.3:8080/page")
    with pytest.raises(ConfigError):
        check_public("http://10.1.2.3:9090/page")
    with pytest.raises(ConfigError):
        check_public("http://127.0.0.1/")
    monkeypatch.setenv(PRIVATE_HOSTS_ENV, "*")
    check_public("http://127.0.0.1/")


def test_listing_a_loopback_site_is_refused_until_the_host_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PRIVATE_HOSTS_ENV, raising=False)
    (tmp_path / "index.html").write_text("<p>internal page</p>")
    server = HttpServer(tmp_path)
    try:
        conn = WebConnector(WebOptions(start_urls=(f"{server.url}/index.html",)))
        with pytest.raises(ConfigError, match="non-public address"):
            conn.list_changes(None)
        monkeypatch.setenv(PRIVATE_HOSTS_ENV, "127.0.0.1")
        listing = conn.list_changes(None)
        assert [i.id for i in listing.items] == [f"{server.url}/index.html"]
        conn.close()
    finally:
        server.stop()


def _resolver(answers: list[str]) -> Any:
    """A getaddrinfo that answers each lookup with the next address (the last repeats)."""
    calls: list[str] = []

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in ("127.0.0.1", "8.8.8.8"):
            addr = host
        else:
            calls.append(host)
            addr = answers[min(len(calls), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, int(port or 80)))]

    return getaddrinfo


def test_a_name_rebound_to_a_private_address_is_refused_at_connect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First lookup public (passes the check), second private: the connection is refused."""
    monkeypatch.delenv(PRIVATE_HOSTS_ENV, raising=False)
    (tmp_path / "index.html").write_text("<p>internal page</p>")
    server = HttpServer(tmp_path)
    try:
        monkeypatch.setattr(socket, "getaddrinfo", _resolver(["8.8.8.8", "127.0.0.1"]))
        url = f"http://rebind.test:{server.port}/index.html"
        conn = WebConnector(WebOptions(start_urls=(url,)))
        with pytest.raises(ConfigError, match=r"127\.0\.0\.1, a non-public address"):
            conn.list_changes(None)
        conn.close()
    finally:
        server.stop()


def test_connections_go_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from httpcore import SyncBackend

    from connectors.web import _public_transport

    monkeypatch.delenv(PRIVATE_HOSTS_ENV, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", _resolver(["8.8.8.8"]))
    dialled: list[str] = []

    def connect_tcp(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        dialled.append(host)
        raise httpcore.ConnectError("not dialling out in a test")

    monkeypatch.setattr(SyncBackend, "connect_tcp", connect_tcp)
    with httpx.Client(transport=_public_transport()) as client, pytest.raises(httpx.ConnectError):
        client.get("http://docs.example.test/page")
    assert dialled == ["8.8.8.8"]


def test_a_listed_host_connects_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from httpcore import SyncBackend

    from connectors.web import _public_transport

    monkeypatch.setenv(PRIVATE_HOSTS_ENV, "wiki.internal")
    dialled: list[str] = []

    def connect_tcp(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        dialled.append(f"{host}:{port}")
        raise httpcore.ConnectError("not dialling out in a test")

    monkeypatch.setattr(SyncBackend, "connect_tcp", connect_tcp)
    with httpx.Client(transport=_public_transport()) as client, pytest.raises(httpx.ConnectError):
        client.get("http://wiki.internal/page")
    assert dialled == ["wiki.internal:80"]
