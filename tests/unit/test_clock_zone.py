"""The county's calendar day, from clock.py (the one home of the time-zone helpers)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aefi import clock
from aefi.settings import get_settings


def test_local_day_is_the_countys_not_utcs() -> None:
    assert get_settings().timezone == "Asia/Shanghai"  # UTC+8, no summer time
    clock.freeze(datetime(2026, 3, 3, 17, 30, tzinfo=UTC))  # 01:30 on the 4th in Shanghai
    try:
        assert clock.local_today() == date(2026, 3, 4)
        assert clock.to_local(clock.now()).hour == 1
        start = clock.local_start_of(date(2026, 3, 4))
        assert start.utcoffset() == timedelta(hours=8)
        assert start.astimezone(UTC) == datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    finally:
        clock.unfreeze()
