"""OpenTelemetry spans (app.tracing()): joins, actions and HTTP requests, read back from the SDK's
in-memory exporter, against the real server and a real WebSocket client; and nothing of
OpenTelemetry imported while tracing is off."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from typing import Any

import pytest

from rweb import App, reactive
from rweb.html import button, component, div, span
from rweb.testing import serve

sdk = pytest.importorskip("opentelemetry.sdk.trace")
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402


@reactive
class Counter:
    value: int


def counter_app() -> App:
    app = App("traced")

    @app.page("/")
    def page(writer_id: Any) -> Any:
        counter = Counter(0)

        def inc(params: Any) -> None:
            counter.value += 1

        render = lambda: div(component("n", lambda: span(counter.value)), button("+", data_action="inc"))  # noqa: E731
        return render, {"inc": inc}

    @app.get("/api/items/{item_id:int}")
    def item(request: Any) -> dict[str, Any]:
        return {"id": request.path_params["item_id"]}

    return app


def test_spans_for_a_join_its_actions_and_http(wire: Any) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = counter_app()
    app.tracing(provider)
    with serve(app) as srv:

        async def scenario() -> None:
            ws = await wire.connect(srv.ws_url)
            assert (await wire.recv(ws))["t"] == "init"
            await wire.click(ws)
            await wire.click(ws)
            await wire.ask(ws, {"action": "nope", "params": {}})
            await ws.close()

        wire.run(scenario())
        with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}/api/items/7", timeout=10) as resp:
            assert resp.status == 200
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert names.count("rweb.action inc") == 2, names
    join = next(s for s in spans if s.name == "rweb.join")
    assert join.attributes["rweb.page"] == "/"
    click = next(s for s in spans if s.name == "rweb.action inc")
    assert click.attributes["rweb.action"] == "inc" and click.attributes["rweb.session"] == join.attributes["rweb.session"]
    refused = next(s for s in spans if s.name == "rweb.action nope")
    assert refused.attributes["rweb.error"] == "unknown_action"
    http = next(s for s in spans if s.name.startswith("rweb.http GET"))
    assert http.name == "rweb.http GET /api/items/{item_id:int}"  # the route, not the path: bounded names
    assert http.attributes["http.response.status_code"] == 200


def test_nothing_of_opentelemetry_is_imported_while_tracing_is_off() -> None:
    code = (
        "import sys\n"
        "from rweb import App\n"
        "from rweb.html import button, div\n"
        "from rweb.testing import Page\n"
        "app = App('off')\n"
        "@app.page('/')\n"
        "def home(writer_id):\n"
        "    return (lambda: div(button('+', data_action='inc'))), {'inc': lambda p: None}\n"
        "Page(app, '/').click('button')\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
