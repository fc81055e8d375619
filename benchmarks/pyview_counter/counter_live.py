"""The seed's Phoenix counter (CounterLive) as a PyView LiveView.

Template: counter_live.html next to this file (PyView finds it by module name).
"""

from __future__ import annotations

from typing import Any, TypedDict

from pyview import LiveView, LiveViewSocket


class CounterContext(TypedDict):
    count: int


class CounterLiveView(LiveView[CounterContext]):
    async def mount(self, socket: LiveViewSocket[CounterContext], session: Any) -> None:
        socket.context = {"count": 0}

    async def handle_event(
        self, event: str, payload: Any, socket: LiveViewSocket[CounterContext]
    ) -> None:
        if event == "inc":
            socket.context["count"] += 1
