"""Sessions that survive a lost socket (same process): resume by token, actions applied exactly once.

Through the real server and a real WebSocket client: the connection is cut
the hard way (the TCP transport aborted, no close frame), and a new socket
joins with the session's token.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from rweb import App, Conn, reactive
from rweb.html import button, component, div, span
from rweb.testing import serve


@reactive
class Count:
    n: int


def counter_app(**options: Any) -> tuple[App, list[str]]:
    events: list[str] = []
    app = App("resume", **options)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        count = Count(0)
        events.append("setup")
        conn.on_close(lambda: events.append("closed"))
        conn.subscribe("bump", lambda m: setattr(count, "n", count.n + m))

        def on_action(action: str, params: dict[str, Any]) -> None:
            count.n += 1

        return (lambda: div(component("n", lambda: span(count.n)), button("+", data_action="inc"))), on_action

    return app, events


def cut(ws: Any) -> None:
    """Lose the connection without a close frame (as a network failure does)."""
    ws.transport.abort()


async def click(ws: Any, wire: Any, ref: int) -> dict[str, Any]:
    await ws.send(json.dumps({"action": "inc", "params": {}, "ref": ref}))
    return await wire.recv(ws)


def shown(msg: dict[str, Any]) -> str:
    return str(msg["c"]["n"]["d"][0])


def test_a_lost_socket_is_resumed_with_its_state_and_actions_apply_once(wire: Any) -> None:
    app, events = counter_app()
    with serve(app) as srv:

        async def main() -> None:
            ws = await wire.connect(srv.ws_url + "?url=/")
            init = await wire.recv(ws)
            token = init["tok"]
            assert "resumed" not in init and "fresh" not in init
            for ref in (1, 2, 3):
                await click(ws, wire, ref)
            cut(ws)
            await asyncio.sleep(0.1)
            assert events == ["setup"]  # the session waits for its browser
            srv.call(lambda: app.publish("bump", 10))  # a write while away
            async with wire.connect(srv.ws_url + "?url=/&tok=" + quote(token)) as again:
                resumed = await wire.recv(again)
                assert resumed["resumed"] is True and resumed["last"] == 3
                assert shown(resumed) == "13"  # its state, and what changed while it was away
                # The browser re-sends what it does not know was applied: applied once.
                assert (await click(again, wire, 3))["d"] == {}
                assert (await click(again, wire, 4))["d"] == {"n": {"0": "14"}}
                assert events == ["setup"]  # the same session, not a new one
            assert events == ["setup", "closed"]  # a clean close ends it at once

        wire.run(main())


def test_a_session_not_reclaimed_in_time_ends_and_its_token_gets_a_fresh_one(wire: Any) -> None:
    app, events = counter_app(resume_grace=0.3)
    with serve(app) as srv:

        async def main() -> None:
            ws = await wire.connect(srv.ws_url)
            token = (await wire.recv(ws))["tok"]
            await click(ws, wire, 1)
            cut(ws)
            deadline = time.monotonic() + 5
            while events != ["setup", "closed"] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert events == ["setup", "closed"]  # its end hook ran after the grace period
            async with wire.connect(srv.ws_url + "?tok=" + quote(token)) as again:
                init = await wire.recv(again)
                assert init["fresh"] is True and "resumed" not in init and shown(init) == "0"
            async with wire.connect(srv.ws_url + "?tok=forged.token.here") as forged:
                assert (await wire.recv(forged))["fresh"] is True

        wire.run(main())


def test_resume_can_be_turned_off(wire: Any) -> None:
    app, events = counter_app(resume_grace=0)
    with serve(app) as srv:

        async def main() -> None:
            ws = await wire.connect(srv.ws_url)
            assert "tok" not in await wire.recv(ws)
            cut(ws)
            deadline = time.monotonic() + 5
            while "closed" not in events and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            assert events == ["setup", "closed"]

        wire.run(main())


def test_stopping_the_server_ends_waiting_sessions() -> None:
    app, events = counter_app()

    async def main(url: str) -> None:
        import websockets

        ws = await websockets.connect(url, proxy=None)
        await ws.recv()
        cut(ws)
        await asyncio.sleep(0.1)

    with serve(app) as srv:
        asyncio.run(main(srv.ws_url))
        assert events == ["setup"]
    assert events == ["setup", "closed"] and app.sessions == {}


def test_a_token_takes_over_a_session_whose_old_socket_the_server_still_thinks_alive(wire: Any) -> None:
    # The browser's heartbeat found the socket dead before the server's did.
    app, events = counter_app()
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as old:
                token = (await wire.recv(old))["tok"]
                await click(old, wire, 1)
                async with wire.connect(srv.ws_url + "?tok=" + quote(token)) as new:
                    resumed = await wire.recv(new)
                    assert resumed["resumed"] is True and shown(resumed) == "1"
                    assert (await click(new, wire, 2))["d"] == {"n": {"0": "2"}}
                    assert events == ["setup"]

        wire.run(main())


def test_the_token_and_the_client_version_are_not_part_of_the_pages_query() -> None:
    from rweb.live.connection import page_info
    from rweb.sessions.session import ConnectionInfo

    assert dict(page_info(ConnectionInfo(path="/", query={"x": "1", "tok": "t", "vsn": "1.x"})).query) == {"x": "1"}


def test_a_join_from_another_client_version_is_answered_stale_client(wire: Any) -> None:
    """A page whose script is another build's (a deploy came between) gets no session: it reloads.

    A join with this server's client version, or with none (other clients), is served as before;
    a stale one resumes nothing, its token stays unspent.
    """
    from rweb.web.client_script import client_version

    app, events = counter_app()
    with serve(app) as srv:

        async def main() -> None:
            ws = await wire.connect(srv.ws_url + "?url=/")
            token = (await wire.recv(ws))["tok"]
            cut(ws)
            stale = await wire.connect(srv.ws_url + "?url=/&vsn=1.0123456789abcdef&tok=" + quote(token))
            msg = await wire.recv(stale)
            assert msg["e"]["code"] == "stale_client" and "c" not in msg and "tok" not in msg
            assert events == ["setup"]  # no setup for it, and the lost session still waits
            async with wire.connect(srv.ws_url + f"?url=/&vsn={quote(client_version())}&tok=" + quote(token)) as same:
                assert (await wire.recv(same))["resumed"] is True

        wire.run(main())


# -- tokens are single use ------------------------------------------------------------------


async def rejoin(wire: Any, url: str, token: str) -> tuple[Any, dict[str, Any]]:
    ws = await wire.connect(url + "?url=/&tok=" + quote(token))
    return ws, await wire.recv(ws)


def test_a_resume_spends_its_token_and_hands_out_a_new_one(wire: Any) -> None:
    app, events = counter_app()
    with serve(app) as srv:

        async def main() -> None:
            ws = await wire.connect(srv.ws_url + "?url=/")
            first = (await wire.recv(ws))["tok"]
            await click(ws, wire, 1)
            cut(ws)
            ws, init = await rejoin(wire, srv.ws_url, first)
            second = init["tok"]
            assert init["resumed"] is True and second != first
            cut(ws)  # a second drop: only the new token brings the session back
            ws, init = await rejoin(wire, srv.ws_url, first)
            assert init.get("fresh") is True and "resumed" not in init and shown(init) == "0"
            await ws.close()
            ws, init = await rejoin(wire, srv.ws_url, second)
            assert init["resumed"] is True and shown(init) == "1"
            # The old token cannot take over the live session either (its socket looks alive).
            spare, again = await rejoin(wire, srv.ws_url, first)
            assert again.get("fresh") is True
            assert (await click(ws, wire, 2))["d"] == {"n": {"0": "2"}}  # still the first socket's
            await spare.close()
            await ws.close()
            assert events.count("setup") == 3  # the session, and the two fresh ones of the spent token

        wire.run(main())


def test_two_sockets_racing_with_one_token_resume_one_session(wire: Any) -> None:
    app, _ = counter_app()
    with serve(app) as srv:

        async def main() -> None:
            for live in (False, True):  # a dropped socket; and one the server still thinks alive
                ws = await wire.connect(srv.ws_url + "?url=/")
                token = (await wire.recv(ws))["tok"]
                await click(ws, wire, 1)
                if not live:
                    cut(ws)
                racers = await asyncio.gather(*(rejoin(wire, srv.ws_url, token) for _ in range(4)))
                inits = [init for _, init in racers]
                assert sum(init.get("resumed") is True for init in inits) == 1, inits
                assert sum(init.get("fresh") is True for init in inits) == 3, inits
                for racer, _ in racers:
                    await racer.close()
                if live:
                    await ws.close()

        wire.run(main())


# -- sessions held for their browsers are bounded -------------------------------------------


def tracking_app(**options: Any) -> tuple[App, dict[Any, str | None], list[Any]]:
    """A counter that notes each session's client address, and which sessions ended, in order."""
    clients: dict[Any, str | None] = {}
    ended: list[Any] = []
    app = App("bounded", **options)

    @app.page("/")
    def home(writer_id: Any, conn: Conn) -> Any:
        count = Count(0)
        clients[writer_id] = conn.client
        conn.on_close(lambda: ended.append(writer_id))
        return (lambda: div(component("n", lambda: span(count.n)))), {"inc": lambda p: setattr(count, "n", 1)}

    return app, clients, ended


