#!/usr/bin/env python3
"""Instructions per counter click in-process, counted by Callgrind: this build against another.

Seconds swing on a shared 2-core machine; instruction counts do not (the same
binary, inputs and environment give the same total whatever else runs; the
random tokens a session makes are seeded here, so the inputs repeat too).  Each
build runs the seed's counter (``examples/rweb_counter.py``) in-process, no
sockets: every click goes through ``Connection.receive`` (decode, dispatch,
reactive write, re-render, diff, encode), round-robin over ``--sessions``
sessions.  The process runs twice under ``valgrind --tool=callgrind``, with
``--clicks`` and with ``2 * --clicks`` clicks per session; the difference of
the two totals divided by the extra clicks is the cost of one click, start-up
and imports cancelled out.

    python benchmarks/click_instructions.py                       # this checkout only
    python benchmarks/click_instructions.py --baseline ../base    # a built checkout of another rweb
    python benchmarks/click_instructions.py --metrics             # this checkout, metrics off and on
    python benchmarks/click_instructions.py --workload todo       # the todo page: toggle one of 100 rows

``--metrics`` measures this checkout twice more: with ``app.metrics()`` on
(``Connection.receive`` then counts each message and times one in
``rweb.meter.SAMPLE_EVERY`` itself, as under every transport), and with
``app.metrics()`` called but its meter detached (``app.meter = None``: no
connection counts).  The cost of metrics is the difference of those two: the
same modules imported, the same objects made at start-up.  Against the plain
run instead, the difference also holds what a different heap does to glibc's
malloc: orjson's buffers (over 1 KiB, past malloc's per-thread cache) cost
100 to 300 instructions each depending on the free chunks the start-up left,
a few hundred instructions per click either way that have nothing to do with
metrics.

The baseline is a checkout whose compiled modules are built in place
(``git worktree add DIR REV && (cd DIR && python setup.py -q build_ext --inplace)``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs under valgrind: opens the sessions, warms them up, then clicks.
MEASURE = r"""
import sys
import os, random
# Session ids, nonces and keys are random: with them would change each run which strings share
# a hash slot, and the heap's layout (a few hundred instructions per click either way).
_seeded = random.Random(0)
os.urandom = random._urandom = _seeded.randbytes
sys.path.insert(0, sys.argv[1])
import rweb
from rweb import App, ConnectionInfo  # the public names: the same before and after the floors
try:
    from rweb.live.connection import Connection
except ImportError:  # a checkout from before the floors (a --baseline)
    from rweb.connection import Connection
sessions, clicks, mode, workload = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
metered = mode == "on"
# slow_callback_ms=None: the slow-handler log reads the wall clock, and under Callgrind (50 times
# slower, more on a busy machine) it would log at random, each line thousands of instructions.
if workload.startswith("todo"):  # benchmarks/todo_app.py: 100 keyed rows, a click toggles one
    from todo_app import todo_app
    # "todo-template": the page written with templates.  slow_callback_ms: an option (set later,
    # older builds ignored it).
    app = todo_app("template" if workload == "todo-template" else "elements", slow_callback_ms=None)
    action = "toggle"
    msgs = [('{"action":"toggle","params":{"id":"%d"}}' % (i % 100)).encode() for i in range(clicks + 1)]
else:  # the seed's counter
    from rweb_counter import session_setup
    app = App("bench", session_setup, slow_callback_ms=None)  # the order both builds take
    action = "inc"
    msgs = [b'{"action":"inc","params":{}}'] * (clicks + 1)
if mode != "off":  # the connections count (and sample) each message themselves
    app.metrics()
if mode == "detached":  # the same start-up, no counting: what "on" is compared with
    app.meter = None
conns = [Connection(app, i, ConnectionInfo(), lambda b: None, lambda f: None) for i in range(sessions)]
for c in conns:
    _, ok = c.open()
    assert ok
for msg in msgs:
    for c in conns:
        c.receive(msg)
if metered:  # counted, every one
    assert app.meter.actions[action].count == (clicks + 1) * sessions, app.meter.actions[action].count
print("compiled" if rweb.COMPILED else "plain")
"""

# Addresses feed object hashes and allocation patterns: the same layout each run (setarch -R).
NO_ASLR = ["setarch", os.uname().machine, "-R"] if shutil.which("setarch") else []
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


def total(src: Path, examples: Path, sessions: int, clicks: int, mode: str, workload: str) -> tuple[int, str]:
    """Instructions of one whole run, and which build ran."""
    # The todo app is this checkout's (benchmarks/todo_app.py), run on either build's rweb.
    path = os.pathsep.join([str(src), str(ROOT / "benchmarks")])
    env = dict(os.environ, PYTHONPATH=path, PYTHONHASHSEED="0")
    proc = subprocess.run(
        [*NO_ASLR, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", MEASURE, str(examples), str(sessions), str(clicks), mode, workload],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    found = COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed ({src}):\n{proc.stderr[-2000:]}")
    return int(found.group(1)), proc.stdout.strip().splitlines()[-1]


def per_click(checkout: Path, sessions: int, clicks: int, mode: str = "off", workload: str = "counter") -> tuple[float, str]:
    src, examples = checkout / "src", checkout / "examples"
    low, build = total(src, examples, sessions, clicks, mode, workload)
    high, _ = total(src, examples, sessions, 2 * clicks, mode, workload)
    return (high - low) / (sessions * clicks), build


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", type=Path, help="a built checkout of another rweb, measured in the same run")
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--clicks", type=int, default=40, help="clicks per session in the shorter run")
    p.add_argument("--metrics", action="store_true", help="this checkout with metrics on, then detached (see above)")
    p.add_argument("--workload", choices=("counter", "todo", "todo-template"), default="counter",
                   help="the seed's counter, or the todo page (benchmarks/todo_app.py: a click toggles one of 100 rows; todo-template: that page written with templates)")
    opts = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    rows = [("this checkout", ROOT)]
    if opts.baseline is not None:
        rows.append(("baseline", opts.baseline.resolve()))
    got = {}
    for label, path in rows:
        got[label] = per_click(path, opts.sessions, opts.clicks, "off", opts.workload)
    if opts.metrics:
        got["metrics on"] = per_click(ROOT, opts.sessions, opts.clicks, "on", opts.workload)
        got["detached"] = per_click(ROOT, opts.sessions, opts.clicks, "detached", opts.workload)
    print(f"instructions per {opts.workload} click in-process (Callgrind, {opts.sessions} sessions)")
    for label, (n, build) in got.items():
        print(f"{label:<16}{n:>12,.0f}  ({build})")
    if opts.metrics:
        extra = got["metrics on"][0] - got["detached"][0]
        print(f"{'metrics cost':<16}{extra:>12,.0f}  instructions per click ({extra / got['detached'][0]:.2%}: on - detached)")
    if opts.baseline is not None:
        ratio = got["this checkout"][0] / got["baseline"][0]
        print(f"{'ratio':<16}{ratio:>12.4f}  (this checkout / baseline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
