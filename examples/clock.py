"""The server's time, pushed to the browser every second without a click.

    python examples/clock.py [--port 8080] [--host 127.0.0.1] [--workers N] [--broker redis://...]

The live session starts a timer with ``conn.every(1, tick)``. ``tick`` writes
two reactive records: the time (read by the component ``clock``) and the
number of ticks (read by the component ``pushes``). Writes made by a timer
reach the browser as one push per tick, carrying both components; the timer
stops by itself when the session ends (tab closed, navigated away).

The first paint (plain HTTP, ``conn.live`` False) shows the time once and starts
no timer: timers, tasks, topics and presence belong to the live session.

Every session has its own timer and nothing is shared, so ``--broker`` changes
nothing here; it is accepted for symmetry with ``examples/chat.py``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from rweb import App, Conn, reactive, start_rweb, ui
from rweb.html import component, h1, p, span

PageSetup = tuple[Callable[[], Any], Callable[[str, dict[str, Any]], None]]


@reactive
class Clock:
    now: str


@reactive
class Pushes:
    count: int


def build_app(
    *, broker: str | None = None, interval: float = 1.0, now: Callable[[], str] | None = None
) -> App:
    """A fresh app (the tests serve one per test).

    ``interval`` is the timer's period in seconds; ``now()`` gives the time shown,
    by default ``app.clock``'s (which rweb.testing's ``advance`` moves).
    """
    app = App("rweb clock", broker=broker, assets=ui.ASSETS)  # the component kit (rweb.ui)

    def app_time() -> str:
        return app.clock.now().strftime("%H:%M:%S")

    read = now if now is not None else app_time

    @app.page("/", title="Clock")
    def clock(writer_id: int, conn: Conn) -> PageSetup:
        shown = Clock(read())
        pushes = Pushes(0)
        stop: list[Callable[[], None]] = []

        def tick() -> None:
            # Both writes go to the browser in one push.
            shown.now = read()
            pushes.count += 1

        if conn.live:
            stop.append(conn.every(interval, tick))

        def render_page() -> Any:
            return ui.shell(
                h1("Server time"),
                ui.card(
                    component("clock", lambda: p(span(shown.now, id="time"), class_="clock")),
                    component(
                        "pushes",
                        lambda: p("Pushes from the timer: ", span(pushes.count, id="pushes")),
                    ),
                    footer=ui.button("Stop the timer", data_action="stop", id="stop", variant="secondary"),
                ),
                navbar=ui.navbar("rweb clock", end=ui.theme_switch()),
                theme=ui.theme_of(conn.cookies),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "stop":
                for cancel in stop:
                    cancel()

        return render_page, on_action

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--broker", default=None, help="e.g. redis://127.0.0.1:6379/0 (optional)")
    args = parser.parse_args()
    start_rweb(args.port, build_app(broker=args.broker), host=args.host, workers=args.workers)
