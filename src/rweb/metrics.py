"""Prometheus metrics, counted in-process and published to ``prometheus_client`` once a second.

``app.metrics()`` turns them on (off by default; ``pip install 'rweb[metrics]'``).
Nothing is measured while they are off: the built-in server checks
``app.metering`` once when it starts and once per socket or HTTP request,
never per WebSocket message.  While they are on, each worker counts in
plain ints and lists (:class:`Metrics`), and a timer adds what was counted
to ``prometheus_client``'s metrics every ``interval`` seconds (and before
a scrape answered by this process): no memory-mapped write per message.

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
import bisect
import contextlib
import hmac
import importlib.util
import ipaddress
import os
import shutil
import tempfile
import time
from typing import Any

from .http import Request, Response

__all__ = ["BUCKETS", "METRICS_PATH", "Metrics", "loopback_direct", "multiprocess_dir", "process_dead"]

METRICS_PATH = "/_rweb/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Server time per WebSocket message, in seconds (the histogram's upper bounds; +Inf follows).
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
OTHER = "other"  # the label of actions past the label bound, and of messages that are not actions
_ACTION_KEY = b'"action"'
_BLANKS = b" \t\r\n:"
_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def _action_name(payload: bytes) -> bytes:
    """The ``action`` of a message as its bytes on the wire, found without decoding it (b"": none found)."""
    i = payload.find(_ACTION_KEY)
    if i < 0:
        return b""
    j = i + len(_ACTION_KEY)
    n = len(payload)
    while j < n and payload[j] in _BLANKS:
        j += 1
    if j >= n or payload[j] != 0x22:  # '"'
        return b""
    end = payload.find(b'"', j + 1)
    return payload[j + 1 : end] if end > 0 else b""


def loopback_direct(client: str | None, headers: Any) -> bool:
    """A loopback client that came through no proxy (a proxy's loopback address says nothing of its client):
    who may read the metrics and the dashboard when no token or ``auth`` says otherwise."""
    if any(h in headers for h in _PROXY_HEADERS):
        return False
    try:
        return client is not None and ipaddress.ip_address(client).is_loopback
    except ValueError:
        return False


class _Timing:
    """One label's messages: count, seconds, and per-bucket counts (not cumulative)."""

    __slots__ = ("buckets", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)


class Metrics:
    """The metrics of one app in one process: what was counted since the last publish, and the exporters."""

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
        self.timings: dict[
            bytes, _Timing
        ] = {}  # action name (bytes, as on the wire) -> its messages
        self.labels: dict[bytes, str] = {}  # the names given a label of their own
        # Since this process started (added at each publish): what the dashboard samples.
        self.cumulative: dict[str, Any] = {"messages_out": 0, "bytes_out": 0, "actions": {}}
        self.reset()
        self._exported: Any = None  # the prometheus_client metrics (made in the serving process)
        self._pid = 0
        self._timer: asyncio.TimerHandle | None = None
        self._server: Any = None

    def reset(self) -> None:
        """Zero what was counted since the last publish (plain ints: the hot path adds to them)."""
        self.joins = 0
        self.bytes_out = 0
        self.messages_out = 0
        self.pushes = 0
        self.pauses = 0
        self.closes: dict[str, int] = {}  # back-pressure and heartbeat closes, by reason
        self.http: dict[int, int] = {}  # HTTP responses by status
        self.timings = {}

    # -- counting (called by the server) ----------------------------------------------------

    def observe(self, payload: bytes, reply: bytes | None, seconds: float) -> None:
        """One WebSocket message answered in ``seconds`` (its reply, if any, sent now)."""
        name = _action_name(payload)
        t = self.timings.get(name)
        if t is None:
            t = self.timings[name] = _Timing()
            if name and name not in self.labels and len(self.labels) < self.max_action_labels:
                # A name gets a label once it was answered without an error: names a client
                # makes up (unknown actions) never use up the bound.
                if reply is not None and b'"e":' not in reply:
                    self.labels[name] = name.decode("utf-8", "replace")
        t.seconds += seconds
        t.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        if reply is not None:
            self.messages_out += 1
            self.bytes_out += len(reply)

    def sent(self, data: bytes) -> None:
        """A push (or a late reply) went out."""
        self.pushes += 1
        self.messages_out += 1
        self.bytes_out += len(data)

    def closed(self, reason: str) -> None:
        self.closes[reason] = self.closes.get(reason, 0) + 1

    def answered(self, status: int) -> None:
        self.http[status] = self.http.get(status, 0) + 1

    # -- publishing ----------------------------------------------------------------------------

    def start(self, server: Any, loop: asyncio.AbstractEventLoop) -> None:
        """The serving process starts: make the exported metrics here (after any fork) and publish on a timer."""
        self._server = server
        self._exported = None
        self._pid = os.getpid()
        self.reset()
        self._timer = loop.call_later(self.interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._server is not None:
            self.publish()
            self._server = None

    def _tick(self) -> None:
        self._timer = None
        if self._server is None:
            return
        self.publish()
        self._timer = asyncio.get_running_loop().call_later(self.interval, self._tick)

    def _metrics(self) -> Any:
        if self._exported is None:
            self._exported = _Exported()
        return self._exported

    def publish(self) -> None:
        """Add what was counted since the last publish to prometheus_client's metrics; set the gauges."""
        e = self._metrics()
        server = self._server
        if server is not None:
            app = server.app
            e.sessions.labels("live").set(len(server.live))
            e.sessions.labels("detached").set(app.detached_count())
            stats = getattr(app.pubsub, "stats", None)
            if stats is not None:
                s = stats()
                e.broker_connected.set(1 if s.get("connected") else 0)
                e.broker_dropped.set(s.get("dropped", 0))
        for name, value in (
            (e.joins, self.joins),
            (e.bytes_out, self.bytes_out),
            (e.messages_out, self.messages_out),
            (e.pushes, self.pushes),
            (e.pauses, self.pauses),
        ):
            if value:
                name.inc(value)
        for reason, n in self.closes.items():
            e.closes.labels(reason).inc(n)
        for status, n in self.http.items():
            e.http.labels(str(status)).inc(n)
        cum = self.cumulative
        cum["messages_out"] += self.messages_out
        cum["bytes_out"] += self.bytes_out
        for name, t in self.timings.items():
            label = self.labels.get(name, OTHER)
            count, buckets = cum["actions"].setdefault(label, (0, [0] * (len(BUCKETS) + 1)))
            cum["actions"][label] = (count + sum(t.buckets), [a + b for a, b in zip(buckets, t.buckets, strict=True)])
            child = e.latency.labels(label)
            # Bulk-add the buckets (prometheus_client's Histogram has no public call for it:
            # observe() is one value at a time; these are the fields observe() adds to).
            child._sum.inc(t.seconds)  # noqa: SLF001 (prometheus_client's, not ours: see above)
            for i, n in enumerate(t.buckets):
                if n:
                    child._buckets[i].inc(n)  # noqa: SLF001
        self.reset()

    def totals(self) -> dict[str, Any]:
        """What this process counted since it started (published first): ``messages_out``, ``bytes_out``,
        ``actions`` (label -> (count, per-bucket counts)) and ``t``, the time."""
        self.publish()
        cum = self.cumulative
        return {"t": time.time(), "messages_out": cum["messages_out"], "bytes_out": cum["bytes_out"],
                "actions": {k: (n, list(b)) for k, (n, b) in cum["actions"].items()}}

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
        self.latency = Histogram(
            "rweb_action_seconds",
            "Server time per WebSocket message, by action (other: past the label bound)",
            ["action"],
            buckets=BUCKETS,
            registry=r,
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
            "rweb_http_responses", "HTTP responses by status", ["status"], registry=r
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
