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

``--callgrind`` counts instead of timing (valgrind's cache model, a 32 MiB
last-level cache, 16-way, 64-byte lines; deterministic, so two builds compare
exactly): per size, the process runs twice under ``valgrind --tool=callgrind
--cache-sim=yes``, with ``--clicks`` and ``2 * --clicks`` random clicks after
2,000 of warm-up; the difference of the totals over the extra clicks is one
click's instructions and misses to RAM (start-up and the pages' opening cancel
out; the process ends without freeing its pages, whose misses would not).  Both
modes set the process up as ``start_rweb``'s worker is: the collector
(``settle_gc``: no collection runs while the pages are clicked, as in a server)
and the small objects on huge pages (``huge_page_arenas``, where the rweb run has
it; ``--no-huge-pages``: not; Callgrind's model has no TLB, so it changes nothing
there).  ``--src DIR`` runs another checkout's ``src`` (a built one) the same way;
``--ll-mib N`` models a last level of N MiB instead (2: about an L2's size, what a
click's objects outgrow first).

    python benchmarks/click_cache.py --callgrind --workload todo --sessions 1000 --clicks 2000
    python benchmarks/click_cache.py --callgrind --workload todo --sessions 1000 --clicks 2000 --src ../base/src
    python benchmarks/click_cache.py --callgrind --workload todo-template --sessions 1000 --clicks 2000 --ll-mib 2
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "examples")]

from click_instructions import COLLECTED, NO_ASLR  # noqa: E402  (beside this file)

from rweb import App, ConnectionInfo  # noqa: E402  (after the path: the examples and the todo app)
from rweb.live.connection import Connection  # noqa: E402
from rweb.server import GC_THRESHOLD, settle_gc  # noqa: E402

WARM = 2_000  # clicks before the counted ones (--callgrind): every page's state settled alike
LL_MISSES = re.compile(r"LL misses:\s*([\d,]+)")


def app_of(workload: str) -> tuple[App, list[bytes]]:
    """The app and the messages a click picks from."""
    if workload.startswith("todo"):  # "todo-template": the page written with templates; "-closures": todo_app's
        from todo_app import ROWS, todo_app

        style = "template" if workload.startswith("todo-template") else "elements"
        app = todo_app(style, workload.endswith("-closures"), slow_callback_ms=None)
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


def as_a_worker(huge_pages: bool = True) -> None:
    """This process set up as ``start_rweb``'s worker: its collector, and its arenas on huge pages."""
    settle_gc(GC_THRESHOLD)  # no collection while the pages are clicked
    if not huge_pages:
        return
    try:
        from rweb.server.memory import huge_page_arenas
    except ImportError:  # an rweb from before them (--src)
        return
    huge_page_arenas()


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


def clicked(workload: str, n: int, clicks: int) -> None:
    """What --callgrind runs under valgrind: ``n`` pages, WARM random clicks, then ``clicks`` more."""
    # Session ids and tokens are random: seeded, as in click_instructions.py, so that the heap's
    # layout (and so the misses) is the same from run to run.
    seeded = random.Random(0)
    os.urandom = random._urandom = seeded.randbytes  # type: ignore[attr-defined]
    as_a_worker()
    app, msgs = app_of(workload)
    pages = open_pages(app, n)
    rng = random.Random(1)
    for _ in range(WARM + clicks):
        pages[rng.randrange(n)].receive(msgs[rng.randrange(len(msgs))])


def counted(workload: str, n: int, clicks: int, src: Path, ll_mib: int = 32) -> tuple[int, int]:
    """(instructions, misses of the last level) of one whole run under Callgrind's cache model."""
    env = dict(os.environ, PYTHONPATH=str(src), PYTHONHASHSEED="0")
    proc = subprocess.run(
        [*NO_ASLR, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--cache-sim=yes",
         f"--LL={ll_mib * 1024 * 1024},16,64", sys.executable, __file__, "--child", workload, str(n), str(clicks)],
        env=env, capture_output=True, text=True, timeout=3600, check=False,
    )
    found, misses = COLLECTED.search(proc.stderr), LL_MISSES.search(proc.stderr)
    if proc.returncode != 0 or found is None or misses is None:
        raise SystemExit(f"callgrind run failed:\n{proc.stderr[-2000:]}")
    return int(found.group(1)), int(misses.group(1).replace(",", ""))


def callgrind(workloads: tuple[str, ...], sizes: list[int], clicks: int, src: Path, ll_mib: int = 32) -> None:
    print(f"Callgrind's cache model (LL {ll_mib} MiB), {src}: per click, from runs of {clicks:,} and {2 * clicks:,} clicks")
    print(f"| workload | pages | instructions | misses of the {ll_mib} MiB last level |")
    print("|---|---|---|---|")
    for w in workloads:
        for n in sizes:
            (i1, m1), (i2, m2) = counted(w, n, clicks, src, ll_mib), counted(w, n, 2 * clicks, src, ll_mib)
            print(f"| {w} | {n:,} | {(i2 - i1) / clicks:,.0f} | {(m2 - m1) / clicks:.2f} |", flush=True)


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
    p.add_argument("--workload", default="both",
                   choices=("todo", "todo-template", "todo-closures", "todo-template-closures", "counter", "both"))
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 100, 300, 1000, 3000])
    p.add_argument("--clicks", type=int, default=30_000, help="clicks per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--callgrind", action="store_true", help="count instructions and misses to RAM instead (see above)")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="with --callgrind: the rweb sources to run")
    p.add_argument("--ll-mib", type=int, default=32, help="with --callgrind: the modelled last level, MiB (default 32)")
    p.add_argument("--no-huge-pages", action="store_true", help="leave pymalloc's arenas as they are")
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)  # what --callgrind runs under valgrind
    opts = p.parse_args(argv)
    if opts.child:
        clicked(opts.child[0], int(opts.child[1]), int(opts.child[2]))
        # No teardown: freeing 1,000 pages misses the cache differently from run to run, and the
        # two runs' difference would carry it.
        sys.stdout.flush()
        os._exit(0)
        return 0
    workloads = ("todo", "counter") if opts.workload == "both" else (opts.workload,)
    if opts.callgrind:
        callgrind(workloads, opts.sessions, opts.clicks, opts.src.resolve(), opts.ll_mib)
        return 0
    as_a_worker(huge_pages=not opts.no_huge_pages)
    print(f"last-level cache: {last_level_cache()}; CPU µs per click, best of {opts.rounds} rounds of {opts.clicks:,}"
          f"{'; arenas on 4 KiB pages' if opts.no_huge_pages else ''}")
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
