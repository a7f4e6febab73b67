"""Events per hour by type as stacked bars, laid out here and drawn as SVG by a template."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from app.queries.overview import WINDOWS, Window

# One colour per event type, the same on every page load and whatever else happened:
# failures red, arrivals green, the rest in distinct hues; unknown names hash into SPARE.
FIXED_COLOURS = {
    "HostDown": "#dc2626", "HostCrash": "#991b1b", "BeforeHostTerminate": "#f97316",
    "HostUp": "#16a34a", "HostInit": "#2563eb", "RebootBegin": "#a16207",
    "RebootComplete": "#0891b2", "IPAddressChanged": "#7c3aed", "CheckFailed": "#db2777",
    "CheckRecovered": "#65a30d", "FarmLaunched": "#0d9488", "FarmTerminated": "#4b5563",
}  # fmt: skip
SPARE = ("#1d4ed8", "#be185d", "#15803d", "#b45309", "#6d28d9", "#0e7490", "#a21caf", "#4d7c0f")
OTHER_COLOUR = "#9ca3af"
OTHER = "other"
MAX_SERIES = 8

WIDTH = 480
HEIGHT = 200
LEFT = 34
BOTTOM = 20
TOP = 8
MAX_TICKS = 6


def colour_of(name: str) -> str:
    """Return the event type's colour: fixed for known names, a stable pick for others."""
    if name == OTHER:
        return OTHER_COLOUR
    return FIXED_COLOURS.get(name) or SPARE[zlib.crc32(name.encode()) % len(SPARE)]


@dataclass(frozen=True)
class Bar:
    """One rectangle of one type in one hour."""

    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


@dataclass
class Chart:
    """Everything the template needs to draw the chart and its legend."""

    window: Window
    buckets: list[datetime]
    series: list[tuple[str, str, int]]  # name, colour, total
    bars: list[Bar] = field(default_factory=list)
    max_total: int = 0
    ticks: list[tuple[float, str]] = field(default_factory=list)  # x, label
    gridlines: list[tuple[float, int]] = field(default_factory=list)  # y, value
    table: list[tuple[datetime, dict[str, int], int]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_bottom: int = HEIGHT - BOTTOM

    @property
    def span_text(self) -> str:
        """Say which dates the chart covers, in UTC: `2024-05-01 10:00 to 2024-05-01 11:00 UTC`."""
        if not self.buckets:
            return ""
        end = self.buckets[-1] + self.window.bucket
        return f"{self.buckets[0]:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"

    def bucket_label(self, at: datetime) -> str:
        """Name one bar's time: the date once it is more than a day."""
        return f"{at:%m-%d %H:%M}" if self.window.span.days else f"{at:%H:%M}"


def build_chart(
    counts: dict[tuple[datetime, str], int], buckets: list[datetime], window: Window | None = None
) -> Chart:
    """Lay out stacked bars from {(bar start, name): count}."""
    window = window or WINDOWS["24h"]
    totals: dict[str, int] = {}
    for (_, name), n in counts.items():
        totals[name] = totals.get(name, 0) + n
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    shown = ranked[:MAX_SERIES] if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    folded = {name: (name if name in shown else OTHER) for name in ranked}
    names = shown + ([OTHER] if len(shown) < len(ranked) else [])
    series_totals = {name: 0 for name in names}
    per_bucket: dict[datetime, dict[str, int]] = {}
    for (at, name), n in counts.items():
        bucket = per_bucket.setdefault(at, {})
        bucket[folded[name]] = bucket.get(folded[name], 0) + n
        series_totals[folded[name]] += n
    chart = Chart(window, buckets, [(n, colour_of(n), series_totals[n]) for n in names])
    keyed = [(at, per_bucket.get(at, {})) for at in buckets]
    chart.max_total = max((sum(v.values()) for _, v in keyed), default=0)
    chart.table = [(at, values, sum(values.values())) for at, values in keyed]
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(buckets))
    scale = plot_h / chart.max_total if chart.max_total else 0.0
    every = max(1, -(-len(buckets) // MAX_TICKS))
    for i, (at, values) in enumerate(keyed):
        x = LEFT + i * slot + slot * 0.1
        y = float(HEIGHT - BOTTOM)
        for name in names:
            n = values.get(name, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            label = f"{chart.bucket_label(at)} UTC: {n} {name}"
            chart.bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.8, 1), round(h, 1),
                                  colour_of(name), label))  # fmt: skip
        if i % every == 0:
            tick = f"{at:%m-%d}" if window.bucket.days or (window.span.days and not at.hour) else ""
            chart.ticks.append((round(x + slot * 0.4, 1), tick or f"{at:%H:%M}"))
    if chart.max_total:
        for fraction in (0.5, 1.0):
            value = round(chart.max_total * fraction)
            chart.gridlines.append((round(HEIGHT - BOTTOM - value * scale, 1), value))
    return chart
