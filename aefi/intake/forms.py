"""The HTML report form: what was typed, kept as typed (for re-display and drafts), and its
parsing into ``ReportIn`` with a message per field for what cannot be parsed.

A form that does not parse still yields a ``ReportIn`` (built without validation, the
unparseable values left out) so that the service's own checks can name every other
problem on the same page: the physician fixes everything in one pass."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from aefi.i18n import N_, gettext
from aefi.intake import emergency_form
from aefi.intake.models import Outcome
from aefi.intake.schemas import FollowUpIn, HandDoseIn, PatientIn, ReportIn, SeriousIn
from aefi.registry.models import Sex
from aefi.types import MAX_ID, ascii_int
from aefi.web import parse_local

TEXT_FIELDS = (
    "onset_at",
    "discovered_at",
    "description",
    "max_temperature_c",
    "local_reaction_cm",
    "treatment",
    "hospital_name",
    "outcome",
    "diagnosis",
    "guardian_name",
    "patient_phone",
    "patient_address",
    "reporter_unit",
    "reporter_name",
    "reporter_phone",
    "patient_name",
    "patient_id_number",
    "patient_sex",
    "patient_birth_date",
    "dose_q",
    *emergency_form.FIELDS,
)
SERIOUS = ("death", "life_threatening", "hospitalization", "disability", "congenital_anomaly")
FLAGS = (
    *(f"serious_{s}" for s in SERIOUS),
    "needs_hospital_care",
    "already_in_hospital",
    "great_public_concern",
    "diagnosis_clear",
    "confirm_late_onset",
    "confirm_new_event",
)
LISTS = ("dose_ids", "symptoms")
HAND_PARTS = (
    "lot_number",
    "administered_at",
    "dose_number",
    "route",
    "body_site",
    "vaccinating_unit",
)
_HAND = re.compile(r"^hand-(\d{1,2})-(" + "|".join(HAND_PARTS) + r")$")

# The part of the form each message belongs next to, for an input's name.
SLOT_OF = {
    "dose_ids": "doses",
    "serious_death": "serious",
    "patient_sex": "patient",
}

MSG_DATETIME = N_("Enter a date and time.")
MSG_NUMBER = N_("Enter a number.")
MSG_TEMPERATURE = N_("Enter a temperature between 34 and 44 °C.")
MSG_SIZE = N_("Enter a size between 0 and 50 cm.")
MSG_DATE = N_("Enter a date.")
MSG_DOSE_NUMBER = N_("Enter a dose number from 1 to 10.")
MSG_HAND_LOT = N_("Enter the lot number printed on the vial or the vaccination record.")
MSG_HAND_TIME = N_("Enter when the dose was given.")
MSG_PATIENT_NAME = N_("Enter the patient's name.")
MSG_PATIENT_ID = N_("Enter the patient's ID number (at least 4 characters).")
MSG_OUTCOME = N_("Choose the outcome (unknown if not yet known).")
MSG_TOO_LONG = N_("This is too long or not in the expected form.")


# What the error summary calls each message slot (the labels the form shows beside them).
SLOT_LABELS = {
    "doses": N_("Linked doses"),
    "patient": N_("Patient"),
    "patient_name": N_("Patient name"),
    "patient_id_number": N_("ID number"),
    "patient_birth_date": N_("Date of birth"),
    "onset_at": N_("Onset (date and time)"),
    "discovered_at": N_("Discovered (date and time)"),
    "symptoms": N_("Symptoms and signs"),
    "description": N_("Description (what happened, in your words)"),
    "max_temperature_c": N_("Maximum temperature (°C)"),
    "local_reaction_cm": N_("Local reaction, largest diameter (cm)"),
    "serious": N_("Seriousness criteria"),
    "outcome": N_("Outcome"),
    "treatment": N_("Treatment given"),
    "hospital_name": N_("Hospital"),
    "diagnosis": N_("Initial diagnosis"),
    "guardian_name": N_("Guardian (for a minor)"),
    "patient_phone": N_("Phone"),
    "patient_address": N_("Address"),
    "reporter_unit": N_("Reporting unit"),
    "reporter_name": N_("Reporter's name"),
    "reporter_phone": N_("Reporter's phone"),
}
HAND_LABELS = {
    "lot_number": N_("Lot number"),
    "administered_at": N_("Vaccinated at"),
    "dose_number": N_("Dose number"),
}
# Slots whose input has the id "f-<slot>" (templates/intake/macros.html field/textarea);
# the summary links the others to their message, beside the control (aefi.js focuses it).
INPUT_SLOTS = frozenset(
    {
        "patient_name", "patient_id_number", "patient_birth_date", "onset_at", "discovered_at",
        "description", "max_temperature_c", "local_reaction_cm", "treatment", "hospital_name",
        "diagnosis", "guardian_name", "patient_phone", "patient_address", "reporter_unit",
        "reporter_name", "reporter_phone",
    }
)  # fmt: skip


def slot_label(slot: str) -> str:
    """The translated label of a message slot, for the error summary."""
    if slot in SLOT_LABELS:
        return gettext(SLOT_LABELS[slot])
    m = re.match(r"^hand-(\d{1,2})-(\w+)$", slot)
    if m and m.group(2) in HAND_LABELS:
        return gettext(
            "{field} (dose given elsewhere {n})",
            field=gettext(HAND_LABELS[m.group(2)]),
            n=int(m.group(1)) + 1,
        )
    return ""


def slot_anchor(slot: str) -> str:
    """The element the error summary links a slot to."""
    return f"f-{slot}" if slot in INPUT_SLOTS else f"msg-{slot}"


def slot_of(name: str) -> str:
    """The message slot of an input: most inputs have their own, a few share one."""
    if name in SLOT_OF:
        return SLOT_OF[name]
    if name.startswith("serious_"):
        return "serious"
    return name


@dataclass
class Parsed:
    data: ReportIn
    # Slot → translated message, for what could not be parsed.
    errors: dict[str, str]
    # For each entry of data.hand_doses, the form's row index (rows that fail are left out).
    hand_rows: list[int]

    @property
    def complete(self) -> bool:
        return not self.errors


@dataclass
class ReportForm:
    """The report form's values exactly as typed: str for fields, lists for repeated ones."""

    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: Any) -> ReportForm:
        """From Starlette's FormData (or any mapping with ``getlist``)."""
        raw: dict[str, Any] = {}
        for name in TEXT_FIELDS:
            value = form.get(name)
            if value is not None:
                raw[name] = str(value)
        for name in FLAGS:
            if form.get(name):
                raw[name] = "1"
        for name in LISTS:
            values = [str(v) for v in form.getlist(name) if str(v).strip()]
            if values:
                raw[name] = list(dict.fromkeys(values))
        for name in form:
            if _HAND.match(name):
                raw[name] = str(form.get(name))
        return cls(raw)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ReportForm:
        """From a saved draft (only the names the form knows)."""
        raw: dict[str, Any] = {}
        for name, value in (payload or {}).items():
            if name in LISTS and isinstance(value, list):
                raw[name] = [str(v) for v in value]
            elif name in TEXT_FIELDS or name in FLAGS or _HAND.match(name):
                raw[name] = str(value)
        return cls(raw)

    # --- reading, for the template ----------------------------------------------------

    def get(self, name: str, default: str = "") -> str:
        value = self.raw.get(name)
        return default if value is None else str(value)

    def getlist(self, name: str) -> list[str]:
        value = self.raw.get(name) or []
        return list(value) if isinstance(value, list) else [str(value)]

    def checked(self, name: str, value: str | None = None) -> bool:
        if value is None:
            return bool(self.raw.get(name))
        return value in self.getlist(name)

    def dose_ids(self) -> list[int]:
        ids = (ascii_int(v) for v in self.getlist("dose_ids"))
        return [i for i in ids if i is not None and 1 <= i <= MAX_ID]

    def hand_indexes(self) -> list[int]:
        found = {int(m.group(1)) for m in map(_HAND.match, self.raw) if m}
        return sorted(found)

    def hand_rows(self) -> list[tuple[int, dict[str, str]]]:
        """The hand-entered dose rows, each as (index, values); at least one, empty, so
        the section always shows a row to fill in."""
        rows = [
            (i, {p: self.get(f"hand-{i}-{p}") for p in HAND_PARTS}) for i in self.hand_indexes()
        ]
        return rows or [(0, {p: "" for p in HAND_PARTS})]

    def has_hand_doses(self) -> bool:
        return any(_row_used(values) for _i, values in self.hand_rows()) or bool(
            self.get("patient_name") or self.get("patient_id_number")
        )

    def payload(self) -> dict[str, Any]:
        """What a draft keeps: everything typed, nothing else (no tokens)."""
        return {k: v for k, v in self.raw.items() if v not in ("", [], None)}

    def with_values(self, **values: Any) -> ReportForm:
        return ReportForm({**self.raw, **values})

    # --- parsing ------------------------------------------------------------------------

    def parse(self) -> Parsed:
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}

        def when(name: str) -> Any:
            text = self.get(name).strip()
            if not text:
                return None
            try:
                return parse_local(text)
            except ValueError:
                errors[name] = gettext(MSG_DATETIME)
                return None

        def number(name: str, low: float, high: float, message: str) -> float | None:
            text = self.get(name).strip().replace(",", ".")
            if not text:
                return None
            try:
                value = float(text)
            except ValueError:
                errors[name] = gettext(MSG_NUMBER)
                return None
            if not low <= value <= high:
                errors[name] = gettext(message)
                return None
            return value

        clean["onset_at"] = when("onset_at")
        clean["discovered_at"] = when("discovered_at")
        clean["max_temperature_c"] = number("max_temperature_c", 34, 44, MSG_TEMPERATURE)
        clean["local_reaction_cm"] = number("local_reaction_cm", 0, 50, MSG_SIZE)
        clean["emergency"] = emergency_form.parse(self.get, clean["onset_at"], errors)
        clean["dose_ids"] = self.dose_ids()
        clean["symptoms"] = self.getlist("symptoms")
        for name in (
            "description",
            "treatment",
            "hospital_name",
            "diagnosis",
            "guardian_name",
            "patient_phone",
            "patient_address",
            "reporter_unit",
            "reporter_name",
            "reporter_phone",
        ):
            clean[name] = self.get(name).strip()
        for name in (
            "needs_hospital_care",
            "already_in_hospital",
            "great_public_concern",
            "diagnosis_clear",
            "confirm_late_onset",
            "confirm_new_event",
        ):
            clean[name] = self.checked(name)
        clean["serious"] = SeriousIn(**{s: self.checked(f"serious_{s}") for s in SERIOUS})
        outcome = self.get("outcome")
        if outcome in Outcome.__members__:
            clean["outcome"] = Outcome(outcome)
        else:
            errors["outcome"] = gettext(MSG_OUTCOME)

        hand_doses: list[HandDoseIn] = []
        hand_rows: list[int] = []
        for i, values in self.hand_rows():
            if not _row_used(values):
                continue
            key = f"hand-{i}-"
            at = when(key + "administered_at")
            if not values["lot_number"].strip():
                errors[key + "lot_number"] = gettext(MSG_HAND_LOT)
            if at is None and key + "administered_at" not in errors:
                errors[key + "administered_at"] = gettext(MSG_HAND_TIME)
            dose_number = values["dose_number"].strip() or "1"
            if not 1 <= (ascii_int(dose_number) or 0) <= 10:
                errors[key + "dose_number"] = gettext(MSG_DOSE_NUMBER)
                continue
            if at is None or not values["lot_number"].strip():
                continue
            try:
                hand_doses.append(
                    HandDoseIn(
                        lot_number=values["lot_number"].strip(),
                        administered_at=at,
                        dose_number=ascii_int(dose_number),
                        route=values["route"].strip(),
                        body_site=values["body_site"].strip(),
                        vaccinating_unit=values["vaccinating_unit"].strip(),
                    )
                )
                hand_rows.append(i)
            except ValidationError:
                errors[key + "lot_number"] = gettext(MSG_TOO_LONG)
        clean["hand_doses"] = hand_doses

        clean["patient"] = None
        name, id_number = self.get("patient_name").strip(), self.get("patient_id_number").strip()
        if name or id_number:
            birth = None
            if self.get("patient_birth_date").strip():
                try:
                    birth = date.fromisoformat(self.get("patient_birth_date").strip())
                except ValueError:
                    errors["patient_birth_date"] = gettext(MSG_DATE)
            if not name:
                errors["patient_name"] = gettext(MSG_PATIENT_NAME)
            if len(id_number) < 4:
                errors["patient_id_number"] = gettext(MSG_PATIENT_ID)
            sex = self.get("patient_sex")
            if name and len(id_number) >= 4:
                try:
                    clean["patient"] = PatientIn(
                        name=name,
                        id_number=id_number.upper(),
                        sex=Sex(sex) if sex in Sex.__members__ else Sex.unknown,
                        birth_date=birth,
                    )
                except ValidationError as exc:
                    for err in exc.errors():
                        errors[f"patient_{err['loc'][0]}"] = gettext(MSG_TOO_LONG)

        try:
            data = ReportIn.model_validate(clean)
        except ValidationError as exc:
            # Build it anyway: the service's checks name the rest (a missing onset too).
            for err in exc.errors():
                loc = err["loc"][0] if err["loc"] else ""
                if loc != "onset_at" and isinstance(loc, str):
                    errors.setdefault(loc, gettext(MSG_TOO_LONG))
            data = ReportIn.model_construct(
                **{k: v for k, v in clean.items() if v is not None or k == "onset_at"}
            )
        return Parsed(data, errors, hand_rows)


