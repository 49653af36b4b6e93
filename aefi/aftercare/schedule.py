"""When the vaccinee is asked how they are: days after the dose, per vaccine.

Default day 1, 3 and 7; vaccines with late events (measles-containing: fever and rash on
days 5–12) also day 12. A vaccine's own list (``Vaccine.checkin_days``, e.g. "1,3,7,14")
overrides. The personal link stays valid a week past the last day. Pure."""

from __future__ import annotations

from datetime import date, timedelta

from aefi.i18n import N_

DEFAULT_DAYS: tuple[int, ...] = (1, 3, 7)
LATE_EVENT_DAYS: tuple[int, ...] = (1, 3, 7, 12)
# Vaccine codes (or their start) whose late events need a later look.
LATE_EVENT_CODES = ("MMR", "MR", "MV", "MEASLES", "MPSV_MMR", "VAR", "MMRV")
GRACE_DAYS = 7
# The last day a vaccine's schedule may ask on: two months covers the late onsets the
# national AEFI surveillance plan lists (e.g. thrombocytopenia after MMR, up to 6 weeks).
MAX_DAY = 60
DAYS_MESSAGE = N_(
    "Enter whole days from 1 to 60, in ascending order, separated by commas (e.g. 1,3,7)."
)


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


def checked_days(text: str) -> str:
    """The admin's list of a vaccine's check-in days, checked strictly and kept as
    "1,3,7": whole days 1–``MAX_DAY``, ascending, comma separated (a Chinese comma too);
    empty is the rule's schedule. Raises ValueError(DAYS_MESSAGE)."""
    text = text.strip()
    if not text:
        return ""
    days: list[int] = []
    for part in text.replace("，", ",").split(","):
        part = part.strip()
        if not (part.isascii() and part.isdigit()):
            raise ValueError(DAYS_MESSAGE)
        day = int(part)
        if not 1 <= day <= MAX_DAY or (days and day <= days[-1]):
            raise ValueError(DAYS_MESSAGE)
        days.append(day)
    return ",".join(str(d) for d in days)


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
