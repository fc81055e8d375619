"""Phoenix LiveView protocol pieces for the ``--protocol liveview`` mode.

A client GETs the page over plain HTTP/1.1 (a tiny hand-written client, keeping the
cookies the server sets), scrapes the CSRF token, ``data-phx-session``,
``data-phx-static`` and the LiveView id from it, joins the ``lv:phx-...`` topic over the
``/live/websocket`` endpoint with the V2 JSON array serializer, and then sends ``event``
messages; a click is answered by the ``phx_reply`` carrying its ref.
"""

from __future__ import annotations

import asyncio
import html
from dataclasses import dataclass, field
from urllib.parse import quote, urljoin, urlsplit

import orjson


class LiveViewError(Exception):
    """A failure to set up a LiveView session; ``str(exc)`` is a short, countable reason."""


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


@dataclass
class PageInfo:
    page_url: str
    ws_url: str
    csrf: str
    session: str
    static: str
    topic: str
    cookies: dict[str, str] = field(default_factory=dict)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def join_message(self) -> bytes:
        return orjson.dumps(
            [
                "1",
                "1",
                self.topic,
                "phx_join",
                {
                    "url": self.page_url,
                    "params": {"_csrf_token": self.csrf},
                    "session": self.session,
                    "static": self.static,
                },
            ]
        )

    def event_parts(self, event: str, value: object) -> tuple[bytes, bytes]:
        """Prefix and suffix of an event message; the ref goes between them, so each click
        costs one bytes concatenation instead of a JSON encode."""
        suffix = orjson.dumps([self.topic, "event", {"type": "click", "event": event, "value": value}])
        return b'["1","', b'",' + suffix[1:]

    def heartbeat(self, ref: int) -> bytes:
        return b'[null,"%d","phoenix","heartbeat",{}]' % ref


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    te = next((v for k, v in headers if k.lower() == "transfer-encoding"), "")
    if "chunked" in te.lower():
        chunks: list[bytes] = []
        while True:
            line = await reader.readline()
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # trailers until the empty line
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    length = next((v for k, v in headers if k.lower() == "content-length"), None)
    if length is not None:
        return await reader.readexactly(int(length))
    return await reader.read()


async def http_get(url: str, cookies: dict[str, str] | None = None) -> HttpResponse:
    """One HTTP/1.1 GET (``Connection: close``), no TLS. Set-Cookie values are merged into
    ``cookies`` when given."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise LiveViewError(f"http: unsupported scheme {parts.scheme!r}")
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {parts.netloc}",
        "User-Agent: rweb-bench",
        "Accept: text/html",
        "Connection: close",
    ]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(status_line.split(" ", 2)[1])
        except (IndexError, ValueError):
            raise LiveViewError("http: malformed status line") from None
        headers: list[tuple[str, str]] = []
        for line in header_lines:
            if ":" in line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
        body = await _read_body(reader, headers)
    finally:
        writer.close()
    if cookies is not None:
        for k, v in headers:
            if k.lower() == "set-cookie":
                pair = v.split(";", 1)[0]
                if "=" in pair:
                    name, value = pair.split("=", 1)
                    cookies[name.strip()] = value.strip()
    return HttpResponse(status, headers, body)


def _attr_after(page: str, marker: str) -> str | None:
    start = page.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = page.find('"', start)
    if end < 0:
        return None
    return html.unescape(page[start:end])


def scrape(page: str) -> tuple[str, str, str, str]:
    """(csrf token, data-phx-session, data-phx-static, LiveView id) from a LiveView page,
    the same way the seed's Rust client does (first occurrence of each marker)."""
    csrf = _attr_after(page, 'csrf-token" content="')
    if csrf is None:
        raise LiveViewError("scrape: no csrf-token meta")
    session = _attr_after(page, 'data-phx-session="')
    if session is None:
        raise LiveViewError("scrape: no data-phx-session")
    static = _attr_after(page, 'data-phx-static="') or ""
    phx_id = _attr_after(page, 'id="phx-')
    if phx_id is None:
        raise LiveViewError('scrape: no id="phx-..."')
    return csrf, session, static, "phx-" + phx_id


def ws_base(page_url: str, ws_path: str) -> str:
    parts = urlsplit(page_url)
    return f"ws://{parts.netloc}{ws_path}"


async def fetch_page(page_url: str, ws_path: str, max_redirects: int = 5) -> PageInfo:
    cookies: dict[str, str] = {}
    url = page_url
    for _ in range(max_redirects + 1):
        resp = await http_get(url, cookies)
        if resp.status in (301, 302, 303, 307, 308):
            location = resp.header("location")
            if not location:
                raise LiveViewError(f"http: {resp.status} without Location")
            new = urljoin(url, location)
            if urlsplit(new).netloc != urlsplit(page_url).netloc:
                raise LiveViewError("http: redirect to another host refused")
            url = new
            continue
        if resp.status != 200:
            raise LiveViewError(f"http: status {resp.status}")
        break
    else:
        raise LiveViewError("http: too many redirects")
    csrf, session, static, phx_id = scrape(resp.body.decode("utf-8", errors="replace"))
    ws_url = f"{ws_base(url, ws_path)}?_csrf_token={quote(csrf, safe='')}&vsn=2.0.0"
    return PageInfo(url, ws_url, csrf, session, static, "lv:" + phx_id, cookies)
