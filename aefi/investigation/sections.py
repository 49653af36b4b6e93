"""The investigation form (个案调查表), section by section, as data, and the checks each
section's input gets before it is saved.

Sections follow the WHO AEFI investigation form (2016) and China's AEFI case investigation
form of the national surveillance plan: history and clinical course; examinations and
laboratory results; the vaccine's storage and cold chain at the site; immunization
practice; others vaccinated in the same session and with the same lot; the investigator's
summary. Fields marked ``required`` must be filled for the form to count as completed (the
3-day indicator of DOMAIN.md).

Pure: strings in, plain values and error messages (English msgids) out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aefi.i18n import N_


@dataclass(frozen=True)
class FormField:
    name: str
    label: str  # msgid
    kind: str = "text"  # text, textarea, yesno, choice, number, int, date, datetime
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (value, msgid)
    help: str = ""  # msgid
    unit: str = ""
    low: float | None = None
    high: float | None = None
    max_length: int = 4000
    # For yes/no questions: the answer that points to a possible error or problem.
    concern: str = ""


@dataclass(frozen=True)
class Section:
    key: str
    title: str  # msgid
    intro: str  # msgid
    fields: tuple[FormField, ...]

    def field(self, name: str) -> FormField:
        return next(f for f in self.fields if f.name == name)


YES, NO, UNKNOWN = "yes", "no", "unknown"
YESNO_CHOICES = ((YES, N_("Yes")), (NO, N_("No")), (UNKNOWN, N_("Unknown")))

AUTOPSY_CHOICES = (
    ("not_applicable", N_("Not applicable")),
    ("not_done", N_("Not done")),
    ("pending", N_("Pending")),
    ("done", N_("Done")),
)
CAUSE_CHOICES = (
    ("common_reaction", N_("Common (minor) reaction")),
    ("rare_reaction", N_("Rare adverse reaction")),
    ("quality_defect", N_("Vaccine quality defect")),
    ("immunization_error", N_("Immunization error")),
    ("coincidental", N_("Coincidental event")),
    ("psychogenic", N_("Psychogenic reaction")),
    ("undetermined", N_("Not yet determined")),
)

SECTIONS: tuple[Section, ...] = (
    Section(
        "history",
        N_("History and clinical course"),
        N_("The patient's history before vaccination and what happened after it."),
        (
            FormField("past_history", N_("Past medical history"), "textarea", required=True),
            FormField(
                "allergy_history",
                N_("Allergies (medicines, food, earlier vaccines)"),
                "textarea",
            ),
            FormField(
                "previous_similar_event",
                N_("Similar event after an earlier dose"),
                "yesno",
                required=True,
                concern=YES,
            ),
            FormField("family_history", N_("Family history"), "textarea"),
            FormField(
                "medications", N_("Medicines taken in the month before vaccination"), "textarea"
            ),
            FormField(
                "health_before",
                N_("Health on the day of vaccination and contraindication screening"),
                "textarea",
            ),
            FormField(
                "clinical_course",
                N_("Clinical course: onset, signs and symptoms, progression"),
                "textarea",
                required=True,
            ),
            FormField("treatment", N_("Treatment given"), "textarea"),
            FormField("admitted_at", N_("Admitted to hospital at"), "datetime"),
            FormField("outcome_detail", N_("Outcome and current condition"), "textarea"),
        ),
    ),
    Section(
        "examinations",
        N_("Examinations and laboratory results"),
        N_("Findings of examinations, tests and imaging, and the clinical diagnosis."),
        (
            FormField("temperature_c", N_("Temperature"), "number", unit="°C", low=30, high=45),
            FormField("pulse", N_("Pulse"), "int", unit="/min", low=20, high=300),
            FormField(
                "blood_pressure",
                N_("Blood pressure"),
                "text",
                unit="mmHg",
                help=N_("As systolic/diastolic, e.g. 90/60"),
                max_length=20,
            ),
            FormField(
                "respiratory_rate", N_("Respiratory rate"), "int", unit="/min", low=4, high=120
            ),
            FormField("physical_exam", N_("Physical examination"), "textarea", required=True),
            FormField("lab_results", N_("Laboratory tests and results"), "textarea"),
            FormField("imaging", N_("Imaging and other examinations"), "textarea"),
            FormField(
                "clinical_diagnosis",
                N_("Clinical diagnosis"),
                "text",
                required=True,
                max_length=500,
            ),
            FormField("diagnosing_hospital", N_("Diagnosed at (hospital)"), "text", max_length=200),
            FormField("autopsy", N_("Autopsy"), "choice", choices=AUTOPSY_CHOICES),
            FormField("autopsy_findings", N_("Autopsy findings"), "textarea"),
        ),
    ),
    Section(
        "cold_chain",
        N_("Vaccine storage and cold chain at the site"),
        N_("What the investigator found at the vaccination site about this lot."),
        (
            FormField(
                "storage_temperature_ok",
                N_("Storage temperature records within 2–8 °C"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField(
                "fridge_temperature_c",
                N_("Refrigerator temperature at inspection"),
                "number",
                unit="°C",
                low=-40,
                high=40,
            ),
            FormField(
                "temperature_excursion",
                N_("Temperature excursion in the last 30 days"),
                "yesno",
                required=True,
                concern=YES,
            ),
            FormField(
                "within_expiry",
                N_("Vaccine within its expiry date"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField(
                "vial_normal",
                N_("Vial appearance and vaccine vial monitor normal"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField(
                "diluent_correct",
                N_("Correct diluent of the same manufacturer"),
                "yesno",
                concern=NO,
            ),
            FormField(
                "open_vial_ok",
                N_("Opened multi-dose vials used within the allowed time"),
                "yesno",
                concern=NO,
            ),
            FormField(
                "transport_records_ok",
                N_("Transport and distribution records complete"),
                "yesno",
                concern=NO,
            ),
            FormField("cold_chain_notes", N_("Notes on storage and cold chain"), "textarea"),
        ),
    ),
    Section(
        "practice",
        N_("Immunization practice"),
        N_("How the vaccine was given. A 'No' marks a possible immunization error."),
        (
            FormField(
                "vaccinator_qualified",
                N_("Vaccinator trained and qualified"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField(
                "screening_done",
                N_("Contraindications asked and the vaccinee or guardian informed"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField(
                "right_vaccine",
                N_("Right vaccine for the person"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField("right_dose", N_("Right dose (volume)"), "yesno", required=True, concern=NO),
            FormField(
                "right_route_site",
                N_("Right route and injection site"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField("reconstitution_ok", N_("Reconstituted correctly"), "yesno", concern=NO),
            FormField(
                "sterile_technique",
                N_("Sterile technique (new syringe and needle, no contamination)"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField(
                "observation_kept",
                N_("30-minute observation kept"),
                "yesno",
                required=True,
                concern=NO,
            ),
            FormField("practice_notes", N_("Possible errors found"), "textarea"),
        ),
    ),
    Section(
        "others",
        N_("Others vaccinated in the same session and with the same lot"),
        N_(
            "The registry counts are filled in by aefi; record what the investigation found "
            "among these people."
        ),
        (
            FormField(
                "others_followed_up",
                N_("People followed up by the investigation"),
                "int",
                low=0,
                high=1_000_000,
            ),
            FormField(
                "others_with_similar",
                N_("Of them, with a similar event"),
                "int",
                required=True,
                low=0,
                high=1_000_000,
            ),
            FormField(
                "others_notes",
                N_("Findings among others vaccinated and in the community"),
                "textarea",
            ),
        ),
    ),
    Section(
        "summary",
        N_("Investigator's summary"),
        N_("The investigation's conclusion for the expert panel."),
        (
            FormField("summary", N_("Summary of the investigation"), "textarea", required=True),
            FormField(
                "preliminary_diagnosis",
                N_("Preliminary diagnosis"),
                "text",
                required=True,
                max_length=500,
            ),
            FormField(
                "suspected_cause",
                N_("Working hypothesis of the cause"),
                "choice",
                required=True,
                choices=CAUSE_CHOICES,
            ),
            FormField("recommendations", N_("Recommendations and actions taken"), "textarea"),
            FormField("investigators", N_("Investigators"), "text", required=True, max_length=300),
            FormField("investigated_on", N_("Date of investigation"), "date", required=True),
        ),
    ),
)

BY_KEY: dict[str, Section] = {s.key: s for s in SECTIONS}

_BP = re.compile(r"^\s*(\d{2,3})\s*/\s*(\d{2,3})\s*$")


def _clean_one(spec: FormField, raw: str) -> tuple[Any, str | None]:
    """The stored value of one field and its error message (None when valid)."""
    text = (raw or "").strip()
    if not text:
        return None, None
    if len(text) > spec.max_length:
        return text, N_("Too long: at most {n} characters.")
    if spec.kind in ("text", "textarea"):
        if spec.name == "blood_pressure" and not _BP.match(text):
            return text, N_("Write it as systolic/diastolic, e.g. 90/60.")
        return text, None
    if spec.kind == "yesno":
        if text not in (YES, NO, UNKNOWN):
            return text, N_("Choose one of the answers.")
        return text, None
    if spec.kind == "choice":
        if text not in {v for v, _l in spec.choices}:
            return text, N_("Choose one of the answers.")
        return text, None
    if spec.kind in ("number", "int"):
        try:
            number: float = int(text) if spec.kind == "int" else float(text.replace(",", "."))
        except ValueError:
            msg = N_("Enter a whole number.") if spec.kind == "int" else N_("Enter a number.")
            return text, msg
        if (spec.low is not None and number < spec.low) or (
            spec.high is not None and number > spec.high
        ):
            return text, N_("Out of range: between {low} and {high}.")
        return number, None
    if spec.kind == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return text, N_("Enter a date as YYYY-MM-DD.")
    if spec.kind == "datetime":
        try:
            return datetime.fromisoformat(text).strftime("%Y-%m-%dT%H:%M"), None
        except ValueError:
            return text, N_("Enter a date and time.")
    return text, None


@dataclass(frozen=True)
class Cleaned:
    values: dict[str, Any]  # what is stored when there are no errors
    typed: dict[str, str]  # what was typed, to show again on error
    errors: dict[str, tuple[str, dict[str, Any]]]  # field -> (msgid, params)


def clean(section: Section, raw: dict[str, str]) -> Cleaned:
    """Check one section's input. Empty fields are stored as None: a section may be saved
    half-done; completeness is checked when the form is marked complete."""
    values: dict[str, Any] = {}
    typed: dict[str, str] = {}
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    for spec in section.fields:
        text = raw.get(spec.name) or ""
        typed[spec.name] = text
        value, error = _clean_one(spec, text)
        values[spec.name] = value
        if error:
            errors[spec.name] = (
                error,
                {"n": spec.max_length, "low": _num(spec.low), "high": _num(spec.high)},
            )
    return Cleaned(values, typed, errors)


def _num(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def missing_required(saved: dict[str, dict[str, Any]]) -> list[tuple[Section, FormField]]:
    """Required fields not yet filled, over all sections (``saved``: section -> values)."""
    out = []
    for section in SECTIONS:
        values = saved.get(section.key, {})
        for spec in section.fields:
            if spec.required and values.get(spec.name) in (None, ""):
                out.append((section, spec))
    return out


def concerns(saved: dict[str, dict[str, Any]]) -> list[tuple[Section, FormField]]:
    """Answers that point to a possible immunization error, cold-chain or quality problem."""
    out = []
    for section in SECTIONS:
        values = saved.get(section.key, {})
        for spec in section.fields:
            if spec.concern and values.get(spec.name) == spec.concern:
                out.append((section, spec))
    return out


def section_filled(section: Section, values: dict[str, Any]) -> tuple[int, int]:
    """(required fields filled, required fields) of one section."""
    required = [f for f in section.fields if f.required]
    filled = [f for f in required if values.get(f.name) not in (None, "")]
    return len(filled), len(required)
