"""The secure-auth example in a real browser: log in, reload stays logged in, log out.

Playwright on Debian's Chromium against examples/secure_auth.py served by the
real server on a loopback port: the form posts over HTTP, the signed session
cookie is HttpOnly (scripts cannot read it), the live page works, and logging
out sends the browser back to the login form for good.
"""

from __future__ import annotations

from typing import Any

from conftest import PW_TIMEOUT_MS, LiveApp
from examples_loader import load_example

auth = load_example("secure_auth")


def make() -> Any:
    users = auth.Users()
    users.add("ann", "correct horse")
    return auth.make_app(secret_key=b"k" * 32, users=users)


def log_in(live: LiveApp, user: str, password: str) -> None:
    page = live.page
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    with page.expect_navigation(timeout=PW_TIMEOUT_MS):
        page.click("button[type=submit]")


def test_log_in_reload_stays_logged_in_log_out(pw_open: Any) -> None:
    live: LiveApp = pw_open(make(), "/", connected=False)
    page = live.page
    # Not signed in: the protected page sends the browser to the login form.
    page.wait_for_url(live.url("/login"), timeout=PW_TIMEOUT_MS)

    log_in(live, "ann", "wrong")
    assert live.path == "/auth/login" and "sign in" in (page.text_content("body") or "").lower()
    assert not [c for c in page.context.cookies() if c["name"] == auth.SESSION_COOKIE]

    page.goto(live.url("/login"))
    log_in(live, "ann", "correct horse")
    page.wait_for_url(live.url("/"), timeout=PW_TIMEOUT_MS)
    live.wait_connected()
    assert live.text("#user") == "ann"
    assert (live.text("#rweb-flash [role=status]") or "").startswith("Signed in")  # the login's flash
    [cookie] = [c for c in page.context.cookies() if c["name"] == auth.SESSION_COOKIE]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax"
    assert auth.SESSION_COOKIE not in page.evaluate("document.cookie")  # HttpOnly: no script sees it

    # The live session works.
    page.click("text=Click me")
    page.wait_for_function("document.querySelector('#count')?.textContent === '1'", timeout=PW_TIMEOUT_MS)

    # A reload keeps the sign-in (the cookie, not the page's state).
    page.reload()
    live.wait_connected()
    assert live.text("#user") == "ann" and live.path == "/"
    assert live.text("#rweb-flash") == ""  # shown once

    # Log out: the cookie is gone and the protected page refuses again.
    with page.expect_navigation(timeout=PW_TIMEOUT_MS):
        page.click("text=Sign out")
    page.wait_for_url(live.url("/login"), timeout=PW_TIMEOUT_MS)
    assert not [c for c in page.context.cookies() if c["name"] == auth.SESSION_COOKIE]
    page.goto(live.url("/"))
    page.wait_for_url(live.url("/login"), timeout=PW_TIMEOUT_MS)
