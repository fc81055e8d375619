#!/usr/bin/env python3
"""Instructions to build and free one todo row: element functions against a template, Callgrind.

What separates the todo page written with element functions from the same page written
with a template (``todo_app.py``), before rweb renders anything: the row function itself.
Each style's row (``todo_app.ROW_SOURCE`` and its element-function twin, the same markup)
is called ``--calls`` and ``2 * --calls`` times in a loop under ``valgrind --tool=callgrind``,
and the tree it returns dropped; the difference of the two totals over the extra calls is
one call's instructions (start-up and imports cancel out).  An empty function called the
same way is the loop's own cost, subtracted from both.  The values are a session's own
(its record's fields, its key), so that nothing is a constant the interpreter folds.

    python benchmarks/row_cost.py [--calls 10000] [--src ../base/src]

``--src``: another built checkout's ``src`` (its ``rweb``), measured the same way.
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
NO_ASLR = ["setarch", os.uname().machine, "-R"] if shutil.which("setarch") else []
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")

# Runs under Callgrind: argv = calls, style.
MEASURE = r'''
import sys
from todo_app import ROW_SOURCE, Todo
from rweb.html import Template, button, input_, label, li, span

ROW = Template(ROW_SOURCE)
todo, key = Todo("Write the report, part 8", True), str(7)


def elements():
    return li(
        label(input_(type="checkbox", checked=todo.done, data_action="toggle", data_param_id=key), span(todo.title)),
        button("x", aria_label="Delete", data_action="delete", data_param_id=key),
        class_="done" if todo.done else None,
        data_key=key,
    )


def template():
    done = todo.done
    return ROW(cls="done" if done else None, key=key, done=done, title=todo.title)


def empty():
    return None


def loop(f, n):
    for _ in range(n):
        f()


loop({"elements": elements, "template": template, "empty": empty}[sys.argv[2]], int(sys.argv[1]))
'''


def count(style: str, calls: int, src: Path) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(ROOT / "benchmarks")]),
               PYTHONHASHSEED="0")
    proc = subprocess.run(
        [*NO_ASLR, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", MEASURE,
         str(calls), style],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    got = COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or got is None:
        raise SystemExit(f"callgrind run failed:\n{proc.stderr[-2000:]}")
    return int(got.group(1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--calls", type=int, default=10_000, help="calls in the shorter run")
    p.add_argument("--src", type=Path, default=ROOT / "src", help="the rweb sources to run (default: this checkout's)")
    opts = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    per = {s: (count(s, 2 * opts.calls, opts.src) - count(s, opts.calls, opts.src)) / opts.calls
           for s in ("empty", "elements", "template")}
    print(f"instructions per call of a todo row, built and freed (Callgrind, {opts.calls:,} extra calls, {opts.src})")
    for s in ("elements", "template"):
        print(f"{s:<10} {per[s] - per['empty']:>8,.0f}")
    print(f"{'(the loop and an empty call: ' + format(per['empty'], ',.0f') + ', subtracted)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
