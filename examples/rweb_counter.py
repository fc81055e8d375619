"""The seed's counter: +, -, Reset, and ``Count: N`` inside the component ``display``.

    python examples/rweb_counter.py [--port 8080] [--host 127.0.0.1] [--workers N]
        [--broker redis://127.0.0.1:6379/0] [--resume-grace 30] [--reload]

With ``--broker``, sessions are saved through Redis and resume on any worker,
or on this server after a restart (give every process the same
``RWEB_SECRET_KEY``); ``--resume-grace 0`` turns resuming off.

The page is laid out and styled by the component kit (``rweb.ui``: a page
shell and its buttons, served with ``App(assets=ui.ASSETS)``); the
``display`` component is plain ``rweb.html``, so a click still sends only the
new number.
"""

from __future__ import annotations

import argparse
from typing import Any

from rweb import App, reactive, start_rweb, ui
from rweb.html import component, div, h1, span


@reactive
class Counter:
    value: int


def session_setup(writer_id):
    counter = Counter(0)

    def render_page():
        return ui.shell(
            h1("RWeb Counter"),
            component("display", lambda: div(span("Count: "), span(counter.value))),
            div(
                ui.button("+", data_action="inc"),
                ui.button("-", data_action="dec"),
                ui.button("Reset", data_action="reset", variant="secondary"),
                class_="ui-row",
            ),
        )

    def on_action(action, params):
        match action:
            case "inc":
                counter.value += 1
            case "dec":
                counter.value -= 1
            case "reset":
                counter.value = 0

    return render_page, on_action


def build_app(**options: Any) -> App:
    """The counter's app, with the kit's stylesheet and script (``options`` go to :class:`rweb.App`)."""
    return App("RWeb Counter", session_setup, assets=ui.ASSETS, **options)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    parser.add_argument("--aiofastnet", action="store_true", help="aiofastnet socket transports")
    parser.add_argument("--broker", default=None, help="redis://... : sessions saved and resumed across processes")
    parser.add_argument("--resume-grace", type=float, default=30.0, help="seconds a lost session waits (0: off)")
    parser.add_argument("--reload", action="store_true", help="restart when a file changes (one worker)")
    args = parser.parse_args()
    start_rweb(
        args.port,
        build_app(broker=args.broker, resume_grace=args.resume_grace),
        host=args.host,
        workers=args.workers,
        aiofastnet=args.aiofastnet,
        reload=args.reload or None,
    )
