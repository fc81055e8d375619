"""Content codings (RFC 9110 8.4, 12.5.3): gzip, and brotli where the ``brotli`` package is installed.

The one home for compressing HTTP bodies, shared by every transport (the
built-in server, :mod:`rweb.asgi` and :mod:`rweb.testing` all answer through
:meth:`rweb.App.respond`, whose ``_outgoing`` calls :func:`compress_response`):

- :func:`choose` reads ``Accept-Encoding``: q-values honoured (the highest
  wins, ties go to the server's order: ``br``, then ``gzip``), ``*`` stands for
  every coding not named, ``identity`` not named is acceptable but comes
  after any coding accepted, ``identity;q=0`` (or ``*;q=0`` without
  ``identity``) refuses an uncompressed answer, ``x-gzip`` is ``gzip``.
  No ``Accept-Encoding`` at all, or an empty one, gets ``identity``.
- :class:`Encoded`: bytes that never change (the client script), compressed
  once per process at the best levels (gzip 9, brotli quality 11), each coding
  with its own strong ETag (``"<tag>"``, ``"<tag>-gzip"``, ``"<tag>-br"``).
- :func:`compress_response`: a dynamic body (a reactive page's first paint, or
  a handler's response that sets ``response.compress = True``) compressed per
  response with gzip at :data:`PAGE_GZIP_LEVEL` when the client asks and the
  body is at least :data:`MIN_SIZE` bytes (smaller ones are sent as they are,
  unless the client refused ``identity``).  Its ``ETag``, if it has one,
  becomes weak (``W/"..."``), as nginx does: the compressed and the plain body
  are the same representation, and ``If-None-Match`` compares weakly.

Every negotiable response carries ``Vary: Accept-Encoding`` (whatever coding
was chosen) so that a shared cache keeps one copy per coding.  A response
that already has a ``Content-Encoding`` is left alone.  When nothing the
server can send is acceptable (``identity;q=0`` without an acceptable
coding) the answer is ``406``.
"""

from __future__ import annotations

import zlib
from functools import lru_cache
from typing import TYPE_CHECKING

try:  # optional: pip install 'rweb[brotli]'
    import brotli as _brotli
except ImportError:  # pragma: no cover - exercised when the extra is not installed
    _brotli = None

if TYPE_CHECKING:
    from .http import Request, Response

__all__ = [
    "BROTLI",
    "MIN_SIZE",
    "PAGE_GZIP_LEVEL",
    "Encoded",
    "choose",
    "compress",
    "compress_response",
    "decompress",
    "parse_accept_encoding",
]

IDENTITY = "identity"
GZIP = "gzip"
BR = "br"
BROTLI = _brotli is not None  # whether br can be offered at all

# Bodies below this are sent as they are: gzip's header and trailer alone are 18 bytes,
# and a small body saves little for the CPU it costs.
MIN_SIZE = 1024
# A page is compressed for each response: the fast level (benchmarks/compression.py measured
# level 1 against 6 on the counter's and a 100-row todo's first page: see docs/deploy.md).
PAGE_GZIP_LEVEL = 1
# Bytes compressed once per process (the client script): the smallest output.
STATIC_GZIP_LEVEL = 9
BROTLI_QUALITY = 11

_ALIASES = {"x-gzip": GZIP}
_PAGE_CODINGS = (GZIP,)
_STATIC_CODINGS = (BR, GZIP) if BROTLI else (GZIP,)


def parse_accept_encoding(header: str) -> dict[str, float]:
    """``{coding: q}`` from an ``Accept-Encoding`` value (lower-case names; malformed weights skip their entry)."""
    prefs: dict[str, float] = {}
    for item in header.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q = 1.0
        for param in params.split(";"):
            key, eq, value = param.partition("=")
            if eq and key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
                break
        if not 0.0 <= q <= 1.0:
            continue
        name = _ALIASES.get(name, name)
        prefs[name] = max(q, prefs.get(name, q))  # named twice: the higher weight
    return prefs


def choose(header: str | None, offered: tuple[str, ...]) -> str | None:
    """The coding to answer with: one of ``offered`` (best first), ``"identity"``, or None (nothing acceptable)."""
    if not header:
        return IDENTITY
    if len(header) > 128:  # not a browser's: parsed each time rather than kept
        return _choose.__wrapped__(header, offered)
    return _choose(header, offered)


