"""The seed's counter: +, -, Reset, and ``Count: N`` inside the component ``display``.

    python examples/rweb_counter.py [--port 8080] [--host 127.0.0.1] [--workers N]
"""

from __future__ import annotations

import argparse

from rweb import reactive, start_rweb
from rweb.html import button, component, div, h1, span


@reactive
class Counter:
    value: int


def session_setup(writer_id):
    counter = Counter(0)

    def render_page():
        return div(
            h1("RWeb Counter"),
            component("display", lambda: div(span("Count: "), span(counter.value))),
            div(
                button("+", data_action="inc"),
                button("-", data_action="dec"),
                button("Reset", data_action="reset"),
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    parser.add_argument("--aiofastnet", action="store_true", help="aiofastnet socket transports")
    args = parser.parse_args()
    start_rweb(
        args.port,
        "RWeb Counter",
        session_setup,
        host=args.host,
        workers=args.workers,
        aiofastnet=args.aiofastnet,
    )
