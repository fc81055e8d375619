"""Structured logs (rweb.logs): JSON lines with the session, page and action of the line's session.

Against the real server (``rweb.testing.serve``) and real sockets: a sync handler's
log call, an async handler's (its own task), rweb's own error line for a handler
that raised, and a line that belongs to no session; then ``start_rweb(log_format=
"json")`` in a subprocess, its own lines parsed as JSON.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from processes import free_port

from rweb import App
from rweb.html import button, div
from rweb.logs import FORMATS, JSONFormatter, SessionContext, configure
from rweb.testing import serve

app_log = logging.getLogger("shop")


def shop_app() -> App:
    app = App("shop")

    @app.page("/cart")
    def cart(writer_id: Any) -> Any:
        def add(params: Any) -> None:
            app_log.warning("added %s", params.get("item"))

        async def pay(params: Any) -> None:
            await asyncio.sleep(0.01)
            app_log.warning("paid")

        def boom(params: Any) -> None:
            raise RuntimeError("no stock")

        render = lambda: div(button("add", data_action="add"), button("pay", data_action="pay"),  # noqa: E731
                             button("boom", data_action="boom"))
        return render, {"add": add, "pay": pay, "boom": boom}

    return app


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the root logger writes through SessionContext and JSONFormatter (one JSON object a line)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(SessionContext())
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_sessions_lines_carry_its_session_page_and_action(wire: Any, captured: io.StringIO) -> None:
    with serve(shop_app()) as srv:

        async def scenario() -> None:
            ws = await wire.connect(f"{srv.ws_url}?url=/cart")
            assert (await wire.recv(ws))["t"] == "init"
            await wire.ask(ws, {"action": "add", "params": {"item": "tea"}})
            await wire.ask(ws, {"action": "pay", "params": {}})
            await wire.ask(ws, {"action": "boom", "params": {}})
            await ws.close()

        wire.run(scenario())
    app_log.warning("no session here")
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    added, paid = by_message["added tea"], by_message["paid"]
    assert added["page"] == "/cart" and added["action"] == "add" and isinstance(added["session"], int)
    assert paid["action"] == "pay" and paid["session"] == added["session"]  # in the async handler's task
    error = next(line for line in lines if line["level"] == "ERROR" and "no stock" in line.get("exception", ""))
    assert error["action"] == "boom" and error["session"] == added["session"] and "RuntimeError" in error["exception"]
    outside = by_message["no session here"]
    assert "session" not in outside and "action" not in outside
    for line in lines:
        assert line["time"].endswith("Z") and line["pid"] > 0 and line["logger"]


def test_configure_refuses_an_unknown_format() -> None:
    assert FORMATS == ("text", "json")
    with pytest.raises(ValueError):
        configure("xml")


APP = r"""
import sys
from rweb import App, start_rweb
from rweb.html import p

app = App("logs")

@app.page("/")
def home(writer_id):
    return (lambda: p("hi")), {}

if __name__ == "__main__":
    start_rweb(int(sys.argv[1]), app, host="127.0.0.1", workers=1, log_format="json")
"""


def test_start_rweb_logs_json_lines(tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        first = ""
        while time.monotonic() < deadline and "serving on" not in first:
            first = proc.stdout.readline() if proc.stdout else ""
            if not first and proc.poll() is not None:
                break
    finally:
        proc.terminate()
        proc.wait(10)
    line = json.loads(first)
    assert line["level"] == "INFO" and line["logger"] == "rweb.server" and "serving on" in line["message"]
