"""What a process counts per WebSocket message while metrics are on (compiled: see meter.pxd).

:class:`Meter` is the hot half of ``app.metrics()`` (``rweb.metrics`` is the
other: labels, publishing to ``prometheus_client``, the endpoint).  A live
:class:`~rweb.connection.Connection` holds the app's meter (``None`` while
metrics are off: one test per message) and tells it, around each message,
:meth:`Meter.begin` and :meth:`Meter.end` with the action's name as
``Connection.receive`` decoded it.  Every message is counted in C integers
of its label's :class:`Stat`; one in every :data:`SAMPLE_EVERY` is timed on
the monotonic clock (``clock_gettime``, compiled) and its time goes to the
histogram: no allocation on a message that is not timed.  Renders (a
reply's or a push's re-render and diff) are sampled the same way.

What happens once per socket or per request (joins, resumes, errors by
code, HTTP responses, upload bytes, snapshots) is counted here too, in
plain dicts: those are not per click.
"""

from __future__ import annotations

import time

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    from types import SimpleNamespace

    cython = SimpleNamespace(compiled=False)
    _COMPILED = False

__all__ = ["BUCKETS", "OTHER", "SAMPLE_EVERY", "Meter", "Stat", "now"]

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Seconds: the upper bounds of the time histograms (``+Inf`` follows)."""
SAMPLE_EVERY = 8
"""One message in this many (and one render in this many) is timed; every one is counted.