def _row_used(values: dict[str, str]) -> bool:
    """A hand row counts once a lot number or a time is typed (a dose number alone, or
    the unit, is not yet a dose)."""
    return bool(values.get("lot_number", "").strip() or values.get("administered_at", "").strip())


def as_follow_up(data: ReportIn) -> FollowUpIn:
    """A report typed again for an event already reported: what it adds, as a follow-up.
    Only facts that were set are carried over; an unticked box never clears a fact."""
    fields: dict[str, Any] = {}
    for s in SERIOUS:
        if s != "congenital_anomaly" and getattr(data.serious, s):
            fields[s] = True
    if data.outcome and data.outcome != Outcome.unknown:
        fields["outcome"] = data.outcome
    if data.already_in_hospital:
        fields["already_in_hospital"] = True
    if data.diagnosis_clear:
        fields["diagnosis_clear"] = True
    for name in ("hospital_name", "diagnosis", "treatment"):
        if (getattr(data, name) or "").strip():
            fields[name] = getattr(data, name).strip()
    return FollowUpIn(
        **fields,
        symptoms_added=list(data.symptoms or []),
        note=(data.description or "").strip(),
    )


def _id_or_none(value: Any) -> int | None:
    """A hidden id field: ASCII digits within the id range, else None (never an error:
    the physician did not type it)."""
    number = ascii_int(value)
    return number if number is not None and 1 <= number <= MAX_ID else None


class FormMeta(BaseModel):
    """The report form's own fields beside what the physician typed: the draft it
    continues, the submission's key (one report however often it is sent), the device
    token of a logged-out save, the earlier report a likely duplicate is added to, and the
    message slots already visited (the field checks)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    draft_id: Annotated[int | None, BeforeValidator(_id_or_none)] = None
    follow_up_of: Annotated[int | None, BeforeValidator(_id_or_none)] = None
    submission_key: Annotated[str, BeforeValidator(lambda v: str(v or "")[:100])] = ""
    device_token: str = ""
    touched: frozenset[str] = frozenset()
    field: str = ""

    @classmethod
    def from_form(cls, form: Any) -> FormMeta:
        touched = str(form.get("touched") or "").split(",")
        return cls.model_validate(
            {
                "draft_id": form.get("draft_id"),
                "follow_up_of": form.get("follow_up_of"),
                "submission_key": form.get("submission_key"),
                "device_token": str(form.get("device_token") or ""),
                "touched": {t for t in touched if t},
                "field": str(form.get("_field") or ""),
            }
        )
