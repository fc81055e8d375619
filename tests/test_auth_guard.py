"""A page's guard, declared once (``@app.page(path, auth=guard)``), and ``app.disconnect(key)``.

The guard runs wherever the page is set up: its HTTP first paint, a live join
(a socket crafted here, not a browser), a live navigation from a public page.
It returns the user (``conn.user``) or raises ``Redirect``.  ``conn.tag(key)``
ties a live session to a key; ``app.disconnect(key)`` ends every such session
(and closes its socket) in this process and, with a Redis broker, in another
instance.  All against the real server.

A guard may be ``async def`` (its database lookup off the event loop): the
same tests run with one, and a guard that waits leaves other sessions' clicks
answered, in each of the three places.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import quote

import pytest

from rweb import App, Conn, HTTPError, Redirect, Request, reactive
from rweb.html import a, button, div, p, span
from rweb.testing import Client, Page, serve


@reactive
class Count:
    value: int


USERS = {"tok-ada": "ada", "tok-bob": "bob"}


def make_app(guard: str = "sync", gate: threading.Event | None = None, **options: Any) -> tuple[App, list[str]]:
    """The app, its guard ``guard`` ("sync" or "async"); the async one waits, in a thread, for
    ``gate`` when the cookie is ``tok-slow`` (a slow database lookup)."""
    app = App("guarded", **options)
    calls: list[str] = []  # (first paint or live) + path, for each run of the guard

    def check(conn: Conn) -> str:
        calls.append(("live " if conn.live else "paint ") + conn.path)
        user = USERS.get(conn.cookies.get("session", ""))
        if user is None:
            raise Redirect("/login")
        if user == "bob" and conn.path == "/admin":
            raise HTTPError(403, "not for you")
        return user

    async def require_user_async(conn: Conn) -> str:
        if conn.cookies.get("session") == "tok-slow" and gate is not None:
            assert await asyncio.to_thread(gate.wait, 20), "the gate never opened"
            return "slow"
        return check(conn)

    require_user = require_user_async if guard == "async" else check

    @app.page("/", title="Public")
    def public(writer_id: int, conn: Conn) -> Any:
        assert conn.user is None  # no guard here
        return lambda: div(p("public", id="public"), a("Settings", href="/settings", data_navigate=True)), {}

    @app.page("/settings", title="Settings", auth=require_user)
    def settings(writer_id: int, conn: Conn) -> Any:
        conn.tag("login:" + conn.cookies["session"])
        count = Count(0)

        def render() -> Any:
            return div(p("settings of ", span(conn.user, id="user")), span(count.value, id="count"), button("+", data_action="inc", id="inc"))

        def inc(params: dict[str, Any]) -> None:
            count.value += 1

        return render, {"inc": inc}

    @app.page("/admin", auth=require_user)
    def admin(writer_id: int, conn: Conn) -> Any:
        return lambda: p("admin"), {}

    @app.post("/logout", csrf=False)
    def logout(request: Request) -> dict[str, Any]:
        app.disconnect("login:" + request.query["token"])
        return {"ok": True}

    return app, calls


def get(port: int, path: str, cookie: str | None = None) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    resp = conn.getresponse()
    body = resp.read().decode()
    conn.close()
    return resp.status, resp.getheader("Location") or "", body


def post(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", path, body=b"")
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


@pytest.mark.parametrize("guard", ["sync", "async"])
def test_the_guard_decides_the_first_paint(guard: str) -> None:
    app, calls = make_app(guard)
    with serve(app) as srv:
        assert get(srv.port, "/settings") == (303, "/login", "")
        status, _, body = get(srv.port, "/settings", "session=tok-ada")
        assert status == 200 and '<span id="user">ada</span>' in body
        status, _, body = get(srv.port, "/admin", "session=tok-bob")
        assert status == 403 and "not for you" in body
        assert get(srv.port, "/")[0] == 200  # a page without a guard: open to all
    assert calls == ["paint /settings", "paint /settings", "paint /admin"]


@pytest.mark.parametrize("guard", ["sync", "async"])
def test_the_guard_decides_a_live_join(wire: Any, guard: str) -> None:
    app, calls = make_app(guard)
    with serve(app) as srv:
        url = srv.ws_url + "?url=" + quote("/settings", safe="")

        async def main() -> None:
            # A socket crafted to join the guarded page without the cookie: sent to the login page.
            async with wire.connect(url) as ws:
                init = await wire.recv(ws)
                assert init["fx"] == [["nav", {"url": "/login", "mode": "load"}]]
                assert "ada" not in json.dumps(init)
            async with wire.connect(url, additional_headers={"Cookie": "session=tok-nobody"}) as ws:
                init = await wire.recv(ws)
                assert init["fx"] == [["nav", {"url": "/login", "mode": "load"}]]
            async with wire.connect(url, additional_headers={"Cookie": "session=tok-ada"}) as ws:
                init = await wire.recv(ws)
                assert "fx" not in init and "settings of " in json.dumps(init) and "ada" in json.dumps(init)

        wire.run(main())
    assert calls == ["live /settings"] * 3


@pytest.mark.parametrize("guard", ["sync", "async"])
def test_the_guard_decides_a_live_navigation_from_a_public_page(wire: Any, guard: str) -> None:
    app, calls = make_app(guard)
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as ws:  # "/": public, no cookie
                assert "public" in json.dumps(await wire.recv(ws))
                reply = await wire.ask(ws, {"t": "nav", "url": "/settings", "ref": 1})
                assert reply["fx"] == [["nav", {"url": "/login", "mode": "load"}]]
                assert "settings of" not in json.dumps(reply)
            async with wire.connect(srv.ws_url, additional_headers={"Cookie": "session=tok-bob"}) as ws:
                await wire.recv(ws)
                reply = await wire.ask(ws, {"t": "nav", "url": "/settings", "ref": 1})
                assert "fx" not in reply and "bob" in json.dumps(reply)
                reply = await wire.ask(ws, {"t": "nav", "url": "/admin", "ref": 2})
                assert "admin" not in json.dumps(reply.get("c", {}))  # refused: loaded over HTTP for its 403
                assert reply["fx"] == [["nav", {"url": "/admin", "mode": "load"}]]

        wire.run(main())
    assert calls == ["live /settings", "live /settings", "live /admin"]


@pytest.mark.parametrize("guard", ["sync", "async"])
def test_the_guard_in_process(guard: str) -> None:
    app, _ = make_app(guard)
    page = Page(app, "/settings", cookies={"session": "tok-ada"})
    assert page.text("#user") == "ada"
    assert Client(app, "/settings").redirected_to == "/login"
    # app.disconnect in-process too: the page is told to load again, and its session ends.
    other = Page(app, "/settings", cookies={"session": "tok-bob"})
    app.disconnect("login:tok-ada")
    page.client.run_pending()
    other.client.run_pending()
    assert page.client.pushes[-1]["fx"] == [["nav", {"url": "/settings", "mode": "load"}]] and page.closed
    assert not other.closed and other.text("#user") == "bob"
    # A live navigation from a public page, in-process.
    public = Page(app, "/", cookies={"session": "tok-bob"})
    public.click("a")
    assert public.client.url == "/settings" and public.text("#user") == "bob"


def test_a_slow_async_guard_leaves_other_sessions_clicks_fast(wire: Any) -> None:
    """An async guard that waits (a slow lookup, in a thread) holds its own first paint, join or
    live navigation, not the event loop: another session's clicks are answered meanwhile."""
    gate = threading.Event()
    app, _ = make_app("async", gate)
    USERS["tok-slow"] = "slow"
    try:
        with serve(app) as srv:
            slow_cookie = {"Cookie": "session=tok-slow"}
            painted: list[tuple[int, str, str]] = []
            paint = threading.Thread(target=lambda: painted.append(get(srv.port, "/settings", "session=tok-slow")))

            async def main() -> None:
                bob = await _joined(wire, srv.ws_url, "tok-bob")
                joining = await wire.connect(srv.ws_url + "?url=" + quote("/settings", safe=""), additional_headers=slow_cookie)
                navigating = await wire.connect(srv.ws_url, additional_headers=slow_cookie)
                try:
                    assert "public" in json.dumps(await wire.recv(navigating))
                    await navigating.send(json.dumps({"t": "nav", "url": "/settings", "ref": 1}))
                    paint.start()
                    await asyncio.sleep(0.2)  # the three are in their guard (bounded: they wait for the gate)
                    for n in range(1, 6):
                        t0 = time.perf_counter()
                        reply = await wire.click(bob, "inc")
                        assert f'"{n}"' in json.dumps(reply["d"]) or str(n) in json.dumps(reply["d"]), reply
                        assert time.perf_counter() - t0 < 1.0, "a click waited for another session's guard"
                    # The three still wait for their guard.
                    assert paint.is_alive()
                    with pytest.raises(TimeoutError):
                        await wire.recv(joining, timeout=0.1)
                    with pytest.raises(TimeoutError):
                        await wire.recv(navigating, timeout=0.1)
                    gate.set()
                    init = await wire.recv(joining)
                    assert "settings of " in json.dumps(init) and "slow" in json.dumps(init)
                    reply = await wire.recv(navigating)
                    assert reply["t"] == "init" and reply["ref"] == 1 and "slow" in json.dumps(reply)
                    reply = await wire.click(navigating, "inc")  # the page navigated to is live
                    assert "1" in json.dumps(reply["d"]), reply
                finally:
                    gate.set()
                    for ws in (bob, joining, navigating):
                        await ws.close()

            wire.run(main())
            paint.join(10)
        assert painted and painted[0][0] == 200 and '<span id="user">slow</span>' in painted[0][2]
    finally:
        del USERS["tok-slow"]


