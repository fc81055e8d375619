#!/usr/bin/env python3
"""CPU per click in-process against the number of live pages: where the pages outgrow the cache.

A click's instructions do not depend on how many sessions a worker holds
(``click_instructions.py`` counts them); its time does, once the pages no longer
fit in the CPU's caches and every object the click touches (the connection,
the session, its record, the component and its last render) is a miss to RAM.
This measures it: ``--sessions`` counts of pages (the seed's counter, or the
todo page of ``todo_app.py``, 100 keyed rows) opened through ``Connection`` (no
sockets), then clicked in a random order over all of them (the todo page: a
random row of a random page), ``--clicks`` clicks a round; each size prints the
best of ``--rounds`` rounds of process CPU time per click, the pages' memory
(``tracemalloc``, measured on a few pages apart) and the machine's last-level
cache, read from sysfs.

    python benchmarks/click_cache.py                       # todo and counter, 1 to 3,000 pages
    python benchmarks/click_cache.py --workload todo --sessions 1 100 1000

Run alone: the other processes of a shared machine share its last-level cache.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples")]

from rweb import App, ConnectionInfo  # noqa: E402  (after the path: the examples and the todo app)
from rweb.live.connection import Connection  # noqa: E402


def app_of(workload: str) -> tuple[App, list[bytes]]:
    """The app and the messages a click picks from."""
    if workload == "todo":
        from todo_app import ROWS, todo_app

        app = todo_app(slow_callback_ms=None)
        msgs = [f'{{"action":"toggle","params":{{"id":"{i}"}}}}'.encode() for i in range(ROWS)]
    else:
        from rweb_counter import session_setup

        app = App("bench", session_setup, slow_callback_ms=None)
        msgs = [b'{"action":"inc","params":{}}']
    return app, msgs


def open_pages(app: App, n: int, start: int = 0) -> list[Connection]:
    pages = []
    for i in range(start, start + n):
        c = Connection(app, i, ConnectionInfo(), lambda b: None, lambda f: None)
        _, ok = c.open()
        assert ok, "the page did not open"
        pages.append(c)
    return pages


def page_kib(workload: str) -> float:
    """Memory one page holds (each of its messages sent once), by tracemalloc over 20 pages."""
    app, msgs = app_of(workload)
    warm = open_pages(app, 3)  # the shared tables (statics, attributes) filled first
    for c in warm:
        for m in msgs:
            c.receive(m)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    pages = open_pages(app, 20, 3)
    for c in pages:
        for m in msgs:
            c.receive(m)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return held / len(pages) / 1024


def per_click(workload: str, n: int, clicks: int, rounds: int) -> float:
    """Best process-CPU µs per click over ``rounds``, clicking ``n`` pages in a random order."""
    app, msgs = app_of(workload)
    pages = open_pages(app, n)
    rng = random.Random(1)
    order = [(pages[rng.randrange(n)], msgs[rng.randrange(len(msgs))]) for _ in range(clicks)]
    for c, m in order[: min(clicks, 5 * n * len(msgs))]:  # every page rendered again once at least
        c.receive(m)
    best = float("inf")
    for _ in range(rounds):
        t = time.process_time()
        for c, m in order:
            c.receive(m)
        best = min(best, (time.process_time() - t) / clicks * 1e6)
    return best


def last_level_cache() -> str:
    """The largest cache sysfs lists for CPU 0 (its size as the kernel writes it), or "?"."""
    found: list[tuple[int, str]] = []
    for d in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"):
        try:
            found.append((int((d / "level").read_text()), (d / "size").read_text().strip()))
        except (OSError, ValueError):
            continue
    return f"L{max(found)[0]} {max(found)[1]}" if found else "?"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=("todo", "counter", "both"), default="both")
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 100, 300, 1000, 3000])
    p.add_argument("--clicks", type=int, default=30_000, help="clicks per round")
    p.add_argument("--rounds", type=int, default=3)
    opts = p.parse_args(argv)
    workloads = ("todo", "counter") if opts.workload == "both" else (opts.workload,)
    print(f"last-level cache: {last_level_cache()}; CPU µs per click, best of {opts.rounds} rounds of {opts.clicks:,}")
    for w in workloads:
        kib = page_kib(w)
        print(f"\n{w}: {kib:.1f} KiB a page")
        print("| pages | their memory | µs per click | x one page |")
        print("|---|---|---|---|")
        first: Any = None
        for n in opts.sessions:
            us = per_click(w, n, opts.clicks, opts.rounds)
            first = first or us
            print(f"| {n:,} | {n * kib / 1024:.1f} MiB | {us:.2f} | {us / first:.2f} |", flush=True)
            gc.collect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
