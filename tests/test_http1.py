"""The built-in server's HTTP/1.1 front end (rweb.server.http1), over real loopback sockets.

Plain requests (forms, JSON, cookies, HEAD, errors, limits, keep-alive,
pipelining, chunked bodies, 100-continue, timeouts) and the WebSocket upgrade
handed to picows on the same port.  Every receive is bounded by a socket
timeout; only 127.0.0.1 is used.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import http.client
import json
import os
import socket
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import pytest

from rweb import App
from rweb.html import button, component, div, p
from rweb.http import HTTPError, JSONResponse, Response
from rweb.testing import Served, serve

TIMEOUT = 5.0
MAX_BODY = 1024
MAX_HEADERS = 2048


def make_app() -> App:
    app = App("HTTP test", max_body_size=MAX_BODY, max_header_size=MAX_HEADERS)

    @app.page("/")
    def home(writer_id: Any) -> Any:
        return (lambda: div(component("msg", lambda: p("hello")), button("+", data_action="x"))), {}

    @app.post("/login")
    def login(request: Any) -> Response:
        form = request.form()
        response = Response(f"welcome {form.get('user', '?')} ({','.join(form.getlist('role'))})")
        response.set_cookie("sid", "abc123")
        response.set_cookie("theme", "dark", httponly=False)
        response.delete_cookie("old")
        return response

    @app.post("/echo")
    def echo(request: Any) -> Any:
        return {"json": request.json(), "len": len(request.body)}

    @app.post("/size")
    def size(request: Any) -> Any:
        return {"len": len(request.body), "tail": request.body[-5:].decode()}

    @app.get("/info/{name}")
    def info(request: Any) -> Any:
        return {
            "path": request.path,
            "qs": request.query_string,
            "q": request.query.get("q"),
            "client": request.client,
            "name": request.path_params["name"],
            "x": request.headers.get("x-thing"),
        }

    @app.get("/n/{i:int}")
    def number(request: Any) -> Response:
        return Response(f"n={request.path_params['i']}", media_type="text/plain")

    @app.get("/slow/{i:int}")
    async def slow(request: Any) -> Response:
        await asyncio.sleep(0.05 * request.path_params["i"])
        return Response(f"slow={request.path_params['i']}", media_type="text/plain")

    @app.get("/boom")
    def boom(request: Any) -> Any:
        raise RuntimeError("secret database password hunter2")

    @app.get("/aboom")
    async def aboom(request: Any) -> Any:
        await asyncio.sleep(0)
        raise ValueError("async secret hunter2")

    @app.get("/teapot")
    def teapot(request: Any) -> Any:
        raise HTTPError(418, "short and stout")

    @app.get("/bye")
    def bye(request: Any) -> Response:
        return Response("bye", headers={"Connection": "close"})

    @app.get("/nocontent")
    def nocontent(request: Any) -> None:
        return None

    @app.route("/things", ["GET", "POST"])
    def things(request: Any) -> Any:
        return JSONResponse({"method": request.method})

    return app


@pytest.fixture(scope="module")
def srv() -> Iterator[Served]:
    with serve(make_app()) as served:
        yield served


# -- helpers --------------------------------------------------------------------------------


def connect(srv: Served) -> socket.socket:
    s = socket.create_connection((srv.host, srv.port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


class Reply:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


def read_reply(f: BinaryIO, *, head: bool = False) -> Reply:
    """One response from a buffered socket file (bodies by Content-Length only)."""
    line = f.readline(65537)
    assert line.startswith(b"HTTP/1.1 "), line
    status = int(line.split()[1])
    headers: list[tuple[str, str]] = []
    while True:
        h = f.readline(65537)
        assert h, "connection closed inside a response head"
        if h == b"\r\n":
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k, v.strip()))
    reply = Reply(status, headers, b"")
    length = reply.header("content-length")
    if not head and length is not None and status >= 200 and status not in (204, 304):
        reply.body = f.read(int(length))
        assert len(reply.body) == int(length)
    return reply


def read_eof(s: socket.socket, f: BinaryIO | None = None) -> bytes:
    """Everything until the server closes (fails on the socket timeout)."""
    data = f.read() if f is not None else b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def exchange(srv: Served, raw: bytes, *, head: bool = False) -> tuple[Reply, bytes]:
    """Send ``raw`` on a fresh socket; the first reply and whatever follows until close."""
    with connect(srv) as s:
        s.sendall(raw)
        f = s.makefile("rb")
        reply = read_reply(f, head=head)
        return reply, read_eof(s, f)


def send_until_refused(s: socket.socket, chunk: bytes, limit: int) -> None:
    """Send ``chunk`` until ``limit`` bytes are sent or the server stops taking them."""
    sent = 0
    try:
        while sent < limit:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass


def request(srv: Served, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        conn.close()


def set_timeouts(srv: Served, **values: float) -> dict[str, float]:
    old = srv.call(lambda: {k: getattr(srv.server, k) for k in values})
    srv.call(lambda: [setattr(srv.server, k, v) for k, v in values.items()])
    return old


# -- plain requests ------------------------------------------------------------------------------


def test_get_a_page(srv: Served) -> None:
    resp, body = request(srv, "GET", "/")
    assert resp.status == 200
    assert resp.getheader("content-type").startswith("text/html")
    assert int(resp.getheader("content-length")) == len(body)
    assert resp.getheader("date")
    assert b"hello</p>" in body and body.startswith(b"<!DOCTYPE html>")


def test_head_has_the_get_headers_and_no_body(srv: Served) -> None:
    get, _ = exchange(srv, b"GET /n/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert get.body == b"n=7"
    head, rest = exchange(srv, b"HEAD /n/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", head=True)
    assert head.status == 200 and rest == b""  # no body after the head
    assert head.header("content-length") == "3"
    assert head.header("content-type") == get.header("content-type")


def test_head_then_get_on_one_connection(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n")
        f = s.makefile("rb")
        head = read_reply(f, head=True)
        assert head.status == 200 and int(head.header("content-length") or 0) > 100
        assert read_reply(f).body == b"n=1"  # the HEAD sent no body to misread


def test_post_a_url_encoded_form_and_several_cookies(srv: Served) -> None:
    resp, body = request(
        srv, "POST", "/login", "user=b%C3%B6b&role=admin&role=dev",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status == 200
    assert body.decode() == "welcome böb (admin,dev)"
    cookies = resp.msg.get_all("Set-Cookie")
    assert len(cookies) == 3
    assert cookies[0].startswith("sid=abc123;") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("theme=dark;") and "HttpOnly" not in cookies[1]
    assert cookies[2].startswith("old=;") and "Max-Age=0" in cookies[2]


def test_set_cookie_headers_arrive_as_separate_lines(srv: Served) -> None:
    body = b"user=x"
    reply, _ = exchange(
        srv,
        b"POST /login HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body),
    )
    assert [c.split("=")[0] for c in reply.all("set-cookie")] == ["sid", "theme", "old"]


def test_post_json(srv: Served) -> None:
    payload = json.dumps({"a": [1, 2, 3], "é": "ü"})
    resp, body = request(srv, "POST", "/echo", payload, {"Content-Type": "application/json"})
    assert resp.status == 200 and resp.getheader("content-type") == "application/json"
    assert json.loads(body) == {"json": {"a": [1, 2, 3], "é": "ü"}, "len": len(payload.encode())}
    resp, body = request(srv, "POST", "/echo", "{not json", {"Content-Type": "application/json"})
    assert resp.status == 400


def test_request_fields(srv: Served) -> None:
    resp, body = request(srv, "GET", "/info/caf%C3%A9?q=a%20b&z=1", headers={"X-Thing": "yes"})
    assert resp.status == 200
    assert json.loads(body) == {
        "path": "/info/café",
        "qs": "q=a%20b&z=1",
        "q": "a b",
        "client": "127.0.0.1",
        "name": "café",
        "x": "yes",
    }


def test_absolute_form_target(srv: Served) -> None:
    reply, _ = exchange(srv, b"GET http://t/n/3?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert reply.status == 200 and reply.body == b"n=3"


def test_404_page(srv: Served) -> None:
    resp, body = request(srv, "GET", "/no/such/page")
    assert resp.status == 404
    assert resp.getheader("content-type").startswith("text/html") and b"404 Not Found" in body


def test_405_with_allow(srv: Served) -> None:
    resp, _ = request(srv, "DELETE", "/things")
    assert resp.status == 405
    assert set(resp.getheader("allow").replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    resp, body = request(srv, "POST", "/things", b"")
    assert resp.status == 200 and json.loads(body) == {"method": "POST"}


def test_204_has_no_body_and_no_length(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"GET /nocontent HTTP/1.1\r\nHost: t\r\n\r\nGET /n/2 HTTP/1.1\r\nHost: t\r\n\r\n")
        f = s.makefile("rb")
        first = read_reply(f)
        assert first.status == 204 and first.header("content-length") is None
        assert read_reply(f).body == b"n=2"


def test_http_error_from_a_handler(srv: Served) -> None:
    resp, body = request(srv, "GET", "/teapot")
    assert resp.status == 418 and b"short and stout" in body


def test_a_raising_handler_is_a_500_without_the_exception_text(srv: Served, caplog: Any) -> None:
    for path in ("/boom", "/aboom"):
        resp, body = request(srv, "GET", path)
        assert resp.status == 500
        assert b"hunter2" not in body and b"Error" in body
    # and the server carries on
    resp, body = request(srv, "GET", "/n/5")
    assert resp.status == 200 and body == b"n=5"


def test_async_handler(srv: Served) -> None:
    resp, body = request(srv, "GET", "/slow/2")
    assert resp.status == 200 and body == b"slow=2"


# -- connections ----------------------------------------------------------------------------------


def test_keep_alive_two_requests_one_socket(srv: Served) -> None:
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n")
        first = read_reply(f)
        assert first.body == b"n=1" and first.header("connection") is None
        s.sendall(b"GET /n/2 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_reply(f).body == b"n=2"


def test_keep_alive_with_http_client(srv: Served) -> None:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/n/1")
        r1 = conn.getresponse()
        assert r1.read() == b"n=1"
        sock = conn.sock
        conn.request("POST", "/size", body=b"x" * 100)
        r2 = conn.getresponse()
        assert json.loads(r2.read())["len"] == 100
        assert conn.sock is sock  # the same connection
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(srv: Served) -> None:
    # Async handlers finishing in the reverse order, mixed with sync ones.
    reqs = [b"/slow/4", b"/n/1", b"/slow/1", b"/nope", b"/slow/0", b"/n/2"]
    raw = b"".join(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % r for r in reqs)
    raw += b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    raw += b"GET /n/3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    with connect(srv) as s:
        s.sendall(raw)
        f = s.makefile("rb")
        replies = [read_reply(f) for _ in range(len(reqs) + 2)]
        assert read_eof(s, f) == b""
    assert [r.status for r in replies] == [200, 200, 200, 404, 200, 200, 200, 200]
    bodies = [r.body for r in replies]
    assert bodies[:3] == [b"slow=4", b"n=1", b"slow=1"]
    assert bodies[4:6] == [b"slow=0", b"n=2"]
    assert json.loads(bodies[6]) == {"len": 5, "tail": "hello"}
    assert bodies[7] == b"n=3" and replies[7].header("connection") == "close"


def test_a_long_pipeline_in_one_write_is_answered_in_order_then_upgraded(srv: Served) -> None:
    # More than a turn's share of requests in one read: the server answers a few
    # per event-loop turn, parsing the rest later (bodies and an upgrade included).
    body = bytes(range(97, 123)) * 38  # 988 bytes, over several parse slices
    raw = b"".join(b"GET /n/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(150))
    raw += b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    raw += b"POST /size HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 100]), body[i : i + 100]) for i in range(0, len(body), 100))
    raw += b"0\r\n\r\n"
    raw += b"".join(b"GET /n/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(150, 300))
    raw += ws_handshake() + masked_text(b'{"action":"x","ref":9}')
    with connect(srv) as s:
        s.sendall(raw)
        f = s.makefile("rb")
        replies = [read_reply(f) for _ in range(302)]
        assert read_reply(f, head=True).status == 101
        assert json.loads(read_frame(f)[1])["t"] == "init"
        assert json.loads(read_frame(f)[1])["ref"] == 9
    numbers = [r.body for r in replies[:150] + replies[152:]]
    assert numbers == [b"n=%d" % i for i in range(300)]
    assert [json.loads(r.body) for r in replies[150:152]] == [{"len": len(body), "tail": "vwxyz"}] * 2


def test_connection_close_is_honoured(srv: Served) -> None:
    reply, rest = exchange(srv, b"GET /n/1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert reply.body == b"n=1" and reply.header("connection") == "close" and rest == b""


def test_connection_close_from_the_handler(srv: Served) -> None:
    reply, rest = exchange(srv, b"GET /bye HTTP/1.1\r\nHost: t\r\n\r\nGET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert reply.body == b"bye" and reply.header("connection") == "close"
    assert rest == b""  # the pipelined request after it is not answered


def test_http_10_closes_unless_keep_alive(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"GET /n/1 HTTP/1.0\r\n\r\n")
        f = s.makefile("rb")
        reply = read_reply(f)
        assert reply.body == b"n=1" and reply.header("connection") == "close"
        assert read_eof(s, f) == b""
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"GET /n/1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        reply = read_reply(f)
        assert reply.body == b"n=1" and reply.header("connection") == "keep-alive"
        s.sendall(b"GET /n/2 HTTP/1.0\r\n\r\n")
        assert read_reply(f).body == b"n=2"
        assert read_eof(s, f) == b""


def test_client_half_close_still_gets_its_answers(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"GET /slow/2 HTTP/1.1\r\nHost: t\r\n\r\nGET /n/6 HTTP/1.1\r\nHost: t\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        f = s.makefile("rb")
        assert read_reply(f).body == b"slow=2"
        assert read_reply(f).body == b"n=6"
        assert read_eof(s, f) == b""


def test_half_close_inside_a_request_closes_after_the_answers_owed(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"GET /slow/2 HTTP/1.1\r\nHost: t\r\n\r\nGET /n/6 HTTP/1.1\r\nHo")
        s.shutdown(socket.SHUT_WR)
        f = s.makefile("rb")
        start = time.monotonic()
        assert read_reply(f).body == b"slow=2"
        assert read_eof(s, f) == b""
        assert time.monotonic() - start < 2  # not left to the header timeout


def test_chunked_trailers_are_not_headers(srv: Served) -> None:
    reply, _ = exchange(
        srv,
        b"POST /size HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n0\r\nX-Thing: sneaky\r\n\r\n",
    )
    assert reply.status == 200 and json.loads(reply.body) == {"len": 3, "tail": "abc"}
    reply, _ = exchange(
        srv,
        b"GET /info/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"0\r\nX-Thing: sneaky\r\n\r\n",
    )
    assert reply.status == 200 and json.loads(reply.body)["x"] is None


def test_chunked_post_body(srv: Served) -> None:
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"POST /size HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for part in (b"hello ", b"chunked ", b"world"):
            s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            time.sleep(0.01)
        s.sendall(b"0\r\n\r\n")
        reply = read_reply(f)
        assert reply.status == 200 and json.loads(reply.body) == {"len": 19, "tail": "world"}
        s.sendall(b"GET /n/4 HTTP/1.1\r\nHost: t\r\n\r\n")  # still keep-alive
        assert read_reply(f).body == b"n=4"


def test_expect_100_continue(srv: Served) -> None:
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n")
        interim = read_reply(f, head=True)
        assert interim.status == 100
        s.sendall(b"0123456789")
        reply = read_reply(f)
        assert reply.status == 200 and json.loads(reply.body) == {"len": 10, "tail": "56789"}


def test_expect_100_continue_with_a_body_too_large_is_413_without_100(srv: Served) -> None:
    reply, rest = exchange(
        srv,
        b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (MAX_BODY + 1),
    )
    assert reply.status == 413 and reply.header("connection") == "close" and rest == b""


def test_expect_100_continue_waits_for_earlier_responses(srv: Served) -> None:
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(
            b"GET /slow/3 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        assert read_reply(f).body == b"slow=3"  # before the 100 of the next request
        assert read_reply(f, head=True).status == 100
        s.sendall(b"abc")
        assert json.loads(read_reply(f).body) == {"len": 3, "tail": "abc"}


def test_upgrade_to_something_else_is_answered_as_http(srv: Served) -> None:
    # h2c (or a WebSocket to a path that is no socket): served as plain HTTP, body included.
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(
            b"POST /size HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
            b"HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 4\r\n\r\nabcd"
            b"GET /n/8 HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            b"GET /n/9 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        assert json.loads(read_reply(f).body) == {"len": 4, "tail": "abcd"}
        assert read_reply(f).body == b"n=8"
        assert read_reply(f).body == b"n=9"


# -- limits and malformed requests ----------------------------------------------------------------


def test_413_on_content_length(srv: Served) -> None:
    reply, rest = exchange(
        srv, b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1)
    )
    assert reply.status == 413 and reply.header("connection") == "close" and rest == b""
    # exactly the limit is fine
    resp, body = request(srv, "POST", "/size", b"y" * MAX_BODY)
    assert resp.status == 200 and json.loads(body)["len"] == MAX_BODY


def test_413_while_the_body_is_still_being_sent(srv: Served) -> None:
    # The client sends the whole too-large body anyway: it still gets the 413, not a reset.
    with connect(srv) as s:
        s.sendall(b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n")
        s.sendall(b"z" * 200000)
        f = s.makefile("rb")
        reply = read_reply(f)
        assert reply.status == 413


def test_413_on_a_chunked_body(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"POST /size HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        send_until_refused(s, b"100\r\n" + b"c" * 256 + b"\r\n", MAX_BODY * 4)
        f = s.makefile("rb")
        reply = read_reply(f)
        assert reply.status == 413 and reply.header("connection") == "close"
        assert read_eof(s, f) == b""


def test_431_on_large_headers(srv: Served) -> None:
    reply, rest = exchange(srv, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (MAX_HEADERS + 10) + b"\r\n\r\n")
    assert reply.status == 431 and rest == b""
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(100))
    reply, _ = exchange(srv, b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n")
    assert reply.status == 431


def test_431_when_headers_never_end(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: ")
        for _ in range(20):  # one header value, in many reads, that never ends
            send_until_refused(s, b"b" * 512, 512)
            time.sleep(0.002)
        f = s.makefile("rb")
        assert read_reply(f).status == 431


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /a b c HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
        b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ],
)
def test_malformed_request_is_400(srv: Served, raw: bytes) -> None:
    reply, rest = exchange(srv, raw)
    assert reply.status == 400 and reply.header("connection") == "close" and rest == b""


def test_400_after_good_requests_keeps_their_order(srv: Served) -> None:
    with connect(srv) as s:
        s.sendall(b"GET /slow/2 HTTP/1.1\r\nHost: t\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
        f = s.makefile("rb")
        assert read_reply(f).body == b"slow=2"
        assert read_reply(f).status == 400
        assert read_eof(s, f) == b""


def test_unknown_expectation_is_417(srv: Served) -> None:
    reply, _ = exchange(srv, b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: magic\r\n\r\nx")
    assert reply.status == 417


# -- timeouts (each on its own server: the settings are per server) -----------------------------------


def test_slow_headers_are_cut_off() -> None:
    with serve(make_app()) as srv:
        set_timeouts(srv, header_timeout=0.5)
        with connect(srv) as s:
            start = time.monotonic()
            s.sendall(b"GET / HTTP/1.1\r\n")
            f = s.makefile("rb")
            for i in range(15):  # slowloris: a header line every 100 ms, for 1.5 s
                send_until_refused(s, b"X-%d: 1\r\n" % i, 1)
                time.sleep(0.1)
            reply = read_reply(f)
            assert reply.status == 408
            assert read_eof(s, f) == b""
            assert time.monotonic() - start < 3
        # a connection that says nothing is closed too
        with connect(srv) as s:
            start = time.monotonic()
            assert s.recv(100) == b""
            assert time.monotonic() - start < 3


def test_slow_body_is_cut_off() -> None:
    with serve(make_app()) as srv:
        set_timeouts(srv, body_timeout=0.4)
        with connect(srv) as s:
            start = time.monotonic()
            s.sendall(b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            f = s.makefile("rb")
            assert read_reply(f).status == 408
            assert read_eof(s, f) == b""
            assert time.monotonic() - start < 3


def test_a_body_trickled_in_is_cut_off_at_its_deadline() -> None:
    # One byte every 0.15 s: each read came in time, the whole body does not.
    with serve(make_app()) as srv:
        set_timeouts(srv, body_timeout=0.6)
        with connect(srv) as s:
            start = time.monotonic()
            s.sendall(b"POST /size HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n")
            s.settimeout(0.15)
            data = b""
            for _ in range(20):  # 3 s at most
                try:
                    data = s.recv(4096)
                    break
                except TimeoutError:
                    send_until_refused(s, b"x", 1)
            s.settimeout(TIMEOUT)
            took = time.monotonic() - start
            assert data.startswith(b"HTTP/1.1 408"), data
            assert 0.5 < took < 2


def test_idle_keep_alive_is_closed() -> None:
    with serve(make_app()) as srv:
        set_timeouts(srv, keepalive_timeout=0.3)
        with connect(srv) as s:
            f = s.makefile("rb")
            s.sendall(b"GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_reply(f).body == b"n=1"
            start = time.monotonic()
            assert read_eof(s, f) == b""
            assert 0.2 < time.monotonic() - start < 3


def test_server_close_closes_keep_alive_connections() -> None:
    with serve(make_app()) as srv, connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_reply(f).body == b"n=1"
        srv.call(lambda: srv.loop.create_task(srv.server.close()))
        start = time.monotonic()
        assert read_eof(s, f) == b""
        assert time.monotonic() - start < 3


# -- the WebSocket on the same port -------------------------------------------------------------------


def ws_handshake(path: bytes = b"/ws") -> bytes:
    key = base64.b64encode(os.urandom(16))
    return (
        b"GET " + path + b" HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )


def read_frame(f: BinaryIO) -> tuple[int, bytes]:
    b0, b1 = f.read(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(f.read(2), "big")
    elif n == 127:
        n = int.from_bytes(f.read(8), "big")
    return b0 & 0x0F, f.read(n)


def masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_websocket_on_the_same_port(srv: Served, wire: Any) -> None:
    async def main() -> dict[str, Any]:
        async with wire.connect(srv.ws_url) as ws:
            return await wire.recv(ws)

    init = wire.run(main())
    assert init["t"] == "init"
    assert srv.call(lambda: len(srv.server.live)) == 0  # closed again


def test_websocket_after_a_request_on_the_same_connection(srv: Served) -> None:
    # A keep-alive request first; and a message sent right behind the upgrade request.
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"GET /n/1 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_reply(f).body == b"n=1"
        s.sendall(ws_handshake() + masked_text(b'{"action":"x","ref":7}'))
        assert read_reply(f, head=True).status == 101
        assert json.loads(read_frame(f)[1])["t"] == "init"
        assert json.loads(read_frame(f)[1])["ref"] == 7


def test_websocket_pipelined_behind_an_async_request(srv: Served) -> None:
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(b"GET /slow/3 HTTP/1.1\r\nHost: t\r\n\r\n" + ws_handshake() + masked_text(b'{"action":"x","ref":1}'))
        assert read_reply(f).body == b"slow=3"
        assert read_reply(f, head=True).status == 101
        assert json.loads(read_frame(f)[1])["t"] == "init"
        assert json.loads(read_frame(f)[1])["ref"] == 1


def test_websocket_handshake_split_over_many_reads(srv: Served) -> None:
    raw = ws_handshake().replace(b"Host: t\r\n", b"Host: t\r\nCookie: " + b"k=" + b"v" * 1500 + b"\r\n")
    with connect(srv) as s:
        f = s.makefile("rb")
        for i in range(0, len(raw), 100):
            s.sendall(raw[i : i + 100])
            time.sleep(0.001)
        assert read_reply(f, head=True).status == 101
        assert json.loads(read_frame(f)[1])["t"] == "init"


def test_websocket_handshake_longer_than_a_parse_slice_with_messages_behind_it(srv: Served) -> None:
    # One read, parsed a slice at a time: picows must still get the request and the frame as sent.
    raw = ws_handshake().replace(b"Host: t\r\n", b"Host: t\r\nCookie: k=" + b"v" * 1500 + b"\r\n")
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(raw + b"".join(masked_text(b'{"action":"x","ref":%d}' % i) for i in range(20)))
        assert read_reply(f, head=True).status == 101
        assert json.loads(read_frame(f)[1])["t"] == "init"
        assert [json.loads(read_frame(f)[1])["ref"] for _ in range(20)] == list(range(20))


def test_firefox_connection_header_is_accepted(srv: Served) -> None:
    # Firefox sends "Connection: keep-alive, Upgrade"; picows alone takes only "Upgrade".
    raw = ws_handshake().replace(b"Connection: Upgrade", b"Connection: keep-alive, Upgrade")
    with connect(srv) as s:
        f = s.makefile("rb")
        s.sendall(raw + masked_text(b'{"action":"x","ref":2}'))
        assert read_reply(f, head=True).status == 101
        assert json.loads(read_frame(f)[1])["t"] == "init"
        assert json.loads(read_frame(f)[1])["ref"] == 2


@pytest.mark.parametrize("version", [b"8", b"7", b"99", None])
def test_an_upgrade_to_another_websocket_version_is_426_naming_13(srv: Served, version: bytes | None) -> None:
    # RFC 6455 4.2.2: only version 13 is spoken; the answer says which to use.
    head = b"Sec-WebSocket-Version: " + version + b"\r\n" if version is not None else b""
    reply, _ = exchange(srv, ws_handshake().replace(b"Sec-WebSocket-Version: 13\r\n", head))
    assert reply.status == 426
    assert reply.all("Sec-WebSocket-Version") == ["13"]
    assert srv.call(lambda: len(srv.server.live)) == 0


def test_bad_websocket_upgrade_is_refused_by_picows(srv: Served) -> None:
    raw = ws_handshake().replace(b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: x")
    reply, _ = exchange(srv, raw)
    assert reply.status == 400


def test_plain_get_of_the_socket_path_is_not_an_upgrade(srv: Served) -> None:
    resp, _ = request(srv, "GET", "/ws")
    assert resp.status == 404


def test_no_front_protocol_is_kept_after_the_handoff(srv: Served) -> None:
    from rweb.server.http1 import HTTP1Protocol

    def count() -> tuple[int, int]:
        gc.collect()
        fronts = sum(isinstance(o, HTTP1Protocol) for o in gc.get_objects())
        return fronts, len(srv.server._front.connections)

    socks = []
    try:
        for _ in range(5):
            s = connect(srv)
            socks.append(s)
            s.sendall(ws_handshake())
            f = s.makefile("rb")
            assert read_reply(f, head=True).status == 101
            read_frame(f)
        assert srv.call(lambda: len(srv.server.live)) == 5
        assert srv.call(count) == (0, 0)
    finally:
        for s in socks:
            s.close()
