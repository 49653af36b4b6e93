"""Suggested values for the investigation form, from what aefi already knows: the report
(the vaccinee's dose, onset, symptoms, treatment), the green-channel referral (hospital,
arrival, admission, vitals) and the hospital's outcome (discharge diagnosis, outcome).

They are suggestions: shown in the empty fields of a section not yet saved, each with
where it came from; the investigator changes them and saves the section. Nothing is saved
until then. No database imports: the service hands in the records it loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aefi import clock
from aefi.i18n import N_, gettext


@dataclass(frozen=True)
class Suggestion:
    value: str
    source: str  # report, referral, hospital
    ref: str  # the report number, or the hospital's name


SOURCE_TEXT = {
    "report": N_("Suggested from report {ref}"),
    "referral": N_("Suggested from the referral to {ref}"),
    "hospital": N_("Suggested from the hospital's outcome ({ref})"),
}


def _local(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return at.astimezone(clock.local_zone()).strftime(fmt) if at is not None else ""


def _zh() -> bool:
    from aefi import i18n

    return i18n.get_locale().startswith("zh")


def _join(parts: Sequence[str]) -> str:
    parts = [p for p in parts if p]
    return ("；" if _zh() else "; ").join(parts) + (("。" if _zh() else ".") if parts else "")


def suggestions(
    report: Any,
    doses: Sequence[Any] = (),
    referral: Any | None = None,
    hospital_name: str = "",
    symptom_name: Any = str,
) -> dict[str, dict[str, Suggestion]]:
    """Section key → field → suggestion. ``report`` is the case's report (intake's
    Report), ``doses`` its linked doses (intake's DoseView: link, lot, vaccine),
    ``referral`` its latest green-channel referral and ``hospital_name`` that referral's
    hospital; ``symptom_name`` names a symptom code. In the reader's language."""
    out: dict[str, dict[str, Suggestion]] = {"history": {}, "examinations": {}}
    number = report.number
    zh = _zh()
    colon = "：" if zh else ": "

    def put(section: str, name: str, value: Any, source: str, ref: str) -> None:
        text = "" if value is None else str(value).strip()
        if text and name not in out[section]:
            out[section][name] = Suggestion(text, source, ref)

    # Clinical course: the dose, the onset and the symptoms, then the report's own words.
    course = []
    for d in doses:
        vaccine = (d.vaccine.name if zh else (d.vaccine.name_en or d.vaccine.name)) or ""
        course.append(
            gettext(
                "{at} vaccinated: {vaccine}, lot {lot}, dose {n}",
                at=_local(d.link.administered_at),
                vaccine=vaccine,
                lot=d.lot.lot_number,
                n=d.link.dose_number if d.link.dose_number is not None else "?",
            )
        )
    symptoms = ("、" if zh else ", ").join(symptom_name(c) for c in report.symptoms)
    course.append(gettext("Onset {at}", at=_local(report.onset_at)))
    if symptoms:
        course.append(gettext("Symptoms") + colon + symptoms)
    if report.max_temperature_c:
        course.append(gettext("Highest temperature {t} °C", t=f"{report.max_temperature_c:g}"))
    if report.description:
        course.append(report.description.strip().rstrip("。."))
    if referral is not None and referral.arrived_at is not None:
        course.append(
            gettext(
                "Arrived at {hospital} {at}", hospital=hospital_name, at=_local(referral.arrived_at)
            )
        )
    put("history", "clinical_course", _join(course), "report", number)

    # Treatment: at the site (the report, the referral's record), then in hospital.
    treatment = [report.treatment.strip().rstrip("。.")] if report.treatment else []
    if referral is not None:
        if referral.adrenaline_mg is not None:
            treatment.append(
                gettext(
                    "Adrenaline {mg} mg at {at}",
                    mg=f"{referral.adrenaline_mg:g}",
                    at=_local(referral.adrenaline_at, "%H:%M"),
                )
            )
        if referral.treatment_given and referral.treatment_given.strip() not in treatment:
            treatment.append(referral.treatment_given.strip().rstrip("。."))
    source = "report" if report.treatment else "referral"
    put(
        "history",
        "treatment",
        _join(treatment),
        source,
        number if source == "report" else hospital_name,
    )

    if referral is not None:
        if referral.admitted_at is not None:
            put(
                "history",
                "admitted_at",
                _local(referral.admitted_at, "%Y-%m-%dT%H:%M"),
                "referral",
                hospital_name,
            )
        # The hospital's outcome: the discharge diagnosis and how the patient left.
        outcome = []
        if referral.patient_outcome:
            outcome.append(gettext(referral.patient_outcome))
        if referral.closed_at is not None and referral.result:
            outcome.append(gettext(referral.result) + " " + _local(referral.closed_at))
        if referral.outcome_note:
            outcome.append(referral.outcome_note.strip().rstrip("。."))
        put("history", "outcome_detail", _join(outcome), "hospital", hospital_name)
        put("examinations", "clinical_diagnosis", referral.diagnosis, "hospital", hospital_name)
        put(
            "examinations",
            "diagnosing_hospital",
            hospital_name if referral.diagnosis else "",
            "hospital",
            hospital_name,
        )
        put(
            "examinations", "temperature_c", _num(referral.temperature_c), "referral", hospital_name
        )
        put("examinations", "pulse", referral.heart_rate, "referral", hospital_name)
        put("examinations", "respiratory_rate", referral.resp_rate, "referral", hospital_name)
        if referral.bp_systolic and referral.bp_diastolic:
            put(
                "examinations",
                "blood_pressure",
                f"{referral.bp_systolic}/{referral.bp_diastolic}",
                "referral",
                hospital_name,
            )
    if report.outcome and report.outcome != "unknown":
        put("history", "outcome_detail", gettext(report.outcome), "report", number)
    put("examinations", "clinical_diagnosis", report.diagnosis, "report", number)
    put("examinations", "diagnosing_hospital", report.hospital_name, "report", number)
    put("examinations", "temperature_c", _num(report.max_temperature_c), "report", number)
    return {k: v for k, v in out.items() if v}


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def source_text(s: Suggestion) -> str:
    """Where a suggestion came from, in the reader's language."""
    return gettext(SOURCE_TEXT[s.source], ref=s.ref)