def test_a_socket_closed_while_its_guard_waits_ends_quietly(wire: Any, caplog: Any) -> None:
    gate = threading.Event()
    app, calls = make_app("async", gate)
    USERS["tok-slow"] = "slow"
    try:
        with serve(app) as srv:

            async def main() -> None:
                url = srv.ws_url + "?url=" + quote("/settings", safe="")
                ws = await wire.connect(url, additional_headers={"Cookie": "session=tok-slow"})
                await ws.close()  # while the guard waits for the gate
                gate.set()
                bob = await _joined(wire, srv.ws_url, "tok-bob")  # the loop goes on
                try:
                    await asyncio.sleep(0.3)  # the guard's thread is done by now
                    assert len(app.sessions) == 1  # bob's only: the closed join set nothing up
                    assert calls.count("live /settings") == 1  # bob's: the slow one never got past its wait
                finally:
                    await bob.close()

            wire.run(main())
        assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    finally:
        del USERS["tok-slow"]


async def _joined(wire: Any, url: str, token: str) -> Any:
    ws = await wire.connect(url + "?url=" + quote("/settings", safe=""), additional_headers={"Cookie": f"session={token}"})
    init = await wire.recv(ws)
    assert "fx" not in init, init
    return ws


async def _closed_after_reload(wire: Any, ws: Any, push: Any = None) -> None:
    """The session tells the browser to load the page again, then closes the socket (1000)."""
    push = push or await wire.recv(ws)
    assert push["fx"] == [["nav", {"url": "/settings", "mode": "load"}]], push
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1000


