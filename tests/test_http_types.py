"""Transport-free HTTP pieces: routes, requests, responses, cookies, signed tokens."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from rweb import App, HTTPError, JSONResponse, RedirectResponse, Request, Response
from rweb.addressing.routing import Route, Router
from rweb.http import QueryParams, format_cookie, parse_cookies
from rweb.signing import BadSignature, Signer
from rweb.web.client_script import client_url
from rweb.words.http_base import format_cookie_deletion, to_response

# -- routing ---------------------------------------------------------------------


def _route(path: str, methods: tuple[str, ...] = ("GET",), kind: str = "http") -> Route:
    return Route(path, lambda r: None, kind, frozenset(methods))


def test_route_parameters_and_converters() -> None:
    assert _route("/items/{item_id}").match("/items/a%20b") == {"item_id": "a%20b"}
    assert _route("/items/{n:int}").match("/items/42") == {"n": 42}
    assert _route("/items/{n:int}").match("/items/x") is None
    assert _route("/files/{rest:path}").match("/files/a/b.txt") == {"rest": "a/b.txt"}
    assert _route("/a.b").match("/aXb") is None  # literal text is literal
    assert _route("/items/{item_id}").match("/items/1/more") is None


@pytest.mark.parametrize("bad", ["items", "/x/{a}/{a}", "/x/{a:float}"])
def test_bad_route_patterns_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        _route(bad)


def test_router_404_405_and_head() -> None:
    router = Router()
    router.add(_route("/login", ("GET",)))
    router.add(_route("/login", ("POST",)))
    router.add(_route("/only-post", ("POST",)))
    assert router.match("GET", "/login").route is not None
    assert router.match("HEAD", "/login").route is not None
    assert router.match("GET", "/nope").status == 404
    m = router.match("GET", "/only-post")
    assert m.status == 405 and m.allowed == {"POST"}
    with pytest.raises(ValueError):
        router.add(_route("/login", ("GET",)))


def test_url_for_fills_and_encodes_parameters() -> None:
    app = App("x")
    app.page("/items/{item_id}", name="item")(lambda w: ((lambda: None), {}))
    assert app.url_for("item", item_id="a b/c") == "/items/a%20b%2Fc"
    with pytest.raises(KeyError):
        app.url_for("item")


# -- requests -------------------------------------------------------------------------


def test_request_query_form_json_cookies() -> None:
    r = Request(
        "post",
        "/x",
        query_string="a=1&a=2&b=",
        headers=[("Content-Type", "application/x-www-form-urlencoded"), ("Cookie", "s=1; bad; t=\"q\"")],
        body=b"user=ann&pw=%C3%A9",
    )
    assert r.method == "POST"
    assert r.query["a"] == "1" and r.query.getlist("a") == ["1", "2"] and r.query["b"] == ""
    assert r.form()["pw"] == "é"
    assert r.cookies == {"s": "1", "t": "q"}
    assert r.headers["content-type"] == r.headers["CONTENT-TYPE"]
    with pytest.raises(HTTPError) as exc:
        Request("POST", "/", body=b"{").json()
    assert exc.value.status == 400
    with pytest.raises(HTTPError) as exc:
        Request("POST", "/", headers=[("content-type", "multipart/form-data; b=1")], body=b"x").form()
    assert exc.value.status == 400  # multipart is parsed (rweb.formdata): without a boundary it is malformed
    with pytest.raises(HTTPError) as exc:
        Request("POST", "/", headers=[("content-type", "application/xml")], body=b"<x/>").form()
    assert exc.value.status == 415


def test_query_params_parse() -> None:
    assert QueryParams.parse(b"x=%20y").getlist("x") == [" y"]
    assert len(QueryParams.parse("")) == 0


def test_parse_cookies_keeps_the_first_and_skips_odd_pairs() -> None:
    assert parse_cookies("a=1; a=2; =x; b; c=3") == {"a": "1", "c": "3"}
    assert parse_cookies(None) == {} and parse_cookies("") == {}
    # Spaces around a pair do not count, "=" inside a value stays, one pair of quotes is removed.
    assert parse_cookies(' t = YWJj== ;q="x y"; e=""; one="; n=1') == {
        "t": "YWJj==", "q": "x y", "e": "", "one": '"', "n": "1"
    }


# -- responses and cookies ---------------------------------------------------------------


def test_a_naive_expiry_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        naive = datetime(2030, 1, 2, 3, 4, 5)
        assert "Expires=Wed, 02 Jan 2030 03:04:05 GMT" in format_cookie("k", "v", expires=naive)
        tokyo = datetime(2030, 1, 2, 12, 4, 5, tzinfo=timezone(timedelta(hours=9)))
        assert "Expires=Wed, 02 Jan 2030 03:04:05 GMT" in format_cookie("k", "v", expires=tokyo)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_cookie_defaults_are_secure() -> None:
    assert format_cookie("sid", "abc") == "sid=abc; Path=/; Secure; HttpOnly; SameSite=Lax"
    exp = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert format_cookie(
        "k", "v", max_age=10, expires=exp, path="/app", domain="example.org",
        secure=False, httponly=False, samesite="strict",
    ) == "k=v; Max-Age=10; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Path=/app; Domain=example.org; SameSite=Strict"
    # SameSite=None is only accepted by browsers with Secure; so is Partitioned.
    assert "Secure" in format_cookie("k", "v", secure=False, samesite="none")
    assert format_cookie("k", "v", secure=False, partitioned=True) == (
        "k=v; Path=/; Secure; HttpOnly; SameSite=Lax; Partitioned"
    )
    assert format_cookie("k", "v", path=None, samesite=None, max_age=3) == "k=v; Max-Age=3; Secure; HttpOnly"
    assert format_cookie("k") == "k=; Path=/; Secure; HttpOnly; SameSite=Lax"  # no value: an empty one
    assert format_cookie_deletion("k") == "k=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=Lax"
    # A deletion names the cookie as it was set: same path, domain and flags.
    assert format_cookie_deletion(
        "k", path="/app", domain="example.org", secure=False, httponly=False, samesite="strict"
    ) == "k=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/app; Domain=example.org; SameSite=Strict"


@pytest.mark.parametrize(
    ("name", "value", "attrs", "says"),
    [("a b", "v", {}, "cookie name 'a b'"),
     ("k", "a;b", {}, "invalid cookie value for 'k': use only printable ASCII without spaces, quotes, "
      "commas, semicolons or backslashes (URL-encode or sign it first)"),  # and what to do instead
     ("k", "x\r\nSet-Cookie: evil=1", {}, "cookie value for 'k'"), ("k", "v", {"path": "/;x"}, "cookie Path '/;x'"),
     ("k", "v", {"domain": "a\nb"}, "cookie Domain"), ("k", "v", {"samesite": "sometimes"}, "'sometimes'")],
)
def test_cookie_injection_is_refused(name: str, value: str, attrs: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):  # what was refused
        format_cookie(name, value, **attrs)


def test_response_headers_and_cookies() -> None:
    r = Response("hé", media_type="text/plain")
    assert r.body == "hé".encode() and r.header("content-type") == "text/plain; charset=utf-8"
    r.set_cookie("a", "1")
    r.set_cookie("b", "2")
    r.delete_cookie("c")
    cookies = [v for k, v in r.headers if k == "Set-Cookie"]
    assert len(cookies) == 3 and cookies[2].startswith("c=; Max-Age=0; Expires=Thu, 01 Jan 1970")
    with pytest.raises(ValueError, match=r"'X-A'.*CR, LF and NUL"):  # which header, and why
        r.set_header("X-A", "1\r\nX-B: 2")
    r = Response(headers=[("x-a", "1"), ("X-B", "2"), ("X-A", "3")])
    r.set_header("X-A", "4")  # replaces every earlier value, whatever its case
    assert r.headers == [("X-B", "2"), ("X-A", "4")]
    with pytest.raises(ValueError, match="header name 'Bad Name'"):
        Response(headers={"Bad Name": "x"})


@pytest.mark.parametrize("url", ["//evil.example", "/\\evil.example", "javascript:alert(1)", "data:text/html,x", "ftp://x"])
def test_redirects_refuse_tricky_targets(url: str) -> None:
    with pytest.raises(ValueError):
        RedirectResponse(url)


def test_redirect_and_json() -> None:
    assert RedirectResponse("/a b?x=1").header("location") == "/a%20b?x=1"
    assert RedirectResponse("https://example.org/", 307).status == 307
    assert JSONResponse({"a": [1]}).body == b'{"a":[1]}'


def test_handler_results_become_responses() -> None:
    assert to_response("<p>x</p>").header("content-type") == "text/html; charset=utf-8"
    assert to_response({"a": 1}).header("content-type") == "application/json"
    assert to_response(None).status == 204
    with pytest.raises(TypeError):
        to_response(3.5)


# -- App.handle_http ----------------------------------------------------------------------


def _get(app: App, method: str, path: str, **kw: Any) -> Response:
    return asyncio.run(app.handle_http(Request(method, path, **kw)))


def test_handle_http_statuses_and_no_exception_text(caplog: pytest.LogCaptureFixture) -> None:
    app = App("x")

    @app.get("/boom")
    def boom(request: Request) -> str:
        raise KeyError("secret-token-123")

    @app.post("/form")
    async def form(request: Request) -> Response:
        await asyncio.sleep(0)
        return JSONResponse(dict(request.form()))

    @app.get("/teapot")
    def teapot(request: Request) -> str:
        raise HTTPError(418, "<short & stout>")

    r = _get(app, "GET", "/boom")
    assert r.status == 500 and b"secret-token-123" not in r.body and b"ref " in r.body
    # The visitor's reference names the log line that holds the exception.
    ref = re.search(rb"ref ([0-9a-f]{8})", r.body).group(1).decode()  # type: ignore[union-attr]
    [logged] = [rec for rec in caplog.records if f"(ref {ref})" in rec.getMessage()]
    assert logged.exc_info is not None and "secret-token-123" in str(logged.exc_info[1])
    assert _get(app, "GET", "/nope").status == 404
    r = _get(app, "GET", "/form")
    assert r.status == 405 and r.header("allow") == "POST"
    r = _get(app, "POST", "/form", headers=[("content-type", "application/x-www-form-urlencoded")], body=b"a=1")
    assert r.status == 200 and r.body == b'{"a":"1"}'
    r = _get(app, "GET", "/teapot")
    assert r.status == 418 and b"&lt;short &amp; stout&gt;" in r.body
    assert _get(app, "GET", "/favicon.ico").status == 204
    assert _get(app, "GET", "/_rweb/rweb.js").status == 200
    assert _get(app, "GET", "/_rweb/cookie").status == 405


def test_page_html_names_the_socket_and_root() -> None:
    app = App("T<i>tle", root_path="/app/")
    app.page("/")(lambda w: ((lambda: None), {}))
    body = _get(app, "GET", "/").body.decode()
    assert '<meta name="rweb-socket" content="/app/ws">' in body
    assert f'<script src="/app{client_url()}" defer>' in body
    assert "<title>T&lt;i&gt;tle</title>" in body


def test_the_page_language_is_the_apps() -> None:
    page = lambda w: ((lambda: None), {})  # noqa: E731
    app = App("T")
    app.page("/")(page)
    assert _get(app, "GET", "/").body.decode().startswith('<!DOCTYPE html>\n<html lang="en"><head>')
    app = App("T", lang="pt-BR")
    app.page("/")(page)
    assert '<html lang="pt-BR"><head>' in _get(app, "GET", "/").body.decode()
    for bad in ("", "en_GB", 'en"><script>', "x" * 9, 7):
        with pytest.raises(ValueError, match="language tag"):
            App("T", lang=bad)  # type: ignore[arg-type]


# -- signing -------------------------------------------------------------------------------


def test_signed_values_round_trip_and_refuse_tampering() -> None:
    s = Signer("k" * 32)
    token = s.sign("ann")
    assert s.unsign(token) == "ann"
    for bad in (token.replace("ann", "bob"), token[:-2] + "xx", "garbage", Signer("j" * 32).sign("ann")):
        with pytest.raises(BadSignature):
            s.unsign(bad)
    old = s.sign("ann")
    time.sleep(1.1)
    with pytest.raises(BadSignature):
        s.unsign(old, max_age=0.5)
    with pytest.raises(ValueError):
        Signer("short")


def test_encrypted_tokens_hide_and_authenticate() -> None:
    s = Signer(b"\x01" * 32)
    t = s.encrypt(b"secret value")
    assert b"secret" not in t.encode() and s.decrypt(t) == b"secret value"
    assert s.encrypt(b"secret value") != t  # a fresh nonce each time
    assert Signer(b"\x02" * 32).decrypt(t) is None
    flipped = t[:40] + ("A" if t[40] != "A" else "B") + t[41:]  # inside the tag
    assert s.decrypt(flipped) is None
    assert s.decrypt("!!") is None and s.decrypt("") is None


def test_a_secret_key_needs_16_bytes() -> None:
    s = Signer("k" * 16)
    assert s.unsign(s.sign("ann")) == "ann" and s.decrypt(s.encrypt(b"ann")) == b"ann"
    with pytest.raises(ValueError, match="16 bytes"):
        Signer(b"k" * 15)


def test_tokens_made_before_an_upgrade_are_still_accepted() -> None:
    """Made by this format with the key "k" * 32: a change of the key's derivation or of the
    format would log every user out (session cookies) and spend every cookie token."""
    s = Signer("k" * 32)
    assert s.unsign("ann.AAAAAGsTZEo.ZpbHPvWDHg69iDTLd4pt3MCNsluleougFqckZaYiwDY") == "ann"
    assert s.decrypt("AQAAAABrE2RKk3QoqAK6t8mlT1cwj9M7AJE8twkFA6jj3b3eTd3baw") == b"ann"


def test_a_salt_keeps_the_tokens_of_one_use_from_another() -> None:
    one, other = Signer("k" * 32, salt="cookies"), Signer("k" * 32, salt="links")
    with pytest.raises(BadSignature):
        other.unsign(one.sign("ann"))
    assert other.decrypt(one.encrypt(b"ann")) is None
    assert one.unsign(one.sign("ann")) == "ann" and one.decrypt(one.encrypt(b"ann")) == b"ann"


def test_a_token_younger_than_max_age_is_accepted() -> None:
    s = Signer("k" * 32)
    assert s.unsign(s.sign("ann"), max_age=60) == "ann"
    assert s.decrypt(s.encrypt(b"ann"), max_age=60) == b"ann"


def test_an_encrypted_token_cut_short_is_refused_and_an_empty_value_is_not() -> None:
    s = Signer("k" * 32)
    assert s.decrypt(s.encrypt(b"")) == b""  # the shortest token: head, nonce and tag
    raw = base64.urlsafe_b64decode(s.encrypt(b"ann") + "==")
    for n in range(len(raw)):  # every shorter token: None, never an exception
        assert s.decrypt(base64.urlsafe_b64encode(raw[:n]).rstrip(b"=").decode()) is None


def test_respond_runs_an_async_handler_once_and_only_when_awaited() -> None:
    app = App("x")
    calls: list[str] = []

    @app.post("/insert")
    async def insert(request: Request) -> dict[str, int]:
        calls.append("before await")  # e.g. a database insert: must happen once
        await asyncio.sleep(0)
        return {"n": len(calls)}

    pending = app.respond(Request("POST", "/insert"))
    assert not isinstance(pending, Response) and calls == []

    async def finish() -> Response:
        return await pending  # type: ignore[misc]

    assert asyncio.run(finish()).body == b'{"n":1}' and calls == ["before await"]
    assert asyncio.run(app.handle_http(Request("POST", "/insert"))).body == b'{"n":2}'
    sync = app.respond(Request("GET", "/nope"))
    assert isinstance(sync, Response) and sync.status == 404
