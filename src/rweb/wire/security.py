"""Protective response headers and the CSRF token (see docs/security.md).

- **Headers.** :data:`SECURITY_HEADERS` go on every response of
  :meth:`rweb.App.respond` (pages, handlers, errors, static files, the client
  script) that does not set them itself; ``App(security_headers={...})``
  changes or drops them (``None``) for the app, and a response drops one by
  setting it to ``""``.
- **Cross-site requests** are refused by :meth:`rweb.App.cross_site` (the
  ``Origin`` / ``Sec-Fetch-Site`` check, by default on every state-changing
  request to a plain handler).
- **The CSRF token**, an explicit check on top: :func:`csrf_token` signs a
  random per-browser id kept in a cookie, masked per response (BREACH);
  :func:`csrf_valid` checks that the token a request carries (form field
  ``_csrf`` or header ``X-CSRF-Token``) was signed by this app for that
  browser's cookie.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from ..addressing.signing import BadSignature
from ..words.http_base import HTTPError, Response, check_header, format_cookie

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SECURITY_HEADERS",
    "csrf_cookie_name",
    "csrf_token",
    "csrf_valid",
]

# Methods that change nothing (RFC 9110's safe methods): never refused as cross-site.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Phoenix's put_secure_browser_headers, less what browsers dropped (X-XSS-Protection, X-Download-Options).
SECURITY_HEADERS: Mapping[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'; base-uri 'self'",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}

CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_PREFIX = "csrf:"  # what is signed: never taken for another token of the app's Signer


def header_defaults(overrides: Mapping[str, str | None] | None) -> tuple[tuple[str, str, str], ...]:
    """(name, lower-case name, value) of each header every response gets, ``overrides`` applied."""
    merged: dict[str, tuple[str, str | None]] = {k.lower(): (k, v) for k, v in SECURITY_HEADERS.items()}
    for name, value in (overrides or {}).items():
        if value is not None:
            check_header(name, value)  # a name and value that can go on the wire, or ValueError
        merged[name.lower()] = (name, value)
    return tuple((name, low, value) for low, (name, value) in merged.items() if value is not None)


def add_headers(response: Response, defaults: tuple[tuple[str, str, str], ...]) -> Response:
    """Give ``response`` each default it does not set itself; a header it set to ``""`` is dropped."""
    headers = response.headers
    have: set[str] = set()
    blank = False  # pragma: no mutate (fast path: the filter below changes nothing when no value is blank)
    for name, value in headers:
        have.add(name.lower())
        blank = blank or not value  # pragma: no mutate (fast path, as above)
    for name, low, value in defaults:
        if low not in have:
            headers.append((name, value))
    if blank:
        drop = {low for _, low, _ in defaults}
        response.headers = [(k, v) for k, v in headers if v or k.lower() not in drop]
    return response


# -- the CSRF token ------------------------------------------------------------------------


def csrf_cookie_name(scheme: str) -> str:
    """``__Host-rweb_csrf`` over https (no sibling subdomain can set it), ``rweb_csrf`` over http."""
    return "__Host-rweb_csrf" if scheme == "https" else "rweb_csrf"


def _browser_id(request: Any) -> str | None:
    ident = request.cookies.get(csrf_cookie_name(request.scheme))
    return ident if ident and len(ident) == 32 and ident.isalnum() else None


def csrf_token(request: Any) -> str:
    """A token for a form (or a ``fetch`` header) of this browser; sets the browser's id cookie when it has none.

    Masked afresh on each call (:func:`_mask`): no two pages carry the same
    bytes for it, so a compressed page does not leak it to BREACH.
    """
    ident = _browser_id(request) or request.csrf_id
    if ident is None:
        ident = request.csrf_id = secrets.token_hex(16)
    return _mask(str(request.app.signer.sign(_CSRF_PREFIX + ident)))


def _mask(token: str) -> str:
    """``token`` behind a random one-time pad: base64url(pad + (pad XOR token)), as Django, Rails and Plug mask theirs.

    Not encryption (the pad travels with it): it only makes the bytes differ
    in every response, which is what defeats BREACH's guessing byte by byte.
    """
    raw = token.encode()
    pad = secrets.token_bytes(len(raw))
    masked = (int.from_bytes(pad) ^ int.from_bytes(raw)).to_bytes(len(raw))
    return base64.urlsafe_b64encode(pad + masked).rstrip(b"=").decode("ascii")


def _unmask(value: str) -> str | None:
    """The signed token behind :func:`_mask`'s ``value``; a token from before masking (it has a ``.``) as it is."""
    if "." in value:
        return value
    try:
        data = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (ValueError, binascii.Error):
        return None
    half = len(data) // 2
    if not half or len(data) != 2 * half:
        return None
    raw = (int.from_bytes(data[:half]) ^ int.from_bytes(data[half:])).to_bytes(half)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def csrf_cookie(request: Any) -> str | None:
    """The ``Set-Cookie`` value for the id :func:`csrf_token` made in this request, if it made one."""
    ident = request.csrf_id
    if ident is None:
        return None
    https = request.scheme == "https"
    return format_cookie(csrf_cookie_name(request.scheme), ident, secure=https, samesite="lax")


def csrf_valid(request: Any) -> bool:
    """Does ``request`` carry a token this app signed for this browser's id cookie?"""
    ident = _browser_id(request)
    if ident is None:
        return False
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        try:
            token = request.form().get(CSRF_FIELD)
        except HTTPError:  # not a url-encoded form (JSON, text...), or not UTF-8: no field to read
            return False
    token = _unmask(token) if token else None
    if not token:
        return False
    try:
        value = request.app.signer.unsign(token)
    except BadSignature:
        return False
    return hmac.compare_digest(value.encode(), (_CSRF_PREFIX + ident).encode())
