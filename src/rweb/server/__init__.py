"""Serving rweb apps: ``start_rweb`` and its worker processes.

``start_rweb(port, title, session_setup, workers=N)`` runs N worker processes
that share the port (``SO_REUSEPORT``: the kernel spreads connections between
them); each session lives wholly in one worker.  With ``workers=1`` the server
runs in the calling process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..app import App

__all__ = ["Server", "default_workers", "run_worker", "start_rweb"]


def __getattr__(name: str) -> Any:
    if name == "Server":  # picows loads only when a server is wanted
        from .picows_transport import Server

        return Server
    raise AttributeError(name)

log = logging.getLogger("rweb.server")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
    return uvloop.run(coro)


async def _serve(server: Any, ready: Callable[[Any], None] | None = None) -> None:
    await server.start()
    if ready is not None:
        ready(server)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        await stop
    finally:
        await server.close()


def run_worker(
    app: App,
    host: str,
    port: int,
    *,
    worker_index: int = 0,
    workers: int = 1,
    ready: Callable[[Any], None] | None = None,
    aiofastnet: bool = False,
) -> None:
    """Serve ``app`` in this process until SIGINT / SIGTERM."""
    from .picows_transport import Server

    server = Server(
        app,
        host,
        port,
        worker_index=worker_index,
        workers=workers,
        reuse_port=workers > 1,
        use_aiofastnet=aiofastnet,
    )
    _run(_serve(server, ready))


def _setup_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=os.environ.get("RWEB_LOG_LEVEL", "INFO").upper(),
            format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
        )
    # picows logs every connection at INFO: far too much for thousands of sessions.
    pl = logging.getLogger("picows")
    if pl.level == logging.NOTSET:
        pl.setLevel(logging.WARNING)


def start_rweb(
    port: int,
    title: str | App,
    session_setup: Callable[..., Any] | None = None,
    *,
    host: str = "127.0.0.1",
    workers: int | None = None,
    max_message_size: int = 64 * 1024,
    actions: Iterable[str] = (),
    head: str = "",
    aiofastnet: bool = False,
) -> None:
    """Serve an app at ``http://host:port/`` until stopped.

    ``start_rweb(port, title, session_setup)`` serves one reactive page at
    ``/``; ``start_rweb(port, app)`` serves an :class:`~rweb.App` with its
    routes (the keyword settings then come from the app).

    ``workers`` processes share the port (default: one per CPU); each browser
    session lives wholly in one of them.  ``max_message_size`` bounds a client
    message (larger ones get a ``too_large`` error); ``actions`` names actions
    accepted even when no element on the page binds them; ``head`` is extra
    trusted markup for the page's ``<head>``.  ``aiofastnet=True`` uses
    aiofastnet's socket transports (picows' default): about 1.7 µs less CPU per
    message, about 5 KiB more memory per idle session than uvloop's own.
    """
    _setup_logging()
    if isinstance(title, App):
        app = title
        title = app.title
    else:
        if session_setup is None:
            raise TypeError("start_rweb(port, title, session_setup) or start_rweb(port, app)")
        app = App(
            session_setup, title, max_message_size=max_message_size, actions=actions, head=head
        )
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ValueError("workers must be at least 1")
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

    if n == 1:
        ws_url = "ws" + url[4:] + "ws"

        def ready(server: Any) -> None:
            log.info("rweb: %r serving on %s (WebSocket at %s)", title, url, ws_url)

        run_worker(app, host, port, ready=ready, aiofastnet=aiofastnet)
        return
    _check_port_free(host, port)
    log.info("rweb: %r serving on %s with %d workers", title, url, n)
    _supervise(app, host, port, n, aiofastnet)


def _check_port_free(host: str, port: int) -> None:
    """Fail early, in the parent, if the port is taken (children would each fail)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind((host, port))


def _supervise(app: App, host: str, port: int, n: int, aiofastnet: bool) -> None:
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                run_worker(app, host, port, worker_index=index, workers=n, aiofastnet=aiofastnet)
            except BaseException:
                log.exception("worker %d crashed", index)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = index

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for i in range(n):
        spawn(i)
    recent: list[float] = []
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        index = children.pop(pid, None)
        if index is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        log.error("worker %d (pid %d) exited with %s; restarting it", index, pid, code)
        now = time.monotonic()
        recent = [t for t in recent if now - t < 10] + [now]
        if len(recent) > 5 * n:
            log.critical("workers keep crashing; giving up")
            stop(signal.SIGTERM, None)
            sys.exit(1)
        spawn(index)
