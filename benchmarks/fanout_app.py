"""The servers that ``benchmarks/fanout.py`` measures, one per ``--page``:

* ``fanout`` (rweb): a page whose component ``v`` reads one reactive record that every
  session shares, and a component ``pid`` showing the worker's process id (so that a
  client knows which worker holds its session). The action ``set`` (``{"value": N}``)
  writes the record: every session that shows it gets a push. With ``--broker`` the
  record is kept identical in every worker through Redis (``app.share``); without, it is
  a plain module-level record (one worker only).
* ``own`` (rweb): ``fanout`` where each session's ``v`` also reads a record of its own:
  every reader renders on its own (no shared render).

  Both also serve the page ``/clicks`` (join with ``?url=%2Fclicks``): the ``pid``
  component and a counter of the session's own (``n``, the action ``inc``); it reads
  nothing shared: a bystander whose clicks ``benchmarks/fanout.py`` times during a fan-out.
* ``counter`` (rweb): the seed's counter, state per session only (``--broker`` or not):
  what a broker costs a click that shares nothing.
* ``bare``: the fan-out ceiling, a bare picows server on uvloop (one process) that sends
  ``{"t":"init","pid":N}`` on connect and forwards every text message it receives to
  every other connection, as is. No framework can fan out faster on this stack.

    python benchmarks/fanout_app.py --page fanout --port 8095 [--workers 2 --broker redis://127.0.0.1:6379/0]

``--gc-log PATH``: each serving process times its garbage collections (``gc.callbacks``)
and notes when each write arrives, and writes both, as JSON, to ``PATH.<pid>`` when it
stops (``benchmarks/fanout.py`` reads them: the collections during the counted writes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
import time
from typing import Any

from rweb import App, process_local, reactive, start_rweb
from rweb.bench.procfs import raise_nofile_limit
from rweb.html import button, component, div, h1, span
from rweb.server import GC_THRESHOLD


@reactive
class Board:
    value: int


@reactive
class Clicks:
    n: int


WRITES: list[float] = []  # time.monotonic() of each write this process's sessions made
TRACKED: list[int] = []  # objects the collector tracked at the first write


def log_gc(app: App, path: str) -> None:
    """Time this process's collections, and write them with the writes' times at shutdown."""
    collections: list[list[float]] = []  # [start (time.monotonic), generation, ms, collected]
    began = [0.0, 0]

    def timed(phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter_ns()
        if phase == "start":
            began[0], began[1] = time.monotonic(), now
        else:
            collections.append([began[0], info["generation"], (now - began[1]) / 1e6, info["collected"]])

    @app.on_startup
    def watch() -> None:  # in each worker, after the fork
        collections.clear()
        WRITES.clear()
        gc.callbacks.append(timed)

    @app.on_shutdown
    def dump() -> None:
        with open(f"{path}.{os.getpid()}", "w") as f:
            json.dump({"pid": os.getpid(), "collections": collections, "writes": WRITES,
                       "frozen": gc.get_freeze_count(), "tracked": TRACKED}, f)


def fanout_app(broker: str | None, own: bool = False) -> App:
    """``own``: each session's ``v`` also reads a record of its own, so that it renders on its
    own (one render, diff and encoding per reader, the garbage of each: the path that a shared
    render saves)."""
    board = Board(0)
    app = App("fan-out", broker=broker, actions=["set", "inc"])
    if broker:
        app.share("board", board)
    else:
        process_local(board)  # one worker: every session reads it (and may share its render)

    @app.page("/")
    def home(writer_id: Any) -> Any:
        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "set":
                if not WRITES:  # the first (a warm-up): how many objects the collector tracks
                    TRACKED.append(len(gc.get_objects()))
                WRITES.append(time.monotonic())
                board.value = int(params["value"])

        if own:
            mine = Board(0)
            v = lambda: span(board.value, mine.value)  # noqa: E731
        else:
            v = lambda: span(board.value)  # noqa: E731

        def render_page() -> Any:
            return div(
                component("pid", lambda: span(os.getpid())),  # after the fork: this worker's
                component("v", v),
            )

        return render_page, on_action

    @app.page("/clicks")
    def clicks(writer_id: Any) -> Any:
        """A bystander: per-session state only (nothing shared is read), on the same worker."""
        mine = Clicks(0)

        def on_action(action: str, params: dict[str, Any]) -> None:
            if action == "inc":
                mine.n += 1

        def render_page() -> Any:
            return div(
                component("pid", lambda: span(os.getpid())),
                component("n", lambda: span(mine.n)),
            )

        return render_page, on_action

    return app


def counter_app(broker: str | None) -> App:
    """The seed's counter (examples/rweb_counter.py), on an App that may have a broker."""

    @reactive
    class Counter:
        value: int

    def session_setup(writer_id: Any) -> Any:
        counter = Counter(0)

        def render_page() -> Any:
            return div(
                h1("RWeb Counter"),
                component("display", lambda: div(span("Count: "), span(counter.value))),
                div(
                    button("+", data_action="inc"),
                    button("-", data_action="dec"),
                    button("Reset", data_action="reset"),
                ),
            )

        def on_action(action: str, params: dict[str, Any]) -> None:
            match action:
                case "inc":
                    counter.value += 1
                case "dec":
                    counter.value -= 1
                case "reset":
                    counter.value = 0

        return render_page, on_action

    return App("RWeb Counter", session_setup, broker=broker)


