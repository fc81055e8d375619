"""The app's life in one serving process: bound to its event loop, started, stopped.

The app's :class:`Lifecycle` (``app.lifecycle``; ``App.bind``, ``startup``,
``shutdown``, ``spawn``, ``on_startup`` and ``on_shutdown`` forward to it)
runs, in this order, when a transport serves the app in a process (each
worker after the fork; under ASGI at the lifespan's startup):

1. :meth:`Lifecycle.bind`: the scheduler takes the loop, the registry numbers
   this worker's writer ids, a snapshot store given to the app starts;
2. :meth:`Lifecycle.startup`: the broker services start
   (:class:`rweb.services.BrokerServices`), the snapshots (a Redis broker's
   store), the metrics' timer, then the ``on_startup`` hooks;

and when it stops, :meth:`Lifecycle.shutdown`: the sessions waiting for their
browsers end, the metrics stop, the app's background tasks are cancelled, the
``on_shutdown`` hooks run, then the broker services stop.  See docs/lifecycle.md.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..live.registry import SessionRegistry
from ..sessions.scheduler import Scheduler
from .services import BrokerServices

if TYPE_CHECKING:
    from ..web.metrics import (
        Metrics,  # imported when app.metrics() is called (prometheus_client is optional)
    )

__all__ = ["TASK_STOP_TIMEOUT", "LifeHook", "Lifecycle", "LifecycleApp"]

log = logging.getLogger("rweb.app")  # its messages are the app's, as they were

LifeHook = Callable[[], Any]  # on_startup / on_shutdown: sync, or returning an awaitable
TASK_STOP_TIMEOUT = 5.0  # at shutdown, how long the app's cancelled background tasks may take to end


class LifecycleApp(Protocol):
    """What the lifecycle reads of the app (an :class:`rweb.App`) when it starts and stops."""

    scheduler: Scheduler
    registry: SessionRegistry
    services: BrokerServices
    metering: Metrics | None
    session_store: Any  # a rweb.snapshot.SnapshotStore given to the app, or None
    snapshots: Any  # rweb.snapshot.Snapshots once started (set here), or None
    resume_grace: float
    snapshot_interval: float
    snapshot_limit: int
    has_secret_key: bool


class Lifecycle:
    """One app's start and stop in this process (see the module's docstring)."""

    def __init__(self, app: LifecycleApp) -> None:
        self.app = app
        self.started = False  # startup() ran, shutdown() not yet
        self.startup_hooks: list[LifeHook] = []  # on_startup / on_shutdown: per process
        self.shutdown_hooks: list[LifeHook] = []
        self.tasks: set[asyncio.Task[Any]] = set()  # app.spawn's, cancelled at shutdown

    def bind(self, loop: asyncio.AbstractEventLoop, worker_index: int = 0, workers: int = 1) -> None:
        """A transport starts serving on ``loop`` (one per process)."""
        app = self.app
        app.scheduler.bind(loop)  # after the fork: each worker its own boot id
        app.registry.number(worker_index, workers)
        self.start_snapshots()  # with a session_store given; a Redis broker's starts with startup()

    async def startup(self) -> None:
        """Start the app's services in this process (once; again only after :meth:`shutdown`)."""
        if self.started:
            return
        self.started = True
        app = self.app
        await app.services.start()
        self.start_snapshots()
        if app.metering is not None:  # published on a timer, whichever transport serves
            app.metering.start(app, asyncio.get_running_loop())
        for fn in self.startup_hooks:
            try:
                await _call(fn)
            except Exception:
                log.exception("startup hook %s failed: this process does not serve", _name(fn))
                await self.stop_tasks()  # what the hooks spawned so far
                raise

    def start_snapshots(self) -> None:
        """Sessions are saved for a resume in another process when the app has a store for them
        (``App(session_store=...)``, or the Redis broker's) and resumes are on."""
        app = self.app
        if app.snapshots is not None:
            app.snapshots.start()
            return
        store = app.session_store
        pubsub = app.services.pubsub
        if store is None and hasattr(pubsub, "take"):  # the Redis broker keeps them
            store = pubsub
        if store is None or app.resume_grace <= 0:
            return
        from ..live.snapshot import Snapshots

        app.snapshots = Snapshots(app, store, app.snapshot_interval, app.snapshot_limit)
        app.snapshots.start()
        if not app.has_secret_key:
            log.warning(
                "sessions are saved for a resume in another process, but the app has no secret_key "
                "(App(secret_key=...) or RWEB_SECRET_KEY): another instance, or this server after a "
                "restart, cannot read their tokens and gives fresh sessions"
            )

    async def shutdown(self) -> None:
        """Stop the app's services (the broker flushes what is queued)."""
        app = self.app
        app.registry.end_detached()
        if not self.started:
            return
        self.started = False
        if app.metering is not None:
            app.metering.stop()
        await self.stop_tasks()
        for fn in self.shutdown_hooks:
            try:
                await _call(fn)
            except Exception:
                log.exception("shutdown hook %s failed", _name(fn))
        await app.services.stop()

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a background task of the app (see :meth:`rweb.App.spawn`)."""
        loop = self.app.scheduler.loop
        if loop is None:
            if hasattr(coro, "close"):
                coro.close()  # never started: no "never awaited" warning
            raise RuntimeError("the app is not being served yet: spawn from an on_startup hook")
        task: asyncio.Task[Any] = loop.create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self.task_done)
        return task

    def task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def stop_tasks(self) -> None:
        tasks = [t for t in self.tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=TASK_STOP_TIMEOUT)
            if pending:
                log.warning("%d background tasks still running %.0f s after they were cancelled",
                            len(pending), TASK_STOP_TIMEOUT)


async def _call(fn: LifeHook) -> None:
    """Run a startup or shutdown hook: awaited if it is ``async`` (a task it returns, say app.spawn's, is not)."""
    result = fn()
    if inspect.iscoroutine(result):
        await result


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
