"""A self-contained HTML report (inline SVG, no scripts, no CDN) of one bench result."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

W, H = 720, 300
ML, MR, MT, MB = 70, 20, 20, 50  # margins


def _esc(v: Any) -> str:
    return html.escape(str(v))


def _fmt_num(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1e6:g}M"
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def _fmt_us(v: float) -> str:
    if v >= 1e6:
        return f"{v / 1e6:.3g} s"
    if v >= 1000:
        return f"{v / 1000:.3g} ms"
    return f"{v:.3g} µs"


def _frame(title: str, body: list[str]) -> str:
    return (
        f'<figure><figcaption>{_esc(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'font-family="sans-serif" font-size="11">'
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>'
        + "".join(body)
        + "</svg></figure>"
    )


def _axes(xlabel: str, ylabel: str) -> list[str]:
    x0, y0, x1, y1 = ML, H - MB, W - MR, MT
    return [
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>',
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>',
        f'<text x="{(x0 + x1) / 2}" y="{H - 12}" text-anchor="middle">{_esc(xlabel)}</text>',
        f'<text x="14" y="{(y0 + y1) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(y0 + y1) / 2})">{_esc(ylabel)}</text>',
    ]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    e = math.floor(math.log10(lo))
    while 10**e <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10**e
            if lo * 0.9999 <= v <= hi * 1.0001:
                ticks.append(v)
        e += 1
    return ticks


def histogram_svg(edges_us: Sequence[float], counts: Sequence[int]) -> str:
    if not counts:
        return ""
    lo, hi = math.log10(edges_us[0]), math.log10(edges_us[-1])
    cmax = (max(counts) or 1) * 1.05
    pw, ph = W - ML - MR, H - MT - MB

    def x(v: float) -> float:
        return ML + (math.log10(v) - lo) / (hi - lo) * pw

    def y(c: float) -> float:
        return H - MB - c / cmax * ph

    body = _axes("latency per click (log scale)", "clicks")
    for i, c in enumerate(counts):
        if c:
            xa, xb = x(edges_us[i]), x(edges_us[i + 1])
            body.append(f'<rect x="{xa:.1f}" y="{y(c):.1f}" width="{max(xb - xa - 0.5, 0.5):.1f}" '
                        f'height="{H - MB - y(c):.1f}" fill="#4a7bd0"><title>'
                        f'{_fmt_us(edges_us[i])} to {_fmt_us(edges_us[i + 1])}: {c:,}</title></rect>')
    for t in _log_ticks(edges_us[0], edges_us[-1]):
        body.append(f'<line x1="{x(t):.1f}" y1="{H - MB}" x2="{x(t):.1f}" y2="{H - MB + 4}" stroke="#333"/>'
                    f'<text x="{x(t):.1f}" y="{H - MB + 16}" text-anchor="middle">{_fmt_us(t)}</text>')
    for t in _nice_ticks(0, cmax):
        body.append(f'<text x="{ML - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt_num(t)}</text>'
                    f'<line x1="{ML}" y1="{y(t):.1f}" x2="{W - MR}" y2="{y(t):.1f}" stroke="#eee"/>')
    return _frame("Latency distribution (histogram, all clicks)", body)


def percentile_svg(cdf: Sequence[Sequence[float]]) -> str:
    """Latency by percentile on a "nines" axis (0, 90, 99, 99.9, 99.99 %)."""
    pts = [(p, v) for p, v in cdf if p < 100 and v > 0]
    if len(pts) < 2:
        return ""
    max_nines = 4.0
    vmax = max(v for _, v in cdf)
    vmin = min(v for _, v in pts)
    lo, hi = math.log10(max(vmin * 0.8, 0.1)), math.log10(vmax * 1.25)
    pw, ph = W - ML - MR, H - MT - MB

    def x(p: float) -> float:
        nines = min(-math.log10(max(1 - p / 100, 10**-max_nines)), max_nines)
        return ML + nines / max_nines * pw

    def y(v: float) -> float:
        return H - MB - (math.log10(v) - lo) / (hi - lo) * ph

    body = _axes("percentile", "latency (log scale)")
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(p):.1f},{y(v):.1f}" for i, (p, v) in enumerate(pts))
    body.append(f'<path d="{path}" fill="none" stroke="#c0392b" stroke-width="2"/>')
    for p, v in pts:
        body.append(f'<circle cx="{x(p):.1f}" cy="{y(v):.1f}" r="2.5" fill="#c0392b">'
                    f'<title>P{p:g}: {_fmt_us(v)}</title></circle>')
    body.append(f'<line x1="{ML}" y1="{y(vmax):.1f}" x2="{W - MR}" y2="{y(vmax):.1f}" '
                f'stroke="#999" stroke-dasharray="4 3"/>'
                f'<text x="{W - MR - 4}" y="{y(vmax) - 4:.1f}" text-anchor="end">max {_fmt_us(vmax)}</text>')
    for label, p in (("0%", 0.0), ("90%", 90.0), ("99%", 99.0), ("99.9%", 99.9), ("99.99%", 99.99)):
        body.append(f'<line x1="{x(p):.1f}" y1="{H - MB}" x2="{x(p):.1f}" y2="{MT}" stroke="#eee"/>'
                    f'<text x="{x(p):.1f}" y="{H - MB + 16}" text-anchor="middle">{label}</text>')
    for t in _log_ticks(10**lo, 10**hi):
        body.append(f'<text x="{ML - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt_us(t)}</text>'
                    f'<line x1="{ML}" y1="{y(t):.1f}" x2="{W - MR}" y2="{y(t):.1f}" stroke="#eee"/>')
    return _frame("Latency by percentile (CDF)", body)


def timeline_svg(bucket_s: float, rates: Sequence[float]) -> str:
    if not rates or bucket_s <= 0:
        return ""
    duration = bucket_s * len(rates)
    rmax = max(max(rates), 1.0) * 1.1
    pw, ph = W - ML - MR, H - MT - MB

    def x(t: float) -> float:
        return ML + t / duration * pw

    def y(r: float) -> float:
        return H - MB - r / rmax * ph

    body = _axes("time since the timed phase started (s)", "clicks/s")
    pts = []
    for i, r in enumerate(rates):
        pts.append(f"{x(i * bucket_s):.1f},{y(r):.1f}")
        pts.append(f"{x((i + 1) * bucket_s):.1f},{y(r):.1f}")
    body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="#27ae60" stroke-width="1.5"/>')
    for t in _nice_ticks(0, duration):
        body.append(f'<text x="{x(t):.1f}" y="{H - MB + 16}" text-anchor="middle">{t:g}</text>')
    for t in _nice_ticks(0, rmax):
        body.append(f'<text x="{ML - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{_fmt_num(t)}</text>'
                    f'<line x1="{ML}" y1="{y(t):.1f}" x2="{W - MR}" y2="{y(t):.1f}" stroke="#eee"/>')
    return _frame(f"Throughput over time ({bucket_s:g} s buckets)", body)


def render_report(r: dict[str, Any], summary_text: str) -> str:
    c = r["config"]
    title = f"rweb bench — {c['protocol']} — {c['url']}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:780px;margin:2em auto;color:#222}"
        "pre{background:#f6f6f6;padding:1em;overflow-x:auto}figure{margin:1.5em 0}"
        "figcaption{font-weight:bold;margin-bottom:.4em}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        f"<pre>{_esc(summary_text)}</pre>",
    ]
    dist = r.get("distribution")
    if dist and dist.get("counts"):
        parts.append(histogram_svg(dist["edges_us"], dist["counts"]))
        parts.append(percentile_svg(dist["cdf"]))
    tl = r.get("timeline")
    if tl and tl.get("rates"):
        parts.append(timeline_svg(tl["bucket_s"], tl["rates"]))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(r: dict[str, Any], path: str, summary: str) -> None:
    """Write the HTML report of result ``r``, with ``summary`` (the human text) on top."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_report(r, summary))
