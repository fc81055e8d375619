"""A smoke run of ``benchmarks/compare.py --quick`` (tiny sizes): the servers start,
the interleaved rounds run, the control row gets its busy work, the table is written.
Counts and shapes only, never timings; and the arithmetic of the benchmarks' derived tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_quick_comparison_writes_every_row(tmp_path: Path) -> None:
    import rweb

    out = tmp_path / "bench.md"
    ncpu = os.cpu_count() or 1
    # The plain-Python row runs only when the rweb under test is compiled.
    plain = rweb.COMPILED and ncpu > 1
    servers = "rweb-1,rweb-n,bare-picows-n,bare-picows-batched,bare-picows-spin" + (",rweb-n-py" if plain else "")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "compare.py"), "--quick", "--skip-setup",
         "--servers", servers, "--runs", "2",
         "--idle-sessions", "10", "--max-time", "60", "--output", str(out)],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    md = out.read_text()
    rows = [line for line in md.splitlines() if line.startswith("| rweb") or line.startswith("| bare")]
    labels = {line.split("|")[1].strip() for line in rows}
    assert "rweb (1 worker)" in labels
    if ncpu > 1:
        assert f"rweb ({ncpu} workers)" in labels
        assert f"bare picows ({ncpu} workers) + rweb's extra CPU as busy work" in labels
        assert f"bare picows ({ncpu} workers), answering in batches like rweb" in labels
        assert "was " in md and "µs per click: rweb's server CPU per click minus" in md
    assert not any("not run" in line for line in rows), rows
    assert "Speed probes, taken before every load run" in md
    if plain:
        assert f"rweb ({ncpu} workers), plain Python" in labels
        assert "- rweb build: compiled" in md
        cost = [line for line in md.splitlines() if line.startswith(("| counter |", "| table |"))]
        assert len(cost) == 2, md
    else:
        assert "- rweb build: " in md
    # Every load row of both sizes answered every click: the failures column is "0".
    load_rows = [line for line in rows if line.count("|") > 8]
    assert load_rows and all(line.rstrip(" |").endswith("| 0") for line in load_rows), load_rows
    # The interleaved rounds ran every server in each round.
    assert proc.stderr.count("20x20 run 2/2") == (6 if plain else 5 if ncpu > 1 else 1)


def test_render_cost_prints_both_pages_for_both_builds() -> None:
    import rweb

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "render_cost.py"), "--rounds", "1",
         "--sessions", "20", "--clicks", "2"],
        capture_output=True, text=True, timeout=240, env=env, cwd=ROOT,
    )
    if not rweb.COMPILED:
        assert proc.returncode == 1 and "not compiled" in proc.stdout
        return
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()[2:]}
    assert set(rows) == {"counter", "table"}
    for compiled, plain, ratio in rows.values():
        assert float(compiled) > 0 and float(plain) > 0
        assert abs(float(ratio) - float(compiled) / float(plain)) < 0.01


def test_fanout_prints_the_cores_that_two_workers_target_would_need(monkeypatch: pytest.MonkeyPatch) -> None:
    # benchmarks/fanout.py's bound under the 2-workers / 1-worker table: cores = deliveries/s x
    # (server + client CPU per delivery), the client's per delivery from the 2-worker run.
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import fanout
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    monkeypatch.setattr(fanout.os, "cpu_count", lambda: 2)
    med = {
        "local": {"deliveries_per_s": 100_000.0, "server_cpu_us_per_delivery": 10.0, "client_cores": 0.6},
        "redis": {"deliveries_per_s": 110_000.0, "server_cpu_us_per_delivery": 11.0, "client_cores": 0.66},
        "bare": {"deliveries_per_s": 120_000.0, "server_cpu_us_per_delivery": 8.0, "client_cores": 0.7},
    }
    # busy: 1e5 x (10 + 6) µs = 1.60; the 2-worker client: 0.66 / 1.1e5 = 6 µs a delivery;
    # 1.3x: 1.3e5 x (11 + 6) µs = 2.21, and at the bare server's 8 µs: 1.3e5 x 14 µs = 1.82.
    assert fanout.core_bound(5000, med) == "| 5,000 | 1.60 | 2.21 | 1.82 | 2 |"
    assert fanout.core_bound(5000, {**med, "redis": {"deliveries_per_s": None}}) is None
    rounds = {"5000": {"redis": [{"deliveries_per_s": 130.0}], "local": [{"deliveries_per_s": 100.0}]}}
    table = "\n".join(fanout.scaling_table(rounds, [5000], {"5000": med}))
    assert "| 5,000 | rweb, 1 worker, no broker | 1.30 | 1.30 |" in table
    assert "| 5,000 | 1.60 | 2.21 | 1.82 | 2 |" in table


def test_fanout_counts_a_busy_process_waiting_for_a_core_and_tables_it() -> None:
    # benchmarks/fanout.py's waits (schedstat's run delay): three spinning processes on one core
    # take turns, so at any moment two of them wait for it; the table prints a row's figures per write.
    fanout: Any = _bench_module("fanout")
    mine = fanout.schedstat_ns(os.getpid())
    if mine is None or mine[0] == 0 or shutil.which("taskset") is None:  # (0: the kernel keeps no sched info)
        pytest.skip("no /proc/PID/task/*/schedstat, or no taskset, here")
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 5: pass"
    procs = [subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", spin]) for _ in range(3)]
    try:
        groups = {"spinners": [p.pid for p in procs], "gone": [2**22 + 7]}
        time.sleep(0.2)  # all three started
        before = fanout.wait_snapshot_ns(groups)
        time.sleep(0.6)
        after = fanout.wait_snapshot_ns(groups)
    finally:
        for p in procs:
            p.kill()
            p.wait(10)
    assert set(before) == set(after) == {"spinners"}  # a group with no readable process is left out
    # 0.6 s with two of the three waiting at any moment: about 1.2 s of waiting between the readings.
    assert 0.6e9 < after["spinners"] - before["spinners"] < 1.9e9  # (at most: all three waiting all along)
    data = {"1000": {"redis": {"p50_ms": 10.0, "server_cpu_ms_per_write": 11.2, "client_cpu_ms_per_write": 7.9,
                               "wait_ms_per_write": {"servers": 3.3, "client": 3.2, "redis": 0.018}},
                     "bare": {"p50_ms": 9.0}}}
    table = fanout.wait_table(data, [1000], ["bare", "redis"])
    assert table[2:] == ["| rweb, 2 workers, Redis broker | 1,000 | 10.0 ms | 11.2 ms | 7.90 ms | 3.30 ms | 3.20 ms | 18 µs |"]
    assert fanout.wait_table({"1000": {"bare": {"p50_ms": 9.0}}}, [1000], ["bare"]) == []


def _bench_module(name: str) -> object:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


def test_gc_pauses_reads_its_settings_as_default_and_triples() -> None:
    gc_pauses = _bench_module("gc_pauses")
    assert gc_pauses.parse_settings("default,50000,10,10,700,10,10") == ["default", "50000,10,10", "700,10,10"]  # type: ignore[attr-defined]
    assert gc_pauses.parse_settings("50000,1,100,default") == ["50000,1,100", "default"]  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="three numbers"):
        gc_pauses.parse_settings("default,50000,10")  # type: ignore[attr-defined]


def test_fanout_perf_splits_perf_reports_rows_into_samples_and_names() -> None:
    # `perf report --stdio --no-children -n --sort dso`: overhead, samples, then the name.
    fanout_perf = _bench_module("fanout_perf")
    rows = """# Samples: 6K of event 'cpu-clock'
#
    74.69%          4512  [kernel.kallsyms]
     5.53%           334  render.cpython-311-x86_64-linux-gnu.so
     0.02%             1  [vdso]
"""
    parsed = [m.groups()[1:] for line in rows.splitlines() if (m := fanout_perf.SAMPLE_LINE.match(line))]  # type: ignore[attr-defined]
    assert parsed == [("4512", "[kernel.kallsyms]"), ("334", "render.cpython-311-x86_64-linux-gnu.so"), ("1", "[vdso]")]
