"""Replay imported reports from the database, a day, week or month at a time, and list when
each (vaccine, reported term) and (vaccine, event group) pair first met Evans' criteria.

Counting is by reports (DOMAIN.md): a = reports with the vaccine and the term (or group),
b = with the vaccine and not it, c = with it and another vaccine only, d = the rest, over the
reports received up to the end of the step. Evans: PRR >= 2, Yates-corrected chi-square >= 4,
a >= 3. A pair is listed once, at the first step it signals, with its count at that date.

The engine (``first_signals``) is pure: items in, table out; ``load_items`` reads the
items of one report source (VAERS imports by default) from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from aefi.signals import stats
from aefi.signals.expected import GROUPS

STEPS = ("day", "week", "month")
# Every real event group and serious_aefi (all_aefi would be every report: no 2x2 table).
DP_GROUPS = [g for g in GROUPS if g != "all_aefi"]


def step_label(d: date, step: str) -> str:
    """The step a day falls in: 1997-03-05, 1997-W10, 1997-03."""
    if step == "day":
        return d.isoformat()
    if step == "week":
        iso = d.isocalendar()
        return f"{iso[0]}-W{iso[1]:02d}"
    if step == "month":
        return f"{d.year}-{d.month:02d}"
    raise ValueError(f"step must be one of {', '.join(STEPS)}, not {step!r}")


@dataclass(frozen=True)
class Item:
    """One report as the replay sees it."""

    received_on: date
    vaccines: tuple[str, ...]
    terms: tuple[str, ...]
    groups: tuple[str, ...]  # event groups, serious_aefi included when serious


@dataclass(frozen=True)
class FirstSignal:
    level: str  # "term" or "group"
    vaccine: str
    name: str  # the term's text or the event group's key
    step: str  # label of the step it first signalled
    a: int  # reports with the vaccine and the term/group up to that step
    reports_with_vaccine: int
    prr: float
    prr_lower: float
    prr_upper: float
    chi2_yates: float
    ic025: float


@dataclass(frozen=True)
class StepSummary:
    label: str
    reports: int  # received in the step
    total: int  # received up to its end
    new_terms: int
    new_groups: int


@dataclass
class ReplayResult:
    step: str
    steps: list[StepSummary] = field(default_factory=list)
    signals: list[FirstSignal] = field(default_factory=list)

    def of_level(self, level: str) -> list[FirstSignal]:
        return [s for s in self.signals if s.level == level]


class _Level:
    """Cumulative report counts of one level (vaccine x key) and its first signals."""

    def __init__(self, name: str, keys: list[str], n_vaccines: int) -> None:
        self.name = name
        self.keys = keys
        self.index = {k: i for i, k in enumerate(keys)}
        self.a = np.zeros((n_vaccines, len(keys)))
        self.n_key = np.zeros(len(keys))
        self.seen = np.zeros((n_vaccines, len(keys)), dtype=bool)

    def add(self, vs: list[int], keys: Iterable[str]) -> None:
        ks = sorted({self.index[k] for k in keys if k in self.index})
        for k in ks:
            self.n_key[k] += 1
            for v in vs:
                self.a[v, k] += 1

    def fresh(self, n_v: np.ndarray, n: int, label: str, vaccines: list[str]) -> list[FirstSignal]:
        # Evans needs a >= 3: test only those cells not yet signalled.
        vi, ki = np.nonzero((self.a >= 3) & ~self.seen)
        if vi.size == 0:
            return []
        a = self.a[vi, ki]
        b = n_v[vi] - a
        c = self.n_key[ki] - a
        d = float(n) - a - b - c
        res = stats.disproportionality(a, b, c, d)
        hit = np.asarray(res.evans, dtype=bool)
        out = []
        for j in np.nonzero(hit)[0]:
            v, k = int(vi[j]), int(ki[j])
            self.seen[v, k] = True
            out.append(
                FirstSignal(
                    level=self.name,
                    vaccine=vaccines[v],
                    name=self.keys[k],
                    step=label,
                    a=int(a[j]),
                    reports_with_vaccine=int(n_v[v]),
                    prr=float(res.prr[j]),
                    prr_lower=float(res.prr_lower[j]),
                    prr_upper=float(res.prr_upper[j]),
                    chi2_yates=float(res.chi2_yates[j]),
                    ic025=float(res.ic025[j]),
                )
            )
        out.sort(key=lambda s: (-s.chi2_yates, s.vaccine, s.name))
        return out


def first_signals(items: list[Item], step: str = "month") -> ReplayResult:
    """Receive the reports in order, a step at a time; after each step test every pair
    not yet signalled and record those that meet Evans' criteria for the first time."""
    if step not in STEPS:
        raise ValueError(f"step must be one of {', '.join(STEPS)}, not {step!r}")
    items = sorted(items, key=lambda it: it.received_on)
    vaccines = sorted({v for it in items for v in it.vaccines})
    vi = {v: i for i, v in enumerate(vaccines)}
    terms = sorted({t for it in items for t in it.terms})
    levels = {
        "term": _Level("term", terms, len(vaccines)),
        "group": _Level("group", DP_GROUPS, len(vaccines)),
    }
    n_v = np.zeros(len(vaccines))
    n = 0
    result = ReplayResult(step=step)
    i = 0
    while i < len(items):
        label = step_label(items[i].received_on, step)
        start = i
        while i < len(items) and step_label(items[i].received_on, step) == label:
            it = items[i]
            vs = sorted({vi[v] for v in it.vaccines})
            for v in vs:
                n_v[v] += 1
            levels["term"].add(vs, it.terms)
            levels["group"].add(vs, it.groups)
            n += 1
            i += 1
        new_t = levels["term"].fresh(n_v, n, label, vaccines)
        new_g = levels["group"].fresh(n_v, n, label, vaccines)
        result.signals.extend(new_t)
        result.signals.extend(new_g)
        result.steps.append(StepSummary(label, i - start, n, len(new_t), len(new_g)))
    return result