# -- the bare fan-out ceiling ------------------------------------------------------------
def serve_bare(host: str, port: int) -> None:
    from picows import WSCloseCode, WSListener, WSMsgType, WSTransport, ws_create_server

    text, close = WSMsgType.TEXT, WSMsgType.CLOSE
    init = b'{"t":"init","pid":%d}' % os.getpid()
    peers: set[WSTransport] = set()

    class Forward(WSListener):
        def on_ws_connected(self, transport: WSTransport) -> None:
            peers.add(transport)
            transport.send(text, init)

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            peers.discard(transport)

        def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
            mt = frame.msg_type
            if mt is text:
                data = frame.get_payload_as_bytes()
                for t in peers:
                    if t is not transport:
                        t.send(text, data)
            elif mt is close:
                transport.send_close(WSCloseCode.OK)
                transport.disconnect()

    async def main() -> None:
        server = await ws_create_server(
            lambda request: Forward(), host, port, backlog=4096, websocket_handshake_timeout=10,
            read_buffer_init_size=2048, use_aiofastnet=False,  # rweb's default transports
        )
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[None] = loop.create_future()

        def stopping() -> None:
            if not stop.done():
                stop.set_result(None)

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping)
        print(f"bare fan-out listening on ws://{host}:{port}/ (pid {os.getpid()})", flush=True)
        await stop
        server.close()
        for t in list(peers):
            t.disconnect(False)

    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--page", choices=("fanout", "own", "counter", "bare"), default="fanout")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8095)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--broker", default=None, help="redis://... (default: none, in-process topics)")
    p.add_argument("--gc-log", default=None, metavar="PATH", help="time collections, written to PATH.<pid>")
    p.add_argument("--gc-freeze", type=int, default=1, help="start_rweb's gc_freeze (1 / 0; default 1)")
    p.add_argument("--gc-threshold", default=None, help="start_rweb's gc_threshold: A,B,C (default: its default)")
    args = p.parse_args(argv)
    with contextlib.suppress(Exception):
        raise_nofile_limit()  # 10,000 sessions need 10,000 descriptors
    if args.page == "bare":
        if args.workers != 1 or args.broker:
            p.error("the bare server runs one process, without a broker")
        serve_bare(args.host, args.port)
        return 0
    app = counter_app(args.broker) if args.page == "counter" else fanout_app(args.broker, args.page == "own")
    if args.gc_log:
        log_gc(app, args.gc_log)
    threshold = GC_THRESHOLD  # start_rweb's default
    if args.gc_threshold:
        a, b, c = (int(x) for x in args.gc_threshold.split(","))
        threshold = (a, b, c)
    start_rweb(args.port, app, host=args.host, workers=args.workers, gc_freeze=bool(args.gc_freeze),
               gc_threshold=threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
