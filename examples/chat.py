"""A chat with rooms: messages through topics, "who is here" through presence.

    python examples/chat.py [--port 8080] [--host 127.0.0.1] [--rooms general,random,help]
                            [--workers N --broker redis://127.0.0.1:6379/0]

- ``/`` lists the rooms, with how many people are in each (live: presence),
  as ``data-navigate`` links.
- ``/rooms/{room}`` is a room. Choose a name (kept in a cookie, so a reload or
  another room remembers it), then write. A message is published on the topic
  ``room:<name>`` (``app.publish``); every session in the room subscribed to it
  (``conn.subscribe``) and appends it to what its browser shows. The sender's
  own session gets it the same way. The last messages of each room are also
  kept in a bounded list in each process, for people who join later (a real
  app keeps them in a database: with several workers, each process only knows
  the messages published while one of its sessions was in the room).
- Who is here: each named session tracks itself in the room's presence
  (``conn.track("room:<name>", key, {"name": ...})``) and watches it
  (``conn.watch``); a closed tab leaves at once.

Without ``--broker`` topics and presence stay in one process: run one worker
(the default). With ``--workers N``, give a broker so that sessions in
different workers (or several servers) see each other::

    redis-server --port 6379 --save '' &
    python examples/chat.py --workers 4 --broker redis://127.0.0.1:6379/0

The message box is emptied after sending by giving the ``<input>`` a new
``data-key``: the browser's morph keeps what the user typed in a focused input
whatever the server renders, but a new key makes it a new, empty element;
``conn.focus`` then puts the caret back in it.
Names and messages are text: the HTML builders escape them, and the name's
cookie holds it percent-encoded.

The pages use the component kit (``rweb.ui``): a shell with a navbar and a
theme switch, cards, and form fields whose errors are tied to them
(``aria-invalid``, ``aria-describedby``).
"""

from __future__ import annotations

import argparse
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from rweb import App, Conn, Redirect, reactive, start_rweb, ui
from rweb.html import a, b, component, div, h1, li, p, small, ul

log = logging.getLogger("chat")

PageSetup = tuple[Callable[[], Any], Mapping[str, Callable[[dict[str, Any]], Any]]]

DEFAULT_ROOMS = ("general", "random", "help")
ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
HISTORY = 50  # messages kept per room (in each process) and shown per session
MAX_TEXT = 500  # characters in a message
MAX_NAME = 32  # characters in a name
NAME_COOKIE = "chat_name"


def topic_of(room: str) -> str:
    return f"room:{room}"