async def dropped(wire: Any, url: str, forwarded: str | None = None) -> tuple[Any, str]:
    """A session whose socket is then lost: (its writer id, its token)."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else None
    async with wire.connect(url + "?url=/", additional_headers=headers) as ws:
        init = await wire.recv(ws)
        cut(ws)
    return int(init["tok"].split(".")[1]), init["tok"]


async def settled(pred: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return bool(pred())


def test_dropped_sessions_past_the_cap_end_oldest_first(wire: Any, caplog: Any) -> None:
    app, _, ended = tracking_app(max_detached=3, max_detached_per_address=None)
    with serve(app) as srv, caplog.at_level("WARNING", "rweb.app"):

        async def main() -> None:
            held = []
            for _ in range(5):
                held.append(await dropped(wire, srv.ws_url))
                await settled(lambda: len(app.registry.waiting) + len(ended) == len(held))
            wids = [wid for wid, _ in held]
            assert ended == wids[:2]  # the two oldest, in order
            assert len(app.registry.waiting) == 3 and app.evicted == 2
            for i, (_, token) in enumerate(held):
                ws, init = await rejoin(wire, srv.ws_url, token)
                assert init.get("resumed" if i >= 2 else "fresh") is True, (i, init)
                await ws.close()

        wire.run(main())
    assert any("App(max_detached=3)" in r.getMessage() for r in caplog.records)


def test_the_per_address_cap_reads_forwarded_addresses_only_from_trusted_proxies(wire: Any, caplog: Any) -> None:
    # Trusted (the test's loopback peer is the proxy): each forwarded client has its own cap.
    app, clients, ended = tracking_app(max_detached_per_address=2, trusted_proxies=["127.0.0.0/8"])
    with serve(app) as srv, caplog.at_level("WARNING", "rweb.app"):

        async def main() -> None:
            a = [await dropped(wire, srv.ws_url, "203.0.113.7") for _ in range(3)]
            b = await dropped(wire, srv.ws_url, "198.51.100.1, 127.0.0.1")  # through two proxies of ours
            assert await settled(lambda: len(ended) == 1 and len(app.registry.waiting) == 3)
            assert ended == [a[0][0]]  # the first of 203.0.113.7's three
            assert clients[a[1][0]] == "203.0.113.7" and clients[b[0]] == "198.51.100.1"

        wire.run(main())
    assert any("App(max_detached_per_address=2) from one address" in r.getMessage() for r in caplog.records)



@pytest.mark.parametrize("trusted", [None, ["10.0.0.0/8"]])
def test_a_forwarded_header_from_an_untrusted_peer_is_ignored(wire: Any, trusted: Any) -> None:
    # None configured, or another network: the header is the client's say; its real address is capped.
    app, clients, ended = tracking_app(max_detached_per_address=2, trusted_proxies=trusted)
    with serve(app) as srv:

        async def main() -> None:
            wids = [(await dropped(wire, srv.ws_url, f"203.0.113.{i}"))[0] for i in range(3)]
            assert await settled(lambda: len(ended) == 1 and len(app.registry.waiting) == 2)
            assert ended == [wids[0]]  # one address: 127.0.0.1
            assert {clients[w] for w in wids} == {"127.0.0.1"}

        wire.run(main())


def test_connect_and_drop_cycles_keep_at_most_the_cap(wire: Any) -> None:
    app, _, ended = tracking_app(max_detached=50, max_detached_per_address=None)
    with serve(app) as srv:

        async def main() -> None:
            deadline = time.monotonic() + 20
            n = 0
            while n < 400 and time.monotonic() < deadline:
                await asyncio.gather(*(dropped(wire, srv.ws_url) for _ in range(20)))
                n += 20
            assert await settled(lambda: len(ended) == n - 50 and len(app.registry.waiting) == 50)
            assert len(app.sessions) == 50, n

        wire.run(main())


def test_a_close_with_the_client_heartbeats_code_keeps_the_session(wire: Any) -> None:
    """rweb.js closes a socket its heartbeat found dead with 4000, then joins again: kept, as under ASGI
    (tests/test_asgi.py); a close with 1000 (a tab closed) ends the session at once."""
    app, events = counter_app()
    with serve(app) as srv:

        async def main() -> None:
            ws = await wire.connect(srv.ws_url + "?url=/")
            token = (await wire.recv(ws))["tok"]
            await click(ws, wire, 1)
            await ws.close(4000, "no heartbeat")
            deadline = time.monotonic() + 5
            while not srv.call(lambda: any(c.detached() for c in app.sessions.values())):
                assert time.monotonic() < deadline, "the session did not wait for its browser"
                await asyncio.sleep(0.02)
            assert events == ["setup"]
            async with wire.connect(srv.ws_url + "?url=/&tok=" + quote(token)) as again:
                resumed = await wire.recv(again)
                assert resumed["resumed"] is True and shown(resumed) == "1"
            deadline = time.monotonic() + 5
            while events != ["setup", "closed"]:  # the clean close of `again` ended it
                assert time.monotonic() < deadline, events
                await asyncio.sleep(0.02)

        wire.run(main())
