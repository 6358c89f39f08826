"""A report as a PNG chart: tickets per local day and the median resolution time."""

from __future__ import annotations

import io

from handlers.reports import Report


def chart_png(report: Report, categories: int = 6) -> bytes:
    """Tickets opened per local day, stacked by category (the top ones, the rest as 'other'),
    with the median resolution time of each day's tickets on a second axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy; only when drawing
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(f"Tickets per day by category — {report.period.label}")
    days = [d.day for d in report.days]
    shown = list(report.by_category)[:categories]
    rest = [c for c in report.by_category if c not in shown]
    series = [(c, [d.opened.get(c, 0) for d in report.days]) for c in shown]
    if rest:
        series.append(("other", [sum(d.opened.get(c, 0) for c in rest) for d in report.days]))
    bottom = [0] * len(days)
    for label, counts in series:
        axes.bar(days, counts, bottom=bottom, label=label)
        bottom = [b + n for b, n in zip(bottom, counts, strict=True)]
    axes.set_ylabel("tickets opened")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if not report.opened:
        axes.text(0.5, 0.5, "No tickets in this period", ha="center", transform=axes.transAxes)
    hours = [
        None if d.resolution_median is None else d.resolution_median / 3600 for d in report.days
    ]
    if any(h is not None for h in hours):
        trend = axes.twinx()
        points = [(d, h) for d, h in zip(days, hours, strict=True) if h is not None]
        trend.plot(*zip(*points, strict=True), color="black", marker="o", label="median resolution")
        trend.set_ylabel("median resolution (h)")
        trend.set_ylim(bottom=0)
        trend.legend(loc="upper right")
    if series:
        axes.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
