"""The real-time examples without a browser: examples/clock.py, chat.py and rooms_push.py.

In-process with ``rweb.testing`` (``Client`` for live pages, ``TestClient`` for
HTTP; ``run_pending()`` runs what the app's loop would run) wherever that is
enough; timers run in real time, so the clock's are tested through the real
server and a real WebSocket; the chat across two servers goes through a real
redis-server on a free loopback port.  Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from examples_loader import load_example
from redis_server import RedisServer

from rweb.testing import Client, Page, TestClient, serve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOKEN = "a-test-push-token"


clock = load_example("clock")
chat = load_example("chat")
rooms_push = load_example("rooms_push")


def texts(tab: Client, component: str) -> list[str]:
    """The text of each ``<li>`` of a component (tags dropped, entities left as sent)."""
    html = tab.html(component)
    return [re.sub(r"<[^>]*>", "", m) for m in re.findall(r"<li[^>]*>(.*?)</li>", html)]


# -- the clock ----------------------------------------------------------------------------


def test_clock_first_paint_shows_the_time_and_starts_no_timer() -> None:
    app = clock.build_app()
    page = TestClient(app).get("/")
    assert page.status == 200
    assert re.search(r'<span id="time">\d\d:\d\d:\d\d</span>', page.text)
    assert 'Pushes from the timer: <span id="pushes">0</span>' in page.text
    assert app.sessions == {}


def test_clock_live_page_in_process() -> None:
    ticks = itertools.count()
    page = Page(clock.build_app(interval=1.0, now=lambda: f"tick {next(ticks)}"))
    assert page.exists(".clock > #time")
    pushes = page.advance(3.0)  # virtual time: three ticks, three pushes
    assert len(pushes) == 3 and page.text("#time") == "tick 3"
    assert page.text("#pushes") == "3"
    [reply] = page.click("#stop")
    assert reply["t"] == "r"
    assert page.advance(3.0) == [] and page.text("#time") == "tick 3"  # stopped


def test_clock_timer_pushes_over_a_real_socket(wire: Any) -> None:
    ticks = itertools.count()
    app = clock.build_app(interval=0.05, now=lambda: f"tick {next(ticks)}")
    with serve(app) as srv:

        async def main() -> None:
            async with wire.connect(srv.ws_url) as ws:
                init = await wire.recv(ws)
                assert init["t"] == "init" and set(init["c"]) >= {"clock", "pushes"}
                counts = []
                while len(counts) < 3:  # no click: the timer pushes
                    msg = await wire.recv(ws)
                    assert msg["t"] == "p"
                    # One push per tick, with both components the timer wrote.
                    assert set(msg["d"]) == {"clock", "pushes"}, msg
                    counts.append(int(list(msg["d"]["pushes"].values())[-1]))
                assert counts == [counts[0], counts[0] + 1, counts[0] + 2]
                reply = await wire.reply(await _send(ws, "stop"))
                assert reply["t"] == "r" and "e" not in reply
                with pytest.raises(TimeoutError):
                    await wire.recv(ws, 0.3)  # six periods: stopped
            # The tab is gone: its session ended (and with it any timer).
            for _ in range(100):
                if srv.call(lambda: len(app.sessions)) == 0:
                    break
                await asyncio.sleep(0.02)
            assert srv.call(lambda: len(app.sessions)) == 0

        wire.run(main())


async def _send(ws: Any, action: str, params: dict[str, Any] | None = None) -> Any:
    await ws.send(json.dumps({"action": action, "params": params or {}}))
    return ws


# -- the chat --------------------------------------------------------------------------------


def named(app: Any, room: str, name: str, writer_id: str) -> Page:
    page = Page(app, f"/rooms/{room}", writer_id=writer_id)
    page.fill("#name", name)
    page.click("#set-name")  # submits the name form
    page.run_pending()
    return page


def test_chat_lists_rooms_and_refuses_unknown_ones() -> None:
    app = chat.build_app(rooms=("A", "B"))
    http = TestClient(app)
    page = http.get("/")
    assert page.status == 200
    assert '<a href="/rooms/A" data-navigate id="room-A">A</a>' in page.text
    assert "(0 here)" in page.text
    r = http.get("/rooms/nope")
    assert r.status == 303 and r.location == "/"
    assert http.live("/rooms/nope").redirected_to == "/"
    with pytest.raises(ValueError):
        chat.build_app(rooms=("bad room",))


def test_chat_messages_reach_their_room_only() -> None:
    app = chat.build_app(rooms=("A", "B"))
    ann, bob, cy = (
        named(app, "A", "Ann", "ann"),
        named(app, "A", "Bob", "bob"),
        named(app, "B", "Cy", "cy"),
    )
    assert ann.attr("#text", "data-key") == "text-0"

    ann.fill("#text", "hello")
    ann.submit("#say-form", {"text": "  hello <b>A</b>\n "})  # not what a text box gives: cleaned
    ann.run_pending()
    for tab in (ann, bob):
        [line] = tab.texts("#messages li")
        assert line.endswith("Ann: hello <b>A</b>")  # one line ...
        assert tab.count("#messages li b") == 1  # ... escaped: the name's <b> only
    assert cy.texts("#messages li") == []
    # The message box is a new element (a new key) without a value: the browser shows it empty.
    assert ann.attr("#text", "data-key") == "text-1" and ann.attr("#text", "value") is None
    assert ann.value("#text") == ""  # what was typed went with the old element

    cy.fill("#text", "in B")
    cy.click("#send")
    cy.run_pending()
    assert [t.split(" ", 1)[1] for t in cy.texts("#messages li")] == ["Cy: in B"]
    assert ann.count("#messages li") == bob.count("#messages li") == 1


def test_chat_needs_a_name_and_ignores_empty_messages() -> None:
    app = chat.build_app(rooms=("A",))
    tab = Page(app, "/rooms/A")
    assert tab.text("#say-form") == "Choose a name to write." and not tab.exists("#text")
    tab.fill("#name", " \t ")
    [reply] = tab.submit("#name-form")
    assert reply["t"] == "r"
    tab.run_pending()
    # The error is the name field's (rweb.ui): under it and tied to it.
    assert tab.text("#name-error") == "Choose a name."
    assert tab.attr("#name", "aria-invalid") == "true" and tab.attr("#name", "aria-describedby") == "name-error"
    tab.fill("#name", "Ann")
    tab.submit("#name-form")
    tab.run_pending()
    assert not tab.exists("#name-error") and tab.attr("#name", "aria-invalid") is None
    tab.fill("#text", "   ")
    tab.submit("#say-form")
    tab.client.send("say", {"text": ["not", "a string"]})  # what no form sends
    tab.run_pending()
    assert tab.texts("#messages li") == [] and tab.attr("#text", "data-key") == "text-0"


def test_chat_who_is_here_and_a_closed_tab_leaves() -> None:
    app = chat.build_app(rooms=("A", "B"))
    lobby = Client(app, "/", writer_id="lobby")
    assert "A (0 here)" in "".join(texts(lobby, "rooms"))
    ann = named(app, "A", "Ann", "ann")
    bob = named(app, "A", "bob <i>", "bob")
    cy = named(app, "B", "Cy", "cy")
    ann.run_pending()
    assert ann.texts("#members li") == ["Ann (you)", "bob <i>"]
    assert bob.texts("#members li") == ["Ann", "bob <i> (you)"] and not bob.exists("#members i")
    assert cy.texts("#members li") == ["Cy (you)"]
    assert {m["name"] for m in app.presence("room:A").values()} == {"Ann", "bob <i>"}
    assert texts(lobby, "rooms") == ["A (2 here)", "B (1 here)"]

    # A new name: the same member, another meta.
    bob.fill("#name", "Bob")
    bob.submit("#name-form")
    bob.run_pending()
    assert ann.texts("#members li") == ["Ann (you)", "Bob"]

    bob.close()
    ann.run_pending()
    assert ann.texts("#members li") == ["Ann (you)"]
    assert texts(lobby, "rooms") == ["A (1 here)", "B (1 here)"]
    assert cy.texts("#members li") == ["Cy (you)"]
    # Not named yet: in the room (it reads the messages) but not in the list.
    dan = Client(app, "/rooms/A", writer_id="dan")
    assert texts(dan, "members") == ["Ann"]


def test_chat_name_is_kept_in_a_cookie() -> None:
    app = chat.build_app(rooms=("A", "B"))
    with TestClient(app) as http:
        tab = http.page("/rooms/A")
        tab.fill("#name", "Zoë; a=b \x00" + "x" * 40)
        tab.submit("#name-form")
        tab.run_pending()
        name = "Zoë; a=b " + "x" * 23  # printable, one line, at most 32 characters
        assert tab.text("#me") == name and tab.attr("#name", "value") == name
        assert http.cookies["chat_name"] == "Zo%C3%AB%3B%20a%3Db%20" + "x" * 23
        # Another room (and a reload) knows the name.
        assert f'<b id="me">{name}</b>' in http.live("/rooms/B").html("say")
        assert f'<b id="me">{name}</b>' in http.get("/rooms/A").text


def test_chat_history_is_bounded_and_shown_to_latecomers() -> None:
    app = chat.build_app(rooms=("A", "B"))
    ann = named(app, "A", "Ann", "ann")
    for i in range(chat.HISTORY + 10):  # as another process would publish them
        app.publish("room:A", {"id": f"m{i}", "name": "Bot", "text": f"n{i}", "at": 0})
    app.publish("room:A", "not a message")
    app.publish("room:A", {"id": 1, "name": "x", "text": "bad id"})
    ann.run_pending()
    lines = texts(ann.client, "messages")
    assert len(lines) == chat.HISTORY
    assert lines[0].endswith("Bot: n10") and lines[-1].endswith(f"Bot: n{chat.HISTORY + 9}")
    # Someone joining now sees the room's recent messages, kept in this process.
    later = Client(app, "/rooms/A", writer_id="later")
    assert texts(later, "messages") == lines
    assert texts(Client(app, "/rooms/B", writer_id="elsewhere"), "messages") == []


def test_chat_first_paint_of_a_room() -> None:
    app = chat.build_app(rooms=("A",))
    page = TestClient(app).get("/rooms/A")
    assert page.status == 200 and "<script src=" in page.text
    assert 'data-action="name"' in page.text and "Choose a name to write." in page.text


# -- across two servers, through Redis ---------------------------------------------------------


async def _until(
    wire: Any, ws: Any, pred: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        msg = await wire.recv(ws, max(0.05, end - loop.time()))
        if pred(msg):
            return


def _has(text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda msg: text in json.dumps(msg.get("d") or {})


def test_chat_across_two_servers_through_redis(redis_server: RedisServer, wire: Any) -> None:
    one = chat.build_app(rooms=("A", "B"), broker=redis_server.url)
    two = chat.build_app(rooms=("A", "B"), broker=redis_server.url)
    with serve(one) as s1, serve(two) as s2:

        async def main() -> None:
            url = "?url=%2Frooms%2FA"
            async with wire.connect(s1.ws_url + url) as ann, wire.connect(s2.ws_url + url) as bob:
                async with wire.connect(s2.ws_url + "?url=%2Frooms%2FB") as cy:
                    for ws in (ann, bob, cy):
                        assert (await wire.recv(ws))["t"] == "init"
                    await _send(ann, "name", {"name": "Ann"})
                    await _send(bob, "name", {"name": "Bob"})
                    # Each server learns of the other's member through Redis presence.
                    await _until(wire, ann, _has("Bob"))
                    await _until(wire, bob, _has("Ann"))
                    await _send(ann, "say", {"text": "across servers"})
                    await _until(wire, bob, _has("across servers"))
                    await _until(wire, ann, _has("across servers"))
                    with pytest.raises(TimeoutError):
                        await _until(wire, cy, _has("across servers"), 0.5)
                # Ann's server sees Bob leave when his socket closes on the other server.
            async with wire.connect(s1.ws_url + url) as dan:
                assert "Ann" not in json.dumps((await wire.recv(dan))["c"]["members"])

        wire.run(main())


# -- pushes from outside into rooms -----------------------------------------------------------------


def test_push_endpoint_wants_the_token_a_room_and_text() -> None:
    app = rooms_push.build_app(push_token=TOKEN, rooms=("A", "B"))
    http = TestClient(app)
    ok = {"X-Push-Token": TOKEN}
    assert http.post("/push/A", data={"text": "hi"}).status == 403
    assert http.post("/push/A", data={"text": "hi"}, headers={"X-Push-Token": "nope"}).status == 403
    assert http.post("/push/Z", data={"text": "hi"}, headers=ok).status == 404
    assert http.post("/push/A", data={"text": "  "}, headers=ok).status == 422
    assert http.get("/push/A").status == 405
    r = http.post("/push/A", data={"text": "hi"}, headers=ok)
    assert r.status == 200 and r.json() == {"room": "A", "published": True}
    with pytest.raises(ValueError):
        rooms_push.build_app(push_token="")


def test_a_push_reaches_the_pages_of_its_room_only() -> None:
    app = rooms_push.build_app(push_token=TOKEN, rooms=("A", "B"))
    http = TestClient(app)
    lobby = http.live("/")
    a1, a2, b1 = http.live("/rooms/A"), http.live("/rooms/A"), http.live("/rooms/B")
    http.run_pending()
    assert [a1.html("here"), b1.html("here")] == [
        '<p data-rc="here"><span id="here">2</span> here now</p>',
        '<p data-rc="here"><span id="here">1</span> here now</p>',
    ]
    assert texts(lobby, "rooms") == ["Room A (2 here)", "Room B (1 here)"]

    http.post("/push/A", data={"text": "lunch <i>now</i>"}, headers={"X-Push-Token": TOKEN})
    http.run_pending()
    for tab in (a1, a2):
        [line] = texts(tab, "inbox")
        assert line.endswith(" lunch &lt;i&gt;now&lt;/i&gt;")
    assert texts(b1, "inbox") == []

    # Leaving: a live navigation to another room, then a closed tab.
    a2.navigate("/rooms/B")
    http.run_pending()
    assert texts(lobby, "rooms") == ["Room A (1 here)", "Room B (2 here)"]
    assert texts(a2, "inbox") == []  # a new session: only what is pushed from now on
    http.post("/push/B", data={"text": "B only"}, headers={"X-Push-Token": TOKEN})
    http.run_pending()
    assert len(texts(a1, "inbox")) == 1 and "B only" not in a1.html("inbox")
    assert texts(a2, "inbox")[0].endswith("B only") and texts(b1, "inbox")[0].endswith("B only")
    b1.close()
    a2.close()
    http.run_pending()
    assert texts(lobby, "rooms") == ["Room A (1 here)", "Room B (0 here)"]
    assert app.presence("room:B") == {}


# -- the command lines -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["chat", "rooms_push"])
def test_several_workers_need_a_broker(name: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--port", "0", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2 and "--broker" in done.stderr


# -- the guide's snippets ------------------------------------------------------------------------

GUIDE = EXAMPLES.parent / "docs" / "realtime.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _section_blocks() -> list[tuple[int, str]]:
    """(line, code) of each python block of the section "Push, timers, topics and presence"."""
    text = GUIDE.read_text()
    start = text.index("\n## Push, timers, topics and presence\n")
    end = text.index("\n## ", start + 1)
    return [
        (text.count("\n", 0, m.start()) + 2, m.group(1)) for m in _BLOCK.finditer(text, start, end)
    ]


@pytest.mark.parametrize(
    ("line", "code"),
    [pytest.param(line, code, id=f"realtime.md:{line}") for line, code in _section_blocks()],
)
def test_the_guide_snippets_run(
    line: int, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As tests/test_docs.py does for routing.md and testing.md (the rest of realtime.md needs Redis)."""
    import types

    import rweb

    monkeypatch.setattr(rweb, "start_rweb", lambda *a, **k: pytest.fail("started a server"))
    monkeypatch.chdir(tmp_path)
    name = f"rweb_docs_realtime_{line}"
    module = types.ModuleType(name)
    monkeypatch.setitem(sys.modules, name, module)
    exec(compile("\n" * (line - 1) + code, str(GUIDE), "exec"), module.__dict__)


def test_clock_shows_app_clock_time_which_advance_moves() -> None:
    from datetime import datetime, timedelta

    page = Page(clock.build_app())
    first = datetime.strptime(page.text("#time"), "%H:%M:%S")
    page.advance(60)
    later = datetime.strptime(page.text("#time"), "%H:%M:%S")
    assert (later - first) % timedelta(days=1) == timedelta(seconds=60) and page.text("#pushes") == "60"
