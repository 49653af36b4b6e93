"""Every outbox (mail, reporting upward, SMS) delivers the same way, here once.

:func:`deliver_due` claims the due messages of a table (pending, their next attempt come,
oldest first), opens the channel, sends each and records what came of it:

- sent: the attempt is counted, the message is sent and its error cleared (or the
  outbox records the receiver's answer itself, ``on_sent``);
- :class:`Failed`, a reason that may pass (a timeout, a 5xx): the one back-off rule below;
- :class:`Refused`, the receiver will never take it: given up at once with the reason;
- :class:`Unreachable`, the channel itself is down (opening it, signing in, the gateway):
  this message and every one after it wait for their next attempt.

The back-off rule: a failed attempt is counted and its error kept; the next one waits
``first_s`` seconds, doubling, up to a cap; after ``max_attempts`` the message is given up
with its last error as the failure record.

Each message is committed as soon as its outcome is known, so a crash later in the batch
never sends it twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from aefi import clock


class Unreachable(Exception):
    """The channel is down: this message and the rest wait for their next attempt."""


class Failed(Exception):
    """This attempt failed for a reason that may pass: the message waits (back-off)."""


class Refused(Exception):
    """The receiver refuses the message for good: it is given up with the reason."""


def reason(exc: BaseException) -> str:
    """What an error says, or at least its kind (some say nothing)."""
    return str(exc) or type(exc).__name__


def wait_s(attempts: int, first_s: int, cap_s: int) -> int:
    """The wait after the ``attempts``-th failed attempt (1: ``first_s``)."""
    return min(first_s * 2 ** max(attempts - 1, 0), cap_s)


@dataclass(frozen=True)
class Box:
    """One outbox: its table (with ``status``, ``attempts``, ``next_attempt_at``,
    ``sent_at`` and an error column), its statuses, and its back-off."""

    model: Any
    pending: str
    sent: str
    failed: str
    first_s: int
    max_attempts: int
    cap_s: int = 6 * 3600
    error_field: str = "last_error"
    error_max: int = 500


def retry_later(msg: Any, now: datetime, error: str, box: Box) -> bool:
    """Count the failed attempt on ``msg`` (attempts, next_attempt_at, status and the error
    field) and schedule the next; True when it was the last one allowed."""
    msg.attempts += 1
    setattr(msg, box.error_field, error[: box.error_max])
    if msg.attempts >= box.max_attempts:
        msg.status = box.failed
        return True
    msg.next_attempt_at = now + timedelta(seconds=wait_s(msg.attempts, box.first_s, box.cap_s))
    return False


def mark_sent(msg: Any, result: Any, now: datetime, box: Box) -> None:
    msg.attempts += 1
    msg.status, msg.sent_at = box.sent, now
    setattr(msg, box.error_field, "")


@contextmanager
def no_channel() -> Iterator[None]:
    yield None


def deliver_due(
    session: Session,
    box: Box,
    send: Callable[[Any, Any], Any],
    *,
    limit: int,
    connect: Callable[[], AbstractContextManager[Any]] = no_channel,
    on_sent: Callable[[Any, Any, datetime], None] | None = None,
    after: Callable[[Any], None] | None = None,
) -> Counter[str]:
    """Send the due messages of ``box`` through ``send(channel, msg)`` (its answer goes to
    ``on_sent(msg, answer, now)``; by default the message is marked sent), the channel
    opened by ``connect()`` once for the batch; ``after(msg)`` runs once each message's
    outcome is recorded (an audit row). Returns how many ended in each status."""
    now = clock.now()
    model = box.model
    due = list(
        session.exec(
            select(model)
            .where(model.status == box.pending, col(model.next_attempt_at) <= now)
            .order_by(model.id)
            .limit(limit)
        )
    )
    outcome: Counter[str] = Counter()
    if not due:
        return outcome
    done = 0
    try:
        with connect() as channel:
            for msg in due:
                try:
                    answer = send(channel, msg)
                except Failed as exc:
                    retry_later(msg, now, str(exc), box)
                except Refused as exc:
                    msg.attempts += 1
                    msg.status = box.failed
                    setattr(msg, box.error_field, str(exc)[: box.error_max])
                else:
                    (on_sent or (lambda m, a, t: mark_sent(m, a, t, box)))(msg, answer, now)
                _settled(session, msg, after, outcome)
                session.commit()
                done += 1
    except Unreachable as exc:
        for msg in due[done:]:
            retry_later(msg, now, str(exc), box)
            _settled(session, msg, after, outcome)
        session.commit()
    return outcome


def _settled(
    session: Session, msg: Any, after: Callable[[Any], None] | None, outcome: Counter[str]
) -> None:
    outcome[msg.status] += 1
    if after is not None:
        after(msg)
    session.add(msg)
