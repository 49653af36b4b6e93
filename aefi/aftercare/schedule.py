"""When the vaccinee is asked how they are: days after the dose, per vaccine.

Default day 1, 3 and 7; vaccines with late events (measles-containing: fever and rash on
days 5–12) also day 12. A vaccine's own list (``Vaccine.checkin_days``, e.g. "1,3,7,14")
overrides. The personal link stays valid a week past the last day. Pure."""

from __future__ import annotations

from datetime import date, timedelta

DEFAULT_DAYS: tuple[int, ...] = (1, 3, 7)
LATE_EVENT_DAYS: tuple[int, ...] = (1, 3, 7, 12)
# Vaccine codes (or their start) whose late events need a later look.
LATE_EVENT_CODES = ("MMR", "MR", "MV", "MEASLES", "MPSV_MMR", "VAR", "MMRV")
GRACE_DAYS = 7
MAX_DAY = 42


def parse_days(text: str) -> tuple[int, ...]:
    """ "1, 3, 7" → (1, 3, 7). Raises ValueError naming what is wrong."""
    days: set[int] = set()
    for part in text.replace("，", ",").replace(" ", ",").split(","):
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(f"“{part}” is not a day number")
        day = int(part)
        if not 1 <= day <= MAX_DAY:
            raise ValueError(f"day {day} is outside 1–{MAX_DAY}")
        days.add(day)
    if not days:
        raise ValueError("give at least one day")
    return tuple(sorted(days))


def days_for(vaccine_code: str, configured: str = "") -> tuple[int, ...]:
    if configured.strip():
        try:
            return parse_days(configured)
        except ValueError:
            pass  # a bad stored list falls back to the rule (the admin form refuses one)
    code = vaccine_code.upper()
    if code in LATE_EVENT_CODES or code.split("_")[0] in LATE_EVENT_CODES:
        return LATE_EVENT_DAYS
    return DEFAULT_DAYS


def valid_until(given_on: date, days: tuple[int, ...]) -> date:
    return given_on + timedelta(days=max(days) + GRACE_DAYS)


def day_due(given_on: date, days: tuple[int, ...], today: date) -> int | None:
    """The scheduled check-in day that is current today: the latest scheduled day reached
    (answers between two scheduled days count for the earlier one); None before day 1."""
    elapsed = (today - given_on).days
    reached = [d for d in days if d <= elapsed]
    return reached[-1] if reached else None


def due_on(given_on: date, day: int) -> date:
    return given_on + timedelta(days=day)
