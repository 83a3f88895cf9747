"""Web pages: from a sitemap (``<lastmod>`` as version, so unchanged pages are not
fetched) or from a crawl that follows links within the allowed hosts.

A crawl must fetch pages to find their links, so its version is the page's content hash:
unchanged pages are fetched but not re-ingested. ``robots.txt`` is honoured.

Only public addresses are fetched: a host that resolves to a loopback, private,
link-local or otherwise non-global address (a cloud metadata endpoint, the service's own
port, an internal admin page) is refused unless ``RSI_RAG_WEB_PRIVATE_HOSTS`` lists it
(hosts or ``host:port``, comma-separated; ``*`` for any), so a tenant cannot point the
server at the network behind it. The check runs again when each connection is opened, on
the very addresses the socket connects to, so a name that resolves to a public address at
the first look and to a private one at the second (DNS rebinding) is refused too. Redirects
are not followed, and proxies from the environment are not used.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import xml.etree.ElementTree as ET
from collections import deque
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from connectors.base import Connector, ConnectorOptions, Fetched, Item, Listing
from connectors.registry import register_connector
from rsi_rag.errors import ConfigError, IngestError, SourceUnavailableError

__all__ = ["PRIVATE_HOSTS_ENV", "WebConnector", "WebOptions", "check_public"]

PRIVATE_HOSTS_ENV = "RSI_RAG_WEB_PRIVATE_HOSTS"

_USER_AGENT = "rsi-rag-connector/1"
_TEXT_TYPES = ("text/html", "text/plain", "text/markdown", "application/xhtml+xml")


class WebOptions(ConnectorOptions):
    """Options of the ``web`` connector (give ``sitemap_url`` or ``start_urls``).

    Attributes:
        sitemap_url: A sitemap (or sitemap index) listing the pages.
        start_urls: Pages the crawl starts from.
        allowed_hosts: Hosts (``host`` or ``host:port``) pages may come from; defaults to
            the hosts of the sitemap or start URLs.
        max_pages: The most pages one sync reads.
        max_depth: How many links deep the crawl goes.
        timeout_s: Per-request timeout.
    """

    sitemap_url: str | None = None
    start_urls: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    max_pages: int = 1000
    max_depth: int = 5
    timeout_s: float = 10.0


def _host(url: str) -> str:
    return urlsplit(url).netloc.lower()


def _private_hosts() -> set[str]:
    raw = os.environ.get(PRIVATE_HOSTS_ENV, "")
    return {h.strip().lower() for h in raw.split(",") if h.strip()}


def _listed(host: str, port: int | None, allowed: set[str]) -> bool:
    host = host.lower().strip("[]")
    if "*" in allowed or host in allowed:
        return True
    return port is not None and bool({f"{host}:{port}", f"[{host}]:{port}"} & allowed)


def _refuse_private(
    where: str, host: str, addr: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> None:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if not addr.is_global:
        raise ConfigError(
            f"{where}: host {host!r} resolves to {addr}, a non-public address; the web "
            f"connector fetches public addresses only. To sync an intranet site, list "
            f"its host in {PRIVATE_HOSTS_ENV} on the server (comma-separated)"
        )


def check_public(url: str) -> None:
    """Refuse ``url`` when its host resolves to a non-global address.

    Raises:
        ConfigError: the host is private, loopback, link-local or reserved and
            ``RSI_RAG_WEB_PRIVATE_HOSTS`` does not list it.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not host or _listed(host, port, _private_hosts()):
        return
    try:
        addrs = [ipaddress.ip_address(host)]  # a literal address needs no lookup
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return  # unresolvable: the request itself reports the host as unreachable
        addrs = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for addr in addrs:
        _refuse_private(url, host, addr)


def _public_transport() -> Any:
    """An httpx transport whose connections go only to vetted public addresses.

    The host is resolved once per connection, every address it resolves to is checked,
    and the socket connects to a checked address (TLS still verifies the host name), so
    no second lookup can swap in a private address.
    """
    import httpcore
    import httpx
    from httpcore import SyncBackend

    class VettingBackend(SyncBackend):  # type: ignore[misc]
        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> Any:
            if _listed(host, port, _private_hosts()):
                return super().connect_tcp(host, port, timeout, local_address, socket_options)
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
            addrs = [str(info[4][0]).split("%")[0] for info in infos]
            for addr in addrs:
                _refuse_private(f"{host}:{port}", host, ipaddress.ip_address(addr))
            last: Exception | None = None
            for addr in dict.fromkeys(addrs):
                try:
                    return super().connect_tcp(addr, port, timeout, local_address, socket_options)
                except httpcore.ConnectError as exc:
                    last = exc
            raise last or httpcore.ConnectError(f"no address to connect to for {host!r}")

    class PublicTransport(httpx.HTTPTransport):
        def __init__(self) -> None:
            super().__init__(trust_env=False)
            # The pool httpx would build, with the vetting network backend.
            self._pool = httpcore.ConnectionPool(
                ssl_context=httpx.create_ssl_context(trust_env=False),
                network_backend=VettingBackend(),
            )

    return PublicTransport()


