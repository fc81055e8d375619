#!/usr/bin/env python3
"""A cold first load of the counter page in Chromium: the client joined into one script, or split.

The client's source is split by concern (``src/rweb/client/NN-name.js``, fragments of one
closure). This measures how it should reach the browser, each variant served by the same
real server (``rweb run``, one worker, loopback), gzip/brotli-compressed once as rweb
serves its script (``Cache-Control: immutable``):

* ``joined``: what rweb serves: the parts joined into one classic ``defer`` script (``/``);
* ``scripts``: one classic ``defer`` script per part, the closure's opening and closing
  lines removed so that the parts share the page's global scope (a working page: it is
  what the split costs on the network without any rewrite; global names are not
  acceptable for real, so this is a bound for the next variant);
* ``modules``: native ES modules, an entry module importing one module per part (each
  part's code as the body of a function it exports, so the bytes fetched, parsed and
  compiled are the real ones). Modules do not share a scope: the closure's shared state
  would first have to become an object every part imports, a rewrite, so this variant
  does not go live: its ``ready`` (the scripts evaluated, DOMContentLoaded) is its cost.

Each load is a new browser context (an empty cache) in one Chromium, the variants
alternating, ``--repeats`` loads each, optionally under an emulated round trip
(``--rtt``, Chromium's network emulation, per request). Printed per variant and RTT,
the median (and max) of:

* ``ready``: navigation start -> DOMContentLoaded (every ``defer`` script and module ran);
* ``live``: navigation start -> ``rweb:connected`` (the page's init morphed in: clickable);
* ``bytes``: bytes on the wire (Resource Timing's ``transferSize``: headers and bodies), and
  the scripts' bodies (``encodedBodySize``), the document included in neither;
* ``requests``: HTTP requests (the document and scripts; the WebSocket not counted).

    python benchmarks/client_load.py                       # loopback, and an emulated 50 ms RTT
    python benchmarks/client_load.py --rtt 0,100 --repeats 20
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
CLIENT = ROOT / "src" / "rweb" / "client"
VARIANTS = ("joined", "scripts", "modules")


# -- the app (imported by `rweb run benchmarks/client_load.py:app`) -----------------------------

def _parts() -> list[tuple[str, str]]:
    from rweb.web.client_script import client_parts

    return [(name, (CLIENT / name).read_text()) for name in client_parts()]


def _as_script(text: str) -> str:
    """A part as a classic script of its own: the closure's opening and closing lines removed."""
    text = re.sub(r"^\(\(\) => \{\n", "", text, count=1, flags=re.M)
    text = text.replace("  if (window.rweb && window.rweb.version) return; // loaded twice\n", "", 1)
    text = re.sub(r"\}\)\(\);\n\Z", "", text)
    return '"use strict";\n' + text


def _as_module(text: str) -> str:
    """A part as a module: its code the body of an exported function (fetched, parsed, not run)."""
    return "export default function part() {\n" + text + "}\n"


def _files() -> dict[str, bytes]:
    parts = _parts()
    files: dict[str, bytes] = {}
    for name, text in parts:
        files[f"scripts/{name}"] = _as_script(text).encode()
        files[f"modules/{name[:-3]}.mjs"] = _as_module(text).encode()
    entry = "".join(f'import "./{name[:-3]}.mjs";\n' for name, _ in parts)
    files["modules/entry.mjs"] = entry.encode()
    return files


def _make_app() -> Any:
    from rweb_counter import session_setup

    from rweb import App
    from rweb.http import Request, Response
    from rweb.web.client_script import IMMUTABLE
    from rweb.web.compression import Encoded
    from rweb.web.static import encoded_response

    app = App("bench")
    app.page("/", title="RWeb Counter")(session_setup)
    encoded = {path: Encoded(data, hashlib.sha256(data).hexdigest()[:16]) for path, data in _files().items()}
    parts = [name for name, _ in _parts()]
    first_paint: dict[str, str] = {}

    def page(variant: str) -> str:
        if not first_paint:
            first_paint["html"] = app.respond(Request("GET", "/", headers=[("host", "bench")])).body.decode()
        html = first_paint["html"].replace('<meta name="rweb-root" content="">', f'<meta name="rweb-root" content="/v/{variant}">')
        if variant == "scripts":
            tags = "".join(f'<script src="/v/files/scripts/{name}" defer></script>' for name in parts)
        else:
            tags = '<script type="module" src="/v/files/modules/entry.mjs"></script>'
        return re.sub(r'<script src="[^"]+" defer></script>', tags, html, count=1)

    @app.get("/v/{variant}")
    def variant_page(request: Request) -> Response:
        return Response(page(request.path_params["variant"]).encode(), 200, [("Content-Type", "text/html; charset=utf-8")])

    @app.get("/v/files/{kind}/{name}")
    def variant_file(request: Request) -> Response:
        path = f"{request.path_params['kind']}/{request.path_params['name']}"
        if path not in encoded:
            return Response(b"", 404)
        return encoded_response(request, encoded[path], cache_control=IMMUTABLE,
                                media_type="text/javascript; charset=utf-8")

    return app


