"""Cross-site requests (CSRF) and the protective headers, against the real servers.

Every case runs on the built-in server (``rweb.testing.serve``) and on uvicorn
(``rweb.asgi``, a child process started with test_asgi's ``run_uvicorn``), with
``http.client``: the headers a browser would send (``Origin``,
``Sec-Fetch-Site``) are set by hand, the counter is read back over HTTP.
"""

from __future__ import annotations

import http.client
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from processes import http_request

import rweb
from rweb import App, Request
from rweb.html import button, div, form, span, to_html
from rweb.security import CSRF_HEADER, SECURITY_HEADERS
from rweb.testing import TestClient, serve
from rweb.web.client_script import client_url

HERE = Path(__file__).resolve().parent
SECRET = "cross-site-tests-secret-key-0123456789"
EVIL = "https://evil.example"
PARTNER = "https://partner.example"


def build_app(**options: Any) -> App:
    """A counter behind plain handlers: /inc (protected), /hook (opted out), /transfer (token required)."""
    app = App("csrf", secret_key=SECRET, static={"/files": HERE / "transcripts"}, **options)
    hits = {"n": 0}

    @app.page("/")
    def home(writer_id: Any) -> Any:
        return (lambda: div(span("home"))), {}

    @app.get("/count")
    def count(request: Request) -> Any:
        return {"n": hits["n"]}

    @app.post("/inc")
    def inc(request: Request) -> Any:
        hits["n"] += 1
        return {"n": hits["n"]}

    @app.post("/hook", csrf=False)
    def hook(request: Request) -> Any:
        hits["n"] += 1
        return {"n": hits["n"]}

    @app.get("/form")
    def transfer_form(request: Request) -> Any:
        return to_html(form(request.csrf_input(), button("Send"), method="post", action="/transfer"))

    @app.post("/transfer", csrf="token")
    def transfer(request: Request) -> Any:
        hits["n"] += 100
        return {"n": hits["n"]}

    @app.get("/framable")
    def framable(request: Request) -> Any:
        response = rweb.HTMLResponse("<p>embed me</p>")
        response.set_header("X-Frame-Options", "")  # dropped: the app's CSP below says who may frame
        response.set_header("Content-Security-Policy", "frame-ancestors https://partner.example")
        return response

    @app.get("/boom")
    def boom(request: Request) -> Any:
        raise RuntimeError("boom")

    return app


def asgi_app() -> Any:
    return rweb.asgi(build_app())


def asgi_partner_app() -> Any:
    return rweb.asgi(build_app(allowed_origins=[PARTNER, "https://*.example.com"]))


