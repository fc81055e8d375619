"""The garbage collector's pauses in a worker that sessions keep joining: the todo page, per threshold.

``fanout.py`` times the collections during a fan-out's writes, where a page's objects are
already old.  A page's objects are made when its session opens: a burst of sessions (a deploy,
a reconnect storm, each round of a benchmark) makes hundreds of thousands of new objects that
all survive, and the collector walks them in the young and middle generations before they
settle in the old one.  Each collection pauses every session of the worker.

This starts ``todo_app.py`` (100 rows a page, about 520 tracked objects) once per setting
(``start_rweb(gc_threshold=...)``; ``default``: start_rweb's own, ``rweb.server.GC_THRESHOLD``),
runs ``--rounds`` rounds of ``rweb bench`` against it (``--clients`` new sessions, then
``--clicks`` toggles each), and prints, per setting, the collections of each generation over all
the rounds (how many, total and longest pause, from ``gc.callbacks`` in the server:
``todo_app.py --gc-log``) and the clicks per second of each round.

    python benchmarks/gc_pauses.py                                   # default, 50000,10,10 and 700,10,10
    python benchmarks/gc_pauses.py --settings default,50000,2,50 --rounds 8
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from compare import GroupProcess, bench_env, free_port  # noqa: E402

HOST = "127.0.0.1"


def parse_settings(text: str) -> list[str]:
    """``default,50000,10,10,700,10,10`` -> ["default", "50000,10,10", "700,10,10"]."""
    parts, out = text.split(","), []
    i = 0
    while i < len(parts):
        if parts[i] == "default":
            out.append("default")
            i += 1
        else:
            if i + 3 > len(parts):
                raise ValueError(f"a threshold is three numbers: {','.join(parts[i:])}")
            out.append(",".join(str(int(x)) for x in parts[i:i + 3]))
            i += 3
    return out


def one_setting(setting: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    port = free_port()
    log = tmp / f"gc-{setting.replace(',', '-')}"
    argv = [sys.executable, str(ROOT / "benchmarks" / "todo_app.py"), "--host", HOST, "--port", str(port),
            "--gc-log", str(log)]
    if setting != "default":
        argv += ["--gc-threshold", setting]
    proc = GroupProcess(argv, f"gc-pauses-{setting.replace(',', '-')}", port)
    rounds = []
    try:
        err = proc.wait_ready()
        if err:
            raise RuntimeError(f"{setting}: {err}")
        for _ in range(args.rounds):
            out = subprocess.run(
                [sys.executable, "-m", "rweb.bench", "--json", "--quiet", "--url", f"ws://{HOST}:{port}/ws",
                 "--clients", str(args.clients), "--clicks", str(args.clicks), "--server-pid", str(proc.proc.pid),
                 "--max-time", str(args.max_time), "--action", "toggle", "--cycle", "id=100"],
                stdout=subprocess.PIPE, text=True, env=bench_env(), timeout=args.max_time + 120)
            res = json.loads(out.stdout)
            rounds.append(res["throughput"])
    finally:
        proc.stop()  # SIGTERM: the app's shutdown hook writes the log
    dumps = list(tmp.glob(log.name + ".*"))
    if not dumps:
        raise RuntimeError(f"{setting}: the server wrote no GC log")
    data = json.loads(dumps[0].read_text())
    gens: dict[int, list[float]] = {0: [], 1: [], 2: []}
    for _start, gen, ms, _collected in data["collections"]:
        gens[int(gen)].append(ms)
    return {"rounds": rounds, "gens": gens}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--settings", default="default,50000,10,10,700,10,10",
                   help="comma list of 'default' and threshold triples (default: default,50000,10,10,700,10,10)")
    p.add_argument("--rounds", type=int, default=5, help="bursts of new sessions per setting (default 5)")
    p.add_argument("--clients", type=int, default=1000, help="new sessions per round (default 1000)")
    p.add_argument("--clicks", type=int, default=100, help="clicks per session per round (default 100)")
    p.add_argument("--max-time", type=float, default=120.0, help="bound on one round, s")
    args = p.parse_args(argv)
    try:
        settings = parse_settings(args.settings)
    except ValueError as exc:
        p.error(str(exc))
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rweb-gc-pauses-") as tmp:
        for s in settings:
            results[s] = one_setting(s, args, Path(tmp))
            print(f"{s}: done", file=sys.stderr, flush=True)
    print(f"The todo page (todo_app.py), one worker: {args.rounds} rounds of {args.clients:,} new sessions, "
          f"{args.clicks} toggles each; collections over all the rounds (gc.callbacks in the server).\n")
    print("| gc_threshold | young: n, total, longest | middle: n, total, longest | full: n, total, longest "
          "| clicks/s per round (median) |")
    print("|---|---|---|---|---|")
    for s, r in results.items():
        cells = []
        for g in (0, 1, 2):
            ms = r["gens"][g]
            cells.append(f"{len(ms)}, {sum(ms):,.0f} ms, {max(ms, default=0):,.0f} ms")
        label = "default (rweb.server.GC_THRESHOLD)" if s == "default" else s
        rates = ", ".join(f"{x:,.0f}" for x in r["rounds"])
        print(f"| {label} | {' | '.join(cells)} | {rates} ({statistics.median(r['rounds']):,.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
