#!/usr/bin/env python3
"""In-process cost of one click, compiled build against plain Python, same run.

No sockets: each click goes through ``Connection.receive`` (decode, dispatch,
reactive writes, re-render, diff, encode), round-robin over many sessions, so
this is the framework's own per-click work.  Two pages:

* ``counter``: the seed's counter (``examples/rweb_counter.py``), one ``inc``;
* ``table``: a 100-row table component whose every row changes on each click.

The plain-Python side runs the same modules from a copy of the package without
its compiled extensions (``bench-results/plain-python``).  The two builds run in
alternating subprocesses; the medians and their ratio are printed.

    python benchmarks/render_cost.py [--rounds 5] [--sessions 200] [--clicks 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Runs inside each subprocess: prints {"counter": us_per_click, "table": us_per_click, "compiled": bool}.
MEASURE = r'''
import json, sys, time
sys.path.insert(0, sys.argv[1])
import rweb
from rweb import App, ConnectionInfo, reactive  # the public names: the same before and after the floors
try:
    from rweb.live.connection import Connection
except ImportError:  # a checkout from before the floors (a --baseline)
    from rweb.connection import Connection
from rweb.html import button, component, div, table, td, tr
from rweb_counter import session_setup as counter_setup

sessions, clicks = int(sys.argv[2]), int(sys.argv[3])

@reactive
class Row:
    name: str
    qty: int

def table_setup(writer_id):
    rows = [Row(f"item {i}", i) for i in range(100)]
    def page():
        return div(component("t", lambda: table([
            tr(td(r.name), td(r.qty), td(button("+", data_action="bump", data_param_i=str(i))))
            for i, r in enumerate(rows)])))
    def on_action(action, params):
        for r in rows:
            r.qty += 1
    return page, on_action

def cost(setup, msg, n_sessions, n_clicks):
    app = App("bench", setup)
    conns = [Connection(app, i, ConnectionInfo(), lambda b: None, lambda f: None) for i in range(n_sessions)]
    for c in conns:
        _, ok = c.open()
        assert ok
    for c in conns:  # warm-up
        c.receive(msg)
    t = time.perf_counter()
    for _ in range(n_clicks):
        for c in conns:
            c.receive(msg)
    return (time.perf_counter() - t) / (n_clicks * n_sessions) * 1e6

out = {
    "compiled": rweb.COMPILED,
    "counter": cost(counter_setup, b'{"action":"inc","params":{}}', sessions, clicks),
    "table": cost(table_setup, b'{"action":"bump","params":{}}', max(1, sessions // 20), clicks),
}
print(json.dumps(out))
'''


def run_once(pythonpath: str | None, sessions: int, clicks: int) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROOT / "examples"), str(sessions), str(clicks)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed:\n{proc.stderr[-2000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def measure(rounds: int = 5, sessions: int = 200, clicks: int = 20) -> dict[str, dict[str, float]] | str:
    """``{page: {"compiled": µs, "plain": µs, "ratio": compiled / plain}}``, or why not."""
    from compare import plain_python_tree

    import rweb

    if not rweb.COMPILED:
        return "rweb is not compiled here (see setup.py): nothing to compare against plain Python"
    plain = str(plain_python_tree())
    builds: dict[str, list[dict[str, float]]] = {"compiled": [], "plain": []}
    for r in range(rounds):
        order = [("compiled", None), ("plain", plain)]
        for label, path in order if r % 2 == 0 else order[::-1]:
            got = run_once(path, sessions, clicks)
            if bool(got["compiled"]) != (label == "compiled"):
                return f"the {label} run did not run the {label} build"
            builds[label].append(got)
    out: dict[str, dict[str, float]] = {}
    for page in ("counter", "table"):
        c = statistics.median(x[page] for x in builds["compiled"])
        py = statistics.median(x[page] for x in builds["plain"])
        out[page] = {"compiled": c, "plain": py, "ratio": c / py}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds per build (median)")
    p.add_argument("--sessions", type=int, default=200, help="counter sessions (table: a twentieth)")
    p.add_argument("--clicks", type=int, default=20, help="clicks per session per round")
    opts = p.parse_args(argv)
    got = measure(opts.rounds, opts.sessions, opts.clicks)
    if isinstance(got, str):
        print(got)
        return 1
    print(f"per-click cost in-process, median of {opts.rounds} alternating rounds (µs; lower is better)")
    print(f"{'page':<10}{'compiled':>12}{'plain Python':>16}{'ratio':>9}")
    for page, v in got.items():
        print(f"{page:<10}{v['compiled']:>12.2f}{v['plain']:>16.2f}{v['ratio']:>9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
