"""examples/secure_auth.py: password sign-in, a signed session cookie, protected reactive pages.

Everything runs in-process: plain HTTP through ``rweb.testing.TestClient`` and
the live pages through the ``Client`` it opens with its cookies.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rweb.testing import Client, PageError, TestClient

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "secure_auth.py"
KEY = "test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery staple"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rweb_example_secure_auth", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sa() -> ModuleType:
    return _load()


@pytest.fixture(scope="module")
def users(sa: ModuleType) -> Any:
    users = sa.Users()
    users.add("alice", PASSWORD)
    users.add("bob", "bob's own password")
    return users


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http(sa: ModuleType, users: Any, clock: Clock) -> TestClient:
    return TestClient(sa.make_app(secret_key=KEY, users=users, clock=clock))


def sign_in(http: TestClient, user: str = "alice", password: str = PASSWORD, **kw: Any) -> Any:
    return http.post("/auth/login", data={"username": user, "password": password}, **kw)


# -- the login form -------------------------------------------------------------------------


def test_the_login_form_is_plain_html_with_strict_headers(http: TestClient) -> None:
    r = http.get("/login")
    assert r.status == 200 and r.header("content-type") == "text/html; charset=utf-8"
    assert '<form method="post" action="/auth/login">' in r.text
    assert 'name="username"' in r.text and 'type="password"' in r.text
    assert "<script" not in r.text
    csp = r.header("content-security-policy") or ""
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
    assert r.header("x-frame-options") == "DENY"
    assert r.header("cache-control") == "no-store"
    assert r.header("referrer-policy") == "same-origin"  # keeps Origin on the POST


def test_a_wrong_password_is_401_with_a_generic_error(sa: ModuleType, http: TestClient) -> None:
    r = sign_in(http, password="wrong")
    assert r.status == 401
    assert sa.LOGIN_ERROR in r.text and "alice" not in r.text
    assert r.set_cookies == [] and not http.cookies


def test_an_unknown_user_gets_the_same_answer_after_the_same_work(
    sa: ModuleType, http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kw: Any) -> bytes:
        calls.append(kw["n"])
        return real(*args, **kw)

    monkeypatch.setattr(hashlib, "scrypt", counting)
    wrong = sign_in(http, password="wrong")
    unknown = sign_in(http, user="mallory", password="wrong")
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body and wrong.headers == unknown.headers
    assert calls == [sa.SCRYPT_N, sa.SCRYPT_N]  # one full-cost scrypt run each


def test_over_long_input_is_refused_without_hashing(
    http: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **kw: pytest.fail("hashed"))
    assert sign_in(http, password="x" * 5000).status == 401
    assert sign_in(http, user="a" * 500).status == 401


def test_passwords_are_salted_scrypt_hashes(sa: ModuleType) -> None:
    one, two = sa.PasswordHash.make("same"), sa.PasswordHash.make("same")
    assert one.salt != two.salt and one.digest != two.digest
    assert one.matches("same") and not one.matches("Same")
    with pytest.raises(ValueError):
        sa.Users().add("<script>", "pw")


# -- signing in ------------------------------------------------------------------------------


def test_signing_in_sets_a_strict_session_cookie_and_redirects(sa: ModuleType, http: TestClient) -> None:
    r = sign_in(http)
    assert r.status == 303 and r.location == "/"
    cookie = r.cookie(sa.SESSION_COOKIE)
    assert cookie is not None
    assert cookie.httponly and cookie.secure and cookie.samesite == "Lax"
    assert cookie.path == "/" and cookie.max_age == sa.SESSION_TTL
    raw = r.header("set-cookie") or ""
    for attr in ("HttpOnly", "Secure", "SameSite=Lax", f"Max-Age={sa.SESSION_TTL}", "Path=/"):
        assert attr in raw
    assert cookie.value.startswith("alice:")
    assert http.cookies[sa.SESSION_COOKIE] == cookie.value


def test_the_protected_page_after_signing_in(http: TestClient) -> None:
    r = sign_in(http, follow_redirects=True)
    assert r.status == 200 and r.url == "/"
    assert '<strong id="user">alice</strong>' in r.text and "Hello, alice" in r.text
    assert r.header("cache-control") == "no-store"


def test_the_live_page_shows_the_user_and_counts(http: TestClient) -> None:
    sign_in(http)
    page = http.page("/")
    assert page.client.ok and page.text("h1") == "Hello, alice"
    assert page.text("#rweb-flash [role=status]").startswith("Signed in")  # the login's flash, once
    assert http.page("/").text("#rweb-flash") == ""
    [reply] = page.click("button[data-action=inc]")
    assert reply["d"] == {"count": {"0": "1"}}
    page.click("button[data-action=inc]")
    assert page.client.html("count") == '<p data-rc="count">Clicks: <span id="count">2</span></p>'
    # Live navigation to the second page (the header's link) keeps the signed-in socket.
    [reply] = page.follow("header nav a[href='/account']")
    assert reply["t"] == "init" and page.title == "Account"
    assert page.text("#user") == "alice" and page.text("h1") == "Account"
    assert page.texts("div > p")[-1].startswith("This sign-in lasts until ")
    page.back()
    assert page.url == "/" and page.text("h1") == "Hello, alice"


def test_signed_in_visitors_skip_the_form(http: TestClient) -> None:
    sign_in(http)
    r = http.get("/login")
    assert r.status == 303 and r.location == "/"


# -- refusing sessions ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/account"])
def test_without_a_cookie_the_pages_redirect_to_the_form(http: TestClient, path: str) -> None:
    r = http.get(path)
    assert r.status == 303 and r.location == "/login"
    live = http.live(path)
    assert not live.ok and live.closed and live.redirected_to == "/login"
    assert live.effects == [("nav", {"url": "/login", "mode": "load"})]


def refused(http: TestClient, cookie_value: str) -> bool:
    """Both the first paint and the live join refuse this cookie value."""
    cookies = {"session": cookie_value}
    first = http.get("/", cookies=cookies)
    live = Client(http.app, "/", cookies=cookies)
    return first.status == 303 and first.location == "/login" and live.redirected_to == "/login"


def test_a_tampered_cookie_is_refused(sa: ModuleType, http: TestClient) -> None:
    value = sign_in(http).cookies[sa.SESSION_COOKIE]
    _, _, rest = value.partition(":")
    assert not refused(http, value)
    assert refused(http, "bob:" + rest)  # another user, the same signature
    assert refused(http, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert refused(http, value.replace(":", ":9", 1))  # a later expiry
    assert refused(http, "alice")
    assert refused(http, "")
    other = sa.Sessions("another-secret-key-0123456789").issue("alice")
    assert refused(http, other)  # signed with another key


def test_an_expired_cookie_is_refused(sa: ModuleType, http: TestClient, clock: Clock) -> None:
    value = sign_in(http).cookies[sa.SESSION_COOKIE]
    clock.now += sa.SESSION_TTL - 1
    assert not refused(http, value)
    clock.now += 1
    assert refused(http, value)


def test_a_session_that_expires_while_open_goes_to_the_form(
    sa: ModuleType, http: TestClient, clock: Clock
) -> None:
    sign_in(http)
    page = http.page("/")
    page.click("button[data-action=inc]")
    clock.now += sa.SESSION_TTL
    page.click("button[data-action=inc]")
    assert page.redirected_to == "/login" and page.closed


def test_a_removed_user_is_refused(sa: ModuleType, clock: Clock) -> None:
    users = sa.Users()
    users.add("carol", "pw")
    http = TestClient(sa.make_app(secret_key=KEY, users=users, clock=clock))
    value = sign_in(http, "carol", "pw").cookies[sa.SESSION_COOKIE]
    users._hashes.clear()
    assert refused(http, value)
    assert http.get("/login", cookies={sa.SESSION_COOKIE: value}).status == 200  # no redirect loop


def test_a_live_join_from_another_site_is_refused(sa: ModuleType, http: TestClient) -> None:
    sign_in(http)
    live = http.live("/", headers={"Origin": "https://evil.example"})
    assert live.redirected_to == "/login"
    # A client that sends no Origin (not a browser) is not refused for it.
    assert http.live("/", headers={"Origin": ""}).ok


# -- signing out ----------------------------------------------------------------------------------


def test_signing_out_clears_the_cookie(sa: ModuleType, http: TestClient) -> None:
    sign_in(http)
    page = http.page("/")
    # A plain form: the browser posts it for real (the answer's Set-Cookie clears the cookie).
    assert page.attr("form", "action") == "/auth/logout"
    with pytest.raises(PageError, match=r"no data-action nor data-onsubmit: the browser would submit it for real"):
        page.click("form button")
    r = http.post("/auth/logout")
    assert r.status == 303 and r.location == "/login"
    cleared = r.cookie(sa.SESSION_COOKIE)
    assert cleared is not None and cleared.value == "" and cleared.max_age == 0 and cleared.path == "/"
    assert sa.SESSION_COOKIE not in http.cookies
    assert http.get("/").location == "/login"
    assert http.live("/").redirected_to == "/login"
    assert http.get("/auth/logout").status == 405


# -- cross-site requests ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null"},
        {"Origin": None},  # neither Origin nor Referer
        {"Origin": None, "Referer": "https://evil.example/testserver"},
        {"Origin": "http://testserver", "Host": "other.example"},
    ],
)
def test_a_post_from_another_site_is_refused(
    sa: ModuleType, http: TestClient, headers: dict[str, str | None], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    r = sign_in(http, headers=headers)
    assert r.status == 403 and r.set_cookies == []
    # Another site's Origin is refused by rweb before the handler (App.cross_site); no Origin
    # and no same-site Referer, by the example's own stricter check.
    refusals = ("not from this site", "refused: a cross-site request")
    assert any(any(r in rec.getMessage() for r in refusals) for rec in caplog.records)
    sign_in(http)
    assert http.post("/auth/logout", headers=headers).status == 403
    assert sa.SESSION_COOKIE in http.cookies  # still signed in


def test_a_same_site_referer_is_enough_without_origin(http: TestClient) -> None:
    r = sign_in(http, headers={"Origin": None, "Referer": "http://testserver/login"})
    assert r.status == 303


# -- running it ---------------------------------------------------------------------------------------


def test_the_secret_key_comes_from_the_environment(
    sa: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RWEB_SECRET_KEY", KEY)
    assert sa.secret_key_from_env() == KEY.encode()
    monkeypatch.setenv("RWEB_SECRET_KEY", "short")
    with pytest.raises(SystemExit):
        sa.secret_key_from_env()
    monkeypatch.delenv("RWEB_SECRET_KEY")
    caplog.set_level(logging.WARNING, logger="secure_auth")
    one, two = sa.secret_key_from_env(), sa.secret_key_from_env()
    assert len(one) == 32 and one != two
    assert any("will not survive a restart" in rec.getMessage() for rec in caplog.records)


def test_the_demo_user_comes_from_the_environment(sa: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RWEB_DEMO_USER", raising=False)
    monkeypatch.delenv("RWEB_DEMO_PASSWORD", raising=False)
    users = sa.demo_users()
    assert users.verify(sa.DEMO_USER, sa.DEMO_PASSWORD)
    assert sa.DEMO_PASSWORD in (sa.__doc__ or "")
    monkeypatch.setenv("RWEB_DEMO_USER", "eve")
    monkeypatch.setenv("RWEB_DEMO_PASSWORD", "eve's password")
    users = sa.demo_users()
    assert users.verify("eve", "eve's password") and "demo" not in users


def test_main_serves_the_app_with_start_rweb(sa: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []
    monkeypatch.setattr(sa.rweb, "start_rweb", lambda *a, **kw: served.append((a, kw)))
    monkeypatch.setenv("RWEB_SECRET_KEY", KEY)
    sa.main(["--port", "8123", "--workers", "1"])
    ((args, kw),) = served
    assert args[0] == 8123 and isinstance(args[1], sa.App) and kw == {"host": "127.0.0.1", "workers": 1}
