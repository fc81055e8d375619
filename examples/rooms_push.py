"""Pushing into rooms from outside: a plain HTTP endpoint reaches exactly one room's pages.

    python examples/rooms_push.py [--port 8080] [--host 127.0.0.1] [--rooms A,B,C]
                                  [--push-token TOKEN] [--workers N --broker redis://...]

- ``/`` lists the rooms and how many people are in each, live (presence).
- ``/rooms/{room}``: being on that page is being in the room. The session
  subscribes to the topic ``room:<room>`` (``conn.subscribe``) and is present
  in it (``conn.track``). Leaving is going elsewhere: another room, the list
  (``data-navigate`` links end this page's session and start the next one's),
  or closing the tab, which leaves at once.
- ``POST /push/{room}`` with the form field ``text`` publishes
  ``{"text": ...}`` on the room's topic (``app.publish``): it shows on the
  pages of that room, and on no other. The answer is JSON
  ``{"room": ..., "published": true}``; 403 without the right token, 404 for
  an unknown room, 422 without text.

The endpoint is guarded by a shared secret in the ``X-Push-Token`` header
(compared in constant time), so that only the programs you gave it to can
push: a check on the client's address would also let in anything behind a
reverse proxy on the same machine. The token comes from ``--push-token`` or
the ``RWEB_PUSH_TOKEN`` environment variable; without either, a random one is
made and printed at start-up::

    curl -X POST -H "X-Push-Token: $TOKEN" --data-urlencode "text=Lunch is ready" \\
         http://127.0.0.1:8080/push/A

With ``--workers N`` give a ``--broker``: the POST may land in any worker,
and the room's pages live in all of them.
"""

from __future__ import annotations

import argparse
import hmac
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rweb import App, Conn, HTTPError, Redirect, Request, reactive, start_rweb, ui
from rweb.html import a, code, component, h1, li, p, small, span, ul

PageSetup = tuple[Callable[[], Any], Mapping[str, Callable[[dict[str, Any]], Any]]]

DEFAULT_ROOMS = ("A", "B", "C")
ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
TOKEN_HEADER = "X-Push-Token"
MAX_TEXT = 500
SHOWN = 20  # pushed messages a page keeps


def topic_of(room: str) -> str:
    return f"room:{room}"


@reactive
class Inbox:
    messages: list  # (id, time, text), oldest first
    here: int  # people in the room


@reactive
class Counts:
    people: dict  # room -> how many are there


def build_app(
    *, push_token: str, rooms: Iterable[str] = DEFAULT_ROOMS, broker: str | None = None
) -> App:
    """A fresh app; ``push_token`` is the secret that ``POST /push/{room}`` wants."""
    if not push_token:
        raise ValueError("a push token is needed")
    room_names = tuple(rooms)
    for r in room_names:
        if not ROOM_NAME.fullmatch(r):
            raise ValueError(f"invalid room name {r!r}")
    app = App("rweb rooms", broker=broker, assets=ui.ASSETS)  # the component kit (rweb.ui)
    url = app.url_for

    def shell(conn: Conn, *content: Any, lobby: bool = False) -> Any:
        return ui.shell(
            *content,
            navbar=ui.navbar(
                "rweb rooms",
                ui.nav_link("All rooms", url("index"), current=lobby, data_navigate=True, id="all-rooms"),
                end=ui.theme_switch(),
            ),
            theme=ui.theme_of(conn.cookies),
        )

    def room_links(counts: Counts | None) -> Any:
        return ul(
            [
                li(
                    a(f"Room {r}", href=url("room", room=r), data_navigate=True, id=f"room-{r}"),
                    small(f" ({counts.people.get(r, 0)} here)") if counts is not None else None,
                    data_key=r,
                )
                for r in room_names
            ],
            id="rooms",
        )

    @app.page("/", title="Rooms")
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
                h1("Rooms"),
                component("rooms", lambda: room_links(counts)),
                ui.alert(
                    "Push into a room: ",
                    code("POST /push/<room>"),
                    " with the form field ",
                    code("text"),
                    " and the header ",
                    code(TOKEN_HEADER),
                    ".",
                ),
                lobby=True,
            )

        return render_page, {}

    @app.page("/rooms/{room}", title="Room")
    def room(writer_id: int, conn: Conn) -> PageSetup:
        room_name: str = conn.params["room"]
        if room_name not in room_names:
            raise Redirect(url("index"))
        topic = topic_of(room_name)
        inbox = Inbox([], len(app.presence(topic)))

        def received(message: Any) -> None:  # in this session: its writes are pushed
            text = message.get("text") if isinstance(message, dict) else None
            if not isinstance(text, str):
                return
            at = message.get("at")
            when = time.strftime(
                "%H:%M:%S", time.localtime(at if isinstance(at, int | float) else None)
            )
            inbox.messages.append(
                (message.get("id") or secrets.token_hex(4), when, text[:MAX_TEXT])
            )
            if len(inbox.messages) > SHOWN:
                inbox.messages.pop(0)

        if conn.live:
            conn.subscribe(topic, received)
            # Present until the session ends: another page, or the tab closed.
            conn.track(topic, secrets.token_hex(8), {"since": time.time()})
            conn.watch(topic, lambda members: setattr(inbox, "here", len(members)))

        def render_page() -> Any:
            return shell(
                conn,
                h1("Room ", room_name, id="room"),
                component("here", lambda: p(span(inbox.here, id="here"), " here now")),
                ui.card(
                    component(
                        "inbox",
                        lambda: ul(
                            [
                                li(small(when), " ", text, data_key=mid)
                                for mid, when, text in inbox.messages
                            ],
                            id="inbox",
                        ),
                    ),
                    title="Pushed here",
                    level=2,
                ),
                ui.card(room_links(None), title="Other rooms", level=2),
            )

        return render_page, {}

    @app.post("/push/{room}")
    def push(request: Request) -> dict[str, Any]:
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), push_token.encode()):
            raise HTTPError(403, f"a valid {TOKEN_HEADER} header is required")
        room_name = request.path_params["room"]
        if room_name not in room_names:
            raise HTTPError(404, "no such room")
        text = request.form().get("text", "").strip()
        if not text:
            raise HTTPError(422, "the form field text is required")
        message = {"id": secrets.token_hex(8), "text": text[:MAX_TEXT], "at": time.time()}
        app.publish(topic_of(room_name), message)
        return {"room": room_name, "published": True}

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
    parser.add_argument(
        "--push-token",
        default=os.environ.get("RWEB_PUSH_TOKEN"),
        help="the X-Push-Token secret (default: $RWEB_PUSH_TOKEN, else a random one)",
    )
    args = parser.parse_args()
    if args.workers > 1 and not args.broker:
        parser.error(
            "--workers > 1 needs --broker: a push must reach the room's pages in every worker"
        )
    token = args.push_token or secrets.token_urlsafe(24)
    if not args.push_token:
        print(f"push token: {token}", flush=True)
    app = build_app(
        push_token=token, rooms=[r for r in args.rooms.split(",") if r], broker=args.broker
    )
    start_rweb(args.port, app, host=args.host, workers=args.workers)
