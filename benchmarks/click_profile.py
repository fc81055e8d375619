#!/usr/bin/env python3
"""Where one in-process click's instructions go, by function: Callgrind, start-up cancelled out.

``click_instructions.py`` gives one total per click; this splits it.  The same process
(``click_instructions.MEASURE``: ``--sessions`` pages clicked round-robin through
``Connection.receive``) runs under ``valgrind --tool=callgrind`` twice, with ``--clicks``
and ``2 * --clicks`` clicks a session; ``callgrind_annotate --inclusive=yes`` reads each
run, and the difference of each function's inclusive cost over the extra clicks is its
cost per click (imports, start-up and the pages' opening cancel out).  Function names
are the compiled build's C names (``__pyx_f_4rweb_..._View__render``) and CPython's.

    python benchmarks/click_profile.py --workload todo              # the 40 costliest
    python benchmarks/click_profile.py --workload counter --match render --top 20
    python benchmarks/click_profile.py --workload todo --self     # each function's own instructions
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from click_instructions import MEASURE, NO_ASLR, ROOT  # (one home for the measured process)

LINE = re.compile(r"\s*([\d,]+) \([ \d.]+%\)\s+(.*)$")
NOISE = re.compile(r"\s*\[/[^]]*\]|/tmp/python-build[^:]*/|(?:\S*/)?build/cython/src/|/\S*/include/python3\.\d+/")


def inclusive(out: Path, self_only: bool = False) -> dict[str, int]:
    """Each function's inclusive (or, ``self_only``, its own) instructions in one Callgrind output file."""
    text = subprocess.run(["callgrind_annotate", f"--inclusive={'no' if self_only else 'yes'}", "--threshold=100", "--auto=no", str(out)],
                          capture_output=True, text=True, check=True).stdout
    got: dict[str, int] = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and "PROGRAM TOTALS" not in line:
            name = NOISE.sub("", m.group(2)).strip()
            got[name] = got.get(name, 0) + int(m.group(1).replace(",", ""))
    return got


def run(tmp: Path, sessions: int, clicks: int, workload: str, self_only: bool = False) -> dict[str, int]:
    out = tmp / f"callgrind.{clicks}.out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT / "benchmarks")]),
               PYTHONHASHSEED="0")
    proc = subprocess.run(
        [*NO_ASLR, "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", MEASURE,
         str(ROOT / "examples"), str(sessions), str(clicks), "off", workload],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"callgrind run failed:\n{proc.stderr[-2000:]}")
    return inclusive(out, self_only)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=("counter", "todo", "todo-template"), default="todo")
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--clicks", type=int, default=40, help="clicks per session in the shorter run")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--match", default="", help="only functions whose name contains this")
    p.add_argument("--self", dest="self_only", action="store_true",
                   help="each function's own instructions, without its callees'")
    opts = p.parse_args(argv)
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        low = run(Path(tmp), opts.sessions, opts.clicks, opts.workload, opts.self_only)
        high = run(Path(tmp), opts.sessions, 2 * opts.clicks, opts.workload, opts.self_only)
    extra = opts.sessions * opts.clicks
    rows = sorted(((high.get(k, 0) - low.get(k, 0)) / extra, k) for k in high.keys() | low.keys() if opts.match in k)
    kind = "own" if opts.self_only else "inclusive"
    print(f"{kind} instructions per {opts.workload} click, by function (Callgrind, {opts.sessions} sessions)")
    for cost, name in reversed(rows[-opts.top:]):
        print(f"{cost:10,.0f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
