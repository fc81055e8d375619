"""The HTTP values beneath a request: errors, headers, query parameters, cookies, responses, redirects.

Nothing here touches a socket or knows the app; :mod:`rweb.http` adds the
:class:`~rweb.http.Request` (whose form parsing and CSRF helpers sit on
:mod:`rweb.formdata` and :mod:`rweb.security`, which build on this module)
and re-exports every name, so ``rweb.http.Response`` and the rest keep
their import path.

Cookies are set with the secure defaults a login cookie needs
(``HttpOnly``, ``Secure``, ``SameSite=Lax``, ``Path=/``); every attribute can
be changed per cookie.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from typing import Any, Literal, TypeGuard
from urllib.parse import parse_qsl, quote

import orjson

__all__ = [
    "HTMLResponse",
    "HTTPError",
    "Headers",
    "JSONResponse",
    "PlainTextResponse",
    "QueryParams",
    "Redirect",
    "RedirectResponse",
    "Response",
    "UnsafeRedirect",
    "check_header",
    "check_headers",
    "check_redirect",
    "error_response",
    "format_cookie",
    "is_local_path",
    "parse_cookies",
    "url_has_allowed_host_and_scheme",
]

SameSite = Literal["lax", "strict", "none"]


class HTTPError(Exception):
    """Raise from a handler to answer ``status`` with a small HTML error page showing ``detail`` (escaped)."""

    def __init__(self, status: int, detail: str | None = None, headers: Mapping[str, str] | None = None):
        self.status = int(status)
        self.detail = detail if detail is not None else HTTPStatus(self.status).phrase
        self.headers = dict(headers or {})
        super().__init__(f"{self.status} {self.detail}")


# -- multi-valued mappings -------------------------------------------------


class _MultiDict(Mapping[str, str]):
    """An immutable mapping where a key may repeat: ``m[k]`` is the first value."""

    __slots__ = ("_first", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)
        self._first: dict[str, str] = {}
        for k, v in self._items:
            self._first.setdefault(k, v)

    def __getitem__(self, key: str) -> str:
        return self._first[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def getlist(self, key: str) -> list[str]:
        return [v for k, v in self._items if k == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class QueryParams(_MultiDict):
    """A query string or a url-encoded form: ``q["x"]`` and ``q.getlist("x")``."""

    __slots__ = ()

    @classmethod
    def parse(cls, qs: str | bytes) -> QueryParams:
        if isinstance(qs, bytes):
            qs = qs.decode("latin-1")
        return cls(parse_qsl(qs, keep_blank_values=True)) if qs else cls()


class Headers(_MultiDict):
    """Request headers, looked up case-insensitively (names are stored lower-case)."""

    __slots__ = ()

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return self._first[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._first

    def get(self, key: str, default: Any = None) -> Any:
        return self._first.get(key.lower(), default)

    def getlist(self, key: str) -> list[str]:
        return super().getlist(key.lower())


# -- cookies -------------------------------------------------------------------


def parse_cookies(header: str | None) -> dict[str, str]:
    """A ``Cookie`` header -> ``{name: value}``, as browsers and most servers read it.

    ``name=value`` pairs split on ``;``; one odd pair never hides the others
    (``http.cookies.SimpleCookie`` stops at it); the first of a repeated name wins.
    """
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for pair in header.split(";"):
        name, eq, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not name:
            continue
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        cookies.setdefault(name, value)
    return cookies


# RFC 6265: a cookie name is a token; a value is cookie-octets (we refuse the
# rest instead of quoting it, so what a handler sets is what the browser sends).
# Patterns are used with fullmatch: ``$`` would let a trailing newline through.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_VALUE = re.compile(r"[!#-+\--:<-\[\]-~]*")
_ATTR_VALUE = re.compile(r"[^\x00-\x1f\x7f;]*")
_BAD_HEADER_VALUE = re.compile(r"[\r\n\x00]")


def format_cookie(
    name: str,
    value: str = "",
    *,
    max_age: int | None = None,
    expires: datetime | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = True,
    httponly: bool = True,
    samesite: SameSite | None = "lax",
    partitioned: bool = False,
) -> str:
    """One ``Set-Cookie`` header value; refuses names and values a browser would misread."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"invalid cookie name {name!r}")
    if not _COOKIE_VALUE.fullmatch(value):
        raise ValueError(
            f"invalid cookie value for {name!r}: use only printable ASCII without spaces, "
            "quotes, commas, semicolons or backslashes (URL-encode or sign it first)"
        )
    parts = [f"{name}={value}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
    if expires is not None:
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        parts.append("Expires=" + format_datetime(expires.astimezone(UTC), usegmt=True))
    for attr, v in (("Path", path), ("Domain", domain)):
        if v is not None:
            if not _ATTR_VALUE.fullmatch(v):
                raise ValueError(f"invalid cookie {attr} {v!r}")
            parts.append(f"{attr}={v}")
    if secure or samesite == "none" or partitioned:
        parts.append("Secure")  # SameSite=None and Partitioned require it
    if httponly:
        parts.append("HttpOnly")
    if samesite is not None:
        if samesite not in ("lax", "strict", "none"):
            raise ValueError(f"samesite must be 'lax', 'strict' or 'none', not {samesite!r}")
        parts.append("SameSite=" + samesite.capitalize())
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_cookie_deletion(
    name: str, *, path: str | None = "/", domain: str | None = None, secure: bool = True,
    httponly: bool = True, samesite: SameSite | None = "lax",
) -> str:
    """A ``Set-Cookie`` that removes ``name`` (path and domain must match the one that set it)."""
    return format_cookie(
        name, max_age=0, expires=_EPOCH, path=path, domain=domain, secure=secure,
        httponly=httponly, samesite=samesite,
    )


# -- responses -----------------------------------------------------------------


class Response:
    """A plain HTTP response: status, headers, body, cookies.

    ``headers`` may repeat a name (``Set-Cookie``); names are kept as given.
    ``compress``: ``True`` lets the app compress the body when the client asks
    (rweb.compression; reactive pages set it, a handler's response may opt in;
    mind BREACH, docs/security.md).
    """

    __slots__ = ("body", "compress", "headers", "status")
    media_type: str | None = None

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.status = int(status)
        self.body = body.encode() if isinstance(body, str) else bytes(body)
        self.compress = False
        if headers is None:
            self.headers: list[tuple[str, str]] = []
        elif isinstance(headers, Mapping):
            self.headers = list(headers.items())
        else:
            self.headers = list(headers)
        for k, v in self.headers:
            check_header(k, v)
        media_type = media_type or self.media_type
        if media_type and not self.has_header("content-type"):
            if media_type.startswith("text/") and "charset" not in media_type:
                media_type += "; charset=utf-8"
            self.headers.append(("Content-Type", media_type))

    def has_header(self, name: str) -> bool:
        name = name.lower()
        return any(k.lower() == name for k, _ in self.headers)

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def set_header(self, name: str, value: str) -> None:
        """Set ``name`` to ``value``, replacing any earlier value."""
        check_header(name, value)
        low = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != low]
        self.headers.append((name, value))

    def set_cookie(self, name: str, value: str = "", **attrs: Any) -> None:
        """Add a ``Set-Cookie``; see :func:`format_cookie` for the attributes and defaults."""
        self.headers.append(("Set-Cookie", format_cookie(name, value, **attrs)))

    def delete_cookie(self, name: str, **attrs: Any) -> None:
        """Add a ``Set-Cookie`` that removes ``name`` (give the same path and domain it was set with)."""
        self.headers.append(("Set-Cookie", format_cookie_deletion(name, **attrs)))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.status}>"


