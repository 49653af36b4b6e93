"""Checks of a report card that help the physician: errors to fix, warnings to confirm.

Pure: plain values in, messages out (English msgids, translated where shown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aefi.i18n import N_

# 42 days: the usual outer limit of AEFI risk windows (e.g. GBS), after which a temporal
# link is unusual enough that the physician should confirm the dates.
LATE_ONSET_DAYS = 42


@dataclass
class Findings:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_report(
    *,
    vaccinated_at: list[datetime],
    onset_at: datetime | None,
    discovered_at: datetime | None,
    now: datetime,
    symptoms: list[str],
    description: str,
    outcome: str | None,
    reporter_name: str,
    reporter_phone: str,
    unknown_symptoms: list[str],
    confirm_late_onset: bool,
) -> Findings:
    f = Findings()
    if not vaccinated_at:
        f.errors["doses"] = N_(
            "Link at least one dose: find it by the vaccinee, or enter a "
            "dose given elsewhere with its lot number."
        )
    if onset_at is None:
        f.errors["onset_at"] = N_("Enter the date and time the reaction began.")
    else:
        if onset_at > now + timedelta(minutes=5):
            f.errors["onset_at"] = N_("The onset lies in the future.")
        elif vaccinated_at and onset_at < min(vaccinated_at):
            f.errors["onset_at"] = N_("The onset is before the vaccination. Check both times.")
        elif (
            vaccinated_at
            and onset_at - max(vaccinated_at) > timedelta(days=LATE_ONSET_DAYS)
            and not confirm_late_onset
        ):
            f.warnings["onset_at"] = N_(
                "The onset is more than 42 days after the vaccination. Confirm the "
                "dates are right to file it as an AEFI."
            )
        if discovered_at is not None and discovered_at < onset_at:
            f.errors["discovered_at"] = N_("The reaction cannot be discovered before its onset.")
    if discovered_at is not None and discovered_at > now + timedelta(minutes=5):
        f.errors["discovered_at"] = N_("The discovery time lies in the future.")
    if not symptoms and not description.strip():
        f.errors["symptoms"] = N_("Pick at least one symptom or describe the reaction.")
    if unknown_symptoms:
        f.errors["symptoms"] = N_("Unknown symptom codes; pick from the list.")
    if not outcome:
        f.errors["outcome"] = N_("Choose the outcome (unknown if not yet known).")
    if not reporter_name.strip():
        f.errors["reporter_name"] = N_("Enter the reporter's name.")
    if not reporter_phone.strip():
        f.errors["reporter_phone"] = N_("Enter a phone number where the reporter can be reached.")
    return f


def overlaps(onset_a: datetime, onset_b: datetime, window: timedelta = timedelta(hours=72)) -> bool:
    """Two onsets this close describe the same event more likely than two events."""
    return abs(onset_a - onset_b) <= window
