"""The real server (picows, in a background thread on a free 127.0.0.1 port).

HTTP routes, the seed's counter driven by a real WebSocket client, concurrent
independent sessions, and WebSocket housekeeping (fragments, ping, close).
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from rweb import ConnectionInfo, reactive
from rweb.html import button, component, div, p, span
from rweb.reactive import subscribers
from rweb.testing import Served, serve
from rweb.web.client_script import client_url

INC = '{"action":"inc","params":{}}'  # exactly what the seed's client sends


@pytest.fixture
def counter_server(counter_example: Any) -> Iterator[Served]:
    with serve(counter_example.session_setup, "RWeb Counter") as srv:
        yield srv


def http_get(srv: Served, path: str, headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# -- HTTP ---------------------------------------------------------------------------


def test_get_root_serves_the_server_rendered_page(counter_example: Any) -> None:
    with serve(counter_example.session_setup, 'Counter <b>&</b> "friends"') as srv:
        status, headers, body = http_get(srv, "/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    page = body.decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Counter &lt;b&gt;&amp;&lt;/b&gt; &quot;friends&quot;</title>" in page
    assert '<div data-rc="root" class="ui-shell">' in page and "<h1>RWeb Counter</h1>" in page  # the kit's shell
    assert '<div data-rc="display"><span>Count: </span><span>0</span></div>' in page
    assert '<button type="button" class="ui-btn ui-btn-primary" data-action="inc">+</button>' in page
    assert f'<script src="{client_url()}"' in page
    assert page.rstrip().endswith("</html>")


def test_get_root_sees_cookies_and_query() -> None:
    def setup(writer_id: Any, conn: ConnectionInfo) -> Any:
        return (lambda: div(p("x=", conn.query.get("x")), p("sid=", conn.cookies.get("sid")))), {}

    with serve(setup) as srv:
        status, _, body = http_get(srv, "/?x=<1>", {"Cookie": "sid=s3cr3t"})
    assert status == 200
    assert "<p>x=&lt;1&gt;</p><p>sid=s3cr3t</p>" in body.decode()


def test_get_root_when_the_page_fails_is_a_500_page() -> None:
    def setup(writer_id: Any) -> Any:
        raise RuntimeError("no page")

    with serve(setup) as srv:
        status, headers, body = http_get(srv, "/")
    assert status == 500
    assert headers["content-type"].startswith("text/html")
    assert b'data-rc="root"' in body and b"no page" not in body


def test_get_client_script(counter_server: Served) -> None:
    status, headers, body = http_get(counter_server, "/_rweb/rweb.js")
    assert status == 200
    assert headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert body
    etag = headers["etag"]
    status, _, body = http_get(counter_server, "/_rweb/rweb.js", {"If-None-Match": etag})
    assert status == 304 and body == b""


@pytest.mark.parametrize("path", ["/nope", "/_rweb/other.js", "/index.html", "/_rweb/"])
def test_unknown_paths_are_404(counter_server: Served, path: str) -> None:
    status, _, _ = http_get(counter_server, path)
    assert status == 404


def test_plain_get_of_the_websocket_path_is_refused(counter_server: Served) -> None:
    status, _, _ = http_get(counter_server, "/ws")
    assert 400 <= status < 500


# -- the seed's counter -----------------------------------------------------------------


def test_500_clicks_one_reply_each(counter_server: Served, wire: Any) -> None:
    async def main() -> None:
        async with wire.connect(counter_server.ws_url) as ws:
            init = await wire.recv(ws)
            assert init["t"] == "init" and init["c"]["display"]["d"] == ["0"]
            last = None
            for i in range(1, 501):
                await ws.send(INC)
                raw = await asyncio.wait_for(ws.recv(), 10)
                last = json.loads(raw)
                assert last == {"t": "r", "d": {"display": {"0": str(i)}}}, last
                if i == 6:
                    assert raw == '{"t":"r","d":{"display":{"0":"6"}}}' and len(raw) < 64
            assert last is not None and last["d"]["display"]["0"] == "500"
            # Exactly one reply each: the next message is the reply to the next request.
            reply = await wire.click(ws, "dec", ref="end")
            assert reply == {"t": "r", "d": {"display": {"0": "499"}}, "ref": "end"}

    wire.run(main())


def test_counter_dec_and_reset(counter_server: Served, wire: Any, count_of: Any) -> None:
    async def main() -> None:
        async with wire.connect(counter_server.ws_url) as ws:
            await wire.recv(ws)
            assert count_of(await wire.click(ws, "dec")) == "-1"
            assert count_of(await wire.click(ws, "inc")) == "0"
            assert count_of(await wire.click(ws, "inc")) == "1"
            assert count_of(await wire.click(ws, "reset")) == "0"
            assert (await wire.click(ws, "reset"))["d"] == {}

    wire.run(main())


def test_50_concurrent_clients_have_independent_sessions(counter_server: Served, wire: Any) -> None:
    clients, clicks = 50, 100

    async def one(k: int) -> str:
        async with wire.connect(counter_server.ws_url) as ws:
            init = await wire.recv(ws)
            assert init["c"]["display"]["d"][0] == "0"
            extra = k % 3  # sessions end on different counts
            reply: dict[str, Any] = {}
            for i in range(1, clicks + extra + 1):
                reply = await wire.click(ws, ref=i)
                assert reply["ref"] == i and reply["d"]["display"]["0"] == str(i)
            final = reply["d"]["display"]["0"]
            sentinel = await wire.click(ws, "nope", ref="sentinel")
            assert sentinel["ref"] == "sentinel" and sentinel["e"]["code"] == "unknown_action"
            assert final == str(clicks + extra)
            return final

    async def main() -> list[str]:
        return await asyncio.gather(*(one(k) for k in range(clients)))

    finals = wire.run(main(), timeout=50)
    assert finals == [str(clicks + k % 3) for k in range(clients)]


# -- WebSocket housekeeping ----------------------------------------------------------------


def test_ping_is_answered(counter_server: Served, wire: Any, count_of: Any) -> None:
    async def main() -> None:
        async with wire.connect(counter_server.ws_url) as ws:
            await wire.recv(ws)
            pong = await ws.ping(b"hello")
            await asyncio.wait_for(pong, 10)
            assert count_of(await wire.click(ws)) == "1"

    wire.run(main())


def test_client_close_is_a_clean_close(counter_server: Served, wire: Any) -> None:
    async def main() -> None:
        ws = await wire.connect(counter_server.ws_url)
        await wire.recv(ws)
        await ws.close(code=1000, reason="bye")
        assert ws.close_code == 1000
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 1000

    wire.run(main())


async def raw_ws(srv: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(srv.host, srv.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {srv.host}:{srv.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await asyncio.wait_for(reader.readexactly(2), 10)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return b0 & 0x0F, await asyncio.wait_for(reader.readexactly(n), 10)


def test_close_frame_without_a_status_code_gets_a_valid_close(
    counter_server: Served, wire: Any
) -> None:
    # Browsers send an empty CLOSE frame for ws.close() called without a code.
    async def main() -> bytes:
        reader, writer = await raw_ws(counter_server)
        try:
            opcode, _ = await read_frame(reader)  # the init message
            assert opcode == 0x1
            writer.write(bytes([0x88, 0x80]) + os.urandom(4))  # FIN+CLOSE, masked, empty
            await writer.drain()
            opcode, payload = await read_frame(reader)
            assert opcode == 0x8
            return payload
        finally:
            writer.close()

    payload = wire.run(main())
    # RFC 6455 5.5.1: an empty body, or a status code that may appear on the wire
    # (0 and 1005 may not).
    if payload:
        code = struct.unpack("!H", payload[:2])[0]
        assert code == 1000 or 3000 <= code < 5000, f"invalid close code {code} echoed"


def masked_frame(opcode: int, payload: bytes, fin: bool = True, rsv: int = 0) -> bytes:
    """A client frame (RFC 6455: client frames are masked); ``rsv``: the RSV1-3 bits (0x40, 0x20, 0x10)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_messages_read_together_are_answered_in_order(counter_server: Served) -> None:
    # The server answers in batches (every message read in one loop pass, then
    # every send).  Messages arriving in one write land in one batch; frames
    # that are not plain text (a fragmented message, a binary frame, a close)
    # must not overtake the replies to the messages before them.
    def text(msg: dict[str, Any]) -> bytes:
        return masked_frame(0x1, json.dumps(msg).encode())

    frag = json.dumps({"action": "dec", "ref": "frag"}).encode()
    burst = b"".join(text({"action": "inc", "ref": i}) for i in range(1, 21))
    burst += masked_frame(0x1, frag[:10], fin=False) + masked_frame(0x0, frag[10:])
    burst += masked_frame(0x2, b"\x00\x01")
    burst += b"".join(text({"action": "inc", "ref": i}) for i in range(21, 26))
    burst += masked_frame(0x8, struct.pack("!H", 1000))

    async def main() -> list[tuple[int, bytes]]:
        reader, writer = await raw_ws(counter_server)
        try:
            assert (await read_frame(reader))[0] == 0x1  # the init message
            writer.write(burst)
            await writer.drain()
            return [await read_frame(reader) for _ in range(20 + 1 + 1 + 5 + 1)]
        finally:
            writer.close()

    frames = asyncio.run(main())
    replies = [json.loads(payload) for opcode, payload in frames[:-1]]
    assert all(opcode == 0x1 for opcode, _ in frames[:-1])
    expected: list[tuple[Any, str | None]] = [(i, str(i)) for i in range(1, 21)]
    expected += [("frag", "19"), (None, None)]
    expected += [(i, str(i - 1)) for i in range(21, 26)]
    got = [(r.get("ref"), r["d"].get("display", {}).get("0")) for r in replies]
    assert got == expected
    assert replies[21]["e"]["code"] == "binary_frame"
    assert frames[-1][0] == 0x8