def check_header(name: str, value: str) -> None:
    """Raises ValueError for a header that cannot go on the wire as it is: a name that is
    not a token, or CR, LF or NUL in the value (a second header, or a cut one, in disguise).

    Responses check what they are given; the transports check again what they write,
    so that a handler appending to ``response.headers`` directly cannot split a response.
    """
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    if _BAD_HEADER_VALUE.search(value):
        raise ValueError(f"invalid header value for {name!r}: CR, LF and NUL are not allowed")


def check_headers(response: Response) -> None:
    """:func:`check_header` for every header of ``response``."""
    for name, value in response.headers:
        check_header(name, value)


class HTMLResponse(Response):
    """An HTML body (``text/html; charset=utf-8``)."""

    __slots__ = ()
    media_type = "text/html; charset=utf-8"


class PlainTextResponse(Response):
    """A plain text body (``text/plain; charset=utf-8``)."""

    __slots__ = ()
    media_type = "text/plain; charset=utf-8"


class JSONResponse(Response):
    """A JSON body (``application/json``): ``content`` encoded by orjson."""

    __slots__ = ()
    media_type = "application/json"

    def __init__(
        self,
        content: Any,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(orjson.dumps(content), status, headers)


class UnsafeRedirect(ValueError):
    """A redirect or navigation to a URL this site does not send browsers to: another site
    not named (``external=True``, ``App(allowed_redirect_hosts=...)``), or no URL at all."""


class Redirect(Exception):
    """Raise from a page's setup (or a handler) to send the browser elsewhere.

    On the HTTP first paint it becomes a 303 response; in a live session the
    browser loads ``url``.  ``url`` is a path on this site, or another site's
    http(s) URL with ``external=True`` or a host in ``App(allowed_redirect_hosts=...)``
    (otherwise :class:`~rweb.http.UnsafeRedirect` when the app meets it).
    """

    def __init__(self, url: str, *, external: bool = False):
        check_redirect(url, external=True)  # a URL at all; its host is checked by the app
        super().__init__(url)
        self.url = url
        self.external = external


# Browsers drop tabs and newlines anywhere in a URL and read a backslash as a slash:
# ``/\t/evil`` and ``/\evil`` are ``//evil``, another host.  Neither is ever in a URL we send.
_UNSAFE_URL_CHAR = re.compile(r"[\x00-\x1f\x7f\\]")
# An absolute http(s) URL written plainly: its authority has no user part (``good@evil``).
_ABSOLUTE_URL = re.compile(r"https?://([^/?#@\s]+)(?:[/?#].*)?", re.IGNORECASE | re.DOTALL)


def is_local_path(url: object) -> TypeGuard[str]:
    """True for a path on this site (``/x``, ``/x?q#f``): the one rule for every redirect and navigation.

    Never for ``//host``, a scheme (``https:x``, ``javascript:``), a leading
    space, nor for a URL with a backslash or a control character anywhere.
    """
    return (
        type(url) is str and url[:1] == "/" and url[1:2] != "/" and _UNSAFE_URL_CHAR.search(url) is None
    )


def _url_host(url: str) -> str | None:
    """The authority (lower case, port included) of a plainly written absolute http(s) URL, else None."""
    if type(url) is not str or _UNSAFE_URL_CHAR.search(url) is not None:
        return None
    m = _ABSOLUTE_URL.fullmatch(url)
    return m.group(1).lower() if m else None


def url_has_allowed_host_and_scheme(
    url: str, allowed_hosts: Iterable[str] = (), *, require_https: bool = False
) -> bool:
    """May a redirect taken from the request (``?next=...``) go to ``url``? (as Django's helper)

    True for a path on this site (:func:`is_local_path`), or for an
    ``http(s)://`` URL whose host (``example.com``, or ``example.com:8443``
    with a port) is in ``allowed_hosts`` (give ``request.app.allowed_redirect_hosts``);
    ``require_https`` refuses ``http://``.  False for everything else::

        target = request.query.get("next", "/")
        if not url_has_allowed_host_and_scheme(target, request.app.allowed_redirect_hosts):
            target = "/"
        return RedirectResponse(target)
    """
    if is_local_path(url):
        return True
    host = _url_host(url)
    if host is None or (require_https and url[:6].lower() != "https:"):
        return False
    return host in {h.lower() for h in allowed_hosts}


def check_redirect(url: str, allowed_hosts: Iterable[str] = (), *, external: bool = False) -> str:
    """``url`` when a redirect may go there, else :class:`UnsafeRedirect`: a path of this site,
    an http(s) URL of a host in ``allowed_hosts``, or any http(s) URL when ``external``."""
    if url_has_allowed_host_and_scheme(url, allowed_hosts):
        return url
    host = _url_host(url)
    if host is None:
        raise UnsafeRedirect(f"unsafe redirect target {url!r}: neither a path of this site nor an http(s) URL")
    if external:
        return url
    raise UnsafeRedirect(
        f"redirect to another site refused ({host}): pass external=True for a URL the app chose, "
        "or name the host in App(allowed_redirect_hosts=[...])"  # pragma: no mutate (wording)
    )


# What a Location keeps as it is (RFC 3986's reserved and unreserved characters, and % escapes).
_URL_CHARS = ":/?#[]@!$&'()*+,;=%-._~"


class RedirectResponse(Response):
    """A redirect (303 See Other by default: the right one after a form POST).

    To a path on this site (``/login``), or to another site when the app says
    so: ``external=True``, or its host in ``App(allowed_redirect_hosts=...)``.
    ``javascript:``, ``//evil.example``, ``/\\evil.example`` and other odd
    targets raise :class:`UnsafeRedirect` (a ``ValueError``) at once; a URL of
    another site is refused when the app answers (a 500 with a reference in
    the log).  For a target taken from the request (``?next=...``), check it
    first with :func:`url_has_allowed_host_and_scheme` and fall back to ``/``.
    """

    __slots__ = ("external", "url")

    def __init__(
        self,
        url: str,
        status: int = 303,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        *,
        external: bool = False,
    ) -> None:
        check_redirect(url, external=True)  # a URL at all; the host is the app's to allow (checked)
        if status not in (301, 302, 303, 307, 308):
            raise ValueError(f"a redirect status is 301, 302, 303, 307 or 308, not {status}")
        super().__init__(b"", status, headers)
        self.url = url
        self.external = external
        self.set_header("Location", quote(url, safe=_URL_CHARS))

    def checked(self, allowed_hosts: Iterable[str]) -> RedirectResponse:
        """This response, if its target is allowed (:func:`check_redirect`); else UnsafeRedirect."""
        check_redirect(self.url, allowed_hosts, external=self.external)
        return self


def to_response(value: Any) -> Response:
    """What a handler returned -> a Response (``str``: HTML; ``dict``/``list``: JSON; ``None``: 204)."""
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        return HTMLResponse(value)
    if isinstance(value, (dict, list)):
        return JSONResponse(value)
    if value is None:
        return Response(b"", 204)
    if isinstance(value, bytes):
        return Response(value, media_type="application/octet-stream")
    raise TypeError(
        f"a handler must return a Response, str, dict, list, bytes or None, not {type(value).__name__}"
    )

def error_response(status: int, detail: str | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """A small HTML error page; ``detail`` is shown as text (escaped), never an exception's message."""
    from html import escape

    phrase = HTTPStatus(status).phrase
    text = escape(detail or phrase)
    body = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{status} {escape(phrase)}'
        f"</title></head><body><h1>{status} {escape(phrase)}</h1>"
        + (f"<p>{text}</p>" if detail and detail != phrase else "")
        + "</body></html>"
    )
    response = HTMLResponse(body, status, headers)
    return response
