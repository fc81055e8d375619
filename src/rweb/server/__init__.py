"""Serving rweb apps: ``start_rweb`` and its worker processes.

``start_rweb(port, title, session_setup, workers=N)`` runs N worker processes
forked from a supervising parent; each session lives wholly in one worker.
The parent binds the listening socket once and every worker accepts from it,
so while a worker restarts the others take its share, and when none is up the
kernel queues new connections in the backlog instead of refusing them.  A
worker that exits is restarted with exponential backoff (``restart_delay``
doubling up to ``max_restart_delay``, back to the start once a worker has run
``restart_reset`` seconds), for as long as the parent lives.  With
``workers=1`` the server runs in the calling process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import select
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..app.app import App
from ..rendering.proc import die_with_parent, listen
from ..web.client_script import client_encoded
from .memory import huge_page_arenas

__all__ = [
    "RestartPolicy", "Server", "default_workers", "describe_exit", "huge_page_arenas", "listen", "run_worker",
    "settle_gc", "start_rweb",
]


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


GC_THRESHOLD = (50_000, 1, 100)
"""``start_rweb``'s default :func:`gc.set_threshold`: a young collection after 50,000 net new
container objects instead of 700.  A write that 10,000 sessions each render on their own makes
and drops tens of thousands of short-lived containers; at 700 each young collection promoted
those still alive (the sessions' new outputs) until full collections walked every session's
objects, hundreds of ms each.  The middle generation is collected at every second young
collection, not every eleventh: what a burst of new pages leaves there (each a few hundred
objects) is walked 100,000 objects at a time, not 550,000 (1,000 new 100-row pages: 96 ms at
most, against 262; benchmarks/gc_pauses.py).  The oldest is asked about every 101 middle
collections, about as often as before in young collections (docs/operations.md, "Garbage
collection")."""


def settle_gc(threshold: tuple[int, int, int] | None = None, *, freeze: bool = True) -> None:
    """Garbage collection for a process about to hold many long-lived sessions (docs/operations.md).

    ``threshold``: :func:`gc.set_threshold`'s three numbers (None: left as they are).
    ``freeze``: collect once, then :func:`gc.freeze` what is alive (modules, the app, its
    services): full collections no longer walk it, and forked workers keep sharing its pages.
    """
    if threshold is not None:
        gc.set_threshold(*threshold)
    if freeze:
        gc.collect()
        gc.freeze()


async def _serve(server: Any, ready: Callable[[Any], None] | None = None, gc_freeze: bool = False) -> None:
    await server.start()
    if gc_freeze:  # after the app's startup (its broker, hooks), before the first session
        settle_gc(freeze=True)
    if ready is not None:
        ready(server)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()  # the first stop signal
    again = loop.create_future()  # a second one: no more draining
    signals = [signal.SIGINT, signal.SIGTERM]
    # One process without a supervisor: SIGHUP (a rolling restart elsewhere) stops it as
    # gracefully as SIGTERM (sessions saved); its process manager starts it again.  A
    # supervised worker ignores SIGHUP: its supervisor replaces the workers one at a time.
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        signals.append(signal.SIGHUP)

    def signalled(sig: int) -> None:
        for f in (stop, again):
            if not f.done():
                f.set_result(sig)
                return

    for sig in signals:
        try:
            loop.add_signal_handler(sig, signalled, sig)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    try:
        # SIGTERM / SIGHUP: drain first (readiness 503, the open sockets served) for
        # server.drain seconds; SIGINT, or a second signal, stops at once.
        if await stop != signal.SIGINT and server.drain > 0:
            server.start_drain()
            await asyncio.wait([again], timeout=server.drain)
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
    sock: socket.socket | None = None,
    gc_freeze: bool = False,
    **limits: Any,
) -> None:
    """Serve ``app`` in this process until SIGINT / SIGTERM.

    ``sock``: a listening socket to serve instead of binding ``host:port``;
    ``gc_freeze``: once started, :func:`settle_gc` (what is alive then is never walked
    by the garbage collector again); ``limits``: the
    :class:`~rweb.server.picows_transport.Server` limits (``ping_interval``,
    ``max_write_buffer``, ...).
    """
    from .picows_transport import Server

    server = Server(
        app,
        host,
        port,
        worker_index=worker_index,
        workers=workers,
        reuse_port=workers > 1 and sock is None,
        use_aiofastnet=aiofastnet,
        sock=sock,
        **limits,
    )
    _run(_serve(server, ready, gc_freeze))


def _setup_logging(log_format: str | None = None) -> None:
    from .logs import configure

    configure(log_format)
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
    ping_interval: float | None = 20.0,
    ping_timeout: float = 20.0,
    write_high_water: int = 64 * 1024,
    write_low_water: int = 16 * 1024,
    max_write_buffer: int = 4 * 1024 * 1024,
    max_paused: float = 60.0,
    recv_buffer: int | None = 64 * 1024,
    header_timeout: float = 10.0,
    body_timeout: float = 30.0,
    restart_delay: float = 0.1,
    max_restart_delay: float = 30.0,
    restart_reset: float = 10.0,
    drain: float = 0.0,
    drain_refuse: bool = True,
    reload: bool | None = None,
    reload_dirs: Iterable[str | os.PathLike[str]] | None = None,
    log_format: str | None = None,
    gc_freeze: bool = True,
    gc_threshold: tuple[int, int, int] | None = GC_THRESHOLD,
    huge_pages: bool = True,
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

    Limits (docs/security.md, "Limits"), for either form: a socket silent for
    ``ping_interval`` seconds is pinged and closed when nothing comes back
    within ``ping_timeout`` (``ping_interval=None``: no heartbeat); a socket
    with more than ``write_high_water`` bytes unsent is not read, and its
    pushes are held back and coalesced, until less than ``write_low_water``
    is left; one with more than ``max_write_buffer`` bytes unsent or paused
    for ``max_paused`` seconds is closed; ``recv_buffer`` is the kernel's
    receive buffer of a WebSocket (what one read takes from one client).  An
    HTTP request's headers must arrive within ``header_timeout`` seconds and
    its whole body within ``body_timeout`` seconds of them (else 408).  A crashed worker is restarted after
    ``restart_delay`` seconds, doubling with each crash in a row up to
    ``max_restart_delay``; a worker that ran ``restart_reset`` seconds starts
    the count again.

    Stopping (docs/operations.md): on SIGTERM (or SIGHUP without workers),
    each worker first drains for ``drain`` seconds: readiness
    (``/_rweb/ready``) answers 503 while its sockets are still served, and
    with ``drain_refuse`` new ``GET`` / ``HEAD`` requests and sockets get 503
    (for a proxy to retry elsewhere); then its sessions are saved and its
    sockets closed with 1012.  SIGINT, or a second SIGTERM, skips the drain.

    ``reload=True`` (or the environment variable ``RWEB_RELOAD=1``) is for
    development: this process becomes a reloader that runs the same command
    again as the server, in one worker process, and restarts it when a file
    of the app changes (``*.py``, templates, static files under
    ``reload_dirs``, by default the directory of the ``__main__`` script);
    open pages reconnect by themselves (docs/devx.md).

    ``log_format="json"`` (or ``RWEB_LOG_FORMAT=json``) logs one JSON object
    per line, with the session, page and action on each line a session causes
    (:mod:`rweb.logs`, docs/operations.md); unless the app configured logging.

    Garbage collection (docs/operations.md, "Garbage collection"): with ``gc_freeze``
    each serving process collects once when started and freezes what is alive
    (:func:`settle_gc`), so that full collections walk only the sessions' objects;
    ``gc_threshold`` sets :func:`gc.set_threshold` first (:data:`GC_THRESHOLD` by default;
    None: Python's own, or what the program set).

    ``huge_pages`` (docs/operations.md, "Huge pages"): Python's small objects allocated
    from here on, the sessions' among them, come from 2 MiB huge pages
    (:func:`rweb.server.memory.huge_page_arenas`), which a click among thousands of pages
    reaches with fewer misses in address translation.
    """
    _setup_logging(log_format)
    if _importing_app is not None:
        raise RuntimeError(
            f"rweb run imports {_importing_app} to find its app, and that import called start_rweb(): "
            "put start_rweb(...) under `if __name__ == \"__main__\":`"
        )
    from .reload import child_socket_pending, env_reload

    if reload is None:
        reload = env_reload()
    if isinstance(title, App):
        app = title
        title = app.title
    else:
        if session_setup is None:
            raise TypeError("start_rweb(port, title, session_setup) or start_rweb(port, app)")
        app = App(title, session_setup, max_message_size=max_message_size, actions=actions, head=head)
    n = default_workers() if workers is None else workers
    if n < 1:
        raise ValueError("workers must be at least 1")
    if reload and n > 1:
        if workers is not None and not child_socket_pending():  # said once, by the reloader
            log.warning("rweb: reload runs one server process: workers=%d ignored", n)
        n = 1
    if n > 1 and app.broker is None:
        # Correct by default: state that sessions share cannot silently split
        # between workers that cannot see each other's writes.
        if app.shared_records:
            raise RuntimeError(
                f"app.share({', '.join(map(repr, app.shared_records))}) keeps state identical in every "
                f"worker through a broker, and this server runs {n} workers without one: pass "
                "broker='redis://...' to App, or run workers=1"
            )
        app.refuse_split_state(n)
        app.split_workers = n
    if not 0 < write_low_water <= write_high_water <= max_write_buffer:
        raise ValueError("need 0 < write_low_water <= write_high_water <= max_write_buffer")
    if drain < 0:
        raise ValueError("drain is a number of seconds, 0 or more")
    limits: dict[str, Any] = {
        "ping_interval": ping_interval,
        "ping_timeout": ping_timeout,
        "write_high_water": write_high_water,
        "write_low_water": write_low_water,
        "max_write_buffer": max_write_buffer,
        "max_paused": max_paused,
        "recv_buffer": recv_buffer,
        "header_timeout": header_timeout,
        "body_timeout": body_timeout,
        "drain": drain,
        "drain_refuse": drain_refuse,
    }
    if huge_pages:
        huge_page_arenas()  # before any session's object: forked workers inherit the hook
    if gc_threshold is not None:
        settle_gc(gc_threshold, freeze=False)  # forked workers inherit it
    limits["gc_freeze"] = gc_freeze  # run_worker's, through the supervisor
    url = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    client_encoded()  # the client script compressed once, here: forked workers inherit it
    for asset in app.assets:
        asset.encoded()  # and the app's assets (rweb.assets)

    if reload:
        _reload(app, host, port, reload_dirs, aiofastnet, limits)
        return
    if n == 1:
        ws_url = "ws" + url[4:] + "ws"

        def ready(server: Any) -> None:
            log.info("rweb: %r serving on %s (WebSocket at %s)", title, url, ws_url)

        run_worker(app, host, port, ready=ready, aiofastnet=aiofastnet, **limits)
        return
    sock = listen(host, port)
    log.info("rweb: %r serving on %s with %d workers", title, url, n)
    policy = RestartPolicy(restart_delay, max_restart_delay, restart_reset)
    if app.metering is None:
        _supervise(app, sock, n, aiofastnet, limits, policy)
        return
    from ..web.metrics import multiprocess_dir

    with multiprocess_dir():  # every worker's metrics, read by whichever answers a scrape
        _supervise(app, sock, n, aiofastnet, limits, policy)


# Set by `rweb run` while it imports the app's module: start_rweb() there would serve too early.
_importing_app: str | None = None


@contextlib.contextmanager
def importing_app(spec: str) -> Iterator[None]:
    """While `rweb run` imports ``spec`` to find its app: a start_rweb() the import makes is refused."""
    global _importing_app
    _importing_app = spec
    try:
        yield
    finally:
        _importing_app = None


def _reload(
    app: App,
    host: str,
    port: int,
    reload_dirs: Iterable[str | os.PathLike[str]] | None,
    aiofastnet: bool,
    limits: dict[str, Any],
) -> None:
    """``start_rweb(reload=True)``: in the reloader, run it; in the server it started, serve."""
    from .reload import child_socket, default_watch, run_reloader, this_command

    sock = child_socket()
    if sock is None:
        watch = default_watch() if reload_dirs is None else list(reload_dirs)
        run_reloader(this_command(), host=host, port=port, watch=watch)
        return

    def ready(server: Any) -> None:
        shown = f"[{host}]" if ":" in host else host
        log.info("rweb: %r serving on http://%s:%d/ (reloaded on changes)", app.title, shown, server.port)

    run_worker(app, host, port, ready=ready, aiofastnet=aiofastnet, sock=sock, **limits)


@dataclass(frozen=True)
class RestartPolicy:
    """When the supervisor restarts a worker that exited: exponential backoff.

    The n-th exit in a row waits ``delay * 2**(n-1)`` seconds, at most
    ``max_delay``; a worker that ran ``reset_after`` seconds or more before it
    exited counts as healthy, so its next restart waits ``delay`` again.
    """

    delay: float = 0.1
    max_delay: float = 30.0
    reset_after: float = 10.0

    def next_delay(self, failures: int) -> float:
        """The wait before the restart that follows ``failures`` exits in a row (1, 2, ...)."""
        delay: float = min(self.delay * 2 ** min(max(failures - 1, 0), 64), self.max_delay)
        return delay


@dataclass
class _Worker:
    index: int
    pid: int = 0
    started: float = 0.0
    failures: int = 0  # exits in a row, each after less than reset_after seconds of running
    due: float | None = 0.0  # when to (re)start it; None while it runs
    replacing: bool = False  # asked to stop by a rolling restart (SIGHUP): restarted at once


def describe_exit(status: int) -> str:
    """A wait status in words: ``exited with code 1``, ``was killed by signal SIGSEGV (11)``."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = "unknown"
        text = f"was killed by signal {name} ({sig})"
        if os.WCOREDUMP(status):
            text += ", core dumped"
        return text
    if os.WIFEXITED(status):
        return f"exited with code {os.WEXITSTATUS(status)}"
    return f"ended with wait status {status}"  # pragma: no cover - stopped/continued are not reported


_SUPERVISOR_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP)
ROLL_SETTLE = 1.0  # a rolling restart's next worker stops once the last one's replacement ran this long


def _supervise(
    app: App,
    sock: socket.socket,
    n: int,
    aiofastnet: bool,
    limits: dict[str, Any],
    policy: RestartPolicy,
) -> None:
    """Run ``n`` workers on ``sock`` until SIGINT / SIGTERM; restart those that exit, with backoff.

    SIGTERM stops every worker, each draining first (``limits["drain"]``);
    SIGINT stops them without a drain.  SIGHUP restarts the workers one at a
    time (a rolling restart): each is stopped at once, without a drain (its
    sessions saved, with a snapshot store, and its sockets closed with 1012;
    the other workers keep the server ready), restarted at once, and the next one waits until
    the new one has run ``ROLL_SETTLE`` seconds; the others serve meanwhile.
    """
    host, port = sock.getsockname()[:2]
    parent = os.getpid()
    if limits.get("gc_freeze"):
        settle_gc()  # what the workers inherit stays shared with the parent's pages (copy-on-write)
    workers = [_Worker(i) for i in range(n)]
    children: dict[int, _Worker] = {}  # pid -> worker
    rolling: list[_Worker] = []  # a rolling restart's workers still to replace
    stopping = False
    kill_at: float | None = None
    # SIGCHLD and the stop signals wake the select() below through this pipe.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)

    def spawn(w: _Worker) -> None:
        # No signal may run the parent's handlers in the child before it resets them.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISOR_SIGNALS)
        try:
            pid = os.fork()
        except OSError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            w.failures += 1
            delay = policy.next_delay(w.failures)
            w.due = time.monotonic() + delay
            log.error("worker %d could not be started (%s); trying again in %.1f s", w.index, exc, delay)
            return
        if pid == 0:  # the worker
            code = 0
            try:
                signal.set_wakeup_fd(-1)
                os.close(wake_r)
                os.close(wake_w)
                for sig in _SUPERVISOR_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the supervisor's: see _serve
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                die_with_parent(parent)
                import faulthandler

                if not faulthandler.is_enabled():
                    faulthandler.enable()  # a segfault leaves its Python traceback in the log
                run_worker(
                    app, host, port, worker_index=w.index, workers=n, aiofastnet=aiofastnet, sock=sock, **limits
                )
            except BaseException:
                log.exception("worker %d crashed", w.index)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        w.pid, w.started, w.due = pid, time.monotonic(), None
        children[pid] = w
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping, kill_at
        if not stopping:
            stopping = True
            kill_at = time.monotonic() + 30.0 + limits.get("drain", 0.0)
        # The same signal: SIGTERM drains the workers first, SIGINT (or a second SIGTERM) does not.
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def roll(_signum: int, _frame: Any) -> None:
        if not stopping and not rolling:
            log.info("SIGHUP: restarting the %d workers one at a time", n)
            rolling.extend(workers)

    def roll_step(now: float) -> None:
        """Stop the next worker of a rolling restart once the previous one is back and settled."""
        if any(w.replacing or w.due is not None or now - w.started < ROLL_SETTLE for w in workers):
            return
        w = rolling.pop(0)
        w.replacing = True
        # SIGINT: no drain, the other workers answer for the server meanwhile.
        with contextlib.suppress(ProcessLookupError):
            os.kill(w.pid, signal.SIGINT)

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                children.clear()
                return
            if pid == 0:
                return
            w = children.pop(pid, None)
            if w is None:
                continue
            if app.metering is not None:
                from ..web.metrics import process_dead

                process_dead(pid)
            if stopping:
                # The signal is how it was asked to stop (before its loop could catch it).
                if status != 0 and not (
                    os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGTERM, signal.SIGINT)
                ):
                    log.warning("worker %d (pid %d) %s while stopping", w.index, pid, describe_exit(status))
                continue
            now = time.monotonic()
            ran = now - w.started
            if w.replacing:  # stopped by a rolling restart: back at once
                w.replacing, w.failures, w.due = False, 0, now
                log.info("worker %d (pid %d) %s: replaced (rolling restart)", w.index, pid, describe_exit(status))
                continue
            if ran >= policy.reset_after:
                w.failures = 0
            w.failures += 1
            delay = policy.next_delay(w.failures)
            w.due = now + delay
            log.error(
                "worker %d (pid %d) %s after %.1f s; restarting it in %.1f s (exit %d in a row)",
                w.index,
                pid,
                describe_exit(status),
                ran,
                delay,
                w.failures,
            )

    previous = {sig: signal.getsignal(sig) for sig in _SUPERVISOR_SIGNALS}
    old_wakeup = signal.set_wakeup_fd(wake_w)
    try:
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)  # a handler, so that the wakeup fd hears it
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, roll)
        while True:
            reap()
            now = time.monotonic()
            if stopping:
                if not children:
                    break
                if kill_at is not None and now >= kill_at:
                    log.warning("workers still running 30 s after SIGTERM: killed")
                    for pid in list(children):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    kill_at = None
                timeout = None if kill_at is None else max(kill_at - now, 0.0)
            else:
                for w in workers:
                    if w.due is not None and w.due <= now:
                        if w.failures:
                            log.info("worker %d: restarting", w.index)
                        spawn(w)
                if rolling:
                    roll_step(time.monotonic())
                due = [w.due for w in workers if w.due is not None]
                if rolling:  # wake up when the last replacement has settled
                    due.append(max(w.started for w in workers) + ROLL_SETTLE)
                timeout = max(min(due) - time.monotonic(), 0.0) if due else None
            try:
                select.select([wake_r], [], [], timeout)
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                pass
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)
        sock.close()
