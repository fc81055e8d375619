"""Sign in with a password, then use a reactive page that only a signed-in user can open.

    RWEB_SECRET_KEY=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
        python examples/secure_auth.py --port 8080

Open http://localhost:8080/ and sign in as ``demo`` with the password
``rweb-demo-password`` (or the one in ``RWEB_DEMO_PASSWORD``; ``RWEB_DEMO_USER``
renames the user).  Without ``RWEB_SECRET_KEY`` a random key is made at start
(with a warning): sessions then end when the server restarts.  The session
cookie is ``Secure``: browsers accept it from ``https://`` pages (Chromium and
Firefox also from ``http://localhost``), so serve the app over TLS anywhere else.

What it shows, and why each piece is there:

- ``GET /login``: a plain HTML form; every value in it is escaped (the
  ``rweb.html`` builders escape all text and attributes) and nothing the
  visitor typed is echoed back.
- ``POST /auth/login``: the password is checked against a ``hashlib.scrypt``
  hash with a random salt per user, compared in constant time
  (``hmac.compare_digest``).  An unknown user name costs the same scrypt run
  against a dummy hash and gets the same answer as a wrong password (401, the
  same page, byte for byte): the form does not tell which user names exist.
  On success: a signed session cookie (``rweb.signing.Signer``; the value is
  the user name and an expiry time, signed so that it cannot be altered or
  forged; ``HttpOnly``, ``Secure``, ``SameSite=Lax``, ``Max-Age``) and a 303
  to ``/``, with a flash message (``request.flash("success", "Signed in")``)
  that the page there shows once (docs/flash.md).
- ``GET /`` and ``GET /account``: reactive pages guarded by ``signed_in``
  (``@app.page(path, auth=signed_in)``, declared once per page), which refuses
  a visitor without a valid cookie with ``raise rweb.Redirect("/login")`` on
  the HTTP first paint (a 303), the live join and a live navigation (the
  browser loads ``/login``); the pages read the sign-in as ``conn.user``.  They show the user's name and a counter, and link to each
  other with ``data-navigate`` (live navigation on the same socket).
- ``POST /auth/logout``: a plain form button; clears the cookie, 303 to ``/login``.

Cross-site request forgery: the POST handlers accept a request only when its
``Origin`` header (or, when a browser sent none, its ``Referer``) names this
site, the host the request was sent to; a request with neither is refused
too.  Browsers send ``Origin`` with every POST and a page cannot forge it, so a
form on another site cannot log a visitor in (login CSRF, which a
``SameSite`` cookie cannot stop: there is no cookie yet) or out.  The session
cookie is ``SameSite=Lax`` as a second line: browsers do not send it with a
cross-site POST, nor with a WebSocket opened from another site, and the live
join also refuses a socket whose ``Origin`` is another site's (cross-site
WebSocket hijacking).  The login page is sent with ``Referrer-Policy:
same-origin`` (a stricter ``no-referrer`` would make browsers send
``Origin: null``) and ``frame-ancestors 'none'`` (no clickjacking).

Behind a TLS-terminating proxy, keep the ``Host`` header (nginx:
``proxy_set_header Host $host;``), or the origin check refuses every POST.
A production deployment would also throttle failed logins per client and per
user name, and keep sessions server-side when they must be revocable: a signed
cookie stays valid until its expiry (logging out clears it in this browser only).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import rweb
from rweb import App, Conn, HTMLResponse, HTTPError, Redirect, RedirectResponse, Request, reactive
from rweb.flash import flash_group
from rweb.html import (
    a,
    body,
    button,
    component,
    div,
    form,
    h1,
    head,
    header,
    html,
    input_,
    label,
    meta,
    nav,
    p,
    raw,
    span,
    strong,
    style,
    title,
    to_html,
)
from rweb.html import main as main_
from rweb.signing import BadSignature, Signer

log = logging.getLogger("secure_auth")

SESSION_COOKIE = "session"
SESSION_TTL = 8 * 3600  # seconds a sign-in lasts
DEMO_USER = "demo"
DEMO_PASSWORD = "rweb-demo-password"

# scrypt's cost: N=2**15, r=8, p=1 needs 32 MiB and about 0.1 s of one core per
# check.  OWASP's minimum is N=2**17 (128 MiB); raise it where the machine
# allows.  The parameters are stored with each hash, so raising them later
# keeps existing hashes valid.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MAX_NAME, MAX_PASSWORD = 64, 1024  # longer input is refused before any hashing
_NAME = re.compile(r"^[a-z0-9_.-]{1,64}$")


# -- passwords ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PasswordHash:
    salt: bytes
    digest: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    @classmethod
    def make(cls, password: str, salt: bytes | None = None) -> PasswordHash:
        salt = secrets.token_bytes(16) if salt is None else salt
        return cls(salt, _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))

    def matches(self, password: str) -> bool:
        given = _scrypt(password, self.salt, self.n, self.r, self.p)
        return hmac.compare_digest(given, self.digest)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * 1024 * 1024
    )


class Users:
    """User names and their password hashes (in memory: a real app keeps them in its database)."""

    def __init__(self) -> None:
        self._hashes: dict[str, PasswordHash] = {}
        # Checked instead when the user does not exist: the same work, the same answer.
        self._dummy = PasswordHash.make(secrets.token_urlsafe(16))

    def add(self, name: str, password: str) -> None:
        if not _NAME.match(name):
            raise ValueError("a user name is 1-64 of a-z, 0-9, '_', '.', '-'")
        if not password or len(password) > MAX_PASSWORD:
            raise ValueError(f"a password has 1-{MAX_PASSWORD} characters")
        self._hashes[name] = PasswordHash.make(password)

    def __contains__(self, name: object) -> bool:
        return name in self._hashes

    def verify(self, name: str, password: str) -> bool:
        """True when ``name`` exists and ``password`` is its password; as slow either way."""
        if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:
            return False
        stored = self._hashes.get(name)
        ok = (stored or self._dummy).matches(password)
        return ok and stored is not None


# -- the session cookie ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    user: str
    expires: int  # Unix time


class Sessions:
    """Session cookies: ``user:expiry``, signed (HMAC-SHA256) with a key of their own."""

    def __init__(self, secret: str | bytes, ttl: int = SESSION_TTL, clock: Callable[[], float] = time.time):
        # Its own salt: a value signed for another purpose (or by rweb itself
        # with the same secret) never verifies as a session.
        self.signer = Signer(secret, salt="secure_auth:session")
        self.ttl = ttl
        self.clock = clock

    def issue(self, user: str) -> str:
        expires = int(self.clock()) + self.ttl
        return self.signer.sign(f"{user}:{expires}")

    def read(self, token: str | None) -> SignedIn | None:
        """The signed-in user of a cookie value, or None (missing, altered, foreign or expired)."""
        if not token:
            return None
        try:
            value = self.signer.unsign(token)
        except BadSignature:
            return None
        user, _, expires = value.rpartition(":")
        if not user or not expires.isdigit() or int(expires) <= self.clock():
            return None
        return SignedIn(user, int(expires))


# -- the CSRF defence ------------------------------------------------------------------------------


def same_origin(headers: Any) -> bool:
    """Does the request come from a page of this site?  ``Origin`` (else ``Referer``) vs ``Host``.

    A request with neither header is refused: every browser sends ``Origin``
    with a POST, so only a non-browser client (or a privacy setting that
    strips both, rare) lands here.
    """
    source = headers.get("origin") or headers.get("referer")
    host = headers.get("host")
    if not source or not host:
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def check_origin(request: Request) -> None:
    if not same_origin(request.headers):
        log.warning("%s %s refused: not from this site", request.method, request.path)
        raise HTTPError(403, "This form must be sent from this site.")


# -- pages ---------------------------------------------------------------------------------------------

_CSS = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
    "label{display:block;margin:.5rem 0}input{display:block;width:100%;padding:.3rem}"
    "button{margin-top:.75rem;padding:.3rem 1rem}.error{color:#b00020}nav a{margin-right:1rem}"
)

# The login page is plain HTML: no script, no frames, forms post only here.
LOGIN_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
LOGIN_ERROR = "Wrong user name or password."


def login_page(error: str | None = None, status: int = 200) -> HTMLResponse:
    page = html(
        head(
            meta(charset="utf-8"),
            meta(name="viewport", content="width=device-width, initial-scale=1"),
            title("Sign in"),
            style(raw(_CSS)),
        ),
        body(
            main_(
                h1("Sign in"),
                error and p(error, class_="error", role="alert"),
                form(
                    label(
                        "User name",
                        input_(
                            name="username", autocomplete="username", required=True,
                            maxlength=str(MAX_NAME), autocapitalize="none",
                        ),
                    ),
                    label(
                        "Password",
                        input_(
                            type="password", name="password", autocomplete="current-password",
                            required=True, maxlength=str(MAX_PASSWORD),
                        ),
                    ),
                    button("Sign in", type="submit"),
                    method="post",
                    action="/auth/login",
                ),
            )
        ),
        lang="en",
    )
    return HTMLResponse("<!DOCTYPE html>\n" + to_html(page), status, LOGIN_HEADERS)


@reactive
class Counter:
    value: int


def make_app(
    *,
    secret_key: str | bytes,
    users: Users,
    session_ttl: int = SESSION_TTL,
    clock: Callable[[], float] = time.time,
) -> App:
    """The app; ``clock`` is for tests (session expiry)."""
    app = App("Secure auth demo", secret_key=secret_key, max_body_size=16 * 1024)
    sessions = Sessions(secret_key, session_ttl, clock)

    def current(cookies: Mapping[str, str]) -> SignedIn | None:
        """The signed-in user of a request or socket (one that still exists), or None."""
        session = sessions.read(cookies.get(SESSION_COOKIE))
        return session if session is not None and session.user in users else None

    def signed_in(conn: Conn) -> SignedIn:
        """The pages' guard: the user, or a redirect to the login form (first paint, live join and navigation)."""
        session = current(conn.cookies)
        if session is None:
            raise Redirect("/login")
        # A live socket opened by a page of another site: refused (the browser
        # sends Origin with every WebSocket; SameSite=Lax already keeps the
        # cookie off such a socket, this is the second line).
        if conn.live and conn.headers.get("origin") and not same_origin(conn.headers):
            log.warning("live join refused: the socket was opened from %s", conn.headers.get("origin"))
            raise Redirect("/login")
        return session

    def chrome(conn: Conn, session: SignedIn, *content: Any) -> Any:
        return div(
            header(
                nav(
                    a("Home", href="/", data_navigate=True),
                    a("Account", href="/account", data_navigate=True),
                ),
                p("Signed in as ", strong(session.user, id="user")),
            ),
            flash_group(conn),  # "Signed in", once, after the login's redirect
            *content,
            form(button("Sign out", type="submit"), method="post", action="/auth/logout"),
        )

    def expired(conn: Conn, session: SignedIn) -> bool:
        """The sign-in ran out while the page was open: send the browser to the login form."""
        if session.expires <= clock():
            conn.redirect("/login")
            return True
        return False

    @app.page("/", title="Home", auth=signed_in)
    def home(writer_id: Any, conn: Conn) -> Any:
        session: SignedIn = conn.user
        counter = Counter(0)

        def render() -> Any:
            return chrome(
                conn,
                session,
                h1("Hello, ", session.user),
                component("count", lambda: p("Clicks: ", span(counter.value, id="count"))),
                button("Click me", data_action="inc"),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if expired(conn, session):
                return
            if action == "inc":
                counter.value += 1

        return render, on_action

    @app.page("/account", title="Account", auth=signed_in)
    def account(writer_id: Any, conn: Conn) -> Any:
        session: SignedIn = conn.user
        until = datetime.fromtimestamp(session.expires, UTC).strftime("%Y-%m-%d %H:%M UTC")

        def render() -> Any:
            return chrome(conn, session, h1("Account"), p("This sign-in lasts until ", until, "."))

        return render, {}

    @app.get("/login")
    def login_form(request: Request) -> HTMLResponse | RedirectResponse:
        if current(request.cookies) is not None:
            return RedirectResponse("/")
        return login_page()

    @app.post("/auth/login")
    def login(request: Request) -> HTMLResponse | RedirectResponse:
        check_origin(request)
        fields = request.form()
        name = fields.get("username", "")
        password = fields.get("password", "")
        if not users.verify(name, password):
            # No user name in the log: people type their password there by mistake.
            log.info("failed sign-in from %s", request.client or "?")
            return login_page(LOGIN_ERROR, 401)
        request.flash("success", "Signed in")
        response = RedirectResponse("/", 303, {"Cache-Control": "no-store"})
        response.set_cookie(
            SESSION_COOKIE,
            sessions.issue(name),
            max_age=session_ttl,
            path="/",
            secure=True,
            httponly=True,
            samesite="lax",
        )
        return response

    @app.post("/auth/logout")
    def logout(request: Request) -> RedirectResponse:
        check_origin(request)
        response = RedirectResponse("/login", 303, {"Cache-Control": "no-store"})
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
        return response

    return app


# -- running it -----------------------------------------------------------------------------------------


def secret_key_from_env() -> bytes:
    """``RWEB_SECRET_KEY``, or a random key (with a warning: sessions end at a restart)."""
    key = os.environ.get("RWEB_SECRET_KEY")
    if key:
        if len(key.encode()) < 16:
            raise SystemExit("RWEB_SECRET_KEY must have at least 16 bytes (32 random ones are better)")
        return key.encode()
    log.warning(
        "RWEB_SECRET_KEY is not set: using a random key; sessions will not survive a restart"
    )
    return secrets.token_bytes(32)


def demo_users() -> Users:
    users = Users()
    users.add(
        os.environ.get("RWEB_DEMO_USER", DEMO_USER),
        os.environ.get("RWEB_DEMO_PASSWORD", DEMO_PASSWORD),
    )
    return users


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("RWEB_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    # Made before the workers fork: they all share the key and the users.
    app = make_app(secret_key=secret_key_from_env(), users=demo_users())
    rweb.start_rweb(args.port, app, host=args.host, workers=args.workers)


if __name__ == "__main__":
    main()
