"""One rweb server instance of a multi-instance deployment, for tests/test_multi_instance.py.

    python tests/multi_instance_app.py --port P --broker redis://127.0.0.1:R/0 --instance one
        [--root-path /app] [--max-pending 5] [--ping-interval 20]
        [--presence-heartbeat 0.5] [--presence-timeout 3]

Every instance of the deployment runs this module with its own ``--instance``
name and port, the same Redis and the same secret key (``RWEB_SECRET_KEY`` in
the environment; a random one, with a warning, when it is not set).  It serves
with ``rweb.start_rweb(port, app, workers=1, host="127.0.0.1")`` until SIGTERM.

``/`` is a board:

* ``me``: which instance renders it (``instance one``);
* ``news`` / ``log``: the last message of the topic ``news`` and every message
  this session got, in order (``say`` publishes one with ``app.publish``, from
  the action: it crosses to the other instances through Redis);
* ``who``: presence on the topic ``room`` (``conn.track`` / ``conn.watch``);
  keys are ``<instance>-<writer id>``: writer ids are unique within one
  server only, two instances hand out the same ones;
* ``gaps``: how many times this process's broker reported that messages may
  have been missed (its ``on_gap`` hook), a reactive record shared by every
  session of the process (per process on purpose: ``rweb.process_local``),
  so the browser hears of a loss too;
* ``count``: a click counter (``inc``), the session's own state;
* ``banner``: a record every session of every instance reads, kept identical
  in every process by ``app.share`` (``banner`` sets it);
* ``login`` sets an HttpOnly cookie from the live session (a token signed and
  encrypted with the secret key, redeemed by ``POST /_rweb/cookie``).

``GET /state`` (a plain handler) answers JSON: the broker's ``stats()``, what
its ``on_drop`` / ``on_gap`` hooks reported, every ``news`` message this
process received, and presence on ``room`` as this process sees it.

The broker is built here (``App(broker=RedisPubSub(...))``) rather than from a
URL string, for the options a URL cannot carry: a small ``max_pending``, the
``on_drop`` / ``on_gap`` hooks, short presence and reconnection timings.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Callable, Mapping
from typing import Any

from rweb import App, Conn, Request, process_local, reactive, start_rweb
from rweb.broker_redis import RedisPubSub
from rweb.html import component, div, li, span, ul

log = logging.getLogger("multi_instance_app")

TOPIC = "news"
ROOM = "room"
LOG_SHOWN = 40  # messages shown per session

Page = tuple[Callable[[], Any], Mapping[str, Callable[[dict[str, Any]], Any]]]


@reactive
class Box:
    value: Any


class ProcessState:
    """What this process's broker reported, for ``GET /state`` and the ``gaps`` component."""

    def __init__(self) -> None:
        self.received: list[Any] = []  # every message of TOPIC seen by this process, in order
        self.drops: dict[str, int] = {}  # on_drop(topic, count)
        self.gaps: dict[str, int] = {}  # on_gap(topic)
        # Read by every session of this process, and per process on purpose.
        self.gap_count = process_local(Box(0))

    def on_drop(self, topic: str, count: int) -> None:
        self.drops[topic] = self.drops.get(topic, 0) + count
        log.warning("on_drop: %d publishes of %r could not be sent", count, topic)

    def on_gap(self, topic: str) -> None:
        self.gaps[topic] = self.gaps.get(topic, 0) + 1
        self.gap_count.value += 1  # a write outside any session: pushed to every reader
        log.warning("on_gap: messages of %r may have been missed", topic)

    def record(self, _topic: str, message: Any) -> None:
        self.received.append(message)


