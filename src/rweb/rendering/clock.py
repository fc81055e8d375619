"""The time an app reads: ``app.clock``, which the test clients of :mod:`rweb.testing` drive.

Read the time through the app's clock rather than ``time.time()`` or
``datetime.now()``, so that a test moves it::

    app.clock.time()        # wall-clock seconds since the epoch (time.time())
    app.clock.monotonic()   # seconds for measuring intervals (time.monotonic())
    app.clock.now()         # a timezone-aware datetime, in the local zone
    app.clock.now(UTC)      # ... or in the zone given

In production ``app.clock`` is :data:`SYSTEM_CLOCK`, whose ``time`` and
``monotonic`` *are* ``time.time`` and ``time.monotonic``: reading it costs an
attribute lookup and the plain call.  An in-process test client
(``rweb.testing.Client``, ``Page``, ``TestClient``) replaces it with the
virtual clock of the app's test loop: ``client.advance(60)`` fires the timers
that fall due (``conn.every``) *and* moves what the app reads by 60 s.  An app
may set ``app.clock`` to a clock of its own (any object with these three
methods); the test clients then leave it alone.
"""

from __future__ import annotations

import time as _time
from datetime import UTC, datetime, tzinfo

__all__ = ["SYSTEM_CLOCK", "UTC", "Clock"]


class Clock:
    """Wall-clock and monotonic time: the system's (subclasses override :meth:`time` and :meth:`monotonic`)."""

    __slots__ = ()

    time = staticmethod(_time.time)
    monotonic = staticmethod(_time.monotonic)

    def now(self, tz: tzinfo | None = None) -> datetime:
        """The wall-clock time as an aware datetime: in ``tz``, or in the local time zone when None."""
        moment = datetime.fromtimestamp(self.time(), tz or UTC)
        return moment if tz is not None else moment.astimezone()

    def __repr__(self) -> str:  # the same text in every process (signatures in docs/api.md show it)
        return "SYSTEM_CLOCK" if type(self) is Clock else f"{type(self).__name__}()"


SYSTEM_CLOCK = Clock()
