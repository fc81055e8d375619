"""Redirects and navigation go to this site only, unless the app names the other one.

One rule (``rweb.http.is_local_path``) decides what a path of this site is;
``//evil``, ``/\\evil``, ``/<tab>/evil``, ``\\\\evil``, ``https:evil``, a
leading space or control character, a backslash anywhere: never.  Another
site's URL needs ``external=True`` or its host in
``App(allowed_redirect_hosts=...)``, for every way of redirecting: a handler's
``RedirectResponse``, a ``Redirect`` raised by a handler or a page's setup
(first paint and live join), a live ``conn.redirect``; a live ``nav`` message
to a non-local URL is refused.  All against the real server.
"""

from __future__ import annotations

import http.client
from typing import Any

import pytest

import rweb
from rweb import (
    App,
    Conn,
    Redirect,
    RedirectResponse,
    Request,
    UnsafeRedirect,
    url_has_allowed_host_and_scheme,
)
from rweb.html import button, div, p
from rweb.http import check_redirect, is_local_path
from rweb.protocol import ProtocolError, decode_control
from rweb.testing import serve

NOT_LOCAL = [
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "https:evil.example",
    "https://evil.example/",
    "java\tscript:alert(1)",
    "javascript:alert(1)",
    " /evil",
    "\x01/evil",
    "\t//evil.example",
    "/ok/../\\evil",
    "/x\x00",
    "evil.example",
    "",
]


@pytest.mark.parametrize("url", NOT_LOCAL)
def test_what_is_not_a_path_of_this_site(url: str) -> None:
    assert not is_local_path(url)
    assert not url_has_allowed_host_and_scheme(url, ["evil.example"]) or url == "https://evil.example/"
    with pytest.raises(UnsafeRedirect) as info:
        check_redirect(url)
    assert ("evil.example" if url.startswith("https://") else repr(url)) in str(info.value)  # what was refused
    with pytest.raises(ValueError):  # UnsafeRedirect is a ValueError
        rweb.Conn(App("x"), rweb.ConnectionInfo(), live=True).navigate(url)


@pytest.mark.parametrize("url", ["/", "/a", "/a?next=/b#top", "/a b", "/%2F%2Fevil"])
def test_paths_of_this_site(url: str) -> None:
    assert is_local_path(url) and url_has_allowed_host_and_scheme(url) and check_redirect(url) == url


def test_hosts_the_app_names() -> None:
    hosts = ["accounts.example", "cdn.example:8443"]
    ok = ["https://accounts.example/login", "http://ACCOUNTS.example", "https://cdn.example:8443/x?y#z"]
    for url in ok:
        assert url_has_allowed_host_and_scheme(url, hosts) and check_redirect(url, hosts) == url
    refused = [
        "https://accounts.example@evil.example/",  # the host is evil.example
        "https://evil.example\\@accounts.example/",  # a browser reads \ as /: evil.example
        "https://cdn.example/x",  # another port
        "https://accounts.example.evil.example/",
        "https://evil.example/?next=https://accounts.example/",
        "ftp://accounts.example/",
    ]
    for url in refused:
        assert not url_has_allowed_host_and_scheme(url, hosts), url
        with pytest.raises(UnsafeRedirect):
            check_redirect(url, hosts)
    assert not url_has_allowed_host_and_scheme("http://accounts.example/", hosts, require_https=True)
    assert check_redirect("https://evil.example/", external=True) == "https://evil.example/"
    with pytest.raises(UnsafeRedirect):
        check_redirect("//evil.example", external=True)  # external names a URL, not a trick


def test_https_only_and_hosts_in_any_case() -> None:
    hosts = ["Accounts.Example"]
    for url in ("https://accounts.example/x", "HTTPS://ACCOUNTS.EXAMPLE"):
        assert url_has_allowed_host_and_scheme(url, hosts, require_https=True), url
    assert url_has_allowed_host_and_scheme("/local", hosts, require_https=True)
    assert not url_has_allowed_host_and_scheme("http://accounts.example/x", hosts, require_https=True)
    assert not url_has_allowed_host_and_scheme("https://accounts.example/x")  # no host named
    assert not url_has_allowed_host_and_scheme(None)  # type: ignore[arg-type]  # request.query.get("next"): none


def test_a_redirect_response_to_another_site_waits_for_the_app_to_allow_it() -> None:
    response = RedirectResponse(EVIL)  # another site: refused when the app answers, not here
    assert response.header("location") == EVIL
    with pytest.raises(UnsafeRedirect, match=r"evil\.example"):
        response.checked([])
    assert response.checked(["evil.example"]) is response
    assert RedirectResponse(EVIL, external=True).checked([]).url == EVIL
    assert RedirectResponse("/inside").checked([]).status == 303


def test_redirect_statuses_and_locations() -> None:
    for status in (301, 302, 303, 307, 308):
        assert RedirectResponse("/a", status).status == status
    for status in (200, 300, 304, 404):
        with pytest.raises(ValueError, match="redirect status"):
            RedirectResponse("/a", status)
    # What a URL may hold stays as it is; the rest is percent-encoded.
    kept = "/a/b;p?next=/c&x=%2F,y:z@w!$'()*+=~.-_#top[1]"
    assert ("Location", kept) in RedirectResponse(kept).headers  # the spelling every client reads
    assert RedirectResponse(kept).body == b""
    assert RedirectResponse("/é è").header("location") == "/%C3%A9%20%C3%A8"
    assert RedirectResponse("/a", headers={"X-A": "1"}).header("x-a") == "1"


