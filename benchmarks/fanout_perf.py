"""Where a fan-out delivery's server time goes, user space against the kernel, sampled by perf.

``fanout.py`` gives a fan-out's server CPU per delivery; on a shared 2-core machine that swings
by a microsecond or more from run to run, most of it in the kernel's loopback TCP path (which
the bare server pays too).  ``fanout_instructions.py`` counts the instructions, which do not
swing, but cannot see the time a delivery spends waiting for memory: each reader's page lies
in its own corner of the heap, and at thousands of readers waiting for it was most of rweb's
user time.  This samples the server with ``perf record -e cpu-clock`` during the counted
writes only (``fanout.fanout_client``'s ``on_counted``) and splits the samples between user
space and the kernel, per delivery, for this checkout and, with ``--baseline DIR``, another
built checkout, in alternated runs (the same ``fanout_app.py`` page: one record every reader
shows, one writer, ``--sessions`` readers on one worker, no broker).

    python benchmarks/fanout_perf.py                              # 5,000 readers, 3 runs
    python benchmarks/fanout_perf.py --baseline /work/wt/base     # and another build, alternated
    python benchmarks/fanout_perf.py --symbols 12                 # and each build's top user-space symbols

Needs ``perf`` (Debian: ``linux-perf``) allowed to sample another process and the kernel
(root, or a low enough ``kernel.perf_event_paranoid``); it says so and exits 2 otherwise.
Run alone: the figures are CPU times.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rweb.bench import procfs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import fanout  # noqa: E402

SAMPLE_LINE = re.compile(r"^\s+([\d.]+)%\s+(\d+)\s+(\S.*?)\s*$")


def perf_works() -> str | None:
    """None if perf can sample here, else why not."""
    if shutil.which("perf") is None:
        return "perf is not installed (Debian: linux-perf)"
    try:
        out = subprocess.run(["perf", "record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"perf record failed: {exc}"
    return None if out.returncode == 0 else f"perf record failed: {out.stderr.strip()[-300:]}"


class Recorder:
    """``perf record`` on a server's processes between ``on_counted(True)`` and ``(False)``."""

    def __init__(self, server: fanout.Proc, out: Path, freq: int) -> None:
        self.server, self.out, self.freq = server, out, freq
        self.proc: subprocess.Popen[bytes] | None = None

    def __call__(self, begin: bool) -> None:
        if begin:
            pids = ",".join(str(p) for p in self.server.pids())
            self.proc = subprocess.Popen(
                ["perf", "record", "-e", "cpu-clock", "-F", str(self.freq), "-o", str(self.out), "-p", pids],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3)  # perf attached before the first counted write
        elif self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.proc = None


def samples(data: Path, sort: str) -> list[tuple[int, str]]:
    """(samples, name) per ``sort`` key (dso, or dso,sym), most first."""
    out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "-n", "--sort", sort],
                         capture_output=True, text=True, timeout=300).stdout
    rows = []
    for line in out.splitlines():
        m = SAMPLE_LINE.match(line)
        if m:
            rows.append((int(m.group(2)), m.group(3)))
    return rows


def one_run(src: Path | None, args: argparse.Namespace, out: Path) -> dict[str, float]:
    """One fan-out run recorded: user and kernel microseconds per delivery."""

    async def bounded(server: fanout.Proc, rec: Recorder) -> dict[str, Any]:
        url = f"ws://{fanout.HOST}:{server.port}/ws"
        timeout = max(10.0, args.sessions / 1000)
        return await asyncio.wait_for(
            fanout.fanout_client(url, args.sessions, 1, args.writes, 2, args.gap, timeout, True, server,
                                 args.fd_budget, on_counted=rec),
            args.max_time,
        )

    with fanout.app_server("fanout", f"perf-{args.sessions}", src=src) as server:
        rec = Recorder(server, out, args.freq)
        try:
            result = fanout.run_loop(bounded(server, rec))
        finally:
            rec(False)  # (stopped already, unless the run failed)
    delivered = args.sessions * result["writes"] - result["missed"]
    if not delivered:
        raise RuntimeError(f"nothing delivered: {result}")
    per = 1e6 / args.freq / delivered  # microseconds of CPU a sample stands for, per delivery
    user = kernel = 0
    for n, dso in samples(out, "dso"):
        if "kernel" in dso:
            kernel += n
        else:
            user += n
    return {"user": user * per, "kernel": kernel * per, "server_cpu": result["server_cpu_us_per_delivery"],
            "deliveries_per_s": result.get("deliveries_per_s", 0.0)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=5000, help="readers (default 5000)")
    p.add_argument("--writes", type=int, default=40, help="counted writes per run (default 40)")
    p.add_argument("--runs", type=int, default=3, help="alternated runs per build (default 3)")
    p.add_argument("--gap", type=float, default=0.1, help="seconds between writes")
    p.add_argument("--freq", type=int, default=4000, help="samples per second of CPU (default 4000)")
    p.add_argument("--baseline", type=Path, help="a built checkout of another rweb, measured in the same runs")
    p.add_argument("--symbols", type=int, default=0, help="also each build's N top user-space symbols (last run)")
    p.add_argument("--max-time", type=float, default=300.0, help="bound on one run, s")
    args = p.parse_args(argv)
    soft, _ = procfs.raise_nofile_limit()
    args.fd_budget = soft - 200  # sockets this process may hold at once (as fanout.py)
    if args.sessions + 1 > args.fd_budget:
        p.error(f"{args.sessions} sessions need {args.sessions + 201} file descriptors; the limit is {soft}")
    why = perf_works()
    if why is not None:
        print(f"fanout_perf.py: {why}", file=sys.stderr)
        return 2
    builds: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline is not None:
        builds.append((f"baseline ({args.baseline})", args.baseline.resolve() / "src"))
    tmp = Path(tempfile.mkdtemp(prefix="rweb-fanout-perf-"))
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in builds}
    symbols: dict[str, list[tuple[int, str]]] = {}
    try:
        for r in range(args.runs):
            for k, (name, src) in enumerate(builds if r % 2 == 0 else builds[::-1]):
                out = tmp / f"run{r}-{k}.data"
                res = one_run(src, args, out)
                results[name].append(res)
                fanout.log(f"run {r + 1}, {name}: user {res['user']:.2f} µs, kernel {res['kernel']:.2f} µs "
                           f"a delivery ({res['deliveries_per_s']:,.0f} deliveries/s)")
                if args.symbols and r == args.runs - 1:
                    symbols[name] = samples(out, "dso,sym")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Fan-out to {args.sessions:,} readers on one worker, {args.writes} counted writes a run, "
          f"{args.runs} alternated runs; perf cpu-clock at {args.freq} Hz on the server during the counted writes.\n")
    print("| build | user µs a delivery (median, runs) | kernel µs a delivery | server CPU µs a delivery (schedstat) |")
    print("|---|---:|---:|---:|")
    for name, _ in builds:
        rs = results[name]
        u, kk, c = ([x[key] for x in rs] for key in ("user", "kernel", "server_cpu"))
        print(f"| {name} | {statistics.median(u):.2f} ({', '.join(f'{x:.2f}' for x in u)}) | "
              f"{statistics.median(kk):.2f} | {statistics.median(c):.2f} |")
    for name, rows in symbols.items():
        total = sum(n for n, _ in rows)
        print(f"\n{name}, top user-space symbols (last run; share of all the server's samples):\n")
        for n, sym in [(n, sym) for n, sym in rows if "kernel" not in sym][: args.symbols]:
            print(f"- {100 * n / total:.2f}%  {' '.join(sym.split())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
