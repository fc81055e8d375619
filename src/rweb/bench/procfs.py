"""Linux /proc readers: a server's CPU time and resident memory, found by pid or by port.

Everything here degrades to empty results off Linux (or when a pid vanished) instead of
raising, so that the load generator keeps working where /proc is not available.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (field 3, state, is index 0)."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    close = text.rfind(")")
    if close < 0:
        return None
    return text[close + 2 :].split()


def parent_map() -> dict[int, int]:
    """pid -> ppid for every process visible in /proc."""
    result: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return result
    for name in names:
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is not None and len(fields) > 1:
            result[int(name)] = int(fields[1])
    return result


def with_descendants(pids: Iterable[int]) -> list[int]:
    """The given pids plus all their live descendants (e.g. forked worker processes)."""
    roots = [p for p in pids if os.path.exists(f"/proc/{p}")]
    if not roots:
        return []
    children: dict[int, list[int]] = {}
    for pid, ppid in parent_map().items():
        children.setdefault(ppid, []).append(pid)
    seen: set[int] = set()
    stack = list(roots)
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        stack.extend(children.get(pid, ()))
    return sorted(seen)


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a whole process (all its threads, live and exited), in clock ticks."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 13:
        return None
    # /proc/PID/stat field 14 is utime and 15 stime; index 0 here is field 3.
    return int(fields[11]) + int(fields[12])


def cpu_snapshot(pids: Iterable[int]) -> dict[int, int]:
    snap: dict[int, int] = {}
    for pid in pids:
        ticks = cpu_ticks(pid)
        if ticks is not None:
            snap[pid] = ticks
    return snap


def cpu_seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds consumed between two snapshots. A pid that appeared in between counts
    from zero; one that vanished is lost (its time cannot be known)."""
    total = 0
    for pid, ticks in after.items():
        total += ticks - before.get(pid, 0)
    return total / _CLK_TCK


def rss_kib(pid: int) -> int | None:
    text = _read(f"/proc/{pid}/status")
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            parts = line.split()
            return int(parts[1])  # always reported in kB
    return None


def total_rss_kib(pids: Iterable[int]) -> int:
    return sum(v for v in (rss_kib(p) for p in pids) if v is not None)


def self_cpu_seconds() -> float:
    """This process's CPU time (user + system), with nanosecond resolution."""
    return time.process_time()


def listening_pids(port: int) -> list[int]:
    """Processes holding a listening TCP socket on ``port`` (IPv4 or IPv6), via
    /proc/net/tcp* and /proc/*/fd. Needs permission to read other processes' fds."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = _read(table)
        if not text:
            continue
        for line in text.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "0A":  # 0A = TCP_LISTEN
                continue
            try:
                local_port = int(parts[1].rsplit(":", 1)[1], 16)
            except (IndexError, ValueError):
                continue
            if local_port == port:
                inodes.add(parts[9])
    if not inodes:
        return []
    targets = {f"socket:[{i}]" for i in inodes}
    me = os.getpid()
    found: list[int] = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        fd_dir = f"/proc/{name}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in targets:
                    found.append(int(name))
                    break
            except OSError:
                continue
    return sorted(found)


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns (soft, hard) in force."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Linux
        return (-1, -1)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        target = max(soft, 1 << 20)
    else:
        target = hard
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard
