"""Expected rates and risk windows: the shipped defaults and how a rate is chosen.

Pure: no database. ``rates.csv`` beside this file holds DOMAIN.md's published rates, each
with its source; the database table ``expected_rate`` starts as a copy of it on first use
and the administrator edits it there.

Event groups are intake's (``aefi.intake.symptoms.EVENT_GROUPS``) plus two pseudo-groups
that DOMAIN.md's passive reporting rates are given for: ``all_aefi`` (every report) and
``serious_aefi`` (reports that meet the WHO/ICH seriousness criteria).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from aefi.i18n import N_
from aefi.intake.symptoms import EVENT_GROUPS

RATES_CSV = Path(__file__).resolve().parent / "rates.csv"
ALL_VACCINES = "*"

PSEUDO_GROUPS: dict[str, tuple[str, str]] = {
    "all_aefi": ("全部AEFI", "All AEFI"),
    "serious_aefi": ("严重AEFI", "Serious AEFI"),
}
GROUPS: dict[str, tuple[str, str]] = {**EVENT_GROUPS, **PSEUDO_GROUPS}

# Default risk windows (days after the dose in which an onset counts), offered when a rate
# is added. A county policy, not a published figure, except where noted: anaphylaxis 0-1
# day (Brighton Collaboration / VSD), febrile seizure 0-14 days (MMR's published window is
# days 6-12 and is set on its own row), GBS and immune thrombocytopenia 0-42 days (the
# usual VSD and Brighton windows), HHE within 48 h (Brighton).
DEFAULT_WINDOWS: dict[str, tuple[float, float]] = {
    "anaphylaxis": (0, 1),
    "allergic_rash": (0, 3),
    "angioedema": (0, 3),
    "fever": (0, 3),
    "local_reaction": (0, 3),
    "seizure": (0, 14),
    "syncope": (0, 1),
    "hhe": (0, 2),
    "thrombocytopenia": (0, 42),
    "gbs": (0, 42),
    "encephalitis": (0, 42),
    "myocarditis": (0, 7),
    "death": (0, 30),
    "gastrointestinal": (0, 3),
    "systemic_other": (0, 3),
    "anxiety": (0, 1),
    "lymphadenitis": (0, 180),
    "other": (0, 30),
    "all_aefi": (0, 30),
    "serious_aefi": (0, 30),
}

LABELS = (N_("All AEFI"), N_("Serious AEFI"))


@dataclass(frozen=True)
class Rate:
    vaccine_code: str
    event_group: str
    rate_per_dose: float
    window_start_days: float
    window_end_days: float
    source: str


def group_label(group: str, locale: str) -> str:
    zh, en = GROUPS.get(group, (group, group))
    return en if locale == "en" else zh


def default_rates(path: Path = RATES_CSV) -> list[Rate]:
    """The shipped table, checked: known groups, non-negative rates, ordered windows."""
    out = []
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rate = Rate(
                vaccine_code=row["vaccine_code"].strip(),
                event_group=row["event_group"].strip(),
                rate_per_dose=float(row["rate_per_dose"]),
                window_start_days=float(row["window_start_days"]),
                window_end_days=float(row["window_end_days"]),
                source=row["source"].strip(),
            )
            check_rate(rate)
            out.append(rate)
    return out


def check_rate(rate: Rate) -> dict[str, str]:
    """Field -> English message for what is wrong with a rate row (empty when fine)."""
    errors: dict[str, str] = {}
    if not rate.vaccine_code:
        errors["vaccine_code"] = N_("Enter a vaccine code, or * for every vaccine.")
    if rate.event_group not in GROUPS:
        errors["event_group"] = N_("Pick an event group.")
    if not 0 <= rate.rate_per_dose < 1:
        errors["rate_per_dose"] = N_("A rate per dose lies between 0 and 1.")
    if rate.window_start_days < 0:
        errors["window_start_days"] = N_("The window starts at day 0 or later.")
    if rate.window_end_days <= rate.window_start_days:
        errors["window_end_days"] = N_("The window ends after it starts.")
    if not rate.source.strip():
        errors["source"] = N_("Name the source of the rate.")
    return errors


def choose(rates: list[Rate], vaccine_code: str, event_group: str) -> Rate | None:
    """The rate that applies: the vaccine's own row, else the ``*`` row, else None."""
    general = None
    for r in rates:
        if r.event_group != event_group:
            continue
        if r.vaccine_code == vaccine_code:
            return r
        if r.vaccine_code == ALL_VACCINES:
            general = r
    return general
