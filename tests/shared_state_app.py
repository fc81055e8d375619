"""Pages that read state their sessions share, and pages that read only their own.

For the refusal of state that would split between worker processes
(tests/test_shared_state.py, tests/browser/test_browser_shared_state.py):

- ``/tally``: a module-level record ("Total: N"), split between workers;
- ``/todos``: a module-level RList;
- ``/own``: only the session's own state: records its setup made, todos its
  actions make and append (each with a list of tags), a record an action
  keeps in a closure;
- ``/local``: a ``process_local`` board whose todos every session appends to;
- ``/peek``: each session's own record, registered in a module-level dict
  that every page lists: another session's record;
- ``/shared`` (with a broker only): a record kept identical by ``app.share``.
- ``/order`` (with a broker only): another shared record; each session shows
  it beside its own record (so that each session renders on its own), its
  worker's pid, and what this worker last published of the record (a
  subscriber of the record's topic in each worker: at a local publish it is
  called in the publish, after the PUBLISH was handed to the link) with how
  many publishes were still queued on the link then (0: written to Redis).

    python tests/shared_state_app.py PORT WORKERS [BROKER]
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rweb import App, RList, process_local, reactive, start_rweb
from rweb.html import button, component, div, li, span, ul
from rweb.live.sharing import TOPIC


@reactive
class Tally:
    n: int


@reactive
class Todo:
    text: str
    tags: list[str]


@reactive
class Board:
    todos: list[Todo]


TALLY = Tally(0)
TODOS = RList()
LOCAL = process_local(Board([]))
PEEK: dict[Any, Tally] = {}


def make_app(broker: str | None = None) -> App:
    app = App("shared state", broker=broker)

    @app.page("/tally")
    def tally(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            TALLY.n += 1

        return lambda: div(component("total", lambda: span(f"Total: {TALLY.n}")), button("+", data_action="inc")), on_action

    @app.page("/todos")
    def todos(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            TODOS.append(f"todo {len(TODOS) + 1}")

        return lambda: div(component("todos", lambda: ul([li(t) for t in TODOS])), button("add", data_action="add")), on_action

    @app.page("/own")
    def own(writer_id: Any) -> Any:
        count = Tally(0)
        board = Board([])
        kept: list[Todo] = []  # a record an action made, in a plain variable

        def on_action(action: str, params: dict[str, Any]) -> None:
            count.n += 1
            todo = Todo(f"todo {count.n}", ["new"])
            board.todos.append(todo)
            todo.tags.append("seen")
            kept[:] = [Todo(f"kept {count.n}", [])]

        def page() -> Any:
            return div(
                component("count", lambda: span(f"Count: {count.n}")),
                component("todos", lambda: ul([li(t.text, ": ", ", ".join(t.tags)) for t in board.todos])),
                component("kept", lambda: span(f"{count.n}: {kept[0].text}" if count.n else "-")),
                button("add", data_action="add"),
            )

        return page, on_action

    @app.page("/local")
    def local(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            LOCAL.todos.append(Todo(f"from {writer_id}", ["local"]))

        def page() -> Any:
            return div(
                component("local", lambda: ul([li(t.text, ": ", ", ".join(t.tags)) for t in LOCAL.todos])),
                button("add", data_action="add"),
            )

        return page, on_action

    @app.page("/peek")
    def peek(writer_id: Any) -> Any:
        PEEK[writer_id] = Tally(writer_id)

        def on_action(action: str, params: dict[str, Any]) -> None:
            pass

        return lambda: div(component("all", lambda: ul([li(t.n) for t in list(PEEK.values())]))), on_action

    if broker is not None:
        shared = app.share("tally", Tally(0))

        @app.page("/shared")
        def shared_page(writer_id: Any) -> Any:
            def on_action(action: str, params: dict[str, Any]) -> None:
                shared.n += 1

            return (
                lambda: div(component("total", lambda: span(f"Total: {shared.n}")), button("+", data_action="inc")),
                on_action,
            )

        order = app.share("order", Tally(0))
        published = ["none"]  # this worker's last publish of "order" seen by its subscriber

        @app.on_startup
        def watch_order() -> None:
            pubsub: Any = app.pubsub

            def seen(_topic: str, message: Any) -> None:
                if isinstance(message, dict) and "state" in message:
                    published[0] = f"{message['state']['n']}/{pubsub.link.pending}"

            pubsub.subscribe(TOPIC + "order", seen)

        @app.page("/order")
        def order_page(writer_id: Any) -> Any:
            mine = Tally(0)  # read beside the shared record: this session renders on its own

            def on_action(action: str, params: dict[str, Any]) -> None:
                order.n += 1

            return (
                lambda: div(
                    component("pid", lambda: span(os.getpid())),
                    component("seen", lambda: span(f"n={order.n}/{mine.n} published={published[0]}")),
                    button("+", data_action="inc"),
                ),
                on_action,
            )

    return app


@contextlib.contextmanager
def server(tmp_path: Path, workers: int, broker: str | None = None) -> Iterator[Any]:
    """This app served by ``start_rweb(workers=...)`` in a subprocess on a free loopback port
    (a tests/processes.py ServerProcess), stopped afterwards."""
    from processes import ServerProcess, children_of, free_port

    port = free_port()
    log_path = tmp_path / "server.log"
    here = Path(__file__).resolve().parent
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(here / "shared_state_app.py"), str(port), str(workers), *([broker] if broker else [])],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    srv = ServerProcess(proc, port, log_path)
    try:
        srv.wait_listening()
        yield srv
    finally:
        kids = children_of(proc.pid)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        for pid in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    start_rweb(port, make_app(sys.argv[3] if len(sys.argv) > 3 else None), host="127.0.0.1", workers=workers)
