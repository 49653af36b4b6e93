"""The one place the application asks for the time, and the one home of the county's
time zone.

Deadlines, countdowns and escalation timers read ``now()``; tests move the clock with
``freeze``/``advance`` instead of sleeping. Times are stored in UTC; calendar days (an
expiry date, a list's "since" day, a halt's year) are the county's, in
``settings.timezone``: ``local_zone``, ``to_local``, ``local_today``, ``local_start_of``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime) -> None:
    """Stop the clock at ``at`` (tests only)."""
    global _frozen
    _frozen = at if at.tzinfo else at.replace(tzinfo=UTC)


def advance(delta: timedelta) -> None:
    """Move a frozen clock forward (tests only)."""
    global _frozen
    _frozen = (_frozen or datetime.now(UTC)) + delta


def unfreeze() -> None:
    global _frozen
    _frozen = None


def local_zone() -> ZoneInfo:
    """The county's time zone (``settings.timezone``)."""
    from aefi.settings import get_settings

    return ZoneInfo(get_settings().timezone)


def to_local(value: datetime) -> datetime:
    """An aware time in the county's zone."""
    return value.astimezone(local_zone())


def local_today() -> date:
    """Today's calendar day where the county is (not in UTC)."""
    return to_local(now()).date()


def local_start_of(day: date) -> datetime:
    """Midnight at the start of a local calendar day, aware."""
    return datetime.combine(day, time(), tzinfo=local_zone())