def test_many_sessions_open_and_close_without_leaks(wire: Any) -> None:
    @reactive
    class Hits:
        n: int

    hits = Hits(0)

    def setup(writer_id: Any) -> Any:
        def page() -> Any:
            return div(component("hits", lambda: span(hits.n)), button("hit", data_action="hit"))

        def on_action(action: str, params: dict[str, Any]) -> None:
            hits.n += 1

        return page, on_action

    async def one() -> None:
        # Every session reads the shared counter, so pushes pile up unread: an
        # unbounded client queue keeps the client reading up to the close frame.
        async with wire.connect(srv.ws_url, max_queue=None) as ws:
            await wire.recv(ws)
            await ws.send('{"action": "hit", "ref": 1}')
            reply = await wire.reply(ws)
            assert reply["t"] == "r" and reply["ref"] == 1 and "e" not in reply

    async def main() -> None:
        for _ in range(4):
            await asyncio.gather(*(one() for _ in range(25)))

    with serve(setup) as srv:
        wire.run(main())
        assert srv.call(lambda: hits.n) == 100
        remaining: Any = None
        for _ in range(100):  # bounded wait for the server to process the last disconnects
            remaining = srv.call(lambda: subscribers(hits, "n"))
            if remaining == 0:
                break
            asyncio.run(asyncio.sleep(0.05))
        assert remaining == 0


