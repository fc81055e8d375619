"""Limits of the built-in server that are not tied to one socket: the log limit and the idle probe.

- :class:`SessionLogLimit`: a client that keeps sending bad frames (or keeps
  triggering a failing handler) must not fill the disk.  Log lines about one
  session (those whose message starts with ``"session %s"``) pass while the
  session logged at most ``burst`` of them in ``period`` seconds; after that
  they are counted, and one summary line per ``period`` says how many were
  left out and what the last one was.
- :func:`recv_age`: how long a socket has received nothing, read from the
  kernel (``TCP_INFO``), which lets one server-wide timer find idle sockets
  without any per-connection state or hot-path bookkeeping.
"""

from __future__ import annotations

import logging
import socket
import struct
import sys
import time
from typing import Any

__all__ = ["LOG_LIMIT", "TCP_INFO_AVAILABLE", "SessionLogLimit", "recv_age"]

# Loggers whose "session %s: ..." lines are rate-limited per session.
LIMITED_LOGGERS = ("rweb.app", "rweb.connection", "rweb.session", "rweb.server")


class SessionLogLimit(logging.Filter):
    """Per session: ``burst`` log lines per ``period`` seconds, then one summary line per period.

    Installed on :data:`LIMITED_LOGGERS` while a server runs (``install`` /
    ``uninstall`` are counted, so several servers in one process share it).
    Memory: one small entry per session that logged in the current period;
    :meth:`flush` (called by the server's timer) writes the summaries due and
    forgets the sessions that went quiet.
    """

    def __init__(self, burst: int = 5, period: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.period = period
        # session id -> [window end, lines in window, suppressed, logger name, last suppressed (msg, args)]
        self.table: dict[Any, list[Any]] = {}
        self.installs = 0

    # -- installation -----------------------------------------------------------------

    def install(self) -> None:
        self.installs += 1
        if self.installs == 1:
            for name in LIMITED_LOGGERS:
                logging.getLogger(name).addFilter(self)

    def uninstall(self) -> None:
        self.installs -= 1
        if self.installs <= 0:
            self.installs = 0
            for name in LIMITED_LOGGERS:
                logging.getLogger(name).removeFilter(self)
            self.flush(force=True)

    # -- the filter ----------------------------------------------------------------------

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        args = record.args
        if (
            type(msg) is not str
            or not msg.startswith("session %s")
            or not isinstance(args, tuple)
            or not args
            or getattr(record, "rweb_log_summary", False)
        ):
            return True
        key = args[0]
        try:
            hash(key)
        except TypeError:
            return True
        now = time.monotonic()
        table = self.table
        entry = table.get(key)
        if entry is not None and now >= entry[0]:
            # The period is over: say what was left out.  A session still over
            # its limit stays limited (only summaries) until a quiet period.
            limited = entry[2] > 0
            self._summarise(key, entry)
            if limited:
                entry[0], entry[1], entry[2], entry[4] = now + self.period, self.burst, 1, (msg, args)
                entry[3] = record.name
                return False
            entry = None
        if entry is None:
            if len(table) >= 10_000:
                self.flush(now)
            table[key] = [now + self.period, 1, 0, record.name, None]
            return True
        entry[1] += 1
        if entry[1] < self.burst:
            return True
        if entry[1] == self.burst:
            record.msg = msg + " [log limit: further lines of this session are counted, summarised every %gs]"
            record.args = (*args, self.period)
            return True
        entry[2] += 1
        entry[3] = record.name
        entry[4] = (msg, args)
        return False

    def _summarise(self, key: Any, entry: list[Any]) -> None:
        suppressed = entry[2]
        if not suppressed:
            return
        last = ""
        if entry[4] is not None:
            msg, args = entry[4]
            try:
                last = msg % args
            except Exception:  # pragma: no cover - a bad format in someone's log call
                last = str(msg)
            if len(last) > 200:
                last = last[:200] + "..."
        entry[2], entry[4] = 0, None
        logging.getLogger(entry[3]).warning(
            "session %s: %d more log lines left out (log limit: %d per %gs); the last: %s",
            key,
            suppressed,
            self.burst,
            self.period,
            last,
            extra={"rweb_log_summary": True},
        )

    def flush(self, now: float | None = None, *, force: bool = False) -> None:
        """Write the summaries whose period is over; forget sessions that went quiet."""
        if now is None:
            now = time.monotonic()
        table = self.table
        done = [k for k, e in table.items() if force or now >= e[0]]
        for key in done:
            entry = table.get(key)
            if entry is None:
                continue
            if entry[2]:
                self._summarise(key, entry)
                if not force:
                    # Still limited for one more period: a flood that goes on gets summaries only.
                    entry[0], entry[1] = now + self.period, self.burst
                    continue
            del table[key]


LOG_LIMIT = SessionLogLimit()


# -- the idle probe ---------------------------------------------------------------------

TCP_INFO_AVAILABLE = sys.platform == "linux" and hasattr(socket, "TCP_INFO")
_TCP_INFO: int = getattr(socket, "TCP_INFO", 11)
# struct tcp_info: tcpi_last_data_recv (ms since data last arrived) is the u32 at byte 52.
_LAST_DATA_RECV = struct.Struct("=I")
_LAST_DATA_RECV_OFFSET = 52
_TCP_INFO_LEN = 56


def recv_age(sock: Any) -> float | None:
    """Seconds since the kernel last received data on TCP socket ``sock`` (None: unknown).

    Any data counts (a message, a pong): the WebSocket layer's own idea of
    "idle" without tracking it per connection.
    """
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _TCP_INFO_LEN)
    except (OSError, AttributeError, TypeError, ValueError):
        return None
    if len(info) < _TCP_INFO_LEN:
        return None
    last_ms: int = _LAST_DATA_RECV.unpack_from(info, _LAST_DATA_RECV_OFFSET)[0]
    return last_ms / 1000.0
