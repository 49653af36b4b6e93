"""The one back-off rule of every outbox (mail, reporting upward, SMS): a failed attempt is
counted and its error kept; the next one waits ``first_s`` seconds, doubling, up to a cap;
after ``max_attempts`` the message is given up with its last error as the failure record."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


def wait_s(attempts: int, first_s: int, cap_s: int) -> int:
    """The wait after the ``attempts``-th failed attempt (1: ``first_s``)."""
    return min(first_s * 2 ** max(attempts - 1, 0), cap_s)


def retry_later(
    msg: Any,
    now: datetime,
    error: str,
    *,
    first_s: int,
    max_attempts: int,
    failed_status: str,
    cap_s: int = 6 * 3600,
    error_field: str = "last_error",
    error_max: int = 500,
) -> bool:
    """Count the failed attempt on ``msg`` (attempts, next_attempt_at, status and an error
    field) and schedule the next; True when it was the last one allowed."""
    msg.attempts += 1
    setattr(msg, error_field, error[:error_max])
    if msg.attempts >= max_attempts:
        msg.status = failed_status
        return True
    msg.next_attempt_at = now + timedelta(seconds=wait_s(msg.attempts, first_s, cap_s))
    return False
