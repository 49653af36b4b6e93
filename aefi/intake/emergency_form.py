"""The report form's emergency block (``templates/intake/_emergency.html``): its inputs as
typed, parsed into ``EmergencyIn`` with one message per input that cannot be used.

Times are typed as the clock shows them (HH:MM, as a physician reads it off the wall during
a resuscitation) and taken on the onset's day; a time more than 12 hours before the onset
is the next day (an event that began just before midnight). A full date and time is
accepted too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from aefi import clock
from aefi.i18n import N_, gettext
from aefi.intake.emergency import (
    RANGES,
    UNITS,
    AdrenalineRoute,
    Consciousness,
    EmergencyIn,
)
from aefi.types import ascii_int

REPEAT_ROWS = 3  # the form's repeat rows (the API takes up to MAX_REPEATS)
VITALS = ("bp_systolic", "bp_diastolic", "heart_rate", "resp_rate", "spo2", "temperature_c")
INTEGERS = frozenset({"bp_systolic", "bp_diastolic", "heart_rate", "resp_rate", "spo2"})
TIMES = ("em_started_at", "em_oxygen_at", "em_iv_at")

FIELDS: tuple[str, ...] = (
    "em_adrenaline_mg",
    "em_adrenaline_route",
    "em_adrenaline_at",
    *(f"em_repeat{i}_{p}" for i in range(1, REPEAT_ROWS + 1) for p in ("at", "mg")),
    "em_vitals_at",
    *(f"em_{v}" for v in VITALS),
    "em_consciousness",
    "em_weight_kg",
    *TIMES,
)
# Every message slot of the block (the form's inputs that can be wrong).
SLOTS = tuple(f for f in FIELDS if f not in ("em_adrenaline_route", "em_consciousness"))

MSG_RANGE = N_("Enter a value from {lo} to {hi} {unit}.")
MSG_WHOLE = N_("Enter a whole number.")
MSG_NUMBER = N_("Enter a number.")
MSG_TIME = N_("Enter the time as HH:MM.")
MSG_ADRENALINE_DOSE = N_("Enter the adrenaline dose in mg (for example 0.15).")
MSG_ADRENALINE_TIME = N_("Enter when the adrenaline was given.")
MSG_REPEAT_BEFORE = N_("A repeat dose cannot be earlier than the first dose.")
MSG_REPEAT_FIRST = N_("Enter the first dose before its repeats.")
MSG_DIASTOLIC = N_("The diastolic pressure must be lower than the systolic.")


def _when(text: str, on: date) -> datetime:
    """HH:MM on the onset's day (the next day if that is 12 h or more before), or a full
    ISO date and time; local time, returned as aware UTC. ValueError if neither."""
    text = text.strip()
    zone = clock.local_zone()
    if "T" in text or " " in text or len(text) > 8:
        dt = datetime.fromisoformat(text.replace(" ", "T"))
        if dt.year < 1900:
            raise ValueError(text)
        return (dt if dt.tzinfo else dt.replace(tzinfo=zone)).astimezone(UTC)
    at = datetime.combine(on, time.fromisoformat(text), tzinfo=zone)
    return at.astimezone(UTC)


def parse(
    get: Callable[[str], str], onset_at: datetime | None, errors: dict[str, str]
) -> EmergencyIn | None:
    """The block from the form's values (None when nothing was typed in it); a message
    per input into ``errors``."""
    typed = {name: get(name).strip() for name in FIELDS}
    if not any(v for k, v in typed.items() if k != "em_adrenaline_route"):
        return None
    onset_local = clock.to_local(onset_at) if onset_at else clock.to_local(clock.now())
    day = onset_local.date()

    def when(name: str) -> datetime | None:
        if not typed[name]:
            return None
        try:
            at = _when(typed[name], day)
        except ValueError:
            errors[name] = gettext(MSG_TIME)
            return None
        clock_time = ":" in typed[name] and len(typed[name]) <= 8
        if clock_time and onset_at is not None and at < onset_at - timedelta(hours=12):
            at += timedelta(days=1)
        return at

    def measure(name: str, key: str) -> float | int | None:
        text = typed[name].replace(",", ".")
        if not text:
            return None
        if key in INTEGERS:
            value: float | int | None = ascii_int(text)
            if value is None:
                errors[name] = gettext(MSG_WHOLE)
                return None
        else:
            try:
                value = float(text)
            except ValueError:
                errors[name] = gettext(MSG_NUMBER)
                return None
        lo, hi = RANGES[key]
        if not lo <= value <= hi:
            errors[name] = gettext(MSG_RANGE, lo=f"{lo:g}", hi=f"{hi:g}", unit=UNITS[key])
            return None
        return value

    block: dict[str, Any] = {}
    dose = measure("em_adrenaline_mg", "adrenaline_mg")
    given_at = when("em_adrenaline_at")
    repeats = []
    for i in range(1, REPEAT_ROWS + 1):
        r_at = when(f"em_repeat{i}_at")
        r_mg = measure(f"em_repeat{i}_mg", "adrenaline_mg")
        if r_at is None and typed[f"em_repeat{i}_mg"] and f"em_repeat{i}_mg" not in errors:
            errors[f"em_repeat{i}_at"] = gettext(MSG_ADRENALINE_TIME)
        if r_at is not None:
            if given_at is not None and r_at < given_at:
                errors[f"em_repeat{i}_at"] = gettext(MSG_REPEAT_BEFORE)
            repeats.append({"at": r_at, "dose_mg": r_mg})
    adrenaline_inputs = ("em_adrenaline_mg", "em_adrenaline_at", "em_repeat")
    adrenaline_typed = any(typed[f] for f in FIELDS if f.startswith(adrenaline_inputs))
    if adrenaline_typed:
        if dose is None and "em_adrenaline_mg" not in errors:
            first = MSG_REPEAT_FIRST if repeats and not typed["em_adrenaline_mg"] else None
            errors["em_adrenaline_mg"] = gettext(first or MSG_ADRENALINE_DOSE)
        if given_at is None and "em_adrenaline_at" not in errors:
            errors["em_adrenaline_at"] = gettext(MSG_ADRENALINE_TIME)
        route = typed["em_adrenaline_route"] or AdrenalineRoute.im.value
        if dose is not None and given_at is not None:
            block["adrenaline"] = {
                "dose_mg": dose,
                "route": route if route in AdrenalineRoute.__members__ else "im",
                "at": given_at,
                "repeats": [r for r in repeats if r["at"] >= given_at],
            }

    vitals: dict[str, Any] = {k: measure(f"em_{k}", k) for k in VITALS}
    consciousness = typed["em_consciousness"]
    if consciousness in Consciousness.__members__:
        vitals["consciousness"] = consciousness
    s, d = vitals.get("bp_systolic"), vitals.get("bp_diastolic")
    if s is not None and d is not None and d >= s:
        errors["em_bp_diastolic"] = gettext(MSG_DIASTOLIC)
        vitals["bp_diastolic"] = None
    vitals_at = when("em_vitals_at")
    if any(v is not None for v in vitals.values()):
        block["vitals"] = {"at": vitals_at, **vitals}
    block["weight_kg"] = measure("em_weight_kg", "weight_kg")
    treatment = {name[3:]: when(name) for name in TIMES}
    if any(treatment.values()):
        block["treatment"] = treatment
    try:
        parsed = EmergencyIn.model_validate(block)
    except ValidationError:  # every input was checked above; keep what is valid
        parsed = EmergencyIn.model_validate({k: v for k, v in block.items() if k == "weight_kg"})
    return None if parsed.is_empty() else parsed
