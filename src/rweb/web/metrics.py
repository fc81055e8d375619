"""Prometheus metrics: counted by the app's :class:`rweb.meter.Meter`, published to ``prometheus_client`` every interval.

``app.metrics()`` turns them on (off by default; ``pip install 'rweb[metrics]'``).
Nothing is measured while they are off: a live connection reads
``app.meter`` once per socket (``None``), and a message's only extra work is
that test.  While they are on, each worker counts in the meter's C integers
(compiled, see rweb.meter: every message counted, one in
:data:`rweb.meter.SAMPLE_EVERY` timed), and a timer adds what was counted to
``prometheus_client``'s metrics every ``interval`` seconds (and before a
scrape answered by this process): no memory-mapped write per message.

With several workers (``start_rweb(workers=N)``) the metrics use
``prometheus_client``'s multi-process mode: every worker publishes to its
own files under ``PROMETHEUS_MULTIPROC_DIR`` (a temporary directory made by
the supervisor when that variable is not set), and whichever worker answers
a scrape reads them all.  The supervisor removes a dead worker's gauges
(``mark_process_dead``); counters keep what it counted.

The endpoint (``/_rweb/metrics``) answers only loopback clients that came
through no proxy, unless given a bearer ``token``.  See docs/operations.md
for the metrics, their labels and their cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import importlib.util
import ipaddress
import os
import shutil
import tempfile
import time
from typing import Any

from ..core.meter import BUCKETS, OTHER, Meter
from .http import Request, Response

__all__ = [
    "BUCKETS",
    "METRICS_PATH",
    "OTHER",
    "SIZE_BUCKETS",
    "Metrics",
    "loopback_direct",
    "multiprocess_dir",
    "process_dead",
    "route_label",
]

METRICS_PATH = "/_rweb/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SIZE_BUCKETS = (1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0)
"""Bytes: the upper bounds of the snapshot size histogram (``+Inf`` follows)."""
UNMATCHED = "unmatched"  # the route label of a request no route, static directory or rweb endpoint answered
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def loopback_direct(client: str | None, headers: Any) -> bool:
    """A loopback client that came through no proxy (a proxy's loopback address says nothing of its client):
    who may read the metrics and the dashboard when no token or ``auth`` says otherwise."""
    if any(h in headers for h in _PROXY_HEADERS):
        return False
    try:
        return client is not None and ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


def _add(child: Any, seconds: float, buckets: list[int]) -> None:
    """Bulk-add per-bucket counts to a histogram's child (prometheus_client has no public call for it:
    observe() is one value at a time; these are the fields observe() adds to)."""
    child._sum.inc(seconds)  # noqa: SLF001 (prometheus_client's, not ours: see above)
    for i, n in enumerate(buckets):
        if n:
            child._buckets[i].inc(n)  # noqa: SLF001


def route_label(request: Request) -> str:
    """A request's route, as metrics and traces name it: the matched route's pattern; rweb's own
    endpoints and static directories by their path or prefix; anything else one label, so that
    a client cannot grow the set."""
    route = request.route
    if route is not None:
        return str(route.path)
    path = request.path
    app = request.app
    if app is not None:
        metering = app.metering
        if path in (metering.path if metering is not None else None, app.live_path, app.ready_path):
            return path
        for prefix in app.static:
            if path == prefix or path.startswith(prefix + "/"):
                return f"{prefix}/*"
    if path.startswith("/_rweb/"):
        return "/_rweb/*"  # the client script, assets, the cookie endpoint
    return UNMATCHED


class Metrics:
    """The metrics of one app in one process: its :class:`~rweb.meter.Meter` (what sessions and
    transports count), what it counted since this process started, and the exporters."""

    def __init__(
        self, path: str, token: str | None, interval: float, max_action_labels: int
    ) -> None:
        # Not imported here: with several workers it must first see PROMETHEUS_MULTIPROC_DIR.
        if importlib.util.find_spec("prometheus_client") is None:
            raise RuntimeError("app.metrics() needs prometheus_client: pip install 'rweb[metrics]'")
        if interval <= 0 or max_action_labels < 0:
            raise ValueError("interval must be positive and max_action_labels at least 0")
        self.path = path
        self.token = token
        self.interval = interval
        self.max_action_labels = max_action_labels
        self.meter = Meter(max_action_labels)
        # Since this process started (added at each publish): what the dashboard samples.
        self.cumulative: dict[str, Any] = {
            "messages_out": 0, "bytes_out": 0, "actions": {}, "publish_lag": [0] * (len(BUCKETS) + 1)
        }
        self._exported: Any = None  # the prometheus_client metrics (made in the serving process)
        self._pid = 0
        self._timer: asyncio.TimerHandle | None = None
        self._app: Any = None

    # -- counting ---------------------------------------------------------------------------

    def answered(self, request: Request, status: int) -> None:
        """An HTTP response the app made (``App._outgoing``), by route pattern (bounded) and status."""
        self.meter.answered(route_label(request), status)

    # -- publishing ----------------------------------------------------------------------------

    def start(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        """The serving process starts: make the exported metrics here (after any fork) and publish on a timer."""
        self._app = app
        self._exported = None
        self._pid = os.getpid()
        self._timer = loop.call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._app is not None:
            self.publish()
            self._app = None

    def _tick(self) -> None:
        self._timer = None
        if self._app is None:
            return
        self.publish()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def _metrics(self) -> Any:
        if self._exported is None:
            self._exported = _Exported()
        return self._exported

    def publish(self) -> None:
        """Add what the meter counted since the last publish to prometheus_client's metrics; set the gauges."""
        e = self._metrics()
        m = self.meter
        app = self._app
        if app is not None:
            detached = app.detached_count()
            e.sessions.labels("live").set(len(app.sessions) - detached)
            e.sessions.labels("detached").set(detached)
            stats = getattr(app.pubsub, "stats", None)
            if stats is not None:
                s = stats()
                e.broker_connected.set(1 if s.get("connected") else 0)
                e.broker_dropped.set(s.get("dropped", 0))
                e.broker_pending.set(s.get("pending", 0))
            publish_lag = getattr(app.pubsub, "publish_lag", None)
            if publish_lag is not None:
                _, timed, seconds, buckets = publish_lag().take()
                if timed:
                    _add(e.publish_lag, seconds, buckets)
                    before = self.cumulative["publish_lag"]
                    self.cumulative["publish_lag"] = [a + b for a, b in zip(before, buckets, strict=True)]
        for counter, value in (
            (e.joins, m.joins),
            (e.bytes_out, m.bytes_out),
            (e.messages_out, m.messages_out),
            (e.pushes, m.pushes),
            (e.pauses, m.pauses),
            (e.upload_bytes, m.upload_bytes),
        ):
            if value:
                counter.inc(value)
        cum = self.cumulative
        cum["messages_out"] += m.messages_out
        cum["bytes_out"] += m.bytes_out
        m.joins = m.bytes_out = m.messages_out = m.pushes = m.pauses = m.upload_bytes = 0
        for counts, metric in ((m.closes, e.closes), (m.errors, e.errors), (m.resumes, e.resumes)):
            for key, n in counts.items():
                metric.labels(str(key)).inc(n)
            counts.clear()
        for (route, status), n in m.http.items():
            e.http.labels(route, str(status)).inc(n)
        m.http.clear()
        sizes, m.snapshots = m.snapshots, []
        for size in sizes:
            e.snapshot_bytes.observe(size)
        for stat in (*m.actions.values(), m.other):
            count, timed, seconds, buckets = stat.take()
            if not count:
                continue
            label = stat.label
            n, before = cum["actions"].get(label, (0, [0] * (len(BUCKETS) + 1)))
            cum["actions"][label] = (n + count, [a + b for a, b in zip(before, buckets, strict=True)])
            e.actions.labels(label).inc(count)
            if timed:
                _add(e.latency.labels(label), seconds, buckets)
        _, timed, seconds, buckets = m.renders.take()
        if timed:
            _add(e.render, seconds, buckets)

    def totals(self) -> dict[str, Any]:
        """What this process counted since it started (published first): ``messages_out``, ``bytes_out``,
        ``actions`` (label -> (count, per-bucket counts of the timed sample)), ``publish_lag`` (per-bucket
        counts of the broker's publish lag) and ``t``, the time."""
        self.publish()
        cum = self.cumulative
        return {"t": time.time(), "messages_out": cum["messages_out"], "bytes_out": cum["bytes_out"],
                "actions": {k: (n, list(b)) for k, (n, b) in cum["actions"].items()},
                "publish_lag": list(cum["publish_lag"])}

    # -- the endpoint ----------------------------------------------------------------------

    def allowed(self, request: Request) -> bool:
        if self.token is not None:
            given = request.headers.get("authorization", "")
            return hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode())
        return loopback_direct(request.client, request.headers)

    def respond(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if request.method not in ("GET", "HEAD"):
            return Response(b"", 405, {"Allow": "GET, HEAD"})
        if not self.allowed(request):
            return Response(b"forbidden\n", 403, {"Content-Type": "text/plain; charset=utf-8"})
        self.publish()
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # prometheus_client.multiprocess has no annotations
        else:
            registry = self._metrics().registry
        return Response(
            generate_latest(registry),
            200,
            {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
        )


class _Exported:
    """The prometheus_client metrics of this process (in its own registry)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values

        if os.environ.get(MULTIPROC_ENV) and values.ValueClass is values.MutexValue:
            # prometheus_client was imported before the directory was set: its metrics made from
            # now on (these) are written there after all.
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

        self.registry = r = CollectorRegistry()
        self.sessions = Gauge(
            "rweb_sessions",
            "Sessions in this server: live (a socket open) or detached (waiting for a resume)",
            ["state"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.joins = Counter("rweb_joins", "WebSockets that opened a session", registry=r)
        self.actions = Counter(
            "rweb_actions", "WebSocket messages answered, by action (other: past the label bound)", ["action"],
            registry=r,
        )
        self.latency = Histogram(
            "rweb_action_seconds",
            "Server time per WebSocket message, by action: a sample (rweb.meter.SAMPLE_EVERY)",
            ["action"],
            buckets=BUCKETS,
            registry=r,
        )
        self.render = Histogram(
            "rweb_render_seconds",
            "Time to re-render and diff a page's changed components (a reply's or a push's): a sample",
            buckets=BUCKETS,
            registry=r,
        )
        self.errors = Counter("rweb_errors", "Errors sent to clients, by code (rweb.protocol.ErrorCode)",
                              ["code"], registry=r)
        self.resumes = Counter(
            "rweb_resumes", "Joins with a resume token, by result: process, snapshot, failed", ["result"],
            registry=r,
        )
        self.upload_bytes = Counter("rweb_upload_bytes", "Upload bytes received", registry=r)
        self.snapshot_bytes = Histogram(
            "rweb_snapshot_bytes", "Sizes of the session snapshots saved", buckets=SIZE_BUCKETS, registry=r
        )
        self.messages_out = Counter(
            "rweb_messages_out", "WebSocket messages sent (replies and pushes)", registry=r
        )
        self.bytes_out = Counter(
            "rweb_bytes_out", "WebSocket message bytes sent (replies and pushes)", registry=r
        )
        self.pushes = Counter(
            "rweb_pushes", "Messages sent without a client message to answer", registry=r
        )
        self.pauses = Counter(
            "rweb_backpressure_pauses",
            "Sockets paused: their unsent data passed write_high_water",
            registry=r,
        )
        self.closes = Counter(
            "rweb_socket_closes",
            "Sockets closed by the server's limits, by reason",
            ["reason"],
            registry=r,
        )
        self.http = Counter(
            "rweb_http_responses", "HTTP responses by route pattern and status", ["route", "status"], registry=r
        )
        self.broker_connected = Gauge(
            "rweb_broker_connected",
            "1 while the broker (Redis) is connected",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.broker_dropped = Gauge(
            "rweb_broker_dropped",
            "Publishes the broker dropped (held past max_pending)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.broker_pending = Gauge(
            "rweb_broker_pending",
            "Publishes held, not yet written to the broker (its lag, in messages)",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.publish_lag = Histogram(
            "rweb_broker_publish_lag_seconds",
            "Seconds from a publish to the broker's acknowledgement: queued (held while it is down), "
            "written, answered",
            buckets=BUCKETS,
            registry=r,
        )
        self.created = time.time()


@contextlib.contextmanager
def multiprocess_dir() -> Any:
    """Around a supervisor's life: ``PROMETHEUS_MULTIPROC_DIR`` set (a temporary directory, removed after, unless given)."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        yield given
        return
    path = tempfile.mkdtemp(prefix="rweb-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def process_dead(pid: int) -> None:
    """A worker exited: its gauges no longer count (its counters do)."""
    from prometheus_client import multiprocess

    with contextlib.suppress(OSError):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
