#!/usr/bin/env python3
"""Instructions per fan-out delivery in-process, counted by Callgrind: this build against another.

``benchmarks/fanout.py`` measures fan-out over real sockets, where seconds
swing on a shared 2-core machine; this counts what the server's Python and
compiled code do per delivery, sockets left out.  ``benchmarks/fanout_app.py``'s
page (a component showing one record that every session reads) is opened by
``--readers`` sessions plus a writer, in-process (``Connection`` objects whose
``send`` only counts, on an asyncio loop); the writer's action ``set`` writes
the record and the loop runs until every push is out.  Two runs under
``valgrind --tool=callgrind``, ``--writes`` and ``2 * --writes`` writes: the
difference over the extra deliveries is the cost of one delivery (start-up,
imports and the sessions' opening cancelled out).  As in
``click_instructions.py``.

    python benchmarks/fanout_instructions.py                        # this checkout
    python benchmarks/fanout_instructions.py --baseline /work/wt/base
    python benchmarks/fanout_instructions.py --profile /tmp/fan.out  # one run, kept for callgrind_annotate
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from click_instructions import COLLECTED, NO_ASLR  # noqa: E402  (beside this file)

MEASURE = r"""
import asyncio, sys
import uvloop
sys.path.insert(0, sys.argv[1])
import rweb
try:
    from rweb.live.connection import Connection
except ImportError:  # a checkout from before the floors (a --baseline)
    from rweb.connection import Connection
try:
    from rweb.sessions.session import ConnectionInfo
except ImportError:  # a checkout from before the floors (a --baseline)
    from rweb.session import ConnectionInfo
from fanout_app import fanout_app

readers, writes = int(sys.argv[2]), int(sys.argv[3])
app = fanout_app(None)
loop = uvloop.new_event_loop()  # the server's loop
app.bind(loop)
sent = [0]
def send(data):
    sent[0] += 1
conns = [Connection(app, i, ConnectionInfo(), send, loop.call_soon) for i in range(readers + 1)]
for c in conns:
    _, ok = c.open()
    assert ok
writer = conns[0]

def drain(target):
    for _ in range(100000):  # bounded: every push is out long before
        if sent[0] >= target:
            return
        loop.run_until_complete(asyncio.sleep(0))
    raise SystemExit("the pushes never all went out")

for w in range(1, writes + 1):
    before = sent[0]
    reply = writer.receive(b'{"action":"set","params":{"value":%d}}' % w)
    assert reply is not None
    drain(before + readers)
    assert sent[0] - before == readers, (sent[0] - before, readers)
print("compiled" if rweb.COMPILED else "plain")
"""


def total(checkout: Path, readers: int, writes: int, out: str = "/dev/null") -> tuple[int, str]:
    """Instructions of one whole run, and which build ran."""
    env = dict(os.environ, PYTHONPATH=str(checkout / "src"), PYTHONHASHSEED="0")
    proc = subprocess.run(
        [*NO_ASLR, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         sys.executable, "-c", MEASURE, str(checkout / "benchmarks"), str(readers), str(writes)],
        env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    found = COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed ({checkout}):\n{proc.stderr[-2000:]}")
    return int(found.group(1)), proc.stdout.strip().splitlines()[-1]


def per_delivery(checkout: Path, readers: int, writes: int) -> tuple[float, str]:
    low, build = total(checkout, readers, writes)
    high, _ = total(checkout, readers, 2 * writes)
    return (high - low) / (readers * writes), build


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", type=Path, help="a built checkout of another rweb, measured in the same run")
    p.add_argument("--readers", type=int, default=3000)
    p.add_argument("--writes", type=int, default=10, help="writes in the shorter run")
    p.add_argument("--profile", metavar="FILE", help="one run of this checkout, its callgrind output kept in FILE")
    opts = p.parse_args(argv)
    if opts.profile:
        n, build = total(ROOT, opts.readers, opts.writes, opts.profile)
        print(f"{n:,} instructions ({build}); callgrind_annotate --inclusive=yes {opts.profile}")
        return 0
    rows = [("this checkout", ROOT)]
    if opts.baseline is not None:
        rows.append(("baseline", opts.baseline.resolve()))
    got = {label: per_delivery(path, opts.readers, opts.writes) for label, path in rows}
    print(f"instructions per fan-out delivery in-process (Callgrind, {opts.readers} readers)")
    for label, (n, build) in got.items():
        print(f"{label:<16}{n:>12,.0f}  ({build})")
    if opts.baseline is not None:
        print(f"{'ratio':<16}{got['this checkout'][0] / got['baseline'][0]:>12.4f}  (this checkout / baseline)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
