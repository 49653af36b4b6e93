"""The replay engine: first signals per (vaccine, term) and (vaccine, group), each step."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from aefi.signals import replay
from aefi.signals.replay import Item


def _items() -> list[Item]:
    """Background in January 1996; MMR + 'Gaze palsy' (a term of no aefi code) from
    Monday 5 February, one report a day for five days, each also a seizure."""
    items = []
    start = date(1996, 1, 1)
    for i in range(60):
        vac = ["DTP", "HEP", "MMR", "OPV"][i % 4]
        items.append(Item(start + timedelta(days=i % 28), (vac,), ("Pyrexia",), ("fever",)))
    for k in range(5):
        items.append(
            Item(date(1996, 2, 5) + timedelta(days=k), ("MMR",), ("Gaze palsy",), ("seizure",))
        )
    return items


def test_labels_of_each_step() -> None:
    d = date(1997, 3, 5)
    assert replay.step_label(d, "day") == "1997-03-05"
    assert replay.step_label(d, "week") == "1997-W10"
    assert replay.step_label(d, "month") == "1997-03"
    with pytest.raises(ValueError, match="day, week, month"):
        replay.step_label(d, "quarter")
    with pytest.raises(ValueError, match="day, week, month"):
        replay.first_signals(_items(), "fortnight")


@pytest.mark.parametrize(
    ("step", "first_at", "count", "n_steps"),
    [("day", "1996-02-07", 3, 33), ("week", "1996-W06", 5, 5), ("month", "1996-02", 5, 2)],
)
def test_first_signal_of_term_and_group_at_each_step(step, first_at, count, n_steps) -> None:
    result = replay.first_signals(_items(), step)
    assert len(result.steps) == n_steps
    assert result.steps[-1].total == 65 and sum(s.reports for s in result.steps) == 65
    terms = {(s.vaccine, s.name): s for s in result.of_level("term")}
    groups = {(s.vaccine, s.name): s for s in result.of_level("group")}
    # Evans needs a >= 3: by day the third report (7 Feb) signals; by week and month, all 5.
    sig = terms[("MMR", "Gaze palsy")]
    assert (sig.step, sig.a) == (first_at, count)
    assert sig.prr >= 2 and sig.chi2_yates >= 4
    assert groups[("MMR", "seizure")].step == first_at
    # Each pair once, background pairs never.
    keys = [(s.level, s.vaccine, s.name) for s in result.signals]
    assert len(keys) == len(set(keys))
    assert ("DTP", "Pyrexia") not in terms
    assert sum(s.new_terms for s in result.steps) == len(result.of_level("term"))


def test_counts_reports_not_terms() -> None:
    # One report carrying a term twice counts once; two vaccines on a report count once each.
    items = [Item(date(1996, 1, 1), ("A", "B"), ("X", "X"), ()) for _ in range(4)]
    items += [Item(date(1996, 1, 1), ("C",), ("Y",), ()) for _ in range(20)]
    result = replay.first_signals(items, "day")
    found = {(s.vaccine, s.name): s.a for s in result.of_level("term")}
    assert found[("A", "X")] == 4 and found[("B", "X")] == 4