def test_open_sessions_do_not_keep_the_handshake_headers(counter_server: Served, wire: Any) -> None:
    # picows keeps the upgrade request and response for the life of the socket;
    # their header tables would be most of an idle session's memory.
    async def main() -> None:
        async with wire.connect(counter_server.ws_url, additional_headers={"Cookie": "a=1"}) as ws:
            await wire.recv(ws)
            kept = counter_server.call(lambda: [
                (lst.transport.request.headers, lst.transport.response.headers)
                for lst in counter_server.server.live
            ])
            assert kept == [(None, None)]

    wire.run(main())


def test_writer_ids_are_unique_across_workers(counter_example: Any) -> None:
    from rweb import App
    from rweb.server import Server

    app = App(session_setup=counter_example.session_setup)
    servers = [Server(app, worker_index=w, workers=3) for w in range(3)]
    ids = [s.next_writer_id() for s in servers for _ in range(50)]
    assert len(set(ids)) == len(ids) == 150


def test_each_connection_gets_its_own_writer_id(wire: Any) -> None:
    seen: list[Any] = []

    def setup(writer_id: Any) -> Any:
        seen.append(writer_id)
        return (lambda: p("writer ", writer_id)), {}

    async def main(url: str) -> list[str]:
        out = []
        for _ in range(3):
            async with wire.connect(url) as ws:
                out.append((await wire.recv(ws))["c"]["root"]["d"][0])
        return out

    with serve(setup) as srv:
        rendered = wire.run(main(srv.ws_url))
    assert len(set(rendered)) == 3
    assert [str(w) for w in seen] == rendered