def test_disconnect_ends_the_tagged_sessions_only(wire: Any) -> None:
    app, _ = make_app()
    with serve(app) as srv:

        async def main() -> None:
            ada1 = await _joined(wire, srv.ws_url, "tok-ada")
            ada2 = await _joined(wire, srv.ws_url, "tok-ada")
            bob = await _joined(wire, srv.ws_url, "tok-bob")
            try:
                assert await asyncio.to_thread(post, srv.port, "/logout?token=tok-ada") == 200
                await _closed_after_reload(wire, ada1)
                await _closed_after_reload(wire, ada2)
                reply = await wire.click(bob, "inc")  # another login's page lives on
                assert "1" in json.dumps(reply["d"]), reply
            finally:
                for ws in (ada1, ada2, bob):
                    await ws.close()

        wire.run(main())


def test_disconnect_reaches_another_instance_through_the_broker(wire: Any, redis_server: Any) -> None:
    one, _ = make_app(broker=redis_server.url, secret_key="k" * 32)
    two, _ = make_app(broker=redis_server.url, secret_key="k" * 32)
    with serve(one) as srv1, serve(two) as srv2:

        async def main() -> None:
            there = await _joined(wire, srv2.ws_url, "tok-ada")
            here = await _joined(wire, srv1.ws_url, "tok-bob")
            try:
                # The join subscribes through Redis: until that lands, a publish is not heard
                # there; disconnect is idempotent, so ask again (bounded) until it is.
                push = None
                for _ in range(40):
                    assert await asyncio.to_thread(post, srv1.port, "/logout?token=tok-ada") == 200
                    try:
                        push = await wire.recv(there, timeout=0.25)
                        break
                    except TimeoutError:
                        continue
                await _closed_after_reload(wire, there, push)
                reply = await wire.click(here, "inc")
                assert "1" in json.dumps(reply["d"]), reply
            finally:
                await there.close()
                await here.close()

        wire.run(main())


def test_a_guard_must_be_callable() -> None:
    app = App("x")
    with pytest.raises(TypeError, match="auth guard must be callable"):
        app.page("/", auth="require_user")(lambda w: (lambda: p("x"), {}))  # type: ignore[arg-type]


def test_a_session_waiting_for_its_browser_is_ended_by_disconnect_too() -> None:
    app, calls = make_app()
    tab = Client(app, "/settings", cookies={"session": "tok-ada"})
    tab.lose()  # the socket dropped: the session waits for its browser to resume it
    app.disconnect("login:tok-ada")
    tab.run_pending()
    back = tab.resume()
    # Not taken back: the page is set up again, so its guard ran again.
    assert "resumed" not in back.init and calls == ["live /settings", "live /settings"], (back.init, calls)


TAGGING_APP = r"""
import sys
from rweb import App, start_rweb
from rweb.html import p

app = App("tagging")

@app.page("/")
def home(writer_id, conn):
    conn.tag("login-1")
    return (lambda: p("hi")), {}

if __name__ == "__main__":
    start_rweb(int(sys.argv[1]), app, host="127.0.0.1", workers=2, ping_interval=None)
"""


def test_tagging_is_refused_with_workers_but_no_broker(tmp_path: Any, wire: Any) -> None:
    """app.disconnect would reach one worker in two: conn.tag refuses, loudly, instead of splitting."""
    import subprocess
    import sys

    from processes import ServerProcess, free_port

    script = tmp_path / "tagging.py"
    script.write_text(TAGGING_APP)
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=log, stderr=subprocess.STDOUT)
    server = ServerProcess(proc, port, log_path)
    try:
        server.wait_listening()

        async def join() -> dict[str, Any]:
            ws = await wire.connect(f"ws://127.0.0.1:{port}/ws")
            try:
                return dict(await wire.recv(ws))
            finally:
                await ws.close()

        first = wire.run(join())
        assert first["e"]["code"] == "setup_error", first
        assert "workers without one" in server.log() and "broker=" in server.log()
    finally:
        server.stop()