@dataclass
class Target:
    host: str
    port: int
    kind: str

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(
        self, method: str, path: str, body: bytes | str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        return http_request(self.host, self.port, method, path, body, headers)

    def count(self) -> int:
        status, _, body = self.request("GET", "/count")
        assert status == 200
        return int(rweb.http.orjson.loads(body)["n"])

    def post(self, path: str, headers: dict[str, str], body: str = "a=1") -> int:
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self.request("POST", path, body, hdrs)[0]


@contextmanager
def running(kind: str, partner: bool = False) -> Iterator[Target]:
    if kind == "builtin":
        app = build_app(allowed_origins=[PARTNER, "https://*.example.com"]) if partner else build_app()
        with serve(app) as srv:
            yield Target(srv.host, srv.port, kind)
    else:
        pytest.importorskip("uvicorn")
        from test_asgi import run_uvicorn

        factory = "test_cross_site:asgi_partner_app" if partner else "test_cross_site:asgi_app"
        with run_uvicorn(factory, "--factory", "--app-dir", str(HERE)) as server:
            yield Target(server.host, server.port, kind)


@pytest.fixture(scope="module", params=["builtin", "uvicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Target]:
    with running(request.param) as target:
        yield target


@pytest.fixture(scope="module", params=["builtin", "uvicorn"])
def partner(request: pytest.FixtureRequest) -> Iterator[Target]:
    with running(request.param, partner=True) as target:
        yield target


# -- refused: another site's state-changing requests ---------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://sub.127.0.0.1.example", "Sec-Fetch-Site": "same-site"},
    ],
    ids=["origin", "origin-null", "sec-fetch-site", "sec-fetch-site-alone", "same-site"],
)
def test_a_cross_site_post_is_refused_and_the_handler_does_not_run(server: Target, headers: dict[str, str]) -> None:
    before = server.count()
    status, hdrs, body = server.request(
        "POST", "/inc", "a=1", {"Content-Type": "application/x-www-form-urlencoded", **headers}
    )
    assert status == 403
    assert b"Cross-site request refused" in body
    assert hdrs["X-Frame-Options"] == "SAMEORIGIN"  # the refusal is a page like any other
    for method in ("PUT", "PATCH", "DELETE"):
        assert server.request(method, "/inc", "", headers)[0] in (403, 405)
    assert server.count() == before


def test_sec_fetch_site_cross_site_is_refused_even_with_this_hosts_origin(server: Target) -> None:
    before = server.count()
    assert server.post("/inc", {"Origin": server.origin, "Sec-Fetch-Site": "cross-site"}) == 403
    assert server.count() == before


def test_an_origin_that_only_starts_or_ends_like_the_host_is_refused(server: Target) -> None:
    before = server.count()
    for origin, host in (
        ("http://a.example.evil.com", "a.example"),
        ("http://a.example:80", "a.example"),
        ("http://evil-a.example", "a.example"),
        ("http://a.example", "a.example.evil.com"),
        ("ftp://a.example", "a.example"),
        (f"{server.origin}.evil.com", f"{server.host}:{server.port}"),
    ):
        assert server.post("/inc", {"Origin": origin, "Host": host}) == 403, origin
    assert server.count() == before


def test_refusals_are_logged_and_nothing_else(caplog: pytest.LogCaptureFixture) -> None:
    app = App("logged")
    caplog.set_level(logging.WARNING, logger="rweb")
    assert app.origin_allowed({"origin": "http://h.example", "host": "h.example"})
    assert not app.cross_site(Request("POST", "/x", headers=[("origin", "http://h.example"), ("host", "h.example")]))
    assert not caplog.records
    assert not app.origin_allowed({"origin": EVIL, "host": "h.example"})
    assert app.cross_site(Request("POST", "/x", headers=[("origin", EVIL), ("host", "h.example")]))
    assert len(caplog.records) == 2 and all(EVIL in r.getMessage() for r in caplog.records)


def test_the_origin_rule_case_by_case() -> None:
    """App.origin_allowed, the rule of the socket and of requests without Sec-Fetch-Site, edge by edge."""
    app = App("origins")

    def ok(origin: str, host: str | None) -> bool:
        return app.origin_allowed({"origin": origin} if host is None else {"origin": origin, "host": host})

    assert ok("https://a.example", "a.example") and ok("http://a.example:8000", "a.example:8000")
    assert ok(" HTTPS://A.Example ", " a.EXAMPLE")  # case and surrounding spaces do not count
    assert app.origin_allowed({"host": "a.example"})  # no Origin: no browser
    for origin, host in [
        ("https://a.example.evil.com", "a.example"),  # a prefix of the origin
        ("https://evil.a.example", "a.example"),  # a suffix
        ("https://a.example", "a.example.evil.com"),
        ("https://evil.example://a.example", "a.example"),  # a second "://"
        ("https://user@a.example", "a.example"),
        ("https://a.example:443", "a.example"),  # another spelling is another origin
        ("ftp://a.example", "a.example"),
        ("a.example", "a.example"),
        ("//a.example", "a.example"),
        ("null", "a.example"),
        ("https://a.example", None),  # no Host: only a listed origin passes
        ("http://", ""),
    ]:
        assert not ok(origin, host), (origin, host)

    listed = App("listed", allowed_origins=[" HTTPS://Partner.example/", "https://*.Example.com", "http://*.dev.test"])
    assert listed.origin_allowed({"origin": "https://partner.example", "host": "x"})
    assert listed.origin_allowed({"origin": "https://shop.example.com"})
    assert listed.origin_allowed({"origin": "https://a.b-c.example.com"})
    assert listed.origin_allowed({"origin": "http://x.dev.test"})
    assert not listed.origin_allowed({"origin": "https://x.example", "host": "x.example"})  # the list replaces the host rule
    for origin in (
        "https://example.com",  # the domain itself
        "http://shop.example.com",  # another scheme
        "https://x.dev.test",
        "https://shop.example.com.evil",
        "https://evil.com/.example.com",
        "https://" + "a" * 20 + "@x.example.com",  # a user part, however long
        "https://x@.example.com",
        "https://-x.example.com",
        "https//shop.example.com",
        "shop.example.com",
        "https://partner.example.evil",
        "https://evilpartner.example",  # a suffix of a listed origin
        "https://x.partner.example",  # a subdomain of one listed without a wildcard
    ):
        assert not listed.origin_allowed({"origin": origin}), origin
    anyone = App("anyone", allowed_origins=["*"])
    assert anyone.origin_allowed({"origin": "https://evil.example"}) and anyone.origin_allowed({"origin": "null"})
    with pytest.raises(TypeError, match="list"):
        App("one", allowed_origins="https://a.example")
    # Set after the app is made, the new list is the one checked.
    later = App("later")
    assert not later.origin_allowed({"origin": PARTNER, "host": "x.example"})
    later.allowed_origins = [PARTNER + "/"]
    assert later.allowed_origins == (PARTNER,)
    assert later.origin_allowed({"origin": PARTNER, "host": "x.example"})
    assert not later.origin_allowed({"origin": "https://x.example", "host": "x.example"})
    later.allowed_origins = None
    assert later.origin_allowed({"origin": "https://x.example", "host": "x.example"})
    with pytest.raises(TypeError, match="list"):
        later.allowed_origins = "https://a.example"  # type: ignore[assignment]


def test_cross_site_case_by_case() -> None:
    """App.cross_site, through rweb.testing's requests (no server): Sec-Fetch-Site first, then Origin."""
    app = App("cs", allowed_origins=[PARTNER])
    plain = App("plain")

    def refused(a: App, method: str = "POST", **headers: str) -> bool:
        request = Request(method, "/x", headers=[(k.replace("_", "-"), v) for k, v in headers.items()])
        return a.cross_site(request)

    for method in ("GET", "HEAD", "OPTIONS"):
        assert not refused(app, method, origin=EVIL, sec_fetch_site="cross-site")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert refused(app, method, origin=EVIL, sec_fetch_site="cross-site")
    assert not refused(app, sec_fetch_site=" Same-Origin ", origin=EVIL)
    assert not refused(app, sec_fetch_site="none")
    assert not refused(app, sec_fetch_site="same-site", origin=PARTNER)
    assert refused(app, sec_fetch_site="same-site")  # no Origin to check
    assert refused(plain, sec_fetch_site="same-site", origin="http://h.example", host="h.example")
    assert not refused(plain)  # neither header: no browser
    assert not refused(plain, origin="http://h.example", host="h.example")
    assert refused(plain, origin="http://h.example")


# -- accepted ---------------------------------------------------------------------------------


def test_a_same_origin_form_post_works_with_no_code(server: Target) -> None:
    before = server.count()
    # A current browser: Sec-Fetch-Site and Origin.
    assert server.post("/inc", {"Origin": server.origin, "Sec-Fetch-Site": "same-origin"}) == 200
    # An older one (no Sec-Fetch-Site): Origin equals Host.
    assert server.post("/inc", {"Origin": server.origin}) == 200
    # Typed or bookmarked by the user (Sec-Fetch-Site: none), e.g. a form resubmitted.
    assert server.post("/inc", {"Sec-Fetch-Site": "none"}) == 200
    # Sec-Fetch-Site wins over Origin: null (a same-origin page with Referrer-Policy: no-referrer).
    assert server.post("/inc", {"Origin": "null", "Sec-Fetch-Site": "same-origin"}) == 200
    assert server.count() == before + 4


def test_a_request_with_neither_origin_nor_sec_fetch_site_passes(server: Target) -> None:
    before = server.count()
    assert server.post("/inc", {}) == 200  # curl, a script, a server-to-server call: no browser
    assert server.count() == before + 1


def test_safe_methods_are_never_refused(server: Target) -> None:
    status, _, _ = server.request("GET", "/count", None, {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"})
    assert status == 200


def test_a_route_that_opts_out_accepts_other_sites(server: Target) -> None:
    before = server.count()
    assert server.post("/hook", {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}) == 200
    assert server.post("/hook", {"Origin": "null"}) == 200
    assert server.count() == before + 2


def test_allowed_origins_let_a_listed_origin_through(partner: Target) -> None:
    before = partner.count()
    assert partner.post("/inc", {"Origin": PARTNER, "Sec-Fetch-Site": "cross-site"}) == 200
    assert partner.post("/inc", {"Origin": "https://shop.example.com", "Sec-Fetch-Site": "same-site"}) == 200
    assert partner.post("/inc", {"Origin": PARTNER}) == 200
    for origin in (EVIL, "https://partner.example.evil.com", "https://evil-example.com", "https://example.com",
                   "https://x@y.example.com", "http://shop.example.com", "null"):
        assert partner.post("/inc", {"Origin": origin, "Sec-Fetch-Site": "cross-site"}) == 403, origin
        assert partner.post("/inc", {"Origin": origin}) == 403, origin
    assert partner.count() == before + 3


# -- the CSRF token ------------------------------------------------------------------------------


def _token_and_cookie(server: Target) -> tuple[str, str]:
    status, hdrs, body = server.request("GET", "/form")
    assert status == 200
    m = re.search(rb'name="_csrf" value="([^"]+)"', body)
    assert m is not None, body
    cookie = hdrs["Set-Cookie"]
    assert cookie.startswith("rweb_csrf=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    return m.group(1).decode(), cookie.partition(";")[0]


def test_a_form_with_the_token_passes_and_one_without_is_refused(server: Target) -> None:
    token, cookie = _token_and_cookie(server)
    same = {"Origin": server.origin, "Sec-Fetch-Site": "same-origin", "Cookie": cookie}
    before = server.count()
    assert server.post("/transfer", same, f"_csrf={token}&amount=5") == 200
    assert server.post("/transfer", {**same, CSRF_HEADER: token}, "amount=5") == 200  # a fetch() sends the header
    # Refused: no token, a token of another browser (cookie), a forged one, no cookie.
    assert server.post("/transfer", same, "amount=5") == 403
    other_token, other_cookie = _token_and_cookie(server)
    assert other_cookie != cookie
    assert server.post("/transfer", same, f"_csrf={other_token}") == 403
    assert server.post("/transfer", same, f"_csrf={token[:-2]}xx") == 403
    assert server.post("/transfer", {"Origin": server.origin}, f"_csrf={token}") == 403
    # A browser that sends neither Origin nor Sec-Fetch-Site passes the origin check, not the token's.
    assert server.post("/transfer", {"Cookie": cookie}, "amount=5") == 403
    assert server.post("/transfer", {"Cookie": cookie}, f"_csrf={token}") == 200
    # The token adds to the origin check, never replaces it.
    assert server.post("/transfer", {"Origin": EVIL, "Cookie": cookie}, f"_csrf={token}") == 403
    assert server.count() == before + 300


def test_the_csrf_token_check_case_by_case() -> None:
    """csrf_valid on requests made by hand: where the token may be, which cookie holds the id over https."""
    from rweb.security import _CSRF_PREFIX, csrf_valid

    app = App("tokens", secret_key=SECRET)
    ident = "0123456789abcdef" * 2

    def request(method: str, cookie: str, *headers: tuple[str, str], body: str = "", scheme: str = "http") -> Request:
        return Request(method, "/t", headers=[("cookie", cookie), *headers], body=body.encode(), scheme=scheme, app=app)

    token = request("GET", f"rweb_csrf={ident}").csrf_token()
    form_type = ("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
    assert csrf_valid(request("POST", f"rweb_csrf={ident}", form_type, body=f"a=1&_csrf={token}"))
    assert csrf_valid(request("POST", f"rweb_csrf={ident}", body=f"_csrf={token}"))  # no Content-Type: a form
    assert csrf_valid(request("POST", f"rweb_csrf={ident}", ("content-type", "application/json"),
                              (CSRF_HEADER, token), body="{}"))
    for ctype in ("text/plain", "application/json", "multipart/form-data; boundary=x"):  # no form field to read
        assert not csrf_valid(request("POST", f"rweb_csrf={ident}", ("content-type", ctype), body=f"_csrf={token}"))
    assert not csrf_valid(request("POST", f"rweb_csrf={ident}", form_type, body="_csrf="))
    # Over https the id is in __Host-rweb_csrf only: a sibling subdomain can set rweb_csrf, not that one.
    https_token = request("GET", f"__Host-rweb_csrf={ident}", scheme="https").csrf_token()
    assert csrf_valid(request("POST", f"__Host-rweb_csrf={ident}", body=f"_csrf={https_token}", scheme="https"))
    assert not csrf_valid(request("POST", f"rweb_csrf={ident}", body=f"_csrf={https_token}", scheme="https"))
    # An id of another shape than the ones csrf_token makes is no id, whatever is signed for it.
    for odd in ("short", "-" * 32, ident + "0"):
        forged = app.signer.sign(_CSRF_PREFIX + odd)
        assert not csrf_valid(request("POST", f"rweb_csrf={odd}", body=f"_csrf={forged}")), odd


def test_a_browser_keeps_its_csrf_id_across_pages() -> None:
    http = TestClient(build_app())
    first = http.get("/form")
    assert first.cookie("rweb_csrf")
    again = http.get("/form")
    assert again.cookie("rweb_csrf") is None  # the jar sent it back: not set again
    token = re.search(r'value="([^"]+)"', again.text)
    assert token is not None
    assert http.post("/transfer", data={"_csrf": token.group(1)}).status == 200


# -- the cookie endpoint --------------------------------------------------------------------------


def test_the_cookie_endpoint_refuses_other_sites_and_tokens_in_the_url(server: Target) -> None:
    minter = App("minter", secret_key=SECRET)  # the same key: its tokens are the server's
    same = {"Origin": server.origin, "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain"}
    for headers in ({"Origin": EVIL}, {"Origin": "null"}, {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}):
        token = minter.cookie_token(["k=v; Path=/"])
        status, hdrs, _ = server.request("POST", "/_rweb/cookie", token, {"Content-Type": "text/plain", **headers})
        assert status == 403 and hdrs.get("Set-Cookie") is None, headers
    token = minter.cookie_token(["k=v; Path=/"])
    status, hdrs, _ = server.request("POST", f"/_rweb/cookie?t={token}", b"", same)
    assert status == 403 and hdrs.get("Set-Cookie") is None
    # The same token in the body, from this site: redeemed (it was never used above).
    status, hdrs, _ = server.request("POST", "/_rweb/cookie", token, same)
    assert status == 204 and hdrs["Set-Cookie"] == "k=v; Path=/"


# -- the protective headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,status",
    [("/", 200), ("/count", 200), ("/nowhere", 404), ("/boom", 500), ("/files/counter.json", 200),
     ("/_rweb/rweb.js", 200)],
)
def test_every_response_carries_the_protective_headers(server: Target, path: str, status: int) -> None:
    got, hdrs, _ = server.request("GET", path)
    assert got == status
    for name, value in SECURITY_HEADERS.items():
        assert hdrs.get_all(name) == [value], (path, name)


def test_a_response_sets_or_drops_a_header_for_itself(server: Target) -> None:
    _, hdrs, _ = server.request("GET", "/framable")
    assert hdrs.get("X-Frame-Options") is None
    assert hdrs.get_all("Content-Security-Policy") == ["frame-ancestors https://partner.example"]
    assert hdrs["X-Content-Type-Options"] == "nosniff"


def test_an_app_changes_or_drops_the_defaults() -> None:
    app = build_app(security_headers={"X-Frame-Options": "DENY", "Referrer-Policy": None,
                                      "Permissions-Policy": "camera=()"})
    with serve(app) as srv:
        target = Target(srv.host, srv.port, "builtin")
        for path in ("/", "/count", "/nowhere"):
            _, hdrs, _ = target.request("GET", path)
            assert hdrs.get_all("X-Frame-Options") == ["DENY"]
            assert hdrs.get("Referrer-Policy") is None
            assert hdrs["Permissions-Policy"] == "camera=()"
            assert hdrs["X-Content-Type-Options"] == "nosniff"
    with pytest.raises(ValueError):
        App(security_headers={"X-Bad": "a\r\nSet-Cookie: x=1"})


def test_the_first_paint_has_no_inline_script_or_style(server: Target) -> None:
    _, _, body = server.request("GET", "/")
    assert b"<style" not in body
    assert re.findall(rb"<script[^>]*>", body) == [f'<script src="{client_url()}" defer>'.encode()]
    assert b" style=" not in body


def test_the_token_is_masked_afresh_each_time_and_a_token_from_before_masking_still_passes() -> None:
    http = TestClient(build_app())
    first = re.search(r'value="([^"]+)"', http.get("/form").text)
    second = re.search(r'value="([^"]+)"', http.get("/form").text)
    assert first is not None and second is not None and first.group(1) != second.group(1)
    ident = http.cookies.get("rweb_csrf")
    assert ident and ident not in first.group(1)  # the browser's id is not in the page's bytes
    for token in (first.group(1), second.group(1)):
        assert http.post("/transfer", data={"_csrf": token}).status == 200
    # A form printed before masking carries the signed token as it is: still accepted.
    unmasked = http.app.signer.sign("csrf:" + ident)
    assert http.post("/transfer", data={"_csrf": unmasked}).status == 200
    assert http.post("/transfer", data={"_csrf": first.group(1)[:-4] + "AAAA"}).status == 403
