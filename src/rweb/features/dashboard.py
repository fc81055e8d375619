"""A live dashboard of the app, built with rweb itself (Phoenix's LiveDashboard, for rweb).

``mount_dashboard(app, "/admin/rweb", auth=is_admin)`` adds a page that shows,
per worker process and in total, updating every second: sessions (live and
detached), actions per second, their server time (P50 / P95 / P99), messages
and bytes out, memory (RSS), event-loop lag; the busiest pages (by live
sessions) and actions; the broker's state; the recent errors with the
reference their log line carries.

Every serving process samples itself once per ``interval`` (a task started by
``app.on_startup``) and shares the sample:

- through the app's broker when it has one (``broker="redis://..."``): every
  worker of every instance, each dashboard sees them all;
- else, with several workers (``start_rweb(workers=N)``), through small JSON
  files in the metrics' shared directory (``PROMETHEUS_MULTIPROC_DIR``, which
  the supervisor makes);
- else in the process.

Actions and their timings come from the app's metrics (``app.metrics()``,
turned on here when the app has not: ``pip install 'rweb[metrics]'``; the
built-in server counts them, ``rweb.asgi`` does not yet). Recent errors are
the ``ERROR`` records of the ``rweb`` loggers and of the loggers the app names.

Who may see it: ``auth(conn) -> bool`` (the app's own rule: a signed-in
admin); refused visitors get ``Redirect(login)`` when ``login`` is given, else
403. Without ``auth`` only loopback clients that came through no proxy may
(the rule of the metrics endpoint).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..core.html import (
    component,
    div,
    h1,
    h2,
    main,
    p,
    raw,
    section,
    small,
    style,
    table,
    tbody,
    td,
    th,
    thead,
    tr,
)
from ..core.reactive import process_local, reactive
from ..web.http import HTTPError
from ..web.metrics import BUCKETS, MULTIPROC_ENV, OTHER, loopback_direct

__all__ = ["TOPIC", "mount_dashboard", "percentile"]

TOPIC = "rweb.dashboard"
"""The pub/sub topic the processes' samples travel on when the app has a broker."""
STALE_AFTER = 3.0  # intervals without a sample after which a worker is left out
MAX_ERRORS = 50
_REF = re.compile(r"\bref ([0-9a-f]{8})\b")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def percentile(buckets: list[int], q: float) -> float | None:
    """The ``q`` quantile (0-1) of a histogram of :data:`rweb.metrics.BUCKETS` counts (the last: +Inf),
    interpolated within its bucket as Prometheus's ``histogram_quantile`` does; None when empty."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for i, n in enumerate(buckets):
        upper = BUCKETS[i] if i < len(BUCKETS) else BUCKETS[-1]
        if n and seen + n >= rank:
            if i == len(BUCKETS):  # past the last bound: the bound is all that is known
                return BUCKETS[-1]
            return lower + (upper - lower) * (rank - seen) / n
        seen += n
        lower = upper
    return BUCKETS[-1]


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


class _Errors(logging.Handler):
    """The recent ERROR records (a ring), with the reference their message carries."""

    def __init__(self, size: int) -> None:
        super().__init__(logging.ERROR)
        self.recent: deque[dict[str, Any]] = deque(maxlen=size)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # a record whose arguments do not format: keep the template
            msg = str(record.msg)
        first = msg.splitlines()[0][:300] if msg else ""
        found = _REF.search(msg)
        self.recent.append({
            "t": record.created, "logger": record.name, "msg": first,
            "ref": found.group(1) if found else None, "pid": os.getpid(),
        })


@reactive
class _Board:
    version: int  # bumped when the samples change: the dashboards re-render


class Dashboard:
    """The sampler of one process and the page (see :func:`mount_dashboard`)."""

    def __init__(
        self,
        app: Any,
        path: str,
        auth: Callable[[Any], bool] | None,
        login: str | None,
        interval: float,
        loggers: Iterable[str],
        title: str,
    ) -> None:
        if interval <= 0:
            raise ValueError("the dashboard's interval must be positive")
        self.app = app
        self.path = path
        self.auth = auth
        self.login = login
        self.interval = interval
        self.loggers = ("rweb", *loggers)
        self.title = title
        self.samples: dict[str, dict[str, Any]] = {}  # worker id -> its last sample
        self.board = process_local(_Board(0))
        self.errors = _Errors(MAX_ERRORS)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._last: dict[str, Any] | None = None  # cumulative counts at the previous sample
        self._task: asyncio.Task[Any] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        app.on_startup(self.start)
        app.on_shutdown(self.stop)
        app.page(path, title=title, name="rweb_dashboard")(self.setup)

    # -- sampling (every serving process) ------------------------------------------------------

    def start(self) -> None:
        self.worker = f"{socket.gethostname()}:{os.getpid()}"  # after the fork: this worker's
        for name in self.loggers:
            logging.getLogger(name).addHandler(self.errors)
        if self._broker():
            self._unsubscribe = self.app.pubsub.subscribe(TOPIC, lambda _topic, sample: self._take(sample))
        self._task = self.app.spawn(self._run())

    def stop(self) -> None:
        for name in self.loggers:
            logging.getLogger(name).removeHandler(self.errors)
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _broker(self) -> bool:
        return getattr(self.app.pubsub, "stats", None) is not None  # the Redis broker (in-process has none)

    async def _run(self) -> None:
        clock = time.monotonic
        while True:
            t0 = clock()
            await asyncio.sleep(self.interval)
            lag = max(0.0, clock() - t0 - self.interval)
            try:
                self.share(self.sample(lag))
            except Exception:
                logging.getLogger("rweb.dashboard").exception("the dashboard's sample failed")

    def sample(self, lag: float) -> dict[str, Any]:
        """This process now: sessions, what its metrics counted since the last sample, memory, lag."""
        app = self.app
        now = time.time()
        metering = app.metering
        totals = metering.totals() if metering is not None else {}
        last = self._last or {}
        self._last = totals
        seconds = max(1e-9, now - last["t"]) if "t" in last else self.interval
        actions: dict[str, dict[str, Any]] = {}
        all_buckets = [0] * (len(BUCKETS) + 1)
        for name, (count, buckets) in totals.get("actions", {}).items():
            before = last.get("actions", {}).get(name, (0, [0] * len(buckets)))
            delta = [a - b for a, b in zip(buckets, before[1], strict=True)]
            n = count - before[0]
            if n <= 0:
                continue
            all_buckets = [a + b for a, b in zip(all_buckets, delta, strict=True)]
            actions[name] = {"per_s": n / seconds, "p50": percentile(delta, 0.5), "p99": percentile(delta, 0.99)}
        pages = Counter(getattr(getattr(c, "conn", None), "path", "?") for c in list(app.sessions.values()))
        lag_now = totals.get("publish_lag", [])
        lag_before = last.get("publish_lag", [0] * len(lag_now))
        publish_lag = percentile([a - b for a, b in zip(lag_now, lag_before, strict=True)], 0.99) if lag_now else None
        stats = getattr(app.pubsub, "stats", None)
        return {
            "worker": self.worker,
            "t": now,
            "sessions": len(app.sessions),
            "detached": app.detached_count(),
            "actions_per_s": sum(a["per_s"] for a in actions.values()),
            "p50": percentile(all_buckets, 0.5),
            "p95": percentile(all_buckets, 0.95),
            "p99": percentile(all_buckets, 0.99),
            "actions": actions,
            "out_per_s": (totals.get("messages_out", 0) - last.get("messages_out", 0)) / seconds if last else 0.0,
            "bytes_per_s": (totals.get("bytes_out", 0) - last.get("bytes_out", 0)) / seconds if last else 0.0,
            "rss": _rss_bytes(),
            "lag": lag,
            "pages": dict(pages.most_common(10)),
            "broker": stats() if stats is not None else None,
            "publish_lag_p99": publish_lag,  # since the last sample; None: nothing published
            "errors": list(self.errors.recent)[-10:],
        }

    def share(self, sample: dict[str, Any]) -> None:
        """Hand this process's sample to every dashboard: the broker, the shared directory, or here."""
        if self._broker():
            self.app.publish(TOPIC, sample)  # back to this process too, through _take
            return
        shared = os.environ.get(MULTIPROC_ENV)
        if shared:
            folder = Path(shared)
            mine = folder / f"rweb-dashboard-{os.getpid()}.json"
            tmp = mine.with_suffix(".tmp")
            tmp.write_text(json.dumps(sample))
            tmp.replace(mine)  # atomic: a reader sees the old sample or the new one
            for f in folder.glob("rweb-dashboard-*.json"):
                with contextlib.suppress(OSError, ValueError):
                    self._take(json.loads(f.read_text()), notify=False)
            self._changed()
            return
        self._take(sample)

    def _take(self, sample: Any, notify: bool = True) -> None:
        if not isinstance(sample, dict) or not isinstance(sample.get("worker"), str):
            return
        self.samples[sample["worker"]] = sample
        if notify:
            self._changed()

    def _changed(self) -> None:
        cutoff = time.time() - STALE_AFTER * self.interval
        for worker in [w for w, s in self.samples.items() if float(s.get("t", 0)) < cutoff]:
            del self.samples[worker]
        self.board.version += 1

    # -- the page --------------------------------------------------------------------------------

    def allowed(self, conn: Any) -> bool:
        if self.auth is not None:
            return bool(self.auth(conn))
        return loopback_direct(conn.client, conn.headers)

    def setup(self, writer_id: Any, conn: Any) -> Any:
        if not self.allowed(conn):
            if self.login is not None:
                from ..app.app import Redirect

                raise Redirect(self.login)
            raise HTTPError(403, "the dashboard is not for you")
        board = self.board

        def live() -> Any:
            board.version  # noqa: B018  (read: re-rendered with each sample)
            return self.render_samples(list(self.samples.values()))

        def render() -> Any:
            return main(
                style(raw(_CSS)),  # our own text: see _CSS
                h1(self.title),
                component("rweb-dashboard", live),
                class_="rweb-dashboard",
            )

        return render, {}

    def render_samples(self, samples: list[dict[str, Any]]) -> Any:
        samples.sort(key=lambda s: s["worker"])
        if not samples:
            return div(p(f"Waiting for the first sample (every {self.interval:g} s)…"), id="dashboard")
        total_rate = sum(s["actions_per_s"] for s in samples)
        totals = {
            "worker": "total",
            "sessions": sum(s["sessions"] for s in samples),
            "detached": sum(s["detached"] or 0 for s in samples),
            "actions_per_s": total_rate,
            "p50": _weighted(samples, "p50"), "p95": _weighted(samples, "p95"), "p99": _weighted(samples, "p99"),
            "out_per_s": sum(s["out_per_s"] for s in samples),
            "bytes_per_s": sum(s["bytes_per_s"] for s in samples),
            "rss": sum(s["rss"] or 0 for s in samples),
            "lag": max(s["lag"] for s in samples),
        }
        head = ["worker", "sessions", "detached", "actions/s", "P50", "P95", "P99", "messages out/s",
                "bytes out/s", "memory", "loop lag"]

        def row(s: dict[str, Any], total: bool = False) -> Any:
            cells = [s["worker"], f"{s['sessions']:,}", "-" if s["detached"] is None else f"{s['detached']:,}",
                     f"{s['actions_per_s']:,.1f}", _ms(s["p50"]), _ms(s["p95"]), _ms(s["p99"]),
                     f"{s['out_per_s']:,.1f}", _bytes(s["bytes_per_s"]) + "/s", _bytes(s["rss"]), _ms(s["lag"])]
            return tr(*[(th if total and i == 0 else td)(c) for i, c in enumerate(cells)],
                      class_="total" if total else None)

        pages: Counter[str] = Counter()
        actions: dict[str, float] = {}
        for s in samples:
            pages.update(s["pages"])
            for name, a in s["actions"].items():
                actions[name] = actions.get(name, 0.0) + a["per_s"]
        busiest = sorted(actions.items(), key=lambda kv: -kv[1])[:10]
        errors = sorted((e for s in samples for e in s["errors"]), key=lambda e: -e["t"])[:20]
        brokers = [(s["worker"], _broker_text(s["broker"], s.get("publish_lag_p99")))
                   for s in samples if s.get("broker")]
        return div(
            section(
                h2("Workers"),
                table(thead(tr(*[th(h, scope="col") for h in head])),
                      tbody(*[row(s) for s in samples], row(totals, total=True)), id="workers"),
            ),
            div(
                section(h2("Busiest pages"), _pairs("page", "live sessions", pages.most_common(10), "{:,}"),
                        id="pages"),
                section(h2("Busiest actions"), _pairs("action", "per second",
                        [(OTHER if n == OTHER else n, r) for n, r in busiest], "{:,.1f}"), id="actions"),
                class_="columns",
            ),
            section(
                h2("Broker"),
                _pairs("worker", "state", brokers, "{}")
                if brokers else p("No broker: each process on its own (workers share through files)."),
                id="broker",
            ),
            section(
                h2("Recent errors"),
                table(thead(tr(th("time", scope="col"), th("worker", scope="col"), th("ref", scope="col"),
                               th("message", scope="col"))),
                      tbody(*[tr(td(time.strftime("%H:%M:%S", time.localtime(e["t"]))), td(str(e["pid"])),
                                 td(e["ref"] or "-"), td(e["msg"])) for e in errors]))
                if errors else p("None since the workers started."),
                id="errors",
            ),
            p(small(f"Every {self.interval:g} s; {len(samples)} worker(s)."), class_="note"),
            id="dashboard",
        )


