"""The indicators' arithmetic, table-driven and counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aefi.reporting import indicators as ind

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("clocks", "limit", "now", "expected"),
    [
        ([], 48 * H, T0, (0, 0, 0)),
        # on time at exactly the limit; late by a minute
        ([(T0, T0 + 48 * H), (T0, T0 + 48 * H + timedelta(minutes=1))], 48 * H, T0 + 99 * H,
         (1, 2, 0)),
        # not done: overdue counts as missed; still running is pending
        ([(T0, None), (T0 + 90 * H, None)], 48 * H, T0 + 100 * H, (0, 1, 1)),
        # a mixture: 3 on time, 1 late, 1 overdue, 2 pending
        ([(T0, T0 + H), (T0, T0 + 2 * H), (T0, T0 + 47 * H), (T0, T0 + 49 * H), (T0, None),
          (T0 + 70 * H, None), (T0 + 71 * H, None)], 48 * H, T0 + 72 * H, (3, 5, 2)),
        # forms: 3 days
        ([(T0, T0 + timedelta(days=3)), (T0, T0 + timedelta(days=3, seconds=1))],
         ind.FORM_WITHIN, T0 + timedelta(days=9), (1, 2, 0)),
    ],
)  # fmt: skip
def test_on_time(clocks, limit, now, expected):
    s = ind.on_time(clocks, limit, now)
    assert (s.done, s.total, s.pending) == expected


@pytest.mark.parametrize(
    ("done", "total", "percent"),
    [(0, 0, None), (0, 4, 0.0), (3, 4, 75.0), (1, 3, 100 / 3), (7, 7, 100.0)],
)
def test_share_percent(done, total, percent):
    s = ind.Share(done, total)
    assert s.percent == (pytest.approx(percent) if percent is not None else None)
    assert s.missed == total - done


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("patient_name", "张三", True),
        ("patient_name", "  ", False),
        ("patient_name", None, False),
        ("patient_sex", "female", True),
        ("patient_sex", "unknown", False),
        ("outcome", "recovered", True),
        ("outcome", "unknown", False),
        ("symptoms", ["FEVER"], True),
        ("symptoms", [], False),
        ("doses", 1, True),
        ("doses", 0, False),
        ("patient_birth_on", date(2020, 1, 1), True),
        ("onset_at", T0, True),
    ],
)
def test_filled(name, value, ok):
    assert ind.filled(name, value) is ok


def _card(**over):
    card = {
        "patient_name": "张三",
        "patient_sex": "male",
        "patient_birth_on": date(2020, 1, 1),
        "patient_id_number": "330782202001010011",
        "patient_phone": "13800000000",
        "onset_at": T0,
        "symptoms": ["FEVER"],
        "doses": 1,
        "outcome": "recovered",
        "reporter_name": "刘医生",
        "reporter_phone": "13900000000",
    }
    card.update(over)
    return card


def test_completeness_counts_whole_cards_and_each_field():
    cards = [
        _card(),
        _card(patient_phone=""),
        _card(patient_phone="", outcome="unknown"),
        _card(symptoms=[]),
    ]
    c = ind.completeness(cards)
    assert (c.complete.done, c.complete.total) == (1, 4)
    assert (c.fields["patient_phone"].done, c.fields["patient_phone"].total) == (2, 4)
    assert c.fields["outcome"].done == 3
    assert c.fields["symptoms"].done == 3
    assert c.fields["patient_name"].done == 4
    assert set(c.fields) == {name for name, _label in ind.KEY_FIELDS}


@pytest.mark.parametrize(
    ("reports", "doses", "expected_rate", "rate", "flag"),
    [
        # DOMAIN.md's China NIP rate: 32.52 per 100,000. 10,000 doses expect 3.252 reports.
        (3, 10_000, 32.52, 30.0, ""),
        # 20 reports on 10,000 doses: 200 per 100,000, far above; Garwood lower > 1
        (20, 10_000, 32.52, 200.0, "above"),
        # 0 reports on 100,000 doses expecting 32.52: upper < 1, below (under-reporting)
        (0, 100_000, 32.52, 0.0, "below"),
        # no doses: no rate, no expectation
        (2, 0, 32.52, None, ""),
        # no expected rate known
        (5, 1000, None, 500.0, ""),
    ],
)
def test_rate_line(reports, doses, expected_rate, rate, flag):
    line = ind.rate_line("X", "甲", "X", reports, doses, expected_rate)
    assert line.rate == (pytest.approx(rate) if rate is not None else None)
    assert line.flag == flag
    if expected_rate is not None and doses:
        assert line.expected_reports == pytest.approx(expected_rate * doses / 100_000)
        assert line.oe == pytest.approx(reports / line.expected_reports)
        assert line.oe_lower <= line.oe <= line.oe_upper


def test_garwood_interval_of_three_events():
    # Exact 95% limits for a Poisson count of 3: 0.6187 and 8.7673 (Garwood 1936 tables).
    line = ind.rate_line("X", "甲", "X", 3, 100_000, 3.0)  # expected 3 reports
    assert line.oe == pytest.approx(1.0)
    assert line.oe_lower == pytest.approx(0.6187 / 3, rel=1e-3)
    assert line.oe_upper == pytest.approx(8.7673 / 3, rel=1e-3)
