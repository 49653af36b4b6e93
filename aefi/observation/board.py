"""Pure decisions of the observation board: how long a vaccinee stays, where a row stands
at a given moment, and which day a moment belongs to.

Plain values in and out; no web or database imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# 30 minutes: every vaccinee stays in the observation area (DOMAIN.md, "Observation").
DEFAULT_MINUTES = 30


def observation_minutes(vaccine_minutes: int | None, default: int = DEFAULT_MINUTES) -> int:
    """The vaccine's own observation time, or the default when it names none."""
    return vaccine_minutes if vaccine_minutes and vaccine_minutes > 0 else default


def due_at(start: datetime, minutes: int) -> datetime:
    return start + timedelta(minutes=minutes)


@dataclass(frozen=True)
class RowState:
    state: str  # observing, ready, released, left_early (models.EntryState values)
    remaining_s: int  # seconds until the end of observation, 0 when over
    elapsed_share: float  # 0..1 of the observation time gone, for the progress bar

    @property
    def countdown(self) -> str:
        """mm:ss as a wall clock shows it; hours roll into minutes (95:00)."""
        m, s = divmod(self.remaining_s, 60)
        return f"{m:02d}:{s:02d}"


def row_state(
    *,
    checked_in_at: datetime,
    due: datetime,
    now: datetime,
    released_at: datetime | None = None,
    left_early_at: datetime | None = None,
) -> RowState:
    """Where one row stands at ``now``. A closed row keeps its outcome; an open row is
    "ready" from the second its time is over (never earlier: the countdown rounds up)."""
    total = max((due - checked_in_at).total_seconds(), 1.0)
    left = (due - now).total_seconds()
    remaining = max(0, int(-(-left // 1)))  # ceil: 0.2 s left still shows 00:01
    share = min(1.0, max(0.0, 1 - left / total))
    if released_at is not None:
        return RowState("released", 0, 1.0)
    if left_early_at is not None:
        return RowState("left_early", remaining, share)
    return RowState("ready" if remaining == 0 else "observing", remaining, share)


def local_day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as aware datetimes (compare with UTC values)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return start, end


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()
