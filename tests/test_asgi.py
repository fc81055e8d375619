"""rweb as an ASGI application (``rweb.asgi``), served by a real uvicorn process.

Each server is a ``python -m uvicorn`` child process on 127.0.0.1 and a free
port, started from this module's app factories (``--factory``), polled until
it answers and terminated afterwards; every wait is bounded.  The real
``websockets`` client and ``http.client`` talk to it.  A few cases that a
server cannot show (the lifespan's own 1012 at shutdown: uvicorn closes its
sockets with 1012 before the lifespan ends; a body refused without being
read) drive the ASGI callable in-process.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from processes import http_request

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

import rweb
from rweb import App, Conn, PlainTextResponse, Redirect, Request, reactive
from rweb.html import button, component, div, h1, p, span
from rweb.protocol import assemble
from rweb.server.asgi import ASGIApp, route_path
from rweb.web.client_script import client_js, client_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
INC = '{"action":"inc","params":{}}'  # exactly what the seed's client sends
START_TIMEOUT = 20.0


# -- the apps the uvicorn child serves (module-level factories) ----------------------


def _seed_counter() -> Any:
    spec = importlib.util.spec_from_file_location("rweb_asgi_seed_counter", ROOT / "examples" / "rweb_counter.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.session_setup


@reactive
class Shared:
    n: int


def build_app() -> App:
    """A multi-page app: the seed's counter at /, pages with parameters, plain handlers, an upload."""
    from test_upload import add_upload_page

    app = App("Shop", max_body_size=1024, lang="en-GB")
    app.page("/", title="RWeb Counter")(_seed_counter())
    add_upload_page(app, "/upload")
    shared = Shared(0)

    @app.page("/items/{n:int}", title="Item", name="item")
    def item(writer_id: Any, conn: Conn) -> Any:
        return (lambda: div(h1("Item ", conn.params["n"]), p("q=", conn.query.get("q", "")))), {}

    @app.page("/shared")
    def shared_page(writer_id: Any, conn: Conn) -> Any:
        mine = Shared(0)

        def render() -> Any:
            return div(
                component("all", lambda: span(shared.n)),
                component("mine", lambda: span(mine.n)),
                button("bump", data_action="bump"),
                button("twice", data_action="twice"),
                button("login", data_action="login"),
            )

        def later() -> None:
            mine.n += 1

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "bump":
                shared.n += 1
            elif action == "twice":  # one change in the reply, one pushed after it
                mine.n += 1
                conn.app.call_soon(later)
            elif action == "login":
                conn.set_cookie("sid", "abc123")

        return render, on_action

    @app.page("/go")
    def go(writer_id: Any) -> Any:
        raise Redirect("/items/1")

    @app.page("/broken")
    def broken(writer_id: Any) -> Any:
        raise RuntimeError("no page")

    @app.get("/hello")
    def hello(request: Request) -> Any:
        return PlainTextResponse(f"hello {request.query.get('name', 'world')}")

    @app.get("/where")
    def where(request: Request) -> Any:
        return {
            "path": request.path,
            "root_path": request.root_path,
            "url_for": app.url_for("item", n=3),
            "client": request.client,
        }

    @app.post("/echo")
    def echo(request: Request) -> Any:
        form = request.form()
        response = rweb.JSONResponse({"name": form.get("name"), "tags": form.getlist("tag")})
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    return app


def plain_app() -> Any:
    return rweb.asgi(build_app())


def mounted_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse as StarlettePlainText
    from starlette.routing import Mount, Route

    async def home(request: Any) -> Any:
        return StarlettePlainText("starlette home")

    return Starlette(routes=[Route("/", home), Mount("/app", app=rweb.asgi(build_app()))])


def proxied_app() -> Any:
    """Behind a proxy on 127.0.0.1 (uvicorn's own proxy handling off): rweb reads X-Forwarded-For."""
    app = App("proxied", trusted_proxies=["127.0.0.1"])
    app.get("/client")(lambda request: PlainTextResponse(str(request.client)))
    app.page("/")(lambda writer_id, conn: ((lambda: div(component("who", lambda: span(str(conn.client))))), {}))
    return rweb.asgi(app)


