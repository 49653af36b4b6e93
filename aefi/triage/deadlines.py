"""Deadlines of the national AEFI surveillance plan, as pure functions of their clocks.

The hours come from the rule set (`[deadlines]` in rules.toml). A deadline is met when the
work is done at or before its due time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from aefi.triage.ruleset import Ruleset


class Deadline(StrEnum):
    """Names of deadlines, as used for keys of `TriageDecision.deadlines` and the API."""

    REPORT = "report_due"
    FAST_REPORT = "fast_report_due"
    INVESTIGATION_START = "investigation_start_due"
    INVESTIGATION_FORM = "investigation_form_due"
    PRELIMINARY_REPORT = "preliminary_report_due"


def first_due(deadlines: Mapping[str, datetime], fallback: datetime) -> datetime:
    """The first deadline an escalation is held to: the fast report, else the investigation's
    start, else the report card; ``fallback`` when the decision set none of them."""
    for name in (Deadline.FAST_REPORT, Deadline.INVESTIGATION_START, Deadline.REPORT):
        if name.value in deadlines:
            return deadlines[name.value]
    return fallback


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone offset, got {value.isoformat()}")
    return value


def report_due(discovered_at: datetime, ruleset: Ruleset) -> datetime:
    """Report card filed: hours after discovery of the AEFI."""
    return _aware(discovered_at, "discovered_at") + timedelta(
        hours=ruleset.deadlines.report_card_hours
    )


def fast_report_due(discovered_at: datetime, ruleset: Ruleset) -> datetime:
    """Death, serious, group AEFI or great public concern: fastest-means report."""
    return _aware(discovered_at, "discovered_at") + timedelta(
        hours=ruleset.deadlines.fast_report_hours
    )


def investigation_start_due(received_at: datetime, ruleset: Ruleset) -> datetime:
    """County CDC starts the investigation: hours after receipt of the report."""
    return _aware(received_at, "received_at") + timedelta(
        hours=ruleset.deadlines.investigation_start_hours
    )


def investigation_form_due(started_at: datetime, ruleset: Ruleset) -> datetime:
    """Investigation form completed: hours after the investigation started."""
    return _aware(started_at, "started_at") + timedelta(
        hours=ruleset.deadlines.investigation_form_hours
    )


def preliminary_report_due(started_at: datetime, ruleset: Ruleset) -> datetime:
    """Preliminary report (death, serious, group AEFI): hours after the investigation started."""
    return _aware(started_at, "started_at") + timedelta(
        hours=ruleset.deadlines.preliminary_report_hours
    )


def case_deadlines(
    started_at: datetime | None,
    received_at: datetime,
    serious_or_group: bool,
    ruleset: Ruleset,
) -> dict[str, datetime]:
    """The deadlines of a case file.

    Always the investigation start; once the investigation has started (`started_at`), the
    investigation form, and for death, serious or group AEFI (`serious_or_group`, which is
    `TriageDecision.preliminary_report_required`) the preliminary report.
    """
    due = {Deadline.INVESTIGATION_START.value: investigation_start_due(received_at, ruleset)}
    if started_at is not None:
        due[Deadline.INVESTIGATION_FORM.value] = investigation_form_due(started_at, ruleset)
        if serious_or_group:
            due[Deadline.PRELIMINARY_REPORT.value] = preliminary_report_due(started_at, ruleset)
    return due


def is_overdue(due: datetime, done_at: datetime | None, now: datetime) -> bool:
    """Late if done after the due time, or not done and the due time has passed."""
    _aware(due, "due")
    if done_at is not None:
        return _aware(done_at, "done_at") > due
    return _aware(now, "now") > due
