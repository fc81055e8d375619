"""Which pages may open the app's socket, and which requests are cross-site (to refuse).

The app's :class:`OriginPolicy` (``app.origins``; ``App.origin_allowed`` and
``App.cross_site`` forward to it) holds ``App(allowed_origins=...)`` and the
rules that read it: Phoenix's ``check_origin`` for the WebSocket, Go's
``CrossOriginProtection`` for state-changing HTTP requests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..wire.security import SAFE_METHODS
from .loglimit import LogLimit

__all__ = ["OriginPolicy"]

log = logging.getLogger("rweb.app")  # its refusals are logged as the app's, as they were


class OriginPolicy:
    """``allowed``: the origins listed (``App(allowed_origins=...)``, normalized), or None:
    a socket is accepted from a page of the host it connects to."""

    def __init__(self, allowed_origins: Iterable[str] | None = None) -> None:
        self.allowed = None if allowed_origins is None else _origin_patterns(allowed_origins)
        self.patterns = None if self.allowed is None else tuple(map(_origin_re, self.allowed))
        self._refusals = LogLimit()

    def origin_allowed(self, headers: Mapping[str, str]) -> bool:
        """May a WebSocket with these (lower-case) request headers join?

        As Phoenix's ``check_origin``: a browser always sends ``Origin`` with a
        WebSocket, and a page from another site must not open a socket that
        carries this site's cookies (cross-site WebSocket hijacking).  By
        default the Origin's host and port must be the ``Host`` the socket
        connects to; ``App(allowed_origins=[...])`` lists the origins allowed
        instead (``"https://app.example.com"``, ``"https://*.example.com"``,
        or ``"*"`` for any).  ``Origin: null`` (sandboxed frames, ``file:``
        pages) is refused unless listed.  A request without ``Origin`` comes
        from no browser (the seed's benchmark client, a test) and is accepted.
        Refusals are logged (rate-limited).
        """
        origin = headers.get(_ORIGIN)
        if origin is None:
            return True
        ok = self._origin_ok(origin, headers.get(_HOST))
        if not ok and self._refusals.allow():
            log.warning("WebSocket refused: Origin %r is not allowed (Host %r)", origin, headers.get(_HOST))  # pragma: no mutate (log wording)
        return ok

    def _origin_ok(self, origin: str, host: str | None) -> bool:
        """The rule: ``origin`` is listed in ``allowed_origins``, or (none listed) is the ``host`` itself.

        Exact: scheme ``http``/``https``, then host and port equal to ``host``,
        never a prefix or a suffix of it (``https://a.example.evil.com`` is not
        ``a.example``).  ``host=None``: only a listed origin passes.
        """
        origin = origin.strip().lower()
        patterns = self.patterns
        if patterns is not None:
            return any(p.fullmatch(origin) for p in patterns)
        if not host:
            return False
        host = host.strip().lower()
        return origin == "https://" + host or origin == "http://" + host

    def cross_site(self, request: Any) -> bool:
        """Is ``request`` a state-changing request from another site, to refuse (CSRF)?

        Go 1.25's ``CrossOriginProtection``: GET, HEAD and OPTIONS always pass;
        ``Sec-Fetch-Site: same-origin`` or ``none`` (typed by the user) passes,
        ``same-site`` and ``cross-site`` pass only from an origin listed in
        ``allowed_origins``; without ``Sec-Fetch-Site`` (older browsers) the
        ``Origin`` must pass the socket's rule (:meth:`origin_allowed`).  A
        request with neither header comes from no browser and passes.
        Refusals are logged (rate-limited).
        """
        if request.method in SAFE_METHODS:
            return False
        headers = request.headers
        origin = headers.get(_ORIGIN)
        site = headers.get(_SEC_FETCH_SITE)
        if site is not None:
            site = site.strip().lower()
            if site in ("same-origin", "none"):
                return False
            ok = origin is not None and self._origin_ok(origin, None)
        elif origin is None:
            return False
        else:
            ok = self._origin_ok(origin, headers.get(_HOST))
        if not ok and self._refusals.allow():
            log.warning(
                "%s %s refused: a cross-site request (Origin %r, Sec-Fetch-Site %r, Host %r)",  # pragma: no mutate (log wording)
                request.method, request.path, origin, site, headers.get(_HOST),  # pragma: no mutate (log wording)
            )
        return not ok


def _origin_patterns(origins: Iterable[str]) -> tuple[str, ...]:
    if isinstance(origins, str):
        raise TypeError("allowed_origins is a list of origins, not one string")  # pragma: no mutate (wording)
    return tuple(o.strip().lower().removesuffix("/") for o in origins)


# The request headers the Origin rules read (lower case: the socket's headers come so, Request's any case).
_ORIGIN, _HOST, _SEC_FETCH_SITE = "origin", "host", "sec-fetch-site"


def _origin_re(pattern: str) -> re.Pattern[str]:
    """An allowed origin as the regex it stands for: ``*`` any origin, ``https://*.example.com``
    any subdomain of example.com (not the domain itself), anything else itself exactly."""
    if pattern == "*":
        return re.compile(".*")
    return re.compile(re.escape(pattern).replace(r"://\*\.", "://" + _SUBDOMAIN))


# The subdomain part of an origin a wildcard matches: DNS labels, nothing else (no "@", "/", ":").
_SUBDOMAIN = r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\."