def test_a_nav_message_to_a_path_that_is_another_host_is_refused() -> None:
    for url in ("/\\evil.example", "//evil.example", "/\t/evil.example", None, 5, ["/a"]):
        with pytest.raises(ProtocolError) as info:
            decode_control({"t": "nav", "url": url}, 1)
        assert info.value.code == "bad_message" and info.value.ref == 1 and "path" in info.value.message
    nav = decode_control({"t": "nav", "url": "/items/1"}, 1)
    assert nav.url == "/items/1" and nav.ref == 1


# -- against the real server ----------------------------------------------------------------

EVIL = "https://evil.example/"
FRIEND = "https://friend.example/welcome"


def redirect_app() -> App:
    app = App("redirects", allowed_redirect_hosts=["friend.example"])

    @app.get("/go")
    def go(request: Request) -> Any:
        to = request.query.get("to", "/")
        return RedirectResponse(to, external=request.query.get("external") == "1")

    @app.get("/raise")
    def raising(request: Request) -> Any:
        raise Redirect(request.query["to"], external=request.query.get("external") == "1")

    @app.get("/login-next")
    def login_next(request: Request) -> Any:
        target = request.query.get("next", "/")
        if not url_has_allowed_host_and_scheme(target, request.app.allowed_redirect_hosts):
            target = "/"
        return RedirectResponse(target)

    @app.page("/away")
    def away(writer_id: Any, conn: Conn) -> Any:
        raise Redirect(conn.query["to"], external=conn.query.get("external") == "1")

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            conn.redirect(params["to"], external=action == "external")

        return (lambda: div(p("home"), button("go", data_action="go"), button("ext", data_action="external"))), on_action

    return app


def get(port: int, target: str) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", target)
        r = conn.getresponse()
        r.read()
        return r.status, r.getheader("location")
    finally:
        conn.close()


def q(url: str) -> str:
    from urllib.parse import quote

    return quote(url, safe="")


def test_http_redirects_go_to_this_site_or_a_named_one() -> None:
    with serve(redirect_app()) as srv:
        port = srv.port
        for path in ("/go", "/raise", "/away"):
            assert get(port, f"{path}?to=/inside") == (303, "/inside")
            assert get(port, f"{path}?to={q(EVIL)}")[0] == 500, path  # another site, not named
            assert get(port, f"{path}?to={q(EVIL)}&external=1") == (303, EVIL), path
            assert get(port, f"{path}?to={q(FRIEND)}") == (303, FRIEND), path  # App(allowed_redirect_hosts)
            for trick in ("//evil.example", "/\\evil.example", "/\t/evil.example"):
                assert get(port, f"{path}?to={q(trick)}&external=1")[0] == 500, (path, trick)
        # ?next= checked with the helper: a foreign target falls back to "/".
        assert get(port, f"/login-next?next={q('/account')}") == (303, "/account")
        assert get(port, f"/login-next?next={q(FRIEND)}") == (303, FRIEND)
        for bad in (EVIL, "//evil.example", "/\\evil.example", "https:evil.example"):
            assert get(port, f"/login-next?next={q(bad)}") == (303, "/"), bad


def test_live_redirects_and_joins_go_to_this_site_or_a_named_one(wire: Any) -> None:
    with serve(redirect_app()) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as ws:
                await wire.recv(ws)
                refused = await wire.click(ws, "go", params={"to": EVIL})
                assert "fx" not in refused and refused["e"]["code"] == "handler_error"
                refused = await wire.click(ws, "external", params={"to": "/\\evil.example"})
                assert "fx" not in refused and refused["e"]["code"] == "handler_error"
                named = await wire.click(ws, "go", params={"to": FRIEND})
                assert named["fx"] == [["nav", {"url": FRIEND, "mode": "load"}]]
            async with wire.connect(srv.ws_url) as ws:
                await wire.recv(ws)
                external = await wire.click(ws, "external", params={"to": EVIL})
                assert external["fx"] == [["nav", {"url": EVIL, "mode": "load"}]]
            # A page's setup raising Redirect to another site: the join fails, the browser is not sent.
            async with wire.connect(srv.ws_url + "?url=" + q("/away?to=" + q(EVIL))) as ws:
                init = await wire.recv(ws)
                assert init["e"]["code"] == "setup_error" and "fx" not in init
            async with wire.connect(srv.ws_url + "?url=" + q("/away?external=1&to=" + q(EVIL))) as ws:
                init = await wire.recv(ws)
                assert init["fx"] == [["nav", {"url": EVIL, "mode": "load"}]]
            # A nav message whose path is another host is refused, not echoed back as a load.
            async with wire.connect(srv.ws_url) as ws:
                await wire.recv(ws)
                reply = await wire.ask(ws, {"t": "nav", "url": "/\\evil.example", "ref": 7})
                assert reply["e"]["code"] == "bad_message" and "fx" not in reply

        wire.run(main())
