"""``rweb bench``: a closed-loop WebSocket click benchmark (the seed's client, in Python).

Each of ``--clients`` sessions sends a click and waits for its reply, ``--clicks`` times.
Sessions are split over ``--procs`` client worker processes (picows on uvloop); the
timed phase starts once every session is connected, and ends when the last one is done.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import multiprocessing as mp
import os
import platform
import socket
import sys
import time
from array import array
from multiprocessing.connection import wait as mp_wait
from typing import Any
from urllib.parse import urlsplit

import orjson

from . import procfs, stats
from .worker import WorkerConfig, worker_main

DEFAULT_URL = "ws://127.0.0.1:8080/ws"


# -- argument parsing ------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rweb bench",
        description="Closed-loop click benchmark for rweb (and Phoenix LiveView-protocol) servers.",
    )
    p.add_argument("--url", default=None, help=f"server URL (default {DEFAULT_URL}; "
                   "for --protocol liveview the page URL, e.g. http://127.0.0.1:4000/)")
    p.add_argument("--protocol", choices=("rweb", "liveview"), default="rweb")
    p.add_argument("--mode", choices=("clicks", "idle"), default="clicks",
                   help="clicks: closed-loop load; idle: open sessions and measure server memory")
    p.add_argument("--clients", type=int, default=1000, help="concurrent sessions (default 1000)")
    p.add_argument("--clicks", type=int, default=1000, help="clicks per session (default 1000)")
    p.add_argument("--procs", type=int, default=1, help="client worker processes (default 1)")
    p.add_argument("--connect-rate", type=float, default=2000.0,
                   help="new sessions started per second, all procs together (default 2000; 0 = unbounded)")
    p.add_argument("--connect-concurrency", type=int, default=100,
                   help="handshakes in flight at once, all procs together (default 100)")
    p.add_argument("--action", default="inc", help="rweb action / LiveView event name (default inc)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of every click (rweb protocol; repeatable)")
    p.add_argument("--cycle", default=None, metavar="KEY=N",
                   help="each click's parameter KEY takes the values 0 .. N-1 in turn, from 0 in every "
                   "session (rweb protocol; e.g. --action toggle --cycle id=100: the todo workload)")
    p.add_argument("--ws-path", default="/live/websocket", help="LiveView socket path")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each reply (default 5)")
    p.add_argument("--max-time", type=float, default=600.0,
                   help="overall time bound in seconds; sessions still running then fail (default 600)")
    p.add_argument("--server-pid", action="append", default=[], metavar="PID",
                   help="server process id(s) for CPU/memory figures; repeatable or comma list; "
                   "'auto' finds the processes listening on the URL's port. Descendants are included.")
    p.add_argument("--settle", type=float, default=1.0, help="idle mode: seconds to wait before reading RSS")
    p.add_argument("--hold", type=float, default=2.0, help="idle mode: seconds to hold the sessions open")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--report", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--quiet", action="store_true", help="no progress bar or human summary on stderr")
    p.add_argument("--no-summary", action="store_true",
                   help="with --json: keep the progress bar but print no human summary")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback target (off by default: this is a load generator)")
    p.add_argument("--verbose", action="store_true", help="let picows log")
    return p


def _key_value(text: str, option: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"rweb bench: {option} wants KEY=VALUE (got {text!r})")
    return key, value


def parse_pids(values: list[str]) -> tuple[list[int], bool]:
    pids: list[int] = []
    auto = False
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if not part:
                continue
            if part == "auto":
                auto = True
            else:
                pids.append(int(part))
    return pids, auto


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


# -- progress bar ----------------------------------------------------------------------
class Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = 0.0
        self.shown = False

    def show(self, text: str, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        sys.stderr.write("\r\x1b[2K" + text)
        sys.stderr.flush()
        self.shown = True

    def bar(self, done: int, total: int, width: int = 30) -> str:
        frac = done / total if total else 1.0
        full = int(frac * width)
        return "[" + "#" * full + "." * (width - full) + f"] {frac * 100:5.1f}%"

    def end(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self.shown = False


# -- orchestration ---------------------------------------------------------------------
class Worker:
    def __init__(self, proc: Any, conn: Any, cfg: WorkerConfig) -> None:
        self.proc = proc
        self.conn = conn
        self.cfg = cfg
        self.connected: dict[str, Any] | None = None
        self.done: dict[str, Any] | None = None
        self.result: dict[str, Any] | None = None
        self.error: str | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None or self.error is not None


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _pump(workers: list[Worker], until: Any, deadline: float, on_tick: Any) -> bool:
    """Read worker messages until ``until()`` holds; False if the deadline passed first."""
    while not until():
        now = time.monotonic()
        if now > deadline:
            return False
        live = [w for w in workers if not w.finished]
        waitables: list[Any] = [w.conn for w in live] + [w.proc.sentinel for w in live]
        ready = mp_wait(waitables, timeout=min(0.1, max(0.0, deadline - now)))
        for w in live:
            if w.conn in ready:
                try:
                    while w.conn.poll():
                        kind, payload = w.conn.recv()
                        if kind == "connected":
                            w.connected = payload
                        elif kind == "done":
                            w.done = payload
                        elif kind == "result":
                            w.result = payload
                        elif kind == "error":
                            w.error = str(payload).strip().splitlines()[-1]
                except (EOFError, OSError):
                    if not w.finished:
                        w.error = f"client worker exited (code {w.proc.exitcode})"
            elif w.proc.sentinel in ready and not w.finished and not w.conn.poll():
                w.proc.join(0.1)
                w.error = f"client worker exited (code {w.proc.exitcode})"
        on_tick()
    return True


def run(opts: argparse.Namespace) -> dict[str, Any]:
    url = opts.url or (DEFAULT_URL if opts.protocol == "rweb" else "http://127.0.0.1:4000/")
    parts = urlsplit(url)
    if opts.protocol == "liveview" and parts.scheme in ("ws", "wss"):
        url = f"http://{parts.netloc}/"
        parts = urlsplit(url)
    if opts.protocol == "rweb" and parts.scheme not in ("ws", "wss"):
        raise SystemExit(f"rweb bench: --url must be ws://... for --protocol rweb (got {url})")
    if not opts.allow_remote and not _is_loopback(parts.hostname or ""):
        raise SystemExit("rweb bench: refusing a non-loopback target without --allow-remote")
    if opts.protocol == "liveview" and (opts.param or opts.cycle):
        raise SystemExit("rweb bench: --param and --cycle speak the rweb protocol only")
    if opts.clients < 1 or opts.clicks < 0 or opts.procs < 1:
        raise SystemExit("rweb bench: --clients and --procs must be >= 1, --clicks >= 0")

    nofile = procfs.raise_nofile_limit()
    pids, auto = parse_pids(opts.server_pid)
    if auto:
        port = parts.port or (443 if parts.scheme in ("wss", "https") else 80)
        found = procfs.listening_pids(port)
        if not found:
            print(f"rweb bench: --server-pid auto found no process listening on port {port}",
                  file=sys.stderr)
        pids.extend(found)
    pids = sorted(set(pids))

    procs = min(opts.procs, opts.clients)
    shares = _split(opts.clients, procs)
    params = dict(_key_value(v, "--param") for v in opts.param)
    action_msg = orjson.dumps({"action": opts.action, "params": params})
    action_cycle: tuple[bytes, ...] = ()
    if opts.cycle is not None:
        key, count = _key_value(opts.cycle, "--cycle")
        if not count.isdigit() or int(count) < 1:
            raise SystemExit(f"rweb bench: --cycle wants KEY=N with N >= 1 (got {opts.cycle})")
        action_cycle = tuple(
            orjson.dumps({"action": opts.action, "params": {**params, key: str(i)}}) for i in range(int(count))
        )
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    shared = ctx.RawArray("q", 2 * procs)  # per worker: sessions connected, clicks answered

    show = Progress(enabled=not opts.quiet and sys.stderr.isatty())
    total_clicks = opts.clients * opts.clicks

    result: dict[str, Any] = {
        "tool": "rweb bench",
        "config": {
            "url": url,
            "protocol": opts.protocol,
            "mode": opts.mode,
            "clients": opts.clients,
            "clicks_per_client": opts.clicks,
            "procs": procs,
            "connect_rate": opts.connect_rate,
            "connect_concurrency": opts.connect_concurrency,
            "timeout_s": opts.timeout,
            "max_time_s": opts.max_time,
            "action": opts.action,
            "params": params,
            "cycle": opts.cycle,
            "nofile_limit": nofile[0],
        },
    }

    server_pids = procfs.with_descendants(pids) if pids else []
    rss_before = procfs.total_rss_kib(server_pids) if server_pids else None

    workers: list[Worker] = []
    t_start_ns = time.perf_counter_ns()
    deadline = time.monotonic() + opts.max_time + 30.0
    try:
        for i, n in enumerate(shares):
            cfg = WorkerConfig(
                index=i,
                protocol=opts.protocol,
                mode=opts.mode,
                url=url,
                ws_path=opts.ws_path,
                clients=n,
                clicks=opts.clicks if opts.mode == "clicks" else 0,
                action_msg=action_msg,
                action_cycle=action_cycle,
                lv_event=opts.action,
                connect_rate=opts.connect_rate / procs if opts.connect_rate > 0 else 0.0,
                connect_concurrency=max(1, math.ceil(opts.connect_concurrency / procs)),
                timeout=opts.timeout,
                max_time=opts.max_time,
                verbose=opts.verbose,
            )
            parent_conn, child_conn = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(cfg, child_conn, shared), daemon=True)
            proc.start()
            child_conn.close()
            workers.append(Worker(proc, parent_conn, cfg))

        def connected_count() -> int:
            return sum(shared[2 * i] for i in range(procs))

        def clicks_count() -> int:
            return sum(shared[2 * i + 1] for i in range(procs))

        def tick_connect() -> None:
            c = connected_count()
            show.show(f"connecting {show.bar(c, opts.clients)} {c:,}/{opts.clients:,} sessions")

        _pump(workers, lambda: all(w.connected or w.finished for w in workers), deadline, tick_connect)
        t_connected_ns = time.perf_counter_ns()
        connected = sum((w.connected or {}).get("connected", 0) for w in workers)
        result["connect"] = {
            "ok": connected,
            "failed": opts.clients - connected,
            "seconds": (t_connected_ns - t_start_ns) / 1e9,
        }

        if opts.mode == "idle":
            end_settle = time.monotonic() + opts.settle
            _pump(workers, lambda: time.monotonic() >= end_settle, deadline,
                  lambda: show.show(f"settling: {connected:,} sessions open"))
            server_pids_now = procfs.with_descendants(pids) if pids else []
            rss_after = procfs.total_rss_kib(server_pids_now) if server_pids_now else None
            end_hold = time.monotonic() + max(0.0, opts.hold - opts.settle)
            _pump(workers, lambda: time.monotonic() >= end_hold, deadline,
                  lambda: show.show(f"holding {connected:,} sessions"))
            # how many were still open after holding them
            still = connected_count()
            for w in workers:
                if not w.finished:
                    w.conn.send("close")
            show.show("closing sessions", force=True)
            _pump(workers, lambda: all(w.finished for w in workers), deadline, lambda: None)
            show.end()
            kib = None
            if rss_before is not None and rss_after is not None and connected:
                kib = (rss_after - rss_before) / connected
            result["idle"] = {
                "sessions": connected,
                "open_after_hold": still,
                "server_pids": server_pids_now,
                "rss_before_kib": rss_before,
                "rss_after_kib": rss_after,
                "kib_per_session": kib,
            }
        else:
            run_pids = procfs.with_descendants(pids) if pids else []
            cpu0 = procfs.cpu_snapshot(run_pids)
            t_go_ns = time.perf_counter_ns()
            for w in workers:
                if not w.finished:
                    w.conn.send("go")
            last_rate_t = time.monotonic()
            last_rate_n = 0
            rate = 0.0

            def tick_clicks() -> None:
                nonlocal last_rate_t, last_rate_n, rate
                now = time.monotonic()
                done = clicks_count()
                if now - last_rate_t >= 0.5:
                    rate = (done - last_rate_n) / (now - last_rate_t)
                    last_rate_t, last_rate_n = now, done
                el = (time.perf_counter_ns() - t_go_ns) / 1e9
                if not rate and el > 0:
                    rate = done / el
                show.show(f"clicks {show.bar(done, total_clicks)} {done:,}/{total_clicks:,} "
                          f"{rate:,.0f}/s {el:.1f}s")

            _pump(workers, lambda: all(w.done or w.finished for w in workers), deadline, tick_clicks)
            end_pids = procfs.with_descendants(pids) if pids else []
            cpu1 = procfs.cpu_snapshot(sorted(set(run_pids) | set(end_pids)))
            t_cpu_ns = time.perf_counter_ns()
            show.show("closing sessions", force=True)
            _pump(workers, lambda: all(w.finished for w in workers), deadline, lambda: None)
            show.end()
            result["_cpu"] = (cpu0, cpu1, run_pids, t_go_ns, t_cpu_ns)
        t_finish_ns = time.perf_counter_ns()
    except KeyboardInterrupt:
        show.end()
        for w in workers:
            if w.proc.is_alive():
                w.proc.terminate()
        raise
    finally:
        for w in workers:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=2)

    return _summarize(result, workers, opts, t_start_ns, t_finish_ns)


def _summarize(result: dict[str, Any], workers: list[Worker], opts: argparse.Namespace,
               t_start_ns: int, t_finish_ns: int) -> dict[str, Any]:
    failures: dict[str, int] = {}
    errors = [w.error for w in workers if w.error]
    lat = array("q")
    avgs: list[float] = []
    rx = initial_rx = extra = 0
    client_cpu = 0.0
    t_ends: list[int] = []
    timelines = []
    for w in workers:
        r = w.result
        if r is None:  # the worker died: all its sessions count as failed
            reason = w.error or "client worker lost"
            failures[reason] = failures.get(reason, 0) + w.cfg.clients
            continue
        for k, v in r["failures"].items():
            failures[k] = failures.get(k, 0) + v
        lat.frombytes(r["latencies"])
        avgs.extend(r["client_avg_ns"])
        rx += r["rx_bytes"]
        initial_rx += r["initial_rx"]
        extra += r["extra_msgs"]
        client_cpu += r["cpu_s"]
        if r["t_end"]:
            t_ends.append(r["t_end"])
        timelines.append(r["timeline"])
    result["failures"] = dict(sorted(failures.items(), key=lambda kv: -kv[1]))
    result["failed_sessions"] = sum(failures.values())
    result["worker_errors"] = errors
    connected = result.get("connect", {}).get("ok", 0)
    result["initial_bytes_per_session"] = initial_rx / connected if connected else None
    cpu = result.pop("_cpu", None)
    if opts.mode == "idle":
        result["ok"] = result["failed_sessions"] == 0 and not errors
        return result

    answered = len(lat)
    expected = opts.clients * opts.clicks
    sorted_lat = sorted(lat)
    t_go = cpu[3] if cpu else t_start_ns
    t_end = max(t_ends) if t_ends else t_go
    duration = max((t_end - t_go) / 1e9, 1e-9)
    wall = max((t_end - t_start_ns) / 1e9, 1e-9)
    result["clicks"] = {"expected": expected, "answered": answered, "lost": expected - answered}
    result["duration_s"] = duration
    result["wall_s"] = wall
    result["throughput"] = answered / duration if answered else 0.0
    result["throughput_wall"] = answered / wall if answered else 0.0
    result["latency_us"] = stats.latency_summary_us(sorted_lat)
    result["seed"] = {
        **stats.seed_avg_figures_ms(avgs),
        "total_clicks": answered,
        "success_clients": len(avgs),
        "failed_clients": opts.clients - len(avgs),
    }
    result["bytes_per_click"] = rx / answered if answered else None
    result["extra_messages"] = extra
    result["client"] = {
        "cpu_s": client_cpu,
        "cpu_cores": client_cpu / duration,
        "procs": len(workers),
    }
    if cpu and cpu[2]:
        cpu0, cpu1, _pids, _t_go, t_cpu = cpu
        server_cpu = procfs.cpu_seconds_between(cpu0, cpu1)
        result["server"] = {
            "pids": sorted(set(cpu0) | set(cpu1)),
            "cpu_s": server_cpu,
            "cpu_cores": server_cpu / max((t_cpu - t_go) / 1e9, 1e-9),
            "cpu_us_per_click": server_cpu * 1e6 / answered if answered else None,
            # each process's share (a server and the Redis it uses, given together: told apart)
            "cpu_s_by_pid": {str(p): procfs.cpu_seconds_between({p: cpu0.get(p, 0)}, {p: t}) for p, t in cpu1.items()},
        }
    result["distribution"] = stats.distribution(sorted_lat)
    result["timeline"] = stats.merge_timelines(timelines, t_go, t_end)
    result["ok"] = answered == expected and result["failed_sessions"] == 0 and not errors
    return result


# -- output ----------------------------------------------------------------------------
def _fmt_us(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 10_000:
        return f"{v / 1000:,.1f} ms"
    return f"{v:,.0f} µs"


def format_human(r: dict[str, Any]) -> str:
    c = r["config"]
    lines = [
        f"rweb bench: {c['protocol']} protocol, {c['url']}",
        f"  {c['clients']:,} clients x {c['clicks_per_client']:,} clicks, {c['procs']} client proc(s)"
        if c["mode"] == "clicks"
        else f"  {c['clients']:,} idle sessions, {c['procs']} client proc(s)",
        "",
        "Results:",
    ]
    conn = r.get("connect", {})
    lines.append(f"  Connected: {conn.get('ok', 0):,} sessions in {conn.get('seconds', 0):.2f}s"
                 f" ({conn.get('failed', 0):,} failed)")
    if r.get("initial_bytes_per_session") is not None:
        lines.append(f"  Initial message: {r['initial_bytes_per_session']:,.0f} bytes/session")
    if c["mode"] == "idle":
        idle = r["idle"]
        if idle["kib_per_session"] is not None:
            lines.append(f"  Server RSS: {idle['rss_before_kib']:,} KiB before, "
                         f"{idle['rss_after_kib']:,} KiB with {idle['sessions']:,} sessions "
                         f"=> {idle['kib_per_session']:.2f} KiB/session")
            lines.append(f"  Server pids: {', '.join(map(str, idle['server_pids']))}")
        else:
            lines.append("  Server RSS: not measured (give --server-pid)")
        lines.append(f"  Still open after hold: {idle['open_after_hold']:,}")
    else:
        clicks = r["clicks"]
        lat = r["latency_us"]
        seed = r["seed"]
        lines += [
            f"  Total clicks: {clicks['answered']:,} of {clicks['expected']:,}",
            f"  Duration: {r['duration_s']:.2f}s (timed phase; {r['wall_s']:.2f}s incl. connect)",
            f"  Throughput: {r['throughput']:,.0f} clicks/sec"
            f" ({r['throughput_wall']:,.0f} incl. connect, seed-style)",
            f"  Latency per click: P50 {_fmt_us(lat['p50'])}, P90 {_fmt_us(lat['p90'])}, "
            f"P99 {_fmt_us(lat['p99'])}, P99.9 {_fmt_us(lat['p99_9'])}, max {_fmt_us(lat['max'])}",
        ]
        if seed["avg_latency_p50_ms"] is not None:
            lines.append(f"  Avg latency P50: {seed['avg_latency_p50_ms']:.2f}ms")
            lines.append(f"  Avg latency P99: {seed['avg_latency_p99_ms']:.2f}ms")
        if r.get("bytes_per_click") is not None:
            lines.append(f"  Bytes received per click: {r['bytes_per_click']:,.1f}")
        srv = r.get("server")
        if srv:
            per = srv["cpu_us_per_click"]
            lines.append(f"  Server CPU: {srv['cpu_s']:.2f}s ({srv['cpu_cores']:.2f} cores)"
                         + (f" => {per:,.1f} µs/click" if per is not None else "")
                         + f"  [pids {', '.join(map(str, srv['pids']))}]")
        cl = r["client"]
        lines.append(f"  Client CPU: {cl['cpu_s']:.2f}s ({cl['cpu_cores']:.2f} cores, "
                     f"{cl['procs']} proc(s))")
        if cl["procs"] and cl["cpu_cores"] / cl["procs"] > 0.9:
            lines.append("  Note: client processes were >90% busy; the result may be client-bound"
                         " (try more --procs)")
        if r.get("extra_messages"):
            lines.append(f"  Other messages (pushes, not replies): {r['extra_messages']:,}")
        lines.append(f"  Success: {seed['success_clients']:,}, Failures: {seed['failed_clients']:,}")
    if r["failures"]:
        lines.append("  Failure reasons:")
        for reason, n in r["failures"].items():
            lines.append(f"    {n:>7,}  {reason}")
    for e in r.get("worker_errors", []):
        lines.append(f"  Client worker error: {e}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    opts = build_parser().parse_args(argv)
    try:
        result = run(opts)
    except KeyboardInterrupt:
        print("\nrweb bench: interrupted", file=sys.stderr)
        return 130
    result["host"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    human = format_human(result)
    if opts.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
        if not opts.quiet and not opts.no_summary:
            print(human, file=sys.stderr)
    else:
        print(human)
    if opts.report:
        from .report import write_report

        write_report(result, opts.report, human)
        if not opts.quiet:
            print(f"  Report: {opts.report}", file=sys.stderr if opts.json else sys.stdout)
    sys.stdout.flush()
    return 0 if result.get("ok") else 1
