"""Summary statistics over the merged per-click latencies (nanoseconds)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from typing import Any

PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99_9", 99.9),
)


def percentile(sorted_values: Sequence[int | float], p: float) -> float:
    """Nearest-rank percentile (the smallest value with at least p% of values <= it)."""
    n = len(sorted_values)
    if n == 0:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * n))
    return float(sorted_values[min(rank, n) - 1])


def latency_summary_us(sorted_ns: Sequence[int]) -> dict[str, float]:
    n = len(sorted_ns)
    out: dict[str, float] = {}
    for key, p in PERCENTILES:
        out[key] = percentile(sorted_ns, p) / 1000.0
    out["max"] = (sorted_ns[-1] / 1000.0) if n else 0.0
    out["min"] = (sorted_ns[0] / 1000.0) if n else 0.0
    out["mean"] = (sum(sorted_ns) / n / 1000.0) if n else 0.0
    return out


def seed_avg_figures_ms(client_avg_ns: Sequence[float]) -> dict[str, float | None]:
    """The seed's "Avg latency P50/P99": percentiles of each client's average latency,
    indexed exactly as the seed does (times[len/2], times[len*99/100])."""
    times = sorted(client_avg_ns)
    n = len(times)
    if n == 0:
        return {"avg_latency_p50_ms": None, "avg_latency_p99_ms": None}
    return {
        "avg_latency_p50_ms": times[n // 2] / 1e6,
        "avg_latency_p99_ms": times[n * 99 // 100] / 1e6,
    }


def distribution(sorted_ns: Sequence[int], per_decade: int = 20) -> dict[str, Any]:
    """Log-spaced histogram and CDF of latencies (in µs) for the report."""
    n = len(sorted_ns)
    if n == 0:
        return {"edges_us": [], "counts": [], "cdf": []}
    lo_us = max(sorted_ns[0] / 1000.0, 1.0)
    hi_us = max(sorted_ns[-1] / 1000.0, lo_us * 1.01)
    start = math.floor(math.log10(lo_us) * per_decade) / per_decade
    stop = math.ceil(math.log10(hi_us) * per_decade) / per_decade
    steps = max(1, round((stop - start) * per_decade))
    edges_us = [10 ** (start + i / per_decade) for i in range(steps + 1)]
    edges_ns = [e * 1000.0 for e in edges_us]
    counts = []
    prev = 0
    for i, e in enumerate(edges_ns[1:]):
        # the last bin is closed on the right so that the maximum is included
        idx = bisect_right(sorted_ns, e) if i == steps - 1 else bisect_left(sorted_ns, e)
        counts.append(idx - prev)
        prev = idx
    counts[0] += bisect_left(sorted_ns, edges_ns[0])  # values below 1 µs
    cdf_points = [0.0, 1, 5, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 100.0]
    cdf = [[p, percentile(sorted_ns, p) / 1000.0 if p > 0 else sorted_ns[0] / 1000.0] for p in cdf_points]
    return {"edges_us": [round(e, 3) for e in edges_us], "counts": counts, "cdf": cdf}


def merge_timelines(
    timelines: Sequence[Sequence[tuple[int, int]]],
    t0: int,
    t1: int,
    buckets: int = 100,
    min_width: float = 0.1,
) -> dict[str, Any]:
    """Throughput over time from each worker's (t_ns, cumulative clicks) samples, merged
    by linear interpolation onto common bucket edges."""
    duration = (t1 - t0) / 1e9
    if duration <= 0:
        return {"bucket_s": 0.0, "rates": []}
    raw = duration / buckets
    # a "nice" bucket width: 1, 2 or 5 x 10^k seconds, no finer than the workers' sampling
    raw = max(raw, min_width)
    exp = math.floor(math.log10(raw))
    base = 10.0**exp
    width = next(m * base for m in (1, 2, 5, 10) if m * base >= raw * 0.999)
    n = max(1, math.ceil(duration / width))
    edges = [t0 + int(i * width * 1e9) for i in range(n + 1)]
    total = [0.0] * (n + 1)
    for samples in timelines:
        if not samples:
            continue
        ts = [t for t, _ in samples]
        cs = [c for _, c in samples]
        for i, e in enumerate(edges):
            j = bisect_right(ts, e)
            if j == 0:
                v = 0.0
            elif j >= len(ts):
                v = float(cs[-1])
            else:
                ta, tb = ts[j - 1], ts[j]
                ca, cb = cs[j - 1], cs[j]
                v = ca + (cb - ca) * ((e - ta) / (tb - ta) if tb > ta else 1.0)
            total[i] += v
    rates = []
    for i in range(n):
        span = min(width, duration - i * width)
        rates.append((total[i + 1] - total[i]) / span if span > 0 else 0.0)
    return {"bucket_s": width, "rates": [round(r, 1) for r in rates]}