@lru_cache(maxsize=256)  # browsers send a handful of short values: each is parsed once
def _choose(header: str, offered: tuple[str, ...]) -> str | None:
    prefs = parse_accept_encoding(header)
    star = prefs.get("*")
    best, best_q = None, 0.0
    for coding in offered:
        q = prefs.get(coding, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    # identity not named (nor ``*``): acceptable, after any coding the client accepts (RFC 9110 12.5.3).
    identity_q = prefs.get(IDENTITY, star)
    if best is not None and (identity_q is None or best_q >= identity_q):
        return best
    return IDENTITY if identity_q is None or identity_q > 0 else None


def compress(data: bytes, coding: str, level: int | None = None) -> bytes:
    """``data`` in ``coding`` (``gzip``: ``level`` 0-9, default 9, mtime 0; ``br``: quality ``level``, default 11)."""
    if coding == GZIP:
        z = zlib.compressobj(STATIC_GZIP_LEVEL if level is None else level, zlib.DEFLATED, 31)
        return z.compress(data) + z.flush()
    if coding == BR and _brotli is not None:
        quality = BROTLI_QUALITY if level is None else level
        return bytes(_brotli.compress(data, quality=quality, mode=_brotli.MODE_TEXT))
    raise ValueError(f"cannot compress to {coding!r}")


def decompress(data: bytes, coding: str | None) -> bytes:
    """``data`` with ``coding`` (a ``Content-Encoding`` value, None or ``identity``: none) undone."""
    coding = (coding or IDENTITY).strip().lower()
    if coding == IDENTITY:
        return data
    if coding in (GZIP, "x-gzip"):
        return zlib.decompress(data, 31)
    if coding == BR and _brotli is not None:
        return bytes(_brotli.decompress(data))
    raise ValueError(f"cannot decode {coding!r}")


def accept_encoding(request: Request) -> str | None:
    """The request's ``Accept-Encoding``, its lines joined (None when absent)."""
    values = request.headers.getlist("accept-encoding")
    return ",".join(values) if values else None


def add_vary(response: Response) -> None:
    """Name ``Accept-Encoding`` in the response's ``Vary`` (added to a ``Vary`` it has)."""
    for i, (name, value) in enumerate(response.headers):
        if name.lower() == "vary":
            names = {v.strip().lower() for v in value.split(",")}
            if "accept-encoding" not in names and "*" not in names:
                response.headers[i] = (name, f"{value}, Accept-Encoding")
            return
    response.headers.append(("Vary", "Accept-Encoding"))


class Encoded:
    """Bytes that do not change, in every coding offered, each with its own ETag (built once: the client script).

    ``tag`` names the bytes (a hash of them); the ETags are ``"<tag>"``,
    ``"<tag>-gzip"`` and ``"<tag>-br"``: a cache that stored one coding
    never revalidates another with it (RFC 9110 8.8.3).
    """

    __slots__ = ("codings", "tag", "variants")

    def __init__(self, data: bytes, tag: str) -> None:
        self.tag = tag
        self.variants: dict[str, tuple[bytes, str]] = {IDENTITY: (data, f'"{tag}"')}
        for coding in _STATIC_CODINGS:  # each compressed once (brotli at 11: 0.12 s for the client script)
            body = compress(data, coding)
            if len(body) < len(data):
                self.variants[coding] = (body, f'"{tag}-{coding}"')
        self.codings: tuple[str, ...] = tuple(c for c in _STATIC_CODINGS if c in self.variants)

    def negotiate(self, request: Request) -> tuple[str, bytes, str] | None:
        """(coding, body, ETag) for ``request``; None when no coding it accepts is here."""
        coding = choose(accept_encoding(request), self.codings)
        if coding is None:
            return None
        body, etag = self.variants[coding]
        return coding, body, etag


def set_coding(response: Response, coding: str) -> None:
    """``Vary: Accept-Encoding``, and ``Content-Encoding`` unless ``coding`` is identity (or the answer a 304)."""
    add_vary(response)
    if coding != IDENTITY and response.status != 304:  # a 304 has no body to decode
        response.headers.append(("Content-Encoding", coding))


def compress_response(request: Request, response: Response) -> Response:
    """``response`` (marked ``compress``) compressed as ``request`` accepts it; see the module docstring."""
    if response.status in (204, 304) or response.status < 200 or response.has_header("content-encoding"):
        add_vary(response)
        return response
    header = accept_encoding(request)
    coding = choose(header, ()) if len(response.body) < MIN_SIZE else None
    if coding is None:  # large enough, or identity refused: the best coding accepted
        coding = choose(header, _PAGE_CODINGS)
    if coding is None:
        return _not_acceptable()
    if coding != IDENTITY:
        response.body = compress(response.body, coding, PAGE_GZIP_LEVEL)
        headers: list[tuple[str, str]] = []
        for name, value in response.headers:
            low = name.lower()
            if low == "content-length":
                continue  # the transports count the new body
            if low == "etag" and not value.startswith("W/"):
                value = "W/" + value
            headers.append((name, value))
        response.headers = headers
    set_coding(response, coding)
    return response


def _not_acceptable() -> Response:
    from .http import error_response

    response = error_response(406, "No content coding this server can send is acceptable to the client.")
    add_vary(response)
    return response
