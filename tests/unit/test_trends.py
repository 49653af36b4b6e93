"""The dashboard's epidemic curve and township ranking (aefi/reporting/trends.py)."""

from __future__ import annotations

from datetime import date

from aefi.reporting import trends
from aefi.reporting.indicators import rate_line

TODAY = date(2026, 12, 3)  # a Thursday; its week begins Monday 2026-11-30


def test_weeks_run_monday_to_sunday_and_end_with_this_week():
    assert trends.week_start(TODAY) == date(2026, 11, 30)
    assert trends.week_start(date(2026, 11, 29)) == date(2026, 11, 23)  # a Sunday
    curve = trends.epi_curve([], today=TODAY, weeks=26)
    assert len(curve.weeks) == 26
    assert curve.weeks[-1] == date(2026, 11, 30)
    assert curve.weeks[0] == date(2026, 6, 8)
    assert curve.groups == () and curve.total == 0 and curve.totals == (0,) * 26


def test_a_report_counts_once_under_its_first_group_in_its_onset_week():
    reports = [
        (date(2026, 12, 1), ["fever", "local_reaction"]),
        (date(2026, 11, 30), ["fever"]),
        (date(2026, 11, 29), ["anaphylaxis"]),  # the week before
        (date(2026, 11, 23), ["fever"]),  # the same week before
        (date(2026, 6, 7), ["fever"]),  # a day before the first week: left out
        (date(2026, 12, 2), []),  # no group
    ]
    curve = trends.epi_curve(reports, today=TODAY, weeks=26)
    assert curve.groups == ("fever", "anaphylaxis", "other")
    this, last = date(2026, 11, 30), date(2026, 11, 23)
    assert curve.count("fever", this) == 2
    assert curve.count("fever", last) == 1
    assert curve.count("anaphylaxis", last) == 1
    assert "local_reaction" not in curve.groups  # a second group is not counted again
    assert curve.count("other", this) == 1
    assert curve.totals[-1] == 3 and curve.totals[-2] == 2
    assert curve.total == 5


def test_more_groups_than_shown_are_merged_into_other():
    reports = [(TODAY, [g]) for g in ("a", "a", "a", "b", "b", "c", "d")]
    curve = trends.epi_curve(reports, today=TODAY, weeks=4, max_groups=2)
    assert curve.groups == ("a", "b", "other")
    assert [sum(c) for c in curve.counts] == [3, 2, 2]
    assert curve.totals == (0, 0, 0, 7)


def test_townships_rank_by_rate_and_those_without_doses_last():
    lines = [
        rate_line("t1", "甲镇", "A", reports=1, doses=10_000, expected_per_100k=30.0),  # 10
        rate_line("t2", "乙镇", "B", reports=3, doses=10_000, expected_per_100k=30.0),  # 30
        rate_line("t3", "丙镇", "C", reports=2, doses=0, expected_per_100k=30.0),  # no rate
        rate_line("t4", "丁镇", "D", reports=6, doses=20_000, expected_per_100k=30.0),  # 30
    ]
    ranked = trends.by_rate(lines)
    assert [x.key for x in ranked] == ["t4", "t2", "t1", "t3"]
    assert ranked[0].rate == 30.0 and ranked[2].rate == 10.0