def load_items(session, source: str = "vaers") -> list[Item]:
    """The reports of one source with their vaccine codes (``US-`` prefix dropped for
    VAERS), reported terms and event groups (serious_aefi added when serious)."""
    from sqlalchemy import select, text

    from aefi.intake.models import Report

    reports: dict[int, tuple[date, list[str], bool]] = {}
    stmt = select(Report.id, Report.received_at, Report.event_groups, Report.serious).where(
        Report.source == source
    )
    for rid, received, groups, serious in session.execute(stmt):
        reports[int(rid)] = (received.date(), list(groups or []), bool(serious))
    # Plain scans joined here: no plan to go wrong on tables just bulk-loaded.
    codes = {
        int(i): (c[3:] if c.startswith("US-") else c)
        for i, c in session.execute(text("SELECT id, code FROM vaccine"))
    }
    vax: dict[int, set[str]] = {}
    for rid, vid in session.execute(text("SELECT report_id, vaccine_id FROM report_dose")):
        if int(rid) in reports:
            vax.setdefault(int(rid), set()).add(codes[int(vid)])
    names = {int(i): t for i, t in session.execute(text("SELECT id, text FROM reported_term"))}
    terms: dict[int, list[str]] = {}
    for rid, tid in session.execute(text("SELECT report_id, term_id FROM report_term ORDER BY id")):
        if int(rid) in reports:
            terms.setdefault(int(rid), []).append(names[int(tid)])
    out = []
    for rid, (day, groups, serious) in reports.items():
        gs = list(groups)
        if serious and "serious_aefi" not in gs:
            gs.append("serious_aefi")
        out.append(Item(day, tuple(sorted(vax.get(rid, ()))), tuple(terms.get(rid, ())), tuple(gs)))
    return out


def format_signal(sig: FirstSignal) -> str:
    return (
        f"{sig.step:<10} {sig.vaccine:<8} {sig.name[:40]:<40} a={sig.a:<4} "
        f"PRR {sig.prr:6.2f} ({sig.prr_lower:.2f}-{sig.prr_upper:.2f})  "
        f"chi2(Yates) {sig.chi2_yates:8.1f}  IC025 {sig.ic025:5.2f}  "
        f"[{sig.reports_with_vaccine} reports with the vaccine]"
    )
