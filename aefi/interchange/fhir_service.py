"""FHIR use cases: a case's resources for a reader in scope, and an immunization information
system's transaction Bundle of Immunization (+ Patient) recorded as doses through the
registry's own dose-recording service (the same checks and halt refusals as the dose API).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError
from sqlmodel import Session, select

from aefi import audit
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, mask_id_number, require_role, sees_identity
from aefi.errors import DomainError, NotFound
from aefi.i18n import gettext
from aefi.intake import access as intake_access
from aefi.intake.models import Report, ReportDose
from aefi.interchange import fhir
from aefi.interchange.export import service as export
from aefi.registry import access as registry_access
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Lot, Person, Route, Sex, Site, Vaccine
from aefi.registry.schemas import DoseCreate, PersonIn

MAX_ENTRIES = 1000  # one IIS push; the CSV import takes bigger files


def _patient_facts(actor: Actor, person: Person) -> fhir.PatientFacts:
    identity = sees_identity(actor)
    return fhir.PatientFacts(
        id=str(person.id),
        name=person.name if identity else "",
        sex=person.sex,
        birth_on=person.birth_on,
        id_number=person.id_number if identity else mask_id_number(person.id_number),
    )


def patient(session: Session, actor: Actor, person_id: int) -> dict[str, Any]:
    person = registry_doses.get_person(session, actor, person_id)
    return fhir.patient(_patient_facts(actor, person)).model_dump(mode="json")


def _dose_facts(row: registry_doses.DoseRow) -> fhir.DoseFacts:
    return fhir.DoseFacts(
        id=str(row.dose.id),
        patient_id=str(row.person.id),
        vaccine_code=row.vaccine.code,
        vaccine_name=row.vaccine.name,
        manufacturer=row.vaccine.manufacturer,
        lot_number=row.lot.lot_number,
        administered_at=row.dose.administered_at,
        dose_number=row.dose.dose_number,
        route=row.dose.route,
        body_site=row.dose.body_site,
        site_code=row.site.code,
        site_name=row.site.name,
    )


def immunization(session: Session, actor: Actor, immunization_id: str) -> dict[str, Any]:
    """``123`` is registry dose 123; ``rd45`` is report dose 45 (a dose entered by hand on a
    report, given elsewhere), readable by whoever may read the report."""
    if immunization_id.startswith("rd") and immunization_id[2:].isdigit():
        link = session.get(ReportDose, int(immunization_id[2:]))
        if link is None:
            raise NotFound("Not found.")
        report = intake_access.get_report(session, actor, link.report_id)
        return fhir.immunization(_report_dose_facts(session, report, link)).model_dump(mode="json")
    if not immunization_id.isdigit():
        raise NotFound("Not found.")
    if actor.role in (Role.hospital, Role.province):
        raise NotFound("Not found.")
    (row,) = registry_doses.get_doses(session, actor, [int(immunization_id)])
    if actor.role == Role.reporter and row.site.id != actor.site_id:
        raise NotFound("Not found.")
    return fhir.immunization(_dose_facts(row)).model_dump(mode="json")


def _report_dose_facts(session: Session, report: Report, link: ReportDose) -> fhir.DoseFacts:
    lot = session.get(Lot, link.lot_id)
    vaccine = session.get(Vaccine, link.vaccine_id)
    site = session.get(Site, report.site_id) if link.dose_id else None
    return fhir.DoseFacts(
        id=str(link.dose_id) if link.dose_id else f"rd{link.id}",
        patient_id=str(report.person_id),
        vaccine_code=vaccine.code,
        vaccine_name=vaccine.name,
        manufacturer=vaccine.manufacturer,
        lot_number=lot.lot_number,
        administered_at=link.administered_at,
        dose_number=link.dose_number,
        route=link.route,
        body_site=link.body_site,
        site_code=site.code if site else "",
        site_name=site.name if site else link.vaccinating_unit,
    )


def _case(session: Session, actor: Actor, report_id: int):
    icsr = export.icsr_of_report(session, actor, report_id)  # checks role and scope
    report = session.get(Report, report_id)
    links = list(session.exec(select(ReportDose).where(ReportDose.report_id == report.id)))
    doses = [_report_dose_facts(session, report, link) for link in links]
    seen_causality = {(r.method, r.result): r.source for r in icsr.relatedness}
    event = fhir.EventFacts(
        id=str(report.id),
        patient_id=str(report.person_id),
        report_number=report.number,
        safety_report_id=icsr.safety_report_id,
        worldwide_case_id=icsr.worldwide_case_id,
        onset_at=report.onset_at,
        recorded_at=report.received_at,
        event_groups=tuple(report.event_groups),
        terms=tuple(r.reported_term for r in icsr.reactions),
        meddra=tuple((r.meddra_code, r.reported_term) for r in icsr.reactions if r.meddra_code),
        seriousness={
            "death": report.death,
            "life_threatening": report.life_threatening,
            "hospitalization": report.hospitalization,
            "disability": report.disability,
            "congenital_anomaly": report.congenital_anomaly,
        },
        other_important=report.great_public_concern,
        outcome=report.outcome,
        dose_ids=tuple(d.id for d in doses),
        causality=tuple(
            fhir.Causality(method=m, result=r, author=a) for (m, r), a in seen_causality.items()
        ),
        description=icsr.narrative if icsr.narrative != "-" else "",
    )
    person = session.get(Person, report.person_id)
    return icsr, fhir.adverse_event(event), person, doses


def adverse_event(session: Session, actor: Actor, report_id: int) -> dict[str, Any]:
    _icsr, event, _person, _doses = _case(session, actor, report_id)
    return event.model_dump(mode="json")


def case_bundle(session: Session, actor: Actor, report_id: int) -> dict[str, Any]:
    icsr, event, person, doses = _case(session, actor, report_id)
    bundle = fhir.case_bundle(
        event,
        fhir.patient(_patient_facts(actor, person)),
        [fhir.immunization(d) for d in doses],
        icsr.worldwide_case_id,
    )
    return bundle.model_dump(mode="json")


# --- the IIS push ------------------------------------------------------------------------


class FhirRefused(DomainError):
    """A Bundle that is recorded as nothing, with one issue per entry that failed."""

    status_code = 422

    def __init__(self, outcome: dict[str, Any], status_code: int = 422) -> None:
        super().__init__("The Bundle was not recorded; see the OperationOutcome.")
        self.outcome = outcome
        self.status_code = status_code


@dataclass(frozen=True)
class PushEntry:
    index: int
    dose: DoseCreate


def _issue(index: int | None, text: str, code: str = "invalid") -> tuple[str, str, str]:
    where = f"Bundle.entry[{index}]: " if index is not None else ""
    return ("error", code, f"{where}{text}")


def _person_of(resource: dict[str, Any]) -> PersonIn:
    ident = next((i.get("value", "") for i in resource.get("identifier") or []), "")
    names = resource.get("name") or [{}]
    name = names[0].get("text") or "".join(
        [names[0].get("family", ""), *(names[0].get("given") or [])]
    )
    sex = resource.get("gender")
    return PersonIn(
        name=name,
        id_number=ident,
        sex=Sex(sex) if sex in ("male", "female") else Sex.unknown,
        birth_date=resource.get("birthDate"),
    )


def _dose_of(resource: dict[str, Any], patients: dict[str, PersonIn]) -> DoseCreate:
    ref = (resource.get("patient") or {}).get("reference", "")
    person = patients.get(ref)
    if person is None:
        raise ValueError(
            f"Immunization.patient refers to {ref or 'nothing'}; include that Patient "
            "in the Bundle (entry.fullUrl) with its identifier and name"
        )
    location = (resource.get("location") or {}).get("identifier") or {}
    site_code = location.get("value", "")
    if not site_code:
        raise ValueError("Immunization.location.identifier.value must be the site code")
    protocol = (resource.get("protocolApplied") or [{}])[0]
    dose_number = protocol.get("doseNumberPositiveInt") or protocol.get("doseNumberString") or 1
    route = None
    for coding in (resource.get("route") or {}).get("coding") or []:
        route = fhir.ROUTES_BY_CODE.get(coding.get("code", ""))
        if route:
            break
    return DoseCreate(
        person=person,
        lot_number=resource.get("lotNumber") or "",
        site_code=site_code,
        dose_number=int(dose_number) if str(dose_number).isdigit() else 0,
        administered_at=resource.get("occurrenceDateTime"),
        route=Route(route) if route else None,
        body_site=((resource.get("site") or {}).get("text") or "")[:64],
    )


def _parse(body: dict[str, Any]) -> tuple[str, list[PushEntry], list[tuple[str, str, str]]]:
    try:
        bundle = Bundle.model_validate(body)
    except (ValidationError, ValueError, TypeError) as exc:
        text = str(exc).splitlines()
        raise FhirRefused(
            fhir.outcome(
                [_issue(None, f"not a FHIR R4 Bundle: {' '.join(text[:3])}"[:1000], "structure")]
            ).model_dump(mode="json"),
            400,
        ) from None
    if bundle.type not in ("transaction", "batch"):
        raise FhirRefused(
            fhir.outcome(
                [_issue(None, f"Bundle.type is {bundle.type}; send a transaction")]
            ).model_dump(mode="json")
        )
    entries = bundle.entry or []
    if not entries or len(entries) > MAX_ENTRIES:
        raise FhirRefused(
            fhir.outcome(
                [_issue(None, f"the Bundle must have 1 to {MAX_ENTRIES} entries")]
            ).model_dump(mode="json")
        )
    raw = body.get("entry") or []
    patients: dict[str, PersonIn] = {}
    issues: list[tuple[str, str, str]] = []
    for i, entry in enumerate(raw):
        res = entry.get("resource") or {}
        if res.get("resourceType") == "Patient":
            try:
                person = _person_of(res)
            except (ValidationError, ValueError) as exc:
                issues.append(_issue(i, f"Patient: {_first_error(exc)}"))
                continue
            for key in filter(None, (entry.get("fullUrl"), f"Patient/{res.get('id', '')}")):
                patients[key] = person
    out: list[PushEntry] = []
    for i, entry in enumerate(raw):
        res = entry.get("resource") or {}
        kind = res.get("resourceType")
        if kind == "Patient":
            continue
        if kind != "Immunization":
            issues.append(
                _issue(
                    i, f"{kind} is not taken here; send Immunization and Patient", "not-supported"
                )
            )
            continue
        try:
            out.append(PushEntry(i, _dose_of(res, patients)))
        except (ValidationError, ValueError) as exc:
            issues.append(_issue(i, _first_error(exc)))
    push_id = bundle.id or (bundle.identifier.value if bundle.identifier else "") or ""
    return push_id, out, issues


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"[:500]
    return str(exc)[:500]


def push_bundle(session: Session, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """Record the Bundle's Immunizations as doses. A transaction is all or nothing: every
    entry is checked first (site, lot, halts: registry's checks) and any refusal returns an
    OperationOutcome naming each failed entry with nothing recorded."""
    require_role(actor, *registry_access.DOSE_WRITERS)
    push_id, entries, issues = _parse(body)
    for entry in entries:
        try:
            site = registry_access.site_by_code(session, actor, entry.dose.site_code)
            if actor.role == Role.reporter and actor.site_id != site.id:
                raise NotFound("No vaccination site with code {code}.", code=site.code)
            lot = registry_access.lot_by_number(session, actor, entry.dose.lot_number)
            lot_states.refuse_if_halted(session, lot, site)
        except DomainError as exc:
            code = "conflict" if exc.status_code == 409 else "not-found"
            issues.append(_issue(entry.index, gettext(exc.message, **exc.params), code))
    if issues:
        conflict = all(code == "conflict" for _s, code, _t in issues)
        raise FhirRefused(fhir.outcome(issues).model_dump(mode="json"), 409 if conflict else 422)
    push = push_id or f"push-{uuid.uuid4().hex[:12]}"
    response_entries = []
    dose_ids = []
    for entry in entries:
        try:
            dose = registry_doses.record_dose(session, actor, entry.dose)
        except DomainError as exc:
            # Checked above; what is left is a dose already recorded (a re-sent push).
            text = gettext(exc.message, **exc.params)
            response_entries.append(
                {
                    "response": {
                        "status": f"{exc.status_code}",
                        "outcome": fhir.outcome(
                            [_issue(entry.index, text, "duplicate")]
                        ).model_dump(mode="json"),
                    }
                }
            )
            continue
        dose_ids.append(dose.id)
        response_entries.append(
            {"response": {"status": "201 Created", "location": f"Immunization/{dose.id}"}}
        )
    audit.record(
        session,
        actor,
        "fhir_push",
        "dose",
        dose_ids[0] if dose_ids else None,
        summary=f"FHIR Bundle {push}: {len(dose_ids)} dose(s)",
        changes={"bundle": push, "doses": dose_ids},
    )
    session.commit()
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "transaction-response"
            if body.get("type") == "transaction"
            else "batch-response",
            "timestamp": datetime.now().astimezone().isoformat(),
            "entry": response_entries,
        }
    ).model_dump(mode="json")