if os.environ.get("RWEB_CLIENT_LOAD_APP"):
    app = _make_app()


# -- the measurement -------------------------------------------------------------------------------

# Runs before the page's scripts: the time the page went live.
LIVE = "window.addEventListener('rweb:connected', () => { window.__live = window.__live || performance.now(); });"

MEASURE = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource").filter((r) => r.initiatorType !== "websocket");
  const scripts = res.filter((r) => /\\.(m?js)$/.test(new URL(r.name).pathname));
  return {
    ready: nav.domContentLoadedEventStart,
    live: window.__live || null,
    bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
    script_bytes: scripts.reduce((n, r) => n + r.encodedBodySize, 0),
    requests: 1 + res.length,
  };
}"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the server exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server did not start")


def _url(base: str, variant: str) -> str:
    return base + "/" if variant == "joined" else f"{base}/v/{variant}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=15, help="cold loads per variant and RTT (at most 200)")
    p.add_argument("--rtt", default="0,50", help="emulated round trips in ms, comma-separated (0: loopback as is)")
    opts = p.parse_args(argv)
    repeats = max(1, min(opts.repeats, 200))
    rtts = [int(x) for x in opts.rtt.split(",") if x.strip()]

    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = dict(os.environ, RWEB_CLIENT_LOAD_APP="1")
    server = subprocess.Popen(
        [sys.executable, "-m", "rweb", "run", f"{__file__}:app", "--port", str(port), "--workers", "1"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    got: dict[tuple[str, int], list[dict[str, Any]]] = {(v, r): [] for v in VARIANTS for r in rtts}
    try:
        _wait_up(port, server)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=os.environ.get("RWEB_CHROMIUM", "/usr/bin/chromium"))
            try:
                for _ in range(repeats):
                    for rtt in rtts:
                        for variant in VARIANTS:  # alternating: drift on a shared machine hits all alike
                            got[(variant, rtt)].append(_load(browser, _url(base, variant), rtt, variant != "modules"))
            finally:
                browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"cold first load of the counter page, Chromium, loopback; median (max) of {repeats} loads")
    print(f"{'variant':<9} {'rtt ms':>6} {'ready ms':>16} {'live ms':>16} {'bytes':>7} {'script bytes':>12} {'requests':>8}")
    for rtt in rtts:
        for variant in VARIANTS:
            rows = got[(variant, rtt)]
            print(f"{variant:<9} {rtt:>6} {_stat(rows, 'ready'):>16} {_stat(rows, 'live'):>16} "
                  f"{statistics.median(r['bytes'] for r in rows):>7.0f} "
                  f"{statistics.median(r['script_bytes'] for r in rows):>12.0f} "
                  f"{statistics.median(r['requests'] for r in rows):>8.0f}")
    return 0


def _stat(rows: list[dict[str, Any]], key: str) -> str:
    xs = [r[key] for r in rows if r[key] is not None]
    return f"{statistics.median(xs):7.1f} ({max(xs):6.1f})" if xs else f"{'-':>16}"


def _load(browser: Any, url: str, rtt: int, live: bool) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        if rtt:
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.emulateNetworkConditions", {
                "offline": False, "latency": rtt, "downloadThroughput": -1, "uploadThroughput": -1,
            })
        page.add_init_script(LIVE)
        page.goto(url, wait_until="load")
        if live:
            page.wait_for_function("() => window.__live", timeout=20_000)
        result: dict[str, Any] = page.evaluate(MEASURE)
        return result
    finally:
        context.close()


if __name__ == "__main__":
    sys.exit(main())
