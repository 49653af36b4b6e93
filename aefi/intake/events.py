"""What follows a report: one named function per event, each calling the subscribers that
higher domains register (triage subscribes to both). Intake imports no higher domain;
``aefi.wiring`` connects them at start.

Read the chain top to bottom: ``service.file_report`` → ``report_filed`` → triage →
(referral, case file, cluster, signals scan, notifications)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlmodel import Session

    from aefi.auth.permissions import Actor
    from aefi.intake.models import FollowUp, Report

ReportFiledHandler = Callable[["Session", "Actor", "Report"], None]
FollowUpHandler = Callable[["Session", "Actor", "Report", "FollowUp"], None]

_on_report_filed: list[ReportFiledHandler] = []
_on_follow_up: list[FollowUpHandler] = []


def subscribe_report_filed(handler: ReportFiledHandler) -> None:
    if handler not in _on_report_filed:
        _on_report_filed.append(handler)


def subscribe_follow_up_added(handler: FollowUpHandler) -> None:
    if handler not in _on_follow_up:
        _on_follow_up.append(handler)


def report_filed(session: Session, actor: Actor, report: Report) -> None:
    """Called once a report is stored, inside the same transaction."""
    for handler in _on_report_filed:
        handler(session, actor, report)


def follow_up_added(
    session: Session, actor: Actor, report: Report, follow_up: FollowUp
) -> None:
    for handler in _on_follow_up:
        handler(session, actor, report, follow_up)
