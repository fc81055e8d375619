#!/usr/bin/env python3
"""Instructions per click in the whole server process, counted by Callgrind, against the bare server.

``click_instructions.py`` counts one click in-process (``Connection.receive``: no sockets).
This counts what a server spends per click end to end in user space: the event loop,
picows reading and writing frames, rweb's transport, the click itself, everything but
the kernel.  Each server runs under ``valgrind --tool=callgrind`` on a free loopback
port while ``rweb bench`` (outside Callgrind) opens ``--clients`` sessions and clicks;
each server runs twice, with ``--clicks`` and with ``3 * --clicks`` clicks per session,
and the difference of the two totals divided by the extra clicks is one click's cost
(start-up, imports and the sessions' opening cancel out).

Servers: the bare picows server (``bare_picows.py``: the floor, what any server on this
stack pays), rweb's counter (``examples/rweb_counter.py``), the todo page
(``todo_app.py``, a click toggles one of 100 rows) written with element functions and
with templates; with ``--baseline DIR``, the same rweb apps on another built checkout.

    python benchmarks/server_instructions.py                        # this checkout
    python benchmarks/server_instructions.py --baseline ../base     # and another build
    python benchmarks/server_instructions.py --only bare,todo-template

Instruction counts do not swing with the machine's load the way seconds do, but the
client's timing still changes how many frames one read brings (batching), so repeat
runs differ by a few hundred instructions per click.  Run alone: Callgrind makes the
server about 50 times slower, and a busy machine slows it further.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
HOST = "127.0.0.1"
COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
# Addresses feed object hashes and allocation patterns: the same layout each run (setarch -R).
NO_ASLR = ["setarch", os.uname().machine, "-R"] if shutil.which("setarch") else []

# name -> (server script relative to a checkout or to benchmarks/, extra argv, bench client argv)
TODO_CLICKS = ["--action", "toggle", "--cycle", "id=100"]
SERVERS: dict[str, tuple[str, list[str], list[str]]] = {
    "bare": ("benchmarks/bare_picows.py", [], []),
    "counter": ("examples/rweb_counter.py", [], []),
    "todo": ("benchmarks/todo_app.py", ["--style", "elements"], TODO_CLICKS),
    "todo-template": ("benchmarks/todo_app.py", ["--style", "template"], TODO_CLICKS),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"no server listening on port {port} after {timeout:.0f} s")


def total(src: Path, name: str, clients: int, clicks: int, log_dir: Path) -> int:
    """Instructions of one whole server run: start, ``clients`` x ``clicks`` clicks, stop."""
    script, extra, client_argv = SERVERS[name]
    # The bare server and the todo app are this checkout's, run on either build's rweb.
    path = BENCH / Path(script).name if script.startswith("benchmarks/") else src.parent / script
    port = free_port()
    log = log_dir / f"{name}-{src.parent.name}-{clicks}.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(BENCH)]), PYTHONHASHSEED="0")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*NO_ASLR, "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
             sys.executable, str(path), "--host", HOST, "--port", str(port), "--workers", "1", *extra],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            wait_listening(port, proc, 180.0)
            subprocess.run(
                [sys.executable, "-m", "rweb", "bench", "--url", f"ws://{HOST}:{port}/ws", "--clients", str(clients),
                 "--clicks", str(clicks), "--connect-rate", "0", "--timeout", "120", "--max-time", "900",
                 "--quiet", "--no-summary", *client_argv],
                env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), check=True, timeout=960,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        finally:
            proc.send_signal(signal.SIGINT)  # a clean stop: Callgrind writes its totals at exit
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    found = COLLECTED.findall(log.read_text(errors="replace"))
    if len(found) != 1:  # one process: a forked worker would have totals of its own
        raise SystemExit(f"{name}: {len(found)} Callgrind totals in {log} (one process expected)")
    return int(found[0])


def per_click(src: Path, name: str, clients: int, clicks: int, log_dir: Path) -> float:
    low = total(src, name, clients, clicks, log_dir)
    high = total(src, name, clients, 3 * clicks, log_dir)
    return (high - low) / (clients * 2 * clicks)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--baseline", type=Path, help="a built checkout of another rweb: its counter and todo too")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--clicks", type=int, default=20, help="clicks per session in the shorter run")
    p.add_argument("--only", default=",".join(SERVERS), help=f"comma-separated, of: {', '.join(SERVERS)}")
    opts = p.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    names = [n for n in opts.only.split(",") if n]
    unknown = set(names) - set(SERVERS)
    if unknown:
        p.error(f"unknown servers: {sorted(unknown)}")
    log_dir = ROOT / "bench-results" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, float]] = []
    for name in names:
        rows.append((name, per_click(ROOT / "src", name, opts.clients, opts.clicks, log_dir)))
        if opts.baseline is not None and name != "bare":
            rows.append((f"{name} (baseline)", per_click(opts.baseline.resolve() / "src", name, opts.clients, opts.clicks, log_dir)))
    bare = dict(rows).get("bare")
    print(f"user-space instructions per click in the server process (Callgrind; {opts.clients} sessions)")
    for label, n in rows:
        over = f"   {n / bare:5.2f}x bare, +{n - bare:,.0f}" if bare and label != "bare" else ""
        print(f"{label:<26}{n:>10,.0f}{over}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
