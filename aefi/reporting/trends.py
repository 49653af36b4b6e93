"""The dashboard's trend figures, pure: the epidemic curve (reports per week by event
group) and the townships ranked by their reporting rate. Plain values in, frozen
dataclasses out; no database or web imports.

Weeks run Monday to Sunday in local time (ISO 8601 weeks, as China's weekly surveillance
reports count them). A report counts once, under its first event group (the one triage
named first), so the bars of a week add up to the week's reports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from aefi.reporting.indicators import RateLine

WEEKS = 26
# More groups than this in half a year make an unreadable stack: the rest are "other".
MAX_GROUPS = 6
OTHER = "other"


def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class EpiCurve:
    weeks: tuple[date, ...]  # the Monday of each week, oldest first; the last is this week
    groups: tuple[str, ...]  # event groups, most reports first; OTHER last if present
    counts: tuple[tuple[int, ...], ...]  # per group (as ``groups``), per week
    totals: tuple[int, ...]  # per week

    @property
    def total(self) -> int:
        return sum(self.totals)

    def count(self, group: str, week: date) -> int:
        return self.counts[self.groups.index(group)][self.weeks.index(week)]


def epi_curve(
    reports: Iterable[tuple[date, Sequence[str]]],
    *,
    today: date,
    weeks: int = WEEKS,
    max_groups: int = MAX_GROUPS,
) -> EpiCurve:
    """Reports per week by event group over the ``weeks`` weeks ending with ``today``'s.

    ``reports``: each report's local onset day and event groups (first = its own group;
    none = OTHER). Reports outside the weeks are left out."""
    last = week_start(today)
    first = last - timedelta(weeks=weeks - 1)
    mondays = tuple(first + timedelta(weeks=i) for i in range(weeks))
    index = {m: i for i, m in enumerate(mondays)}
    cells: Counter[tuple[str, int]] = Counter()
    by_group: Counter[str] = Counter()
    for day, groups in reports:
        i = index.get(week_start(day))
        if i is None:
            continue
        group = groups[0] if groups else OTHER
        cells[(group, i)] += 1
        by_group[group] += 1
    ranked = sorted(by_group, key=lambda g: (g == OTHER, -by_group[g], g))
    kept = [g for g in ranked if g != OTHER][:max_groups]
    merged = set(by_group) - set(kept)
    shown = [*kept, *([OTHER] if merged else [])]
    counts = []
    for g in shown:
        members = merged if g == OTHER else {g}
        counts.append(tuple(sum(cells[(m, i)] for m in members) for i in range(weeks)))
    totals = tuple(sum(c[i] for c in counts) for i in range(weeks))
    return EpiCurve(mondays, tuple(shown), tuple(counts), totals)


def by_rate(lines: Iterable[RateLine]) -> list[RateLine]:
    """Townships (or any lines) by reporting rate, highest first; a line without doses (no
    rate) last; ties by more reports, then by name."""
    return sorted(
        lines,
        key=lambda line: (line.rate is None, -(line.rate or 0.0), -line.reports, line.label_zh),
    )
