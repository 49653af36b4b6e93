"""The one place the application asks for the time.

Deadlines, countdowns and escalation timers read ``now()``; tests move the clock with
``freeze``/``advance`` instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