def build_app(
    instance: str,
    broker_url: str,
    *,
    root_path: str = "",
    max_pending: int = 10_000,
    presence_heartbeat: float = 5.0,
    presence_timeout: float = 15.0,
    reconnect_max: float = 0.5,
    secret_key: str | None = None,
    resume_grace: float = 1.0,
) -> tuple[App, RedisPubSub, ProcessState]:
    state = ProcessState()
    broker = RedisPubSub(
        broker_url,
        max_pending=max_pending,
        on_drop=state.on_drop,
        on_gap=state.on_gap,
        reconnect_max=reconnect_max,
        presence_heartbeat=presence_heartbeat,
        presence_timeout=presence_timeout,
        io_timeout=2.0,
        keepalive=2.0,
    )
    # A process-wide subscriber (before start: any single thread may subscribe).
    broker.subscribe(TOPIC, state.record)
    app = App(
        "multi-instance board",
        broker=broker,
        root_path=root_path,
        secret_key=secret_key,
        actions=["say", "inc", "login", "banner"],
        # A socket that nginx or a test cuts keeps its session (and its presence) this long.
        resume_grace=resume_grace,
    )

    # One record kept identical in every process through the broker (app.share).
    banner = app.share("banner", Box("(no banner)"))

    @app.page("/")
    def board(writer_id: Any, conn: Conn) -> Page:
        news, members, clicks = Box(""), Box({}), Box(0)
        seen: list[str] = []
        shown = Box("")
        key = f"{instance}-{writer_id}"
        if conn.live:

            def got(message: Any) -> None:
                news.value = str(message.get("text", ""))
                seen.append(news.value)
                shown.value = " ".join(seen[-LOG_SHOWN:])

            conn.subscribe(TOPIC, got)
            conn.track(ROOM, key, {"name": f"user {key}"})
            conn.watch(ROOM, lambda ms: setattr(members, "value", dict(ms)))

        def say(params: dict[str, Any]) -> None:
            app.publish(TOPIC, {"text": str(params.get("text", "")), "from": key})

        def inc(_params: dict[str, Any]) -> None:
            clicks.value += 1

        def set_banner(params: dict[str, Any]) -> None:
            banner.value = str(params.get("text", ""))

        def login(params: dict[str, Any]) -> None:
            conn.set_cookie("user", str(params.get("name", "anonymous")))

        def render() -> Any:
            return div(
                component("me", lambda: span(f"instance {instance}")),
                component("news", lambda: span(news.value)),
                component("log", lambda: span(shown.value)),
                component(
                    "who",
                    lambda: ul([li(m["name"]) for _, m in sorted(members.value.items())]),
                ),
                component("gaps", lambda: span(f"gaps {state.gap_count.value}")),
                component("count", lambda: span(clicks.value)),
                component("banner", lambda: span(f"banner {banner.value}")),
                component("user", lambda: span(f"cookie {conn.cookies.get('user', '-')}")),
            )

        return render, {"say": say, "inc": inc, "login": login, "banner": set_banner}

    @app.get("/state")
    def show_state(_request: Request) -> dict[str, Any]:
        return {
            "instance": instance,
            "instance_id": broker.instance_id,
            "stats": broker.stats(),
            "drops": dict(state.drops),
            "gaps": dict(state.gaps),
            "received": list(state.received),
            "presence": app.presence(ROOM),
            "sessions": len(app.sessions),
        }

    return app, broker, state


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--broker", required=True, help="redis://host:port/db")
    parser.add_argument("--instance", required=True, help="this instance's name, shown on the page")
    parser.add_argument("--root-path", default="", help="the prefix a proxy strips (App(root_path=...))")
    parser.add_argument("--max-pending", type=int, default=10_000)
    parser.add_argument("--ping-interval", type=float, default=20.0, help="0: no heartbeat")
    parser.add_argument("--presence-heartbeat", type=float, default=5.0)
    parser.add_argument("--presence-timeout", type=float, default=15.0)
    parser.add_argument("--resume-grace", type=float, default=1.0, help="seconds a cut socket's session waits")
    args = parser.parse_args(argv)
    secret_key = os.environ.get("RWEB_SECRET_KEY")
    if not secret_key:
        # Each instance would then sign with its own key: see docs/deploy.md.
        secret_key = secrets.token_hex(32)
        print("RWEB_SECRET_KEY is not set: this instance uses a random key", file=sys.stderr)
    app, _broker, _state = build_app(
        args.instance,
        args.broker,
        root_path=args.root_path,
        max_pending=args.max_pending,
        presence_heartbeat=args.presence_heartbeat,
        presence_timeout=args.presence_timeout,
        secret_key=secret_key,
        resume_grace=args.resume_grace,
    )
    start_rweb(
        args.port, app, workers=1, host="127.0.0.1", ping_interval=args.ping_interval or None
    )


if __name__ == "__main__":
    main()
