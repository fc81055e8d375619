"""A rate limit for log lines: floods of one kind of event stay out of the log."""

from __future__ import annotations

import time

__all__ = ["LogLimit"]


class LogLimit:
    """At most ``per_second`` log lines a second for one kind of event (floods stay out of the log)."""

    __slots__ = ("count", "per_second", "second")

    def __init__(self, per_second: int = 5) -> None:
        self.per_second = per_second
        self.second = 0
        self.count = 0

    def allow(self) -> bool:
        now = int(time.monotonic())
        if now != self.second:
            self.second, self.count = now, 0
        self.count += 1
        return self.count <= self.per_second
