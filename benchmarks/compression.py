#!/usr/bin/env python3
"""Bytes sent and CPU per first-page request, with compression, against another build in the same run.

Each build answers, in-process (``App.respond``, no sockets), the first paint of
two pages as Chromium asks for them (``Accept-Encoding: gzip, deflate, br, zstd``):

* ``counter``: the seed's counter (``examples/rweb_counter.py``);
* ``todo``: a 100-row todo list (the scaffold's markup: a span and a Done button per row,
  eight words drawn at random, seeded, per row).

For each it prints the bytes of the body sent, its ``Content-Encoding`` and the
CPU time (``time.process_time``) per request, the median of ``--rounds``
alternating subprocesses of ``--requests`` requests each.  This checkout runs
once per gzip level in ``--levels`` (``rweb.compression.PAGE_GZIP_LEVEL``, set in
the subprocess); the baseline once, as it is.  Then the client script: its
size raw, gzip -9 and brotli 11 (what this checkout sends), and what the
baseline sends for it.

    python benchmarks/compression.py                        # this checkout only
    python benchmarks/compression.py --baseline ../base     # a built checkout of another rweb

The baseline is a checkout whose compiled modules are built in place
(``git worktree add DIR REV && (cd DIR && python setup.py -q build_ext --inplace)``).
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
ACCEPT = "gzip, deflate, br, zstd"  # what Chromium sends

# Runs in each subprocess: prints {page: {"bytes", "coding", "us"}} as JSON.
MEASURE = r"""
import json, random, sys, time
src, examples, level, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, src)
sys.path.insert(0, examples)
import rweb
from rweb import App
from rweb.html import button, li, span, ul
from rweb.http import Request
from rweb_counter import session_setup

if level:
    import rweb.web.compression
    rweb.web.compression.PAGE_GZIP_LEVEL = int(level)

app = App("bench")
app.page("/", title="RWeb Counter")(session_setup)

rng = random.Random(1)  # varied rows, as a real list has, not one sentence 100 times
words = "buy milk call the bank fix the leaking tap write report book flights pay rent water plants".split()
items = [" ".join(rng.choice(words) for _ in range(8)).capitalize() + f" #{i}" for i in range(100)]

@app.page("/todo", title="Todos")
def todo(writer_id):
    def render():
        return ul(
            [li(span(t), " ", button("Done", data_action="done", data_param_text=t)) for t in items],
            id="todos",
        )
    return render, {}

def one(path):
    request = Request("GET", path, headers=[("host", "bench"), ("accept-encoding", sys.argv[5])])
    return app.respond(request)

out = {}
for name, path in (("counter", "/"), ("todo", "/todo")):
    first = one(path)
    assert first.status == 200, first.status
    for _ in range(50):
        one(path)
    start = time.process_time()
    for _ in range(n):
        one(path)
    cpu = time.process_time() - start
    out[name] = {"bytes": len(first.body), "coding": first.header("content-encoding") or "identity",
                 "us": cpu / n * 1e6}
print(json.dumps(out))
"""

# The client script as each build sends it: identity, and what it sends for ACCEPT.
SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from rweb import App
from rweb.http import Request
app = App("bench")
try:
    try:
        from rweb.web.client_script import client_url
    except ImportError:  # a checkout from before the floors (a --baseline)
        from rweb.client_script import client_url
    url = client_url()
except ImportError:
    url = "/_rweb/rweb.js"
sizes = {}
for accept in ("identity", "gzip", sys.argv[2]):
    r = app.respond(Request("GET", url, headers=[("host", "bench"), ("accept-encoding", accept)]))
    sizes[accept] = [len(r.body), r.header("content-encoding") or "identity", r.header("cache-control")]
print(json.dumps({"url": url, "sizes": sizes}))
"""


def run(code: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", type=Path, help="a built checkout of another rweb, measured in the same run")
    p.add_argument("--levels", default="1,6", help="gzip levels for this checkout's pages (comma-separated)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--requests", type=int, default=1000, help="requests per page per round")
    opts = p.parse_args(argv)

    builds: list[tuple[str, Path, str]] = [
        (f"this, gzip {lv}", ROOT, lv) for lv in opts.levels.split(",") if lv
    ]
    if opts.baseline is not None:
        builds.append(("baseline", opts.baseline.resolve(), ""))
    got: dict[str, list[dict]] = {label: [] for label, _, _ in builds}
    for _ in range(opts.rounds):
        for label, checkout, level in builds:  # alternating: drift on a shared machine hits all alike
            got[label].append(run(MEASURE, str(checkout / "src"), str(ROOT / "examples"), level,
                                  str(opts.requests), ACCEPT))

    print(f"first page, in-process App.respond, Accept-Encoding: {ACCEPT}")
    print(f"median of {opts.rounds} rounds x {opts.requests} requests")
    print(f"{'build':<18}{'page':<9}{'bytes sent':>11}  {'coding':<9}{'CPU us/request':>15}")
    for label, rounds in got.items():
        for page in ("counter", "todo"):
            us = statistics.median(r[page]["us"] for r in rounds)
            first = rounds[0][page]
            print(f"{label:<18}{page:<9}{first['bytes']:>11,}  {first['coding']:<9}{us:>15.1f}")

    print()
    print("client script: bytes sent (coding, Cache-Control) per Accept-Encoding")
    for label, checkout in [("this", ROOT)] + ([("baseline", opts.baseline.resolve())] if opts.baseline else []):
        info = run(SCRIPT, str(checkout / "src"), ACCEPT)
        print(f"{label:<10}{info['url']}")
        for accept, (size, coding, cache) in info["sizes"].items():
            print(f"{'':<10}{accept:<26}{size:>8,}  {coding:<9}{cache}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
