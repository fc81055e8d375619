#!/usr/bin/env python3
"""What one live page holds, in-process: the counter and the todo page (100 keyed rows).

Each build runs in a subprocess of its own: ``--sessions`` pages are opened
through ``Connection`` (no sockets), each gets one click (the todo page: each
of its 100 rows toggled once, so every row has rendered twice), and
``tracemalloc`` counts what stays allocated, divided by the pages.  The
transport's own memory (picows, the socket) is not in it: ``compare.py``'s
idle rows measure a whole served session by its RSS.

    python benchmarks/session_memory.py                        # this checkout
    python benchmarks/session_memory.py --baseline ../base     # and a built checkout of another rweb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MEASURE = r"""
import gc, sys, tracemalloc
sys.path.insert(0, sys.argv[1])
import rweb
from rweb import App, ConnectionInfo
try:
    from rweb.live.connection import Connection
except ImportError:  # a checkout from before the floors (a --baseline)
    from rweb.connection import Connection
from rweb_counter import session_setup
from todo_app import todo_app

n = int(sys.argv[2])
apps = {"counter": App("c", session_setup, slow_callback_ms=None), "todo": todo_app(slow_callback_ms=None)}
clicks = {"counter": [b'{"action":"inc","params":{}}'],
          "todo": [('{"action":"toggle","params":{"id":"%d"}}' % i).encode() for i in range(100)]}
for name, app in apps.items():
    def page(i):
        c = Connection(app, i, ConnectionInfo(), lambda b: None, lambda f: None)
        c.open()
        for msg in clicks[name]:
            c.receive(msg)
        return c
    warm = [page(i) for i in range(3)]  # the shared tables (statics, attributes) filled first
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    pages = [page(100 + i) for i in range(n)]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(name, (after - before) / n / 1024)
print("compiled" if rweb.COMPILED else "plain")
"""


def measure(checkout: Path, sessions: int) -> tuple[dict[str, float], str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout / "src"), str(ROOT / "benchmarks")]))
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, str(checkout / "examples"), str(sessions)],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{checkout}: {out.stderr[-2000:]}")
    lines = out.stdout.split("\n")
    got = {name: float(v) for name, v in (line.split() for line in lines if line.count(" ") == 1)}
    return got, lines[-2] if len(lines) > 1 else "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", type=Path, help="a built checkout of another rweb, measured in the same run")
    p.add_argument("--sessions", type=int, default=100)
    opts = p.parse_args(argv)
    rows = [("this checkout", ROOT)]
    if opts.baseline is not None:
        rows.append(("baseline", opts.baseline.resolve()))
    print(f"KiB a live page holds in-process (tracemalloc, {opts.sessions} pages, after their clicks)")
    print("| build | counter | todo (100 rows) |")
    print("|---|---:|---:|")
    for label, path in rows:
        got, build = measure(path, opts.sessions)
        print(f"| {label} ({build}) | {got['counter']:.2f} | {got['todo']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
