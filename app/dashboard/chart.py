"""Events per hour by type as stacked bars, laid out here and drawn as SVG by a template."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PALETTE = (
    "#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed",
    "#0891b2", "#db2777", "#65a30d", "#6b7280",
)  # fmt: skip
OTHER = "other"
MAX_SERIES = 8

WIDTH = 720
HEIGHT = 200
LEFT = 40
BOTTOM = 20
TOP = 8


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

    hours: list[datetime]
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


def build_chart(counts: dict[tuple[str, str], int], hours: list[datetime]) -> Chart:
    """Lay out stacked bars from {(hour "YYYY-MM-DD HH", name): count}."""
    totals: dict[str, int] = {}
    for (_, name), n in counts.items():
        totals[name] = totals.get(name, 0) + n
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    shown = ranked[:MAX_SERIES] if len(ranked) <= MAX_SERIES else ranked[: MAX_SERIES - 1]
    folded = {name: (name if name in shown else OTHER) for name in ranked}
    names = shown + ([OTHER] if len(shown) < len(ranked) else [])
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    series_totals = {name: 0 for name in names}
    per_hour: dict[str, dict[str, int]] = {}
    for (key, name), n in counts.items():
        bucket = per_hour.setdefault(key, {})
        bucket[folded[name]] = bucket.get(folded[name], 0) + n
        series_totals[folded[name]] += n
    chart = Chart(hours=hours, series=[(n, colors[n], series_totals[n]) for n in names])
    keyed = [(hour, per_hour.get(hour.strftime("%Y-%m-%d %H"), {})) for hour in hours]
    chart.max_total = max((sum(v.values()) for _, v in keyed), default=0)
    chart.table = [(hour, values, sum(values.values())) for hour, values in keyed]
    plot_h = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / max(1, len(hours))
    scale = plot_h / chart.max_total if chart.max_total else 0.0
    for i, (hour, values) in enumerate(keyed):
        x = LEFT + i * slot + slot * 0.1
        y = float(HEIGHT - BOTTOM)
        for name in names:
            n = values.get(name, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            label = f"{hour:%H}:00 UTC: {n} {name}"
            chart.bars.append(Bar(round(x, 1), round(y, 1), round(slot * 0.8, 1), round(h, 1),
                                  colors[name], label))  # fmt: skip
        if i % 3 == 0:
            chart.ticks.append((round(x + slot * 0.4, 1), f"{hour:%H}h"))
    if chart.max_total:
        for fraction in (0.5, 1.0):
            value = round(chart.max_total * fraction)
            chart.gridlines.append((round(HEIGHT - BOTTOM - value * scale, 1), value))
    return chart