# -- RFC 6455 framing: what must fail the connection (1002) ------------------------------------


@pytest.fixture
def tally_server() -> Iterator[tuple[Served, list[str]]]:
    """A page whose every action is recorded, so that a frame's being applied shows."""
    applied: list[str] = []

    def setup(writer_id: Any) -> Any:
        page = div(*(button(a, data_action=a) for a in ("before", "bad", "after", "frag", "next")))
        return (lambda: page), (lambda action, params: applied.append(action))

    with serve(setup) as srv:
        yield srv, applied


def click_frame(action: str = "inc", **kw: Any) -> bytes:
    return masked_frame(0x1, json.dumps({"action": action, "params": {}}).encode(), **kw)


def frames_until_close(srv: Served, data: bytes) -> list[tuple[int, bytes]]:
    """Open a socket, send ``data`` after the init message, read every frame up to the close."""

    async def main() -> list[tuple[int, bytes]]:
        reader, writer = await raw_ws(srv)
        try:
            assert (await read_frame(reader))[0] == 0x1  # the init message
            writer.write(data)
            await writer.drain()
            frames = []
            for _ in range(50):
                frames.append(await read_frame(reader))
                if frames[-1][0] == 0x8:
                    return frames
            raise AssertionError(f"no close frame: {frames}")
        finally:
            writer.close()

    return asyncio.run(main())


def close_code(frame: tuple[int, bytes]) -> int:
    opcode, payload = frame
    assert opcode == 0x8
    return int(struct.unpack("!H", payload[:2])[0])


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(click_frame("bad", rsv=0x40), id="text-rsv1"),
        pytest.param(click_frame("bad", rsv=0x20), id="text-rsv2"),
        pytest.param(click_frame("bad", rsv=0x10), id="text-rsv3"),
        pytest.param(masked_frame(0x1, b'{"action":"bad",', fin=False, rsv=0x40), id="first-fragment-rsv1"),
        pytest.param(
            masked_frame(0x1, b'{"action":"bad",', fin=False) + masked_frame(0x0, b'"params":{}}', rsv=0x20),
            id="continuation-rsv2",
        ),
        pytest.param(masked_frame(0x2, b"\x00", rsv=0x10), id="binary-rsv3"),
        pytest.param(
            masked_frame(0x1, b'{"action":"bad",', fin=False) + click_frame("bad"), id="text-inside-fragmented"
        ),
        pytest.param(
            masked_frame(0x1, b'{"action":"bad",', fin=False) + masked_frame(0x2, b"\x00"), id="binary-inside-fragmented"
        ),
        pytest.param(masked_frame(0x0, b'{"action":"bad"}'), id="orphan-continuation"),
    ],
)
def test_frames_that_break_rfc_6455_close_with_1002(tally_server: tuple[Served, list[str]], bad: bytes) -> None:
    srv, applied = tally_server
    # A click before the bad frame is answered; the bad frame and everything after it are not taken.
    frames = frames_until_close(srv, click_frame("before") + bad + click_frame("after"))
    assert close_code(frames[-1]) == 1002
    assert [json.loads(p)["t"] for _, p in frames[:-1]] == ["r"]
    assert srv.call(lambda: list(applied)) == ["before"]


def test_a_fragmented_message_with_a_control_frame_between_its_frames_is_one_message(
    tally_server: tuple[Served, list[str]],
) -> None:
    srv, applied = tally_server
    msg = b'{"action":"frag","params":{},"ref":"f"}'
    data = (
        masked_frame(0x1, msg[:10], fin=False)
        + masked_frame(0x9, b"between")  # a ping may come between a message's frames
        + masked_frame(0x0, msg[10:20], fin=False)
        + masked_frame(0x0, msg[20:])
        + click_frame("next")
        + masked_frame(0x8, struct.pack("!H", 1000))
    )
    frames = frames_until_close(srv, data)
    assert frames[0] == (0xA, b"between")
    assert [json.loads(p).get("ref") for _, p in frames[1:3]] == ["f", None]
    assert close_code(frames[-1]) == 1000
    assert srv.call(lambda: list(applied)) == ["frag", "next"]
