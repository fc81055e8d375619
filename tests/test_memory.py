"""Python's small-object arenas on huge pages (rweb.server.memory, docs/operations.md "Huge pages").

The hook is process-wide and stays for the life of a process, so every check runs
in a process of its own: a probe script, and real servers started by
``start_rweb`` and clicked over a real WebSocket.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from processes import ServerProcess, children_of, free_port

import rweb
from rweb.server.memory import transparent_huge_pages

THP = transparent_huge_pages()
compiled = pytest.mark.skipif(not rweb.COMPILED, reason="the arena hook is part of the compiled build")
thp_on = pytest.mark.skipif(THP not in ("always", "madvise"), reason=f"transparent huge pages: {THP}")


def anon_huge_kib(pid: int | str = "self") -> int:
    """AnonHugePages of a process (kB), from /proc."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])
    raise AssertionError("no AnonHugePages line")


PROBE = """
import gc, json, os, sys
from rweb.server import memory

def huge():
    for line in open("/proc/self/smaps_rollup"):
        if line.startswith("AnonHugePages:"):
            return int(line.split()[1])

before = [[i] for i in range(200_000)]  # arenas from CPython's own allocator
huge0 = huge()
installed = memory.huge_page_arenas()
again = memory.huge_page_arenas()
s0 = memory.arena_stats()
held = [[i] for i in range(400_000)]  # about 35 MiB of small objects: new arenas, from the hook
s1 = memory.arena_stats()
huge1 = huge()
del before  # the old allocator's arenas go back to it, not to the hook
gc.collect()
s2 = memory.arena_stats()
pid = os.fork()  # a forked child keeps the hook and its chunks
if pid == 0:
    more = [[i] for i in range(200_000)]
    ok = memory.arena_stats()["mapped"] > s2["mapped"] and sum(len(x) for x in held) == 400_000
    del more, held
    gc.collect()
    os._exit(0 if ok else 3)
status = os.waitpid(pid, 0)[1]
total = sum(x[0] for x in held)
del held
gc.collect()
s3 = memory.arena_stats()
print(json.dumps({"installed": installed, "again": again, "s0": s0, "s1": s1, "s2": s2, "s3": s3,
                  "huge0": huge0, "huge1": huge1, "child": status, "total": total}))
"""


@compiled
@thp_on
def test_arenas_come_from_huge_pages_and_go_back_to_the_system() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["installed"] is True and r["again"] is True
    assert r["s0"] == {"installed": 1, "chunks": 0, "arenas": 0, "mapped": 0, "advised": 0}
    s1 = r["s1"]
    # 35 MiB of lists in 1 MiB arenas, two to a chunk; the kernel took every chunk as huge.
    assert s1["arenas"] >= 25 and s1["chunks"] * 2 >= s1["arenas"] >= s1["chunks"] * 2 - 1
    assert s1["advised"] == s1["mapped"] == s1["chunks"]
    assert r["huge1"] - r["huge0"] >= 2048 * (s1["chunks"] // 2), r  # most of them resident as huge pages
    # The arenas CPython made before the hook were not handed to it when freed.
    assert r["s2"]["chunks"] == s1["chunks"] and r["s2"]["arenas"] == s1["arenas"]
    assert r["child"] == 0
    assert r["total"] == sum(range(400_000))
    # Emptied chunks are unmapped: what the objects held goes back to the system.
    assert r["s3"]["chunks"] <= 2, r["s3"]


APP = """
import os, sys
from rweb import App, reactive, start_rweb
from rweb.html import button, component, div, span
from rweb.server.memory import arena_stats

@reactive
class Probe:
    text: str

app = App("arenas")

@app.page("/")
def home(writer_id):
    probe = Probe("")
    held = []

    def render():
        return div(component("probe", lambda: span(probe.text)), button("grow", data_action="grow"))

    def on_action(action, params):
        if action == "grow":
            held.append([[i] for i in range(100_000)])  # about 9 MiB of small objects
        s = arena_stats() or {"arenas": -1, "installed": 0}
        probe.text = f"pid={os.getpid()} installed={s['installed']} arenas={s['arenas']}"

    return render, on_action

# huge_pages left to its default, or turned off
off = {} if sys.argv[3] == "1" else {"huge_pages": False}
start_rweb(int(sys.argv[1]), app, host="127.0.0.1", workers=int(sys.argv[2]), **off)
"""


def serve(tmp_path: Path, workers: int, huge_pages: bool) -> ServerProcess:
    script = tmp_path / "arenas_app.py"
    script.write_text(textwrap.dedent(APP))
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, str(script), str(port), str(workers), "1" if huge_pages else "0"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = ServerProcess(proc, port, log_path)
    server.wait_listening()
    return server


def grow(server: ServerProcess, wire: Any) -> dict[str, int]:
    """One session clicks ``grow`` twice: what its worker's hook then counts."""

    async def main() -> str:
        async with wire.connect(server.url) as ws:
            await wire.recv(ws)
            return json.dumps([await wire.click(ws, "grow") for _ in range(2)])

    # The second reply carries the text unless it did not change (without the hook: no arenas).
    found = re.findall(r"pid=(\d+) installed=(\d+) arenas=(-?\d+)", wire.run(main()))
    assert found, server.log()
    pid, installed, arenas = map(int, found[-1])
    return {"pid": pid, "installed": installed, "arenas": arenas}


@compiled
@thp_on
@pytest.mark.parametrize("workers", [1, 2])
def test_start_rweb_serves_sessions_from_huge_pages(tmp_path: Path, wire: Any, workers: int) -> None:
    server = serve(tmp_path, workers, huge_pages=True)
    try:
        seen = grow(server, wire)
        assert seen["installed"] == 1 and seen["arenas"] >= 16, seen  # the session's 18 MiB among them
        assert seen["pid"] == server.proc.pid if workers == 1 else seen["pid"] in children_of(server.proc.pid)
        assert anon_huge_kib(seen["pid"]) >= 8 * 2048, server.log()
    finally:
        server.stop()


@compiled
def test_huge_pages_false_leaves_the_arenas_alone(tmp_path: Path, wire: Any) -> None:
    server = serve(tmp_path, 1, huge_pages=False)
    try:
        seen = grow(server, wire)
        assert seen["installed"] == 0 and seen["arenas"] == 0, seen
        if THP == "madvise":  # nothing else in the process asks for huge pages
            assert anon_huge_kib(seen["pid"]) == 0
    finally:
        server.stop()


@pytest.mark.parametrize(("text", "mode"), [
    ("always [madvise] never\n", "madvise"), ("[always] madvise never\n", "always"),
    ("always madvise [never]\n", "never"), ("", None), (None, None),
])
def test_the_kernels_mode_is_read_and_never_means_no_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | None, mode: str | None
) -> None:
    from rweb.server import memory

    where = tmp_path / "enabled"
    if text is not None:
        where.write_text(text)
    monkeypatch.setattr(memory, "THP_ENABLED", where)
    assert memory.transparent_huge_pages() == mode
    if mode == "never":  # nothing installed (in this process: the hook would stay)
        before = memory.arena_stats()
        assert memory.huge_page_arenas() is False
        assert memory.arena_stats() == before