def _weighted(samples: list[dict[str, Any]], key: str) -> float | None:
    """A latency over all workers: each worker's, weighted by its action rate (an estimate)."""
    pairs = [(s[key], s["actions_per_s"]) for s in samples if s[key] is not None and s["actions_per_s"] > 0]
    weight = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / weight if weight else None


def _pairs(left: str, right: str, rows: list[tuple[str, Any]], fmt: str) -> Any:
    if not rows:
        return p("Nothing yet.")
    return table(thead(tr(th(left, scope="col"), th(right, scope="col"))),
                 tbody(*[tr(td(k), td(fmt.format(v))) for k, v in rows]))


def _broker_text(stats: dict[str, Any], publish_lag: float | None = None) -> str:
    state = "connected" if stats.get("connected") else "disconnected"
    extra = [f"{k} {v}" for k, v in stats.items() if k != "connected" and isinstance(v, int | float | str)]
    lag = [] if publish_lag is None else [f"publish lag P99 {_ms(publish_lag)}"]
    return ", ".join([state, *extra[:4], *lag])


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.2f} ms" if seconds < 0.1 else f"{seconds * 1000:,.0f} ms"


def _bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} GiB"


_CSS = """
.rweb-dashboard { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1b1f24; }
.rweb-dashboard table { border-collapse: collapse; margin: .5rem 0 1rem; }
.rweb-dashboard th, .rweb-dashboard td { text-align: left; padding: .3rem .7rem; border-bottom: 1px solid #d0d7de; }
.rweb-dashboard td { font-variant-numeric: tabular-nums; }
.rweb-dashboard tr.total { font-weight: 600; }
.rweb-dashboard .columns { display: flex; gap: 2rem; flex-wrap: wrap; }
.rweb-dashboard .note { color: #57606a; }
@media (prefers-color-scheme: dark) {
  .rweb-dashboard { background: #0d1117; color: #e6edf3; }
  .rweb-dashboard th, .rweb-dashboard td { border-color: #30363d; }
  .rweb-dashboard .note { color: #9da7b3; }
}
"""


def mount_dashboard(
    app: Any,
    path: str = "/_rweb/dashboard",
    *,
    auth: Callable[[Any], bool] | None = None,
    login: str | None = None,
    interval: float = 1.0,
    loggers: Iterable[str] = (),
    title: str = "rweb dashboard",
) -> Dashboard:
    """Add the live dashboard to ``app`` at ``path`` (see the module's docstring).

    ``auth(conn)``: who may see it (default: loopback clients through no
    proxy); ``login``: where refused visitors go (default: a 403);
    ``interval``: seconds between samples; ``loggers``: more loggers whose
    ERROR records are listed (the ``rweb`` ones always are). Turns the app's
    metrics on if they are off (``pip install 'rweb[metrics]'``).
    """
    if app.metering is None:
        app.metrics()
    return Dashboard(app, path, auth, login, interval, loggers, title)

