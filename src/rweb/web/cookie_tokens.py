"""Cookies set from a live session: the tokens the browser redeems for Set-Cookie headers.

A live session has no HTTP response to put a cookie on (and JavaScript must
never see an HttpOnly value), so ``conn.set_cookie`` sends the browser a
short-lived encrypted token (a ``cookie`` effect); the browser posts it to
:data:`COOKIE_PATH` and the answer carries the Set-Cookie headers.  The app's
:class:`CookieTokens` (``app.cookie_tokens``; ``App.cookie_token`` and
``App.redeem_cookie_token`` forward to it) makes the tokens and redeems each
once (docs/security.md).
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import orjson

from ..addressing.signing import Signer
from ..wire.single_use import KEY_SIZE, UsedTokens
from .loglimit import LogLimit

__all__ = ["COOKIE_PATH", "COOKIE_TOKEN_TTL", "CookieTokens"]

log = logging.getLogger("rweb.app")  # its refusals are logged as the app's, as they were

COOKIE_PATH = "/_rweb/cookie"  # where the browser redeems a token (within the app's root path)
COOKIE_TOKEN_TTL = 60.0  # seconds a token may be redeemed in (App.COOKIE_TOKEN_TTL)


class CookieTokens:
    """Makes and redeems one app's cookie tokens (see the module's docstring).

    ``max_tokens``: tokens redeemed within a minute without a broker
    (``App(max_cookie_tokens=...)``); beyond, they are refused.
    """

    __slots__ = ("signer", "used")

    def __init__(self, signer: Signer, max_tokens: int) -> None:
        self.signer = signer
        # Cookie tokens redeemed (the last COOKIE_TOKEN_TTL s), in memory the workers forked
        # from this process share; with a Redis broker, Redis keeps them instead.
        self.used = UsedTokens(max_tokens)

    def token(self, set_cookies: list[str]) -> str:
        """An encrypted, authenticated, expiring token for the Set-Cookie values ``set_cookies``."""
        # A JSON list, not lines: no value can turn into a second header on the way.
        return self.signer.encrypt(orjson.dumps(set_cookies))

    async def redeem(self, token: str, ttl: float, broker: Any) -> list[str] | None:
        """The Set-Cookie values of ``token`` the first time it is presented within ``ttl`` seconds, else None.

        ``broker``: the app's pub/sub; one that can ``claim`` a key (Redis) records the use for
        every instance, else this server's shared table does.  When the broker cannot answer
        the token is refused: a replay is never let through.
        """
        data = self.signer.decrypt(token, max_age=ttl)
        if data is None:
            return None
        key = hashlib.sha256(token.encode()).digest()[:KEY_SIZE]  # decrypt() accepts one spelling only
        claim = getattr(broker, "claim", None)
        if claim is None:
            first = self.used.claim(key, ttl)
        else:
            try:
                first = await claim("cookie-token:" + key.hex(), ttl)
            except Exception as exc:
                if _claim_refusals.allow():
                    log.warning("a cookie token was refused: the broker could not record its use (%s)", exc)
                return None
        return _set_cookies(data) if first else None


def _set_cookies(data: bytes) -> list[str] | None:
    """A cookie token's Set-Cookie values (a JSON list of strings), or None."""
    try:
        values = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return None
    return values


_claim_refusals = LogLimit()  # cookie tokens refused while the broker cannot answer