# -- a uvicorn child process --------------------------------------------------------


@dataclass
class Uvicorn:
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Any = None  # the child's stdout and stderr (a temporary file)

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return str(self.log.read().decode(errors="replace"))

    def ws(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        return http_request(self.host, self.port, method, path, body, headers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    try:
        conn = http.client.HTTPConnection(host, port, timeout=1)
        try:
            conn.request("GET", "/")
            conn.getresponse().read()
            return True
        finally:
            conn.close()
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextmanager
def run_uvicorn(target: str, *args: str, cwd: Path = HERE) -> Iterator[Uvicorn]:
    """Serve ``target`` (``module:attr``) with uvicorn until the generator is closed."""
    host = "127.0.0.1"
    with tempfile.TemporaryFile() as log:
        for _ in range(3):  # another process may take the free port first
            port = _free_port()
            cmd = [sys.executable, "-m", "uvicorn", target, *args]
            cmd += ["--host", host, "--port", str(port), "--log-level", "warning"]
            proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
            deadline = time.monotonic() + START_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline and not _answers(host, port):
                time.sleep(0.05)
            if proc.poll() is None and _answers(host, port):
                break
            _stop(proc)
        else:
            log.seek(0)
            pytest.fail("uvicorn did not start:\n" + log.read().decode(errors="replace"))
        try:
            yield Uvicorn(host, port, proc, log)
        finally:
            _stop(proc)


@pytest.fixture(scope="module")
def plain() -> Iterator[Uvicorn]:
    with run_uvicorn("test_asgi:plain_app", "--factory", "--app-dir", str(HERE)) as server:
        yield server


@pytest.fixture(scope="module")
def mounted() -> Iterator[Uvicorn]:
    with run_uvicorn("test_asgi:mounted_app", "--factory", "--app-dir", str(HERE)) as server:
        yield server


def _text(body: bytes) -> str:
    return body.decode()


# -- HTTP ---------------------------------------------------------------------------------


def test_the_counter_page_and_the_client_script(plain: Uvicorn) -> None:
    status, headers, body = plain.request("GET", "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert int(headers["content-length"]) == len(body)
    page = _text(body)
    assert "<title>RWeb Counter</title>" in page
    assert '<div data-rc="display"><span>Count: </span><span>0</span></div>' in page
    assert '<meta name="rweb-socket" content="/ws">' in page
    assert f'<script src="{client_url()}" defer>' in page

    status, headers, js = plain.request("GET", "/_rweb/rweb.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert len(js) > 1000 and int(headers["content-length"]) == len(js)
    status, _, body = plain.request("GET", "/_rweb/rweb.js", headers={"If-None-Match": headers["etag"]})
    assert status == 304 and body == b""


def test_head_keeps_the_length_without_a_body(plain: Uvicorn) -> None:
    _, _, page = plain.request("GET", "/items/2")
    status, headers, body = plain.request("HEAD", "/items/2")
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) == len(page)


def test_pages_with_parameters_and_plain_handlers(plain: Uvicorn) -> None:
    status, _, body = plain.request("GET", "/items/7?q=%3Cx%3E")
    assert status == 200
    assert "<title>Item</title>" in _text(body)
    assert "<h1>Item 7</h1><p>q=&lt;x&gt;</p>" in _text(body)

    status, headers, body = plain.request("GET", "/hello?name=asgi")
    assert status == 200 and body == b"hello asgi"
    assert headers["content-type"].startswith("text/plain")

    status, _, body = plain.request("GET", "/where")
    assert status == 200
    assert json.loads(body) == {"path": "/where", "root_path": "", "url_for": "/items/3", "client": "127.0.0.1"}


def test_post_reads_a_form_and_sets_several_cookies(plain: Uvicorn) -> None:
    form = b"name=Ada+L&tag=x&tag=y"
    status, headers, body = plain.request(
        "POST", "/echo", form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200
    assert json.loads(body) == {"name": "Ada L", "tags": ["x", "y"]}
    cookies = headers.get_all("set-cookie") or []
    assert [c.split(";")[0] for c in cookies] == ["a=1", "b=2"]


def test_a_body_over_the_limit_is_refused(plain: Uvicorn) -> None:
    status, headers, body = plain.request(
        "POST", "/echo", b"name=" + b"x" * 2000, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 413
    assert headers["connection"] == "close"
    assert b"413" in body


def test_404_405_redirect_and_failing_page(plain: Uvicorn) -> None:
    status, headers, body = plain.request("GET", "/nope")
    assert status == 404 and headers["content-type"].startswith("text/html")
    status, headers, _ = plain.request("GET", "/echo")
    assert status == 405 and headers["allow"] == "POST"
    status, headers, _ = plain.request("POST", "/hello", b"")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    status, headers, _ = plain.request("GET", "/go")
    assert status == 303 and headers["location"] == "/items/1"
    status, _, body = plain.request("GET", "/broken")
    assert status == 500 and b"no page" not in body


# -- WebSocket --------------------------------------------------------------------------------


def test_the_seed_counter_over_the_socket(plain: Uvicorn, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(plain.ws("/ws")) as ws:
            init = await wire.recv(ws)
            assert init["t"] == "init"
            assert init["c"]["display"]["d"] == ["0"]
            await ws.send(INC)
            raw = await asyncio.wait_for(ws.recv(), wire.timeout)
            assert raw == '{"t":"r","d":{"display":{"0":"1"}}}'
            await ws.send(INC)
            assert (await wire.recv(ws))["d"] == {"display": {"0": "2"}}

    wire.run(main())


def test_a_socket_joins_the_page_of_its_url(plain: Uvicorn, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(plain.ws("/ws?url=/items/5%3Fq%3Dhi")) as ws:
            init = await wire.recv(ws)
            assert init["t"] == "init"
            assert "<h1>Item 5</h1><p>q=hi</p>" in assemble(init["c"])

    wire.run(main())


def test_binary_and_oversized_messages_get_error_replies(plain: Uvicorn, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(plain.ws("/ws")) as ws:
            await wire.recv(ws)
            assert (await wire.ask(ws, b"\x00\x01"))["e"]["code"] == "binary_frame"
            big = json.dumps({"action": "inc", "params": {"x": "é" * 40_000}})  # 80 KB in UTF-8
            assert (await wire.ask(ws, big))["e"]["code"] == "too_large"
            assert (await wire.ask(ws, "not json"))["e"]["code"] == "bad_json"
            assert (await wire.ask(ws, INC))["d"] == {"display": {"0": "1"}}

    wire.run(main())


def test_an_upload_over_the_socket(plain: Uvicorn, wire: Any) -> None:
    from test_upload import upload_over_the_wire

    wire.run(upload_over_the_wire(wire, plain.ws("/ws?url=/upload"), 64 * 1024))


def test_replies_and_pushes_keep_their_order(plain: Uvicorn, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(plain.ws("/ws?url=/shared")) as a, wire.connect(plain.ws("/ws?url=/shared")) as b:
            await wire.recv(a)
            await wire.recv(b)
            # The handler's write is in the reply; the one it schedules comes after, pushed.
            first = await wire.ask(a, {"action": "twice", "params": {}})
            assert first["t"] == "r" and first["d"] == {"mine": {"0": "1"}}
            second = await wire.recv(a)
            assert second["t"] == "p" and second["d"] == {"mine": {"0": "2"}}
            # A write in one session reaches the other as a push.
            reply = await wire.ask(a, {"action": "bump", "params": {}})
            assert reply["t"] == "r" and "all" in reply["d"]
            push = await wire.recv(b)
            assert push["t"] == "p" and push["d"]["all"] == reply["d"]["all"]

    wire.run(main())


def test_a_redirecting_page_closes_1000_a_failing_one_1011(plain: Uvicorn, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(plain.ws("/ws?url=/go")) as ws:
            init = await wire.recv(ws)
            assert init["fx"] == [["nav", {"url": "/items/1", "mode": "load"}]]
            await asyncio.wait_for(ws.wait_closed(), wire.timeout)
            assert ws.close_code == 1000
        async with wire.connect(plain.ws("/ws?url=/broken")) as ws:
            assert (await wire.recv(ws))["e"]["code"] == "setup_error"
            await asyncio.wait_for(ws.wait_closed(), wire.timeout)
            assert ws.close_code == 1011

    wire.run(main())


def test_a_socket_at_another_path_is_refused(plain: Uvicorn, wire: Any) -> None:
    from websockets.exceptions import InvalidStatus

    async def main() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with wire.connect(plain.ws("/elsewhere")):
                pass
        assert info.value.response.status_code == 404

    wire.run(main())


# -- mounted in Starlette ---------------------------------------------------------------------


def test_mounted_app_serves_its_page_under_the_prefix(mounted: Uvicorn) -> None:
    status, _, body = mounted.request("GET", "/")
    assert status == 200 and body == b"starlette home"

    status, _, body = mounted.request("GET", "/app/")
    assert status == 200
    page = _text(body)
    assert '<html lang="en-GB">' in page  # App(lang=...) under ASGI too
    assert '<meta name="rweb-socket" content="/app/ws">' in page
    assert '<meta name="rweb-root" content="/app">' in page
    assert f'<script src="/app{client_url()}" defer>' in page
    assert '<div data-rc="display"><span>Count: </span><span>0</span></div>' in page

    status, headers, js = mounted.request("GET", "/app/_rweb/rweb.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and len(js) > 1000


def test_mounted_app_serves_the_hashed_script_compressed_under_the_prefix(mounted: Uvicorn) -> None:
    _, _, body = mounted.request("GET", "/app/")
    src = re.findall(r'<script src="([^"]+)"', body.decode())
    assert src == ["/app" + client_url()]
    status, headers, js = mounted.request("GET", src[0], headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    assert gzip.decompress(js) == client_js()[0]  # its parts joined (tests/test_compression.py checks how)


def test_mounted_app_handlers_see_paths_within_the_app(mounted: Uvicorn) -> None:
    status, _, body = mounted.request("GET", "/app/where")
    assert status == 200
    assert json.loads(body) == {
        "path": "/where",
        "root_path": "/app",
        "url_for": "/app/items/3",
        "client": "127.0.0.1",
    }
    status, _, body = mounted.request(
        "POST", "/app/echo", b"name=x", {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and json.loads(body)["name"] == "x"
    status, headers, _ = mounted.request("GET", "/app/go")
    assert status == 303 and headers["location"] == "/app/items/1"
    assert mounted.request("GET", "/app/nope")[0] == 404
    assert mounted.request("GET", "/app/echo")[0] == 405


def test_mounted_socket(mounted: Uvicorn, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(mounted.ws("/app/ws")) as ws:
            assert (await wire.recv(ws))["t"] == "init"
            await ws.send(INC)
            assert await asyncio.wait_for(ws.recv(), wire.timeout) == '{"t":"r","d":{"display":{"0":"1"}}}'
            # Live navigation to a path that is no page loads it; effect URLs are
            # within the app (the browser puts its root path, /app, in front).
            reply = await wire.ask(ws, {"t": "nav", "url": "/hello"})
            assert reply["fx"] == [["nav", {"url": "/hello", "mode": "load"}]]
        async with wire.connect(mounted.ws("/app/ws?url=/shared")) as ws:
            await wire.recv(ws)
            # A cookie set in a live session is redeemed at the mounted app's endpoint.
            reply = await wire.ask(ws, {"action": "login", "params": {}})
            [[kind, effect]] = reply["fx"]
            assert kind == "cookie" and effect["url"] == "/_rweb/cookie"
            status, headers, _ = await asyncio.to_thread(
                mounted.request, "POST", "/app" + effect["url"], effect["token"].encode()
            )
            assert status == 204
            assert (headers["set-cookie"] or "").startswith("sid=abc123;")

    wire.run(main())


def test_a_server_without_websocket_support_gets_a_clear_426_and_one_logged_error(wire: Any) -> None:
    # uvicorn installed without a WebSocket library behaves as --ws none: the handshake reaches the app as HTTP.
    with run_uvicorn("test_asgi:plain_app", "--factory", "--app-dir", str(HERE), "--ws", "none") as server:
        status, _, body = server.request("GET", "/")
        assert status == 200  # the page paints
        handshake = {
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        }
        status, headers, body = server.request("GET", "/ws", headers=handshake)
        assert status == 426 and headers["upgrade"] == "websocket"
        assert "cannot upgrade" in body.decode() and "uvicorn[standard]" in body.decode()

        async def main() -> None:
            with pytest.raises(Exception) as failed:  # the real client: the handshake is refused
                async with wire.connect(server.ws("/ws")):
                    pass
            assert "426" in str(failed.value)

        wire.run(main())
        status, _, _ = server.request("GET", "/hello", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        assert status == 200  # only the socket's path is the app's WebSocket
        deadline = time.monotonic() + 5
        while "uvicorn[standard]" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        out = server.output()
        assert out.count("cannot upgrade connections to WebSocket") == 1, out  # logged once, not per request
        assert "pip install 'uvicorn[standard]'" in out


# -- the example ------------------------------------------------------------------------------


def test_the_asgi_mount_example(wire: Any) -> None:
    with run_uvicorn("examples.asgi_mount:app", cwd=ROOT) as server:
        status, _, body = server.request("GET", "/")
        assert status == 200 and b'href="/counter/"' in body
        status, _, body = server.request("GET", "/counter/")
        assert status == 200 and b'<meta name="rweb-socket" content="/counter/ws">' in body

        async def main() -> None:
            async with wire.connect(server.ws("/counter/ws")) as ws:
                assert (await wire.recv(ws))["t"] == "init"
                assert (await wire.ask(ws, INC))["d"] == {"display": {"0": "1"}}

        wire.run(main())


# -- in-process: what a server does not show ---------------------------------------------------


class Channel:
    """One ASGI connection driven by hand: ``put`` what the server would receive, ``get`` what the app sent."""

    def __init__(self) -> None:
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.received = 0

    async def receive(self) -> dict[str, Any]:
        self.received += 1
        return await self.to_app.get()

    async def send(self, message: Any) -> None:
        await self.from_app.put(dict(message))

    async def get(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.from_app.get(), 5)


def _ws_scope(path: str = "/ws", query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "websocket",
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "scheme": "ws",
        "subprotocols": [],
    }


def test_lifespan_binds_the_app_and_shutdown_closes_sockets_with_1012(wire: Any) -> None:
    asgi_app = rweb.asgi(App("c", _seed_counter()))

    async def main() -> None:
        life = Channel()
        life_task = asyncio.create_task(asgi_app({"type": "lifespan"}, life.receive, life.send))
        await life.to_app.put({"type": "lifespan.startup"})
        assert (await life.get())["type"] == "lifespan.startup.complete"
        bound = asyncio.get_running_loop().create_future()
        asgi_app.app.call_soon(bound.set_result, True)  # refuses before the app is bound
        assert await asyncio.wait_for(bound, 5)

        sock = Channel()
        task = asyncio.create_task(asgi_app(_ws_scope(), sock.receive, sock.send))
        await sock.to_app.put({"type": "websocket.connect"})
        assert (await sock.get())["type"] == "websocket.accept"
        assert json.loads((await sock.get())["text"])["t"] == "init"
        await sock.to_app.put({"type": "websocket.receive", "text": INC})
        assert (await sock.get())["text"] == '{"t":"r","d":{"display":{"0":"1"}}}'

        await life.to_app.put({"type": "lifespan.shutdown"})
        assert await sock.get() == {"type": "websocket.close", "code": 1012}
        await sock.to_app.put({"type": "websocket.disconnect", "code": 1012})
        await asyncio.wait_for(task, 5)
        assert (await life.get())["type"] == "lifespan.shutdown.complete"
        await asyncio.wait_for(life_task, 5)
        assert asgi_app.app.sessions == {}

    wire.run(main())


def test_an_oversized_body_is_refused_without_reading_it(wire: Any) -> None:
    asgi_app = rweb.asgi(App("c", _seed_counter(), max_body_size=10))

    def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {"type": "http", "method": "POST", "path": "/", "root_path": "", "query_string": b"",
                "headers": headers, "client": None, "scheme": "http"}

    async def main() -> None:
        # Declared too large: answered before any body is read.
        ch = Channel()
        await asgi_app(scope([(b"content-length", b"11")]), ch.receive, ch.send)
        assert ch.received == 0
        start = await ch.get()
        assert start["status"] == 413
        assert (b"connection", b"close") in start["headers"]
        # Streamed: reading stops at the chunk that crosses the limit.
        ch = Channel()
        for chunk in (b"12345", b"678901", b"never read"):
            ch.to_app.put_nowait({"type": "http.request", "body": chunk, "more_body": True})
        await asgi_app(scope([]), ch.receive, ch.send)
        assert ch.received == 2
        assert (await ch.get())["status"] == 413

    wire.run(main())


def test_a_header_a_handler_appends_with_a_line_break_is_a_500(wire: Any) -> None:
    """Checked where rweb.asgi writes the response: the server below it may not check (uvicorn's h11
    would refuse it, its httptools protocol would not), so in-process, as the server calls it."""
    app = App("h")

    @app.get("/appended")
    def appended(request: Request) -> Any:
        response = PlainTextResponse("hi")
        response.headers.append(("X-Note", "a\r\nSet-Cookie: injected=1"))
        return response

    asgi_app = rweb.asgi(app)

    async def main() -> None:
        ch = Channel()
        ch.to_app.put_nowait({"type": "http.request", "body": b"", "more_body": False})
        scope = {"type": "http", "method": "GET", "path": "/appended", "root_path": "", "query_string": b"",
                 "headers": [], "client": None, "scheme": "http"}
        await asgi_app(scope, ch.receive, ch.send)
        start = await ch.get()
        assert start["status"] == 500
        assert not any(k in (b"x-note", b"set-cookie") for k, _ in start["headers"])
        assert b"injected" not in (await ch.get())["body"]

    wire.run(main())


def test_route_path_with_and_without_the_prefix_in_path() -> None:
    assert route_path({"path": "/app/ws", "root_path": "/app"}) == "/ws"
    assert route_path({"path": "/ws", "root_path": "/app"}) == "/ws"
    assert route_path({"path": "/app", "root_path": "/app"}) == "/"
    assert route_path({"path": "/application", "root_path": "/app"}) == "/application"
    assert route_path({"path": "/x", "root_path": ""}) == "/x"


def test_rweb_asgi_stays_callable_once_the_adapter_is_imported() -> None:
    import rweb.server.asgi

    first, second = rweb.asgi(App(session_setup=_seed_counter())), rweb.asgi(App(session_setup=_seed_counter()))
    assert isinstance(first, ASGIApp) and isinstance(second, ASGIApp)
    with pytest.raises(TypeError):
        rweb.asgi(object())  # type: ignore[arg-type]


def test_a_socket_from_another_site_is_refused_under_uvicorn(plain: Uvicorn, wire: Any) -> None:
    from websockets.exceptions import InvalidStatus

    async def main() -> None:
        with pytest.raises(InvalidStatus) as exc:
            async with wire.connect(plain.ws("/ws"), origin="https://evil.example"):
                pass
        assert exc.value.response.status_code == 403

    wire.run(main())


def test_a_socket_the_server_closes_for_a_restart_keeps_its_session_for_a_resume(wire: Any) -> None:
    """uvicorn closes sockets with 1012 before the lifespan's shutdown: the session is kept (then saved)."""
    asgi_app = rweb.asgi(App("c", _seed_counter()))

    async def main() -> None:
        life = Channel()
        life_task = asyncio.create_task(asgi_app({"type": "lifespan"}, life.receive, life.send))
        await life.to_app.put({"type": "lifespan.startup"})
        assert (await life.get())["type"] == "lifespan.startup.complete"
        sock = Channel()
        task = asyncio.create_task(asgi_app(_ws_scope(), sock.receive, sock.send))
        await sock.to_app.put({"type": "websocket.connect"})
        assert (await sock.get())["type"] == "websocket.accept"
        assert json.loads((await sock.get())["text"])["t"] == "init"
        await sock.to_app.put({"type": "websocket.disconnect", "code": 1012})
        await asyncio.wait_for(task, 5)
        (connection,) = asgi_app.app.sessions.values()
        assert connection.detached()
        await life.to_app.put({"type": "lifespan.shutdown"})
        assert (await life.get())["type"] == "lifespan.shutdown.complete"
        await asyncio.wait_for(life_task, 5)
        assert not asgi_app.app.sessions  # the stopping server ends what waits

    wire.run(main())


def test_the_client_address_from_a_trusted_proxy(wire: Any) -> None:
    with run_uvicorn("test_asgi:proxied_app", "--factory", "--no-proxy-headers", "--app-dir", str(HERE)) as server:
        forwarded = {"X-Forwarded-For": "198.51.100.1"}
        status, _, body = server.request("GET", "/client", headers=forwarded)
        assert (status, body) == (200, b"198.51.100.1")
        assert server.request("GET", "/client")[2] == b"127.0.0.1"

        async def main() -> None:
            async with wire.connect(server.ws("/ws?url=/"), additional_headers=forwarded) as ws:
                assert "198.51.100.1" in assemble((await wire.recv(ws))["c"])

        wire.run(main())


def test_a_close_with_the_client_heartbeats_code_keeps_the_session_for_a_resume(plain: Uvicorn, wire: Any) -> None:
    """rweb.js closes a socket its heartbeat found dead with 4000 and joins again with its token: the session
    is kept under uvicorn as under the built-in server (tests/test_resume.py), not ended as by a tab closed."""

    async def main() -> None:
        async with wire.connect(plain.ws("/ws")) as ws:
            init = await wire.recv(ws)
            assert (await wire.ask(ws, INC))["d"] == {"display": {"0": "1"}}
            await ws.close(4000, "no heartbeat")
        await asyncio.sleep(0.3)  # the server has seen the close (a resume racing it would take the session anyway)
        async with wire.connect(plain.ws("/ws?tok=" + quote(init["tok"]))) as again:
            resumed = await wire.recv(again)
            assert resumed.get("resumed") is True and "fresh" not in resumed
            assert resumed["c"]["display"]["d"] == ["1"]  # the same session, its count kept
        async with wire.connect(plain.ws("/ws")) as ws:  # a close with 1000 (a tab closed) ends it
            init = await wire.recv(ws)
            await ws.close(1000)
        await asyncio.sleep(0.3)
        async with wire.connect(plain.ws("/ws?tok=" + quote(init["tok"]))) as again:
            assert (await wire.recv(again)).get("fresh") is True

    wire.run(main())


def metered_app() -> Any:
    """The seed's counter with app.metrics(): counted under ASGI as under the built-in server."""
    app = App("metered", _seed_counter())
    app.metrics()
    return rweb.asgi(app)


def test_metrics_count_under_asgi(wire: Any) -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    with run_uvicorn("test_asgi:metered_app", "--factory", "--app-dir", str(HERE)) as server:

        async def main() -> None:
            async with wire.connect(server.ws("/ws")) as ws:
                assert (await wire.recv(ws))["t"] == "init"
                for _ in range(5):
                    await ws.send(INC)
                    await wire.recv(ws)

        wire.run(main())
        assert server.request("GET", "/nowhere")[0] == 404
        status, _, body = server.request("GET", "/_rweb/metrics")
        assert status == 200, body
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        assert samples[("rweb_actions_total", (("action", "inc"),))] == 5
        assert samples[("rweb_joins_total", ())] == 1
        assert samples[("rweb_http_responses_total", (("route", "unmatched"), ("status", "404")))] == 1
        assert samples[("rweb_http_responses_total", (("route", "/"), ("status", "200")))] >= 1  # uvicorn's start probe