@register_connector
class WebConnector(Connector):
    """Sync pages from a sitemap or a crawl."""

    type_name = "web"
    Options = WebOptions
    _client: Any = None

    @property
    def opts(self) -> WebOptions:
        assert isinstance(self.options, WebOptions)
        return self.options

    def _allowed(self) -> set[str]:
        o = self.opts
        if o.allowed_hosts:
            return {h.lower() for h in o.allowed_hosts}
        seeds = [o.sitemap_url] if o.sitemap_url else list(o.start_urls)
        return {_host(u) for u in seeds if u}

    def client(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                timeout=self.opts.timeout_s,
                transport=_public_transport(),
                follow_redirects=False,
                headers={"User-Agent": _USER_AGENT},
            )
        return self._client

    def _get(self, url: str, *, whole_source: bool) -> Any:
        import httpx

        check_public(url)
        try:
            resp = self.client().get(url)
        except httpx.HTTPError as exc:
            msg = f"{url} is unreachable ({type(exc).__name__}: {exc})"
            if whole_source:
                raise SourceUnavailableError(
                    msg + "; check the URL and that the site is up"
                ) from exc
            from connectors.base import TransientSourceError

            raise TransientSourceError(msg) from exc
        return resp

    def _robots(self) -> dict[str, RobotFileParser]:
        cache: dict[str, RobotFileParser] = {}
        for host in self._allowed():
            seed = self.opts.sitemap_url or self.opts.start_urls[0]
            rp = RobotFileParser()
            resp = self._get(f"{urlsplit(seed).scheme}://{host}/robots.txt", whole_source=True)
            rp.parse(resp.text.splitlines() if resp.status_code == 200 else [])
            cache[host] = rp
        return cache

    def _list(self, cursor: str | None) -> Listing:
        o = self.opts
        if bool(o.sitemap_url) == bool(o.start_urls):
            raise ConfigError(
                "the web connector needs exactly one of 'sitemap_url' or 'start_urls'"
            )
        robots = self._robots()
        if o.sitemap_url:
            return self._from_sitemap(o.sitemap_url, robots)
        return self._crawl(robots)

    def _ok(self, url: str, robots: dict[str, RobotFileParser]) -> bool:
        host = _host(url)
        rp = robots.get(host)
        return (
            urlsplit(url).scheme in ("http", "https")
            and host in robots
            and (rp is None or rp.can_fetch(_USER_AGENT, url))
        )

    def _from_sitemap(self, url: str, robots: dict[str, RobotFileParser]) -> Listing:
        ns = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
        todo: deque[str] = deque([url])
        seen: set[str] = set()
        items: list[Item] = []
        while todo and len(items) < self.opts.max_pages:
            sm = todo.popleft()
            if sm in seen:
                continue
            seen.add(sm)
            resp = self._get(sm, whole_source=True)
            if resp.status_code != 200:
                raise SourceUnavailableError(f"sitemap {sm} answered HTTP {resp.status_code}")
            try:
                root = ET.fromstring(resp.content)
            except ET.ParseError as exc:
                raise SourceUnavailableError(f"sitemap {sm} is not valid XML: {exc}") from exc
            for loc_parent in root:
                loc = (loc_parent.findtext(f"{ns}loc") or "").strip()
                if not loc or not self._ok(loc, robots):
                    continue
                if loc_parent.tag == f"{ns}sitemap":
                    todo.append(loc)
                    continue
                lastmod = (loc_parent.findtext(f"{ns}lastmod") or "").strip()
                items.append(
                    Item(
                        id=loc,
                        version=lastmod or "no-lastmod",
                        name=loc,
                        acl=tuple(self.opts.acl),
                        metadata={"url": loc},
                    )
                )
        return Listing(items[: self.opts.max_pages], complete=True)

    def _crawl(self, robots: dict[str, RobotFileParser]) -> Listing:
        from bs4 import BeautifulSoup

        queue = deque((urldefrag(u)[0], 0) for u in self.opts.start_urls)
        seen: set[str] = set()
        items: list[Item] = []
        while queue and len(items) < self.opts.max_pages:
            url, depth = queue.popleft()
            if url in seen or not self._ok(url, robots):
                continue
            seen.add(url)
            try:
                fetched = self._page(url)
            except Exception:  # reported, with its reason, when the sync fetches it again
                items.append(
                    Item(
                        id=url,
                        version="unreadable",
                        name=url,
                        acl=tuple(self.opts.acl),
                        metadata={"url": url},
                    )
                )
                continue
            digest = hashlib.sha256(
                fetched.content if isinstance(fetched.content, bytes) else fetched.content.encode()
            ).hexdigest()
            items.append(
                Item(
                    id=url,
                    version=digest,
                    name=fetched.name,
                    acl=tuple(self.opts.acl),
                    metadata={"url": url},
                    content=fetched.content,
                )
            )
            if depth < self.opts.max_depth and fetched.name.endswith(".html"):
                soup = BeautifulSoup(fetched.content, "html.parser")
                for a in soup.find_all("a", href=True):
                    link = urldefrag(urljoin(url, str(a["href"])))[0]
                    if link not in seen:
                        queue.append((link, depth + 1))
        return Listing(items, complete=True)

    def _page(self, url: str) -> Fetched:
        resp = self._get(url, whole_source=False)
        if resp.status_code in (429, 502, 503, 504):
            from connectors.base import TransientSourceError

            raise TransientSourceError(f"{url} answered HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise IngestError(f"{url} answered HTTP {resp.status_code}", source=url)
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in _TEXT_TYPES:
            raise IngestError(f"{url} is {ctype or 'of unknown type'}, not a text page", source=url)
        name = (
            "page.html" if "html" in ctype else "page.txt" if ctype == "text/plain" else "page.md"
        )
        return Fetched(resp.content, name, None, {"url": url})

    def _fetch(self, item: Item) -> Fetched:
        return self._page(item.id)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
