"""Figures in words for people: durations, percentages, hour spans."""

from __future__ import annotations

from handlers.reports import Ratio, Times


def human_duration(seconds: float | None) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h'; '—' when there is nothing to show."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def percent(ratio: Ratio) -> str:
    rate = ratio.rate
    return "—" if rate is None else f"{rate:.1%} ({ratio.count}/{ratio.of})"


def median_p90(times: Times) -> str:
    if not times.count:
        return "—"
    return f"{human_duration(times.median)} · p90 {human_duration(times.p90)}"


def hour_span(hour: int | None) -> str:
    return "—" if hour is None else f"{hour:02d}:00–{(hour + 1) % 24:02d}:00"


def bar(n: int, top: int, width: int = 30) -> str:
    """``n`` as a bar of blocks, ``width`` long for ``top``: a chart in text."""
    return "█" * round(width * n / top) if top else ""
