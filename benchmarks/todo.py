#!/usr/bin/env python3
"""The todo workload: 100 keyed rows, each click toggles one, against the bare server in the same run.

Servers (each on a free 127.0.0.1 port, one worker, started once and kept up):

* ``rweb-todo``: ``benchmarks/todo_app.py`` (every row a component; a click toggles row
  0, 1, ... 99 in turn: ``rweb bench --action toggle --cycle id=100``);
* ``rweb-todo-template``: the same page written with templates (``rweb.html.Template``:
  ``todo_app.py --style template``), whose renders fill compiled statics' holes instead of
  building and walking elements;
* ``bare-picows``: the ceiling, a bare picows server answering every message with a
  fixed ~60-byte reply (``bare_picows.py``, as in ``compare.py``);
* ``baseline-todo`` and ``baseline-todo-template`` (with ``--baseline DIR``): the same
  todo app, both ways, on an earlier rweb (a built checkout), so a change is measured
  against it in the same run (the template style only on a baseline that has templates);
* ``rweb-todo-template-4k-pages`` (with ``--small-pages``): the template page served with
  ``start_rweb(huge_pages=False)``, the same build: what huge pages alone give
  (docs/operations.md, "Huge pages");
* ``rweb-todo-template-closures`` (with ``--closures``): the template page with each row a
  closure made per row (``todo_app.py --closures``), the same build: what giving rows their
  arguments (``component(name, fn, *args)``) gives.

The client (``rweb bench``) runs against each in turn, ``--rounds`` times alternated
(rweb, bare, baseline, rweb, bare, ...), and the table gives the medians: throughput
as a share of the bare server's, server CPU per click as a multiple of the bare
server's, reply bytes per click, the first WebSocket message, and the first HTTP page
(with and without ``Accept-Encoding: gzip``). Ratios within one run are what carry
over between days on a shared machine; absolute figures are printed for reference.
The "per round" columns take each round's ratio to the bare server's run of the same
round (next to it in time, so under the same background load) and give their median.

    python benchmarks/todo.py                       # 1000 clients x 100 clicks, 5 rounds
    python benchmarks/todo.py --quick               # 100 x 20, 2 rounds: a smoke run
    python benchmarks/todo.py --baseline ../base    # also an earlier build, same run
    python benchmarks/todo.py --small-pages         # also the template page on 4 KiB pages
    python benchmarks/todo.py --closures            # also the template page with closures for rows
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare import (  # the benchmarks directory is not a package: imported by path
    BENCH,
    HOST,
    RESULTS,
    GroupProcess,
    free_port,
    log,
    python_with,
)

BENCH_ARGS = ["--action", "toggle", "--cycle", "id=100"]


def start(name: str, argv: list[str], port: int, env: dict[str, str] | None = None) -> GroupProcess:
    proc = GroupProcess(argv, f"todo-{name}", port, env)
    err = proc.wait_ready()
    if err:
        proc.stop()
        raise SystemExit(f"{name}: {err}")
    return proc


def page_bytes(port: int, gzip: bool) -> int:
    req = urllib.request.Request(f"http://{HOST}:{port}/", headers={"Accept-Encoding": "gzip"} if gzip else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return len(resp.read())


def bench(proc: GroupProcess, clients: int, clicks: int, max_time: float) -> dict[str, Any]:
    import subprocess

    from compare import bench_env

    cmd = [sys.executable, "-m", "rweb.bench", "--json", "--quiet", "--url", f"ws://{HOST}:{proc.port}/ws",
           "--clients", str(clients), "--clicks", str(clicks), "--server-pid", str(proc.proc.pid),
           "--max-time", str(max_time), *BENCH_ARGS]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=bench_env(), timeout=max_time + 120)
    try:
        return dict(json.loads(out.stdout))
    except json.JSONDecodeError:
        return {"error": f"client failed (exit code {out.returncode})"}


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--clients", type=int, default=None, help="sessions (default 1000; --quick 100)")
    p.add_argument("--clicks", type=int, default=None, help="clicks per session (default 100; --quick 20)")
    p.add_argument("--rounds", type=int, default=None, help="alternated rounds (default 5; --quick 2)")
    p.add_argument("--baseline", metavar="DIR", help="an earlier rweb checkout (built) to run the same app on")
    p.add_argument("--max-time", type=float, default=300.0, help="bound on one client run, s")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--small-pages", action="store_true",
                   help="also the template page with start_rweb(huge_pages=False): the huge pages' own gain")
    p.add_argument("--closures", action="store_true",
                   help="also the template page with a closure per row: what component arguments give")
    p.add_argument("--as-written", action="store_true",
                   help="also the element page with RWEB_COMPILE_ELEMENTS=0: what compiling it to a template gives")
    a = p.parse_args(argv)
    clients = a.clients or (100 if a.quick else 1000)
    clicks = a.clicks or (20 if a.quick else 100)
    rounds = a.rounds or (2 if a.quick else 5)
    if clients < 1 or clicks < 1 or rounds < 1:
        p.error("--clients, --clicks and --rounds must be >= 1")

    app = str(BENCH / "todo_app.py")
    servers: dict[str, GroupProcess] = {}
    try:
        port = free_port()
        servers["rweb-todo"] = start("rweb", [sys.executable, app, "--host", HOST, "--port", str(port)], port)
        port = free_port()
        servers["rweb-todo-template"] = start(
            "rweb-template", [sys.executable, app, "--host", HOST, "--port", str(port), "--style", "template"], port
        )
        if a.as_written:
            port = free_port()
            servers["rweb-todo-as-written"] = start(
                "rweb-as-written", [sys.executable, app, "--host", HOST, "--port", str(port)], port,
                {"RWEB_COMPILE_ELEMENTS": "0"},
            )
        if a.small_pages:
            port = free_port()
            servers["rweb-todo-template-4k-pages"] = start(
                "rweb-template-4k", [sys.executable, app, "--host", HOST, "--port", str(port), "--style", "template",
                                     "--no-huge-pages"], port
            )
        if a.closures:
            port = free_port()
            servers["rweb-todo-template-closures"] = start(
                "rweb-template-closures", [sys.executable, app, "--host", HOST, "--port", str(port), "--style",
                                           "template", "--closures"], port
            )
        picows = python_with("picows")
        if picows is None:
            raise SystemExit("no interpreter here can import picows (the bare server)")
        port = free_port()
        servers["bare-picows"] = start(
            "bare", [picows, str(BENCH / "bare_picows.py"), "--host", HOST, "--port", str(port)], port
        )
        if a.baseline:
            base = Path(a.baseline).resolve()
            port = free_port()
            servers["baseline-todo"] = start(
                "baseline", [sys.executable, app, "--host", HOST, "--port", str(port)], port,
                {"PYTHONPATH": str(base / "src")},
            )
            html = base / "src" / "rweb" / "core" / "html.py"
            if html.is_file() and "class Template" in html.read_text():
                port = free_port()
                servers["baseline-todo-template"] = start(
                    "baseline-template",
                    [sys.executable, app, "--host", HOST, "--port", str(port), "--style", "template"], port,
                    {"PYTHONPATH": str(base / "src")},
                )
        results: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
        for proc in servers.values():  # a warm-up each, not counted
            bench(proc, min(clients, 100), 10, a.max_time)
        for rnd in range(rounds):
            for key, proc in servers.items():
                r = bench(proc, clients, clicks, a.max_time)
                results[key].append(r)
                tp = r.get("throughput")
                log(f"round {rnd + 1}/{rounds} {key}: " + (f"{tp:,.0f} clicks/s" if tp else r.get("error", "?")))
        pages = {k: (page_bytes(s.port, False), page_bytes(s.port, True)) for k, s in servers.items()
                 if k != "bare-picows"}
    finally:
        GroupProcess.stop_all()

    def med(key: str, get: Any) -> float | None:
        vals = []
        for r in results[key]:
            try:
                v = get(r)
            except (KeyError, TypeError):
                continue
            if v is not None:
                vals.append(float(v))
        return median(vals)

    def tp(r: dict[str, Any]) -> Any:
        return r["throughput"]

    def cpu(r: dict[str, Any]) -> Any:
        return r["server"]["cpu_us_per_click"]

    def per_round(key: str, get: Any) -> str:
        """The median over rounds of ``key``'s figure over the bare server's of the same round."""
        ratios = []
        for r, b in zip(results[key], results["bare-picows"], strict=False):
            try:
                x, y = get(r), get(b)
            except (KeyError, TypeError):
                continue
            if x and y:
                ratios.append(x / y)
        m = median(ratios)
        return "-" if m is None else f"{m:.2f}"

    bare_tp, bare_cpu = med("bare-picows", tp), med("bare-picows", cpu)
    lines = [
        f"{clients:,} clients x {clicks:,} clicks, toggling 100 keyed rows; medians of {rounds} alternated rounds",
        "(share and CPU x bare: of the medians; per round: the median of each round's ratio to the bare "
        "server's run in the same round)",
        "",
        "| server | clicks/s | share of bare | server µs/click | CPU x bare | share, per round | CPU x bare, per round | "
        "reply bytes/click | first WS message | first page (gzip) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in servers:
        t, c = med(key, tp), med(key, cpu)
        reply = med(key, lambda r: r["bytes_per_click"])
        first = med(key, lambda r: r["initial_bytes_per_session"])
        share = f"{t / bare_tp:.2f}" if t and bare_tp else "-"
        times = f"{c / bare_cpu:.2f}" if c and bare_cpu else "-"  # two places: the target is 1.5
        page = pages.get(key)
        lines.append(
            f"| {key} | {t:,.0f} | {share} | {c:,.1f} | {times} | {per_round(key, tp)} | {per_round(key, cpu)} | "
            f"{reply:,.0f} | "
            f"{(first or 0) / 1000:,.1f} KB | "
            + (f"{page[0] / 1000:,.1f} KB ({page[1] / 1000:,.1f} KB)" if page else "-")
            + " |"
            if t is not None and c is not None and reply is not None
            else f"| {key} | failed: {results[key][-1].get('error', '?') if results[key] else '?'} | | | | | | | | |"
        )
    print("\n".join(lines))
    if a.json:
        RESULTS.mkdir(exist_ok=True)
        Path(a.json).write_text(json.dumps({"results": results, "pages": pages}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
