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
    # observing, ready, reported, referred; released, left_early, handed_over, decided
    # (models.EntryState values)
    state: str
    remaining_s: int  # seconds until the end of observation, 0 when over
    elapsed_share: float  # 0..1 of the observation time gone, for the progress bar

    @property
    def countdown(self) -> str:
        """mm:ss as a wall clock shows it; hours roll into minutes (95:00)."""
        m, s = divmod(self.remaining_s, 60)
        return f"{m:02d}:{s:02d}"

    @property
    def releasable(self) -> bool:
        """Whether "release" (one row, or "release all ready") may close the row: never
        once a report was filed for the vaccinee (the referral or the physician's
        explicit decision closes it then)."""
        return self.state in ("observing", "ready")


def row_state(
    *,
    checked_in_at: datetime,
    due: datetime,
    now: datetime,
    released_at: datetime | None = None,
    left_early_at: datetime | None = None,
    handed_over_at: datetime | None = None,
    decided: bool = False,
    reported: bool = False,
    referred: bool = False,
) -> RowState:
    """Where one row stands at ``now``. A closed row keeps its outcome; an open row with a
    report (``reported``) or a referral (``referred``) says so whatever the clock says; any
    other open row is "ready" from the second its time is over (never earlier: the
    countdown rounds up)."""
    total = max((due - checked_in_at).total_seconds(), 1.0)
    left = (due - now).total_seconds()
    remaining = max(0, int(-(-left // 1)))  # ceil: 0.2 s left still shows 00:01
    share = min(1.0, max(0.0, 1 - left / total))
    if handed_over_at is not None:
        return RowState("handed_over", 0, 1.0)
    if released_at is not None:
        return RowState("decided" if decided else "released", 0, 1.0)
    if left_early_at is not None:
        return RowState("left_early", remaining, share)
    if referred:
        return RowState("referred", remaining, share)
    if reported:
        return RowState("reported", remaining, share)
    return RowState("ready" if remaining == 0 else "observing", remaining, share)


# Referral statuses at which the receiving hospital has the child: the board's row is
# closed by the referral then (referral/states.py: arrived, and every status after it).
HANDED_OVER_STATUSES = frozenset({"arrived", "admitted", "discharged", "transferred", "died"})


def handed_over(referral_status: str | None) -> bool:
    return referral_status in HANDED_OVER_STATUSES


def referred(referral_status: str | None) -> bool:
    """A referral that still stands for the row: not withdrawn by the sender (a cancelled
    referral leaves the report, and the physician's decision)."""
    return bool(referral_status) and referral_status != "cancelled"


def birth_on_of(birth_on: date | None, id_number: str) -> date | None:
    """The recorded birth date, else the one a resident ID number carries (GB 11643:
    digits 7 to 14 are the birth date, YYYYMMDD)."""
    if birth_on is not None:
        return birth_on
    digits = (id_number or "")[6:14]
    if len(id_number or "") == 18 and digits.isdigit():
        try:
            return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            return None
    return None


def age_of(birth_on: date | None, on: date) -> tuple[int | None, int | None]:
    """(whole years, whole months) on ``on``; (None, None) without a birth date."""
    if birth_on is None:
        return None, None
    months = (on.year - birth_on.year) * 12 + on.month - birth_on.month
    if on.day < birth_on.day:
        months -= 1
    months = max(months, 0)
    return months // 12, months


def local_day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, as aware datetimes (compare with UTC values)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return start, end


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()