def clean(value: Any, limit: int) -> str:
    """User text -> one line of printable text, at most ``limit`` characters ("" if not a string)."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in value)
    return " ".join(text.split())[:limit]


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    name: str
    text: str
    at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "text": self.text, "at": self.at}

    @classmethod
    def from_json(cls, value: Any) -> Message | None:
        """A message from the topic, or None if it is not one (anyone with the broker may publish)."""
        if not isinstance(value, dict):
            return None
        mid, name, text, at = (value.get(k) for k in ("id", "name", "text", "at"))
        if not (isinstance(mid, str) and isinstance(name, str) and isinstance(text, str)):
            return None
        if not isinstance(at, int | float):
            at = time.time()
        return cls(mid[:64], clean(name, MAX_NAME), clean(text, MAX_TEXT), float(at))


class RoomLog:
    """The last ``size`` messages of each room, in this process.

    Every session of a room receives each message; the first one to add it
    here stores it (by id), the others find it there.
    """

    def __init__(self, rooms: Iterable[str], size: int = HISTORY) -> None:
        self.size = size
        self._rooms: dict[str, OrderedDict[str, Message]] = {r: OrderedDict() for r in rooms}

    def add(self, room: str, message: Message) -> None:
        log_ = self._rooms[room]
        if message.id not in log_:
            log_[message.id] = message
            while len(log_) > self.size:
                log_.popitem(last=False)

    def recent(self, room: str) -> list[Message]:
        return list(self._rooms[room].values())


@reactive
class RoomView:
    name: str  # "" until the user chose one
    messages: list  # Message, oldest first, at most HISTORY
    members: list  # (presence key, name), sorted by name
    sent: int  # messages sent by this session: the message input's key
    error: str


@reactive
class Counts:
    people: dict  # room -> how many are there


def build_app(*, rooms: Iterable[str] = DEFAULT_ROOMS, broker: str | None = None) -> App:
    """A fresh app with its own rooms' history (the tests serve one per test)."""
    room_names = tuple(rooms)
    for r in room_names:
        if not ROOM_NAME.fullmatch(r):
            raise ValueError(f"invalid room name {r!r}")
    history = RoomLog(room_names)
    app = App("rweb chat", broker=broker, assets=ui.ASSETS)
    url = app.url_for

    def shell(conn: Conn, *content: Any, lobby: bool = False) -> Any:
        return ui.shell(
            *content,
            navbar=ui.navbar(
                "rweb chat",
                ui.nav_link("All rooms", url("index"), current=lobby, data_navigate=True, id="all-rooms"),
                end=ui.theme_switch(),
            ),
            theme=ui.theme_of(conn.cookies),
        )

    @app.page("/", title="Chat rooms")
    def index(writer_id: int, conn: Conn) -> PageSetup:
        counts = Counts({r: len(app.presence(topic_of(r))) for r in room_names})
        if conn.live:
            for r in room_names:
                conn.watch(
                    topic_of(r), lambda members, r=r: counts.people.__setitem__(r, len(members))
                )

        def render_page() -> Any:
            return shell(
                conn,
                h1("Chat rooms"),
                component(
                    "rooms",
                    lambda: ul(
                        [
                            li(
                                a(r, href=url("room", room=r), data_navigate=True, id=f"room-{r}"),
                                small(f" ({counts.people.get(r, 0)} here)"),
                                data_key=r,
                            )
                            for r in room_names
                        ],
                        id="rooms",
                    ),
                ),
                lobby=True,
            )

        return render_page, {}

    @app.page("/rooms/{room}", title="Chat")
    def room(writer_id: int, conn: Conn) -> PageSetup:
        room_name: str = conn.params["room"]
        if room_name not in room_names:
            raise Redirect(url("index"))
        topic = topic_of(room_name)
        key = secrets.token_hex(8)  # this session in the room's presence (unique across servers)
        view = RoomView(
            clean(unquote(conn.cookies.get(NAME_COOKIE, "")), MAX_NAME),
            history.recent(room_name),
            [],
            0,
            "",
        )

        def received(value: Any) -> None:  # runs in this session: its writes are pushed
            message = Message.from_json(value)
            if message is None:
                log.warning("room %s: not a message: %r", room_name, value)
                return
            history.add(room_name, message)
            view.messages.append(message)
            if len(view.messages) > HISTORY:
                view.messages.pop(0)

        def present(members: dict[str, Any]) -> None:
            names = [
                (k, clean(m.get("name") if isinstance(m, dict) else "", MAX_NAME))
                for k, m in members.items()
            ]
            view.members = sorted(names, key=lambda km: (km[1].lower(), km[0]))

        if conn.live:
            conn.subscribe(topic, received)
            if view.name:
                conn.track(topic, key, {"name": view.name})  # before watch: the list includes us
            conn.watch(topic, present)

        def set_name(params: dict[str, Any]) -> None:
            name = clean(params.get("name"), MAX_NAME)
            if not name:
                view.error = "Choose a name."
                return
            view.name, view.error = name, ""
            # Not a secret: readable over plain http on any host (secure=False).
            conn.set_cookie(NAME_COOKIE, quote(name, safe=""), max_age=30 * 86400, secure=False)
            conn.track(topic, key, {"name": name})  # joins, or changes our name in the list

        def say(params: dict[str, Any]) -> None:
            text = clean(params.get("text"), MAX_TEXT)
            if not view.name:
                view.error = "Choose a name first."
                return
            if not text:
                return
            view.error = ""
            view.sent += 1  # a new key: the browser rebuilds the input, empty
            conn.focus("#text")  # ... and the new one has the caret, to write on
            message = Message(secrets.token_hex(8), view.name, text, time.time())
            app.publish(topic, message.to_json())  # every session of the room, ours included

        def name_form() -> Any:
            # The error is the name field's: shown under it and tied to it (aria-describedby).
            return ui.form(
                ui.text_input(
                    "name",
                    "Your name",
                    id="name",
                    value=view.name,
                    errors=view.error,
                    maxlength=MAX_NAME,
                    autocomplete="nickname",
                    required=True,
                ),
                div(
                    ui.button("Set name", id="set-name", type="submit", variant="secondary"),
                    class_="ui-form-actions",
                ),
                action="name",
                id="name-form",
            )

        def say_form() -> Any:
            if not view.name:
                return p("Choose a name to write.", id="say-form")
            return ui.form(
                ui.text_input(
                    "text",
                    ["Message as ", b(view.name, id="me")],
                    id="text",
                    data_key=f"text-{view.sent}",
                    maxlength=MAX_TEXT,
                    autocomplete="off",
                    required=True,
                ),
                div(ui.button("Send", id="send", type="submit"), class_="ui-form-actions"),
                action="say",
                id="say-form",
            )

        def messages() -> Any:
            return ul(
                [
                    li(
                        small(time.strftime("%H:%M", time.localtime(m.at))),
                        " ",
                        b(m.name),
                        ": ",
                        m.text,
                        data_key=m.id,
                    )
                    for m in view.messages
                ],
                id="messages",
            )

        def members() -> Any:
            return ul(
                [li(n, " (you)" if k == key else "", data_key=k) for k, n in view.members],
                id="members",
            )

        def render_page() -> Any:
            return shell(
                conn,
                h1("Room ", room_name, id="room"),
                div(
                    ui.card(component("name", name_form), component("say", say_form), title="Write", level=2),
                    ui.card(component("members", members), title="Here now", level=2),
                    class_="ui-grid",
                ),
                ui.card(component("messages", messages), title="Messages", level=2),
            )

        return render_page, {"name": set_name, "say": say}

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument(
        "--broker", default=None, help="redis://HOST:PORT/DB: topics across processes"
    )
    parser.add_argument(
        "--rooms", default=",".join(DEFAULT_ROOMS), help="comma-separated room names"
    )
    args = parser.parse_args()
    if args.workers > 1 and not args.broker:
        parser.error("--workers > 1 needs --broker: without one, each worker has its own rooms")
    app = build_app(rooms=[r for r in args.rooms.split(",") if r], broker=args.broker)
    start_rweb(args.port, app, host=args.host, workers=args.workers)