Timing each message costs two clock reads and a bucket search; one in 8
keeps a click's instructions with metrics on within noise of metrics off
(docs/operations.md) while a server answering 100 actions a second still
times 12 of them a second: the histogram's quantiles are those of a uniform
sample, its ``_count`` is the number timed, and ``rweb_actions_total``
counts every one."""
_SLOTS = 14  # len(BUCKETS) + 1: the length of Stat's C array of counts (meter.pxd)
if len(BUCKETS) + 1 != _SLOTS:
    raise ImportError("rweb.meter: BUCKETS and the C array of meter.pxd disagree")
OTHER = "other"
"""The label of actions past the label bound, unknown actions, and messages that are not actions."""

_perf = time.perf_counter


def now() -> float:
    """Seconds on the monotonic clock (compiled: one ``clock_gettime``, no object made)."""
    # cython.compiled is a constant to Cython: compiled, this is one C call.
    return _fine_ticks() if cython.compiled else _perf()  # type: ignore[name-defined]  # noqa: F821 (_fine_ticks: a C function of meter.pxd)


class Stat:
    """One label's messages (or renders): how many, and the times of those sampled.

    The sampled times are counted per bucket of :data:`BUCKETS` (not
    cumulative, the last one ``+Inf``): in a C array when compiled (no int
    object made per sample), a list otherwise; :meth:`take` hands them out.
    """

    # counts: compiled, a C array declared in meter.pxd (no Python attribute); a list otherwise
    __slots__ = ("count", "label", "seconds", "timed") if cython.compiled else ("count", "counts", "label", "seconds", "timed")

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0
        self.timed = 0
        self.seconds = 0.0
        if not cython.compiled:  # compiled: a C array in the object, zeroed with it (meter.pxd)
            self.counts = [0] * (len(BUCKETS) + 1)

    def time(self, seconds: float) -> None:
        """One sampled time."""
        self.timed += 1
        self.seconds += seconds
        bounds = BUCKETS
        n = len(bounds)
        i = 0
        while i < n:  # the first bound at or above it (bisect_left), compared as C doubles
            bound = bounds[i]
            if seconds <= bound:
                break
            i += 1
        self.counts[i] += 1

    def take(self) -> tuple[int, int, float, list[int]]:
        """``(count, timed, seconds, buckets)`` since the last take (``buckets``: a new list); zeroed."""
        n = len(BUCKETS) + 1
        buckets = [self.counts[i] for i in range(n)]
        out = (self.count, self.timed, self.seconds, buckets)
        self.count = 0
        self.timed = 0
        self.seconds = 0.0
        for i in range(n):
            self.counts[i] = 0
        return out


class Meter:
    """The counts of one app in one process since the last publish (``rweb.metrics`` takes them)."""

    __slots__ = (
        "actions",
        "bytes_out",
        "closes",
        "errors",
        "every",
        "failures",
        "http",
        "joins",
        "last",
        "mark",
        "max_labels",
        "messages_out",
        "other",
        "pauses",
        "pushes",
        "renders",
        "resumes",
        "rtick",
        "snapshots",
        "t0",
        "tick",
        "upload_bytes",
    )

    def __init__(self, max_labels: int, every: int = SAMPLE_EVERY) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self.max_labels = max_labels
        self.every = every
        self.tick = 1  # the first message is timed
        self.rtick = 1
        self.t0 = 0.0  # the time the current message began, when it is sampled (else 0)
        self.mark = 0  # failures before the current message
        self.failures = 0  # errors counted since the process started (a message that failed moves it)
        self.actions: dict[str, Stat] = {}  # the names given a label of their own, and their counts
        self.other = Stat(OTHER)
        self.last = self.other  # the Stat of the last action counted: usually the next one's too
        self.renders = Stat("render")
        self.joins = 0
        self.messages_out = 0
        self.bytes_out = 0
        self.pushes = 0
        self.pauses = 0
        self.upload_bytes = 0
        self.errors: dict[str, int] = {}  # sent to a client, by ErrorCode
        self.resumes: dict[str, int] = {}  # "process", "snapshot", "failed"
        self.closes: dict[str, int] = {}  # sockets closed by the limits, by reason
        self.http: dict[tuple[str, int], int] = {}  # (route, status) -> responses
        self.snapshots: list[int] = []  # sizes of the snapshots saved, in bytes

    # -- per message (Connection.receive) ----------------------------------------------

    def begin(self) -> None:
        """A client message arrives: sampled or not, it is counted by :meth:`end`."""
        tick = self.tick - 1
        if tick <= 0:
            self.tick = self.every
            self.t0 = now()
        else:
            self.tick = tick
            self.t0 = 0.0
        self.mark = self.failures

    def end(self, action: str | None, reply: bytes | None) -> None:
        """The message (an action named ``action``; None: a control message or none) was answered:
        ``reply`` was returned (None: it comes later, counted as a push)."""
        if action is None:
            stat = self.other
        else:
            stat = self.last
            # While the action repeats, a string compare (compiled: memcmp) instead of a dict lookup.
            if not (_same(action, stat.label) if cython.compiled else action == stat.label):  # type: ignore[name-defined]  # noqa: F821 (_same: a C function of meter.pxd)
                found = self.actions.get(action)
                stat = self.last = found if found is not None else self._label(action)
        stat.count += 1
        if reply is not None:
            self.messages_out += 1
            self.bytes_out += len(reply)
        t0 = self.t0
        if t0 != 0.0:
            stat.time(now() - t0)

    def _label(self, action: str) -> Stat:
        """A name not labelled yet: labelled once it was answered without an error (names a client
        makes up never use the bound), while the bound allows; else ``other``."""
        if self.failures == self.mark and len(self.actions) < self.max_labels:
            stat = self.actions[action] = Stat(action)
            return stat
        return self.other

    def render_start(self) -> float:
        """A re-render and its diff begin (``View.flush``): the time to give :meth:`render_done`
        for one in :data:`SAMPLE_EVERY`, else 0 (not timed)."""
        self.renders.count += 1
        tick = self.rtick - 1
        if tick > 0:
            self.rtick = tick
            return 0.0
        self.rtick = self.every
        return now()

    def render_done(self, t0: float) -> None:
        self.renders.time(now() - t0)

    def sent(self, data: bytes) -> None:
        """A message the server sent on its own (a push, an async handler's late reply)."""
        self.pushes += 1
        self.messages_out += 1
        self.bytes_out += len(data)

    # -- per socket, per request (cold) -------------------------------------------------

    def error(self, code: str) -> None:
        """An error sent to a client, by its ``ErrorCode``."""
        self.failures += 1
        self.errors[code] = self.errors.get(code, 0) + 1

    def resumed(self, how: str) -> None:
        """A join with a resume token: ``process`` (taken over here), ``snapshot`` (restored from
        another process's snapshot) or ``failed`` (nobody holds it: a fresh session)."""
        self.resumes[how] = self.resumes.get(how, 0) + 1

    def closed(self, reason: str) -> None:
        self.closes[reason] = self.closes.get(reason, 0) + 1

    def answered(self, route: str, status: int) -> None:
        """An HTTP response (not a WebSocket upgrade) to a request for ``route`` (its pattern)."""
        key = (route, status)
        self.http[key] = self.http.get(key, 0) + 1

    def uploaded(self, n: int) -> None:
        self.upload_bytes += n

    def saved(self, size: int) -> None:
        """A session's snapshot of ``size`` bytes was saved."""
        self.snapshots.append(size)
