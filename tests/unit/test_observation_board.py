"""The board's pure decisions: observation time, row state, countdown, local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from aefi.observation import board

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.mark.parametrize(
    ("vaccine_minutes", "default", "expected"),
    [(30, 30, 30), (45, 30, 45), (None, 30, 30), (0, 30, 30), (0, 20, 20), (-5, 30, 30)],
)
def test_observation_minutes(vaccine_minutes, default, expected):
    assert board.observation_minutes(vaccine_minutes, default) == expected


@pytest.mark.parametrize(
    ("after", "released", "left", "state", "countdown", "share"),
    [
        (timedelta(0), False, False, "observing", "30:00", 0.0),
        (timedelta(minutes=10), False, False, "observing", "20:00", 1 / 3),
        (timedelta(minutes=29, seconds=59, milliseconds=800), False, False, "observing",
         "00:01", 1.0),
        (timedelta(minutes=30), False, False, "ready", "00:00", 1.0),
        (timedelta(hours=3), False, False, "ready", "00:00", 1.0),
        (timedelta(minutes=5), True, False, "released", "00:00", 1.0),
        (timedelta(minutes=5), False, True, "left_early", "25:00", 1 / 6),
        (-timedelta(minutes=1), False, False, "observing", "31:00", 0.0),
    ],
)  # fmt: skip
def test_row_state(after, released, left, state, countdown, share):
    now = T0 + after
    s = board.row_state(
        checked_in_at=T0,
        due=board.due_at(T0, 30),
        now=now,
        released_at=now if released else None,
        left_early_at=now if left else None,
    )
    assert s.state == state
    assert s.countdown == countdown
    assert s.elapsed_share == pytest.approx(share, abs=1e-3)


def test_long_observation_counts_minutes_past_an_hour():
    s = board.row_state(checked_in_at=T0, due=board.due_at(T0, 95), now=T0)
    assert s.countdown == "95:00"


@pytest.mark.parametrize(
    ("moment", "zone", "day"),
    [
        (datetime(2026, 11, 24, 16, 0, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 25)),
        (datetime(2026, 11, 24, 15, 59, tzinfo=UTC), "Asia/Shanghai", date(2026, 11, 24)),
        (datetime(2026, 11, 24, 15, 59, tzinfo=UTC), "UTC", date(2026, 11, 24)),
    ],
)
def test_local_day(moment, zone, day):
    assert board.local_day(moment, zone) == day
    start, end = board.local_day_bounds(day, zone)
    assert start <= moment < end
    assert end - start == timedelta(days=1)
