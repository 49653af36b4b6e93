"""Filing a report card: its doses resolved in scope, checked (what the form shows as you
type), a likely duplicate named, numbered per county and year, stored once per
Idempotency-Key, and announced (``events.publish(ReportFiled)``: triage follows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.models import User
from aefi.auth.permissions import Actor, require_role
from aefi.db import serialized_writes
from aefi.errors import Conflict, Invalid, NotFound
from aefi.events import ReportFiled, publish
from aefi.intake import access, symptoms
from aefi.intake.drafts import keys as draft_keys
from aefi.intake.drafts import service as drafts_service
from aefi.intake.filing.numbers import next_report_number
from aefi.intake.models import IdempotencyKey, Outcome, Report, ReportDose
from aefi.intake.schemas import ReportIn
from aefi.intake.validation import check_report, overlaps
from aefi.registry import access as registry_access
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Lot, Person, Site, Vaccine
from aefi.registry.schemas import PersonIn

IDEMPOTENCY_KEY_MAX = 200
# session.info key: the ids of the reports this session filed (new, not an earlier
# request's): nothing was added to them since (the API's answer reads no follow-up).
FILED_NOW = "aefi_filed_now"


class PossibleDuplicate(Conflict):
    """A report for the same person and dose with an overlapping onset exists."""

    def __init__(self, candidates: list[Report]) -> None:
        super().__init__(
            "This looks like a report already filed ({numbers}): link it as a follow-up of "
            "that report, or confirm it is a new event.",
            numbers=", ".join(r.number for r in candidates),
        )
        self.candidates = candidates


class NeedsCorrection(Invalid):
    def __init__(self, errors: dict[str, str], warnings: dict[str, str]) -> None:
        super().__init__("Some fields need correcting.", fields={**warnings, **errors})
        self.errors = errors
        self.warnings = warnings


@dataclass(frozen=True)
class LinkedDose:
    dose_id: int | None
    lot: Lot
    vaccine: Vaccine
    administered_at: datetime
    dose_number: int
    route: str
    body_site: str
    vaccinating_unit: str
    person: Person | None
    site: Site | None


def resolve_doses(
    session: Session,
    actor: Actor,
    data: ReportIn,
    *,
    unknown_lots: list[tuple[int, str]] | None = None,
) -> list[LinkedDose]:
    """The registry doses (in the actor's scope) and hand-entered doses of a report.

    ``unknown_lots``: when given, a hand-entered dose whose lot is not in the registry is
    listed there as (index in ``hand_doses``, lot number) and left out, instead of raising;
    the form uses it to name every unknown lot next to its row."""
    linked: list[LinkedDose] = []
    for row in registry_doses.get_doses(session, actor, data.dose_ids):
        if not access.may_link_dose_at(actor, row.site.id):
            raise NotFound("No dose with id {ids}.", ids=str(row.dose.id))
        linked.append(
            LinkedDose(
                row.dose.id,
                row.lot,
                row.vaccine,
                row.dose.administered_at,
                row.dose.dose_number,
                row.dose.route,
                row.dose.body_site,
                row.site.name,
                row.person,
                row.site,
            )
        )
    for index, hand in enumerate(data.hand_doses):
        try:
            lot = registry_access.lot_by_number(session, actor, hand.lot_number)
        except NotFound:
            if unknown_lots is not None:
                unknown_lots.append((index, hand.lot_number))
                continue
            raise Invalid(
                "No lot numbered {lot}.", fields={"hand_lot": "unknown lot"}, lot=hand.lot_number
            ) from None
        linked.append(
            LinkedDose(
                None,
                lot,
                session.get(Vaccine, lot.vaccine_id),
                hand.administered_at,
                hand.dose_number,
                hand.route,
                hand.body_site,
                hand.vaccinating_unit,
                None,
                None,
            )
        )
    return linked


def check(
    session: Session,
    actor: Actor,
    data: ReportIn,
    *,
    unknown_lots: list[tuple[int, str]] | None = None,
) -> tuple[list[LinkedDose], Any]:
    """Resolve and check a report without filing it: what the form shows as you type.
    (``unknown_lots``: see ``resolve_doses``.)"""
    doses = resolve_doses(session, actor, data, unknown_lots=unknown_lots)
    findings = check_report(
        vaccinated_at=[d.administered_at for d in doses],
        onset_at=data.onset_at,
        discovered_at=data.discovered_at,
        now=clock.now(),
        symptoms=data.symptoms,
        description=data.description,
        outcome=data.outcome,
        reporter_name=data.reporter_name,
        reporter_phone=data.reporter_phone,
        unknown_symptoms=symptoms.unknown_codes(data.symptoms),
        confirm_late_onset=data.confirm_late_onset,
    )
    persons = {d.person.id for d in doses if d.person is not None}
    if len(persons) > 1:
        findings.errors["doses"] = "The linked doses belong to different persons."
    if not persons and data.patient is None and doses:
        findings.errors["patient"] = "Enter the patient's name and ID number."
    return doses, findings


def with_reporter_defaults(session: Session, actor: Actor, data: ReportIn) -> ReportIn:
    """The report with its reporter block filled from the authenticated account where the
    body left it out (API.md: its name and phone, or its site's phone; the unit is the
    site). What the body gives is kept."""
    if data.reporter_name.strip() and data.reporter_phone.strip() and data.reporter_unit.strip():
        return data
    user = session.get(User, actor.user_id) if actor.user_id else None
    site = session.get(Site, actor.site_id) if actor.site_id else None
    return data.model_copy(
        update={
            "reporter_name": data.reporter_name.strip() or actor.name,
            "reporter_phone": data.reporter_phone.strip()
            or (user.phone if user else "")
            or (site.phone if site else ""),
            "reporter_unit": data.reporter_unit.strip() or (site.name if site else ""),
        }
    )


def find_duplicates(
    session: Session, person_id: int, doses: list[LinkedDose], onset_at: datetime
) -> list[Report]:
    """Reports of this person on one of these doses (or lots) with an overlapping onset."""
    dose_ids = [d.dose_id for d in doses if d.dose_id is not None]
    lot_ids = [d.lot.id for d in doses]
    linked = select(ReportDose.report_id).where(
        or_(
            col(ReportDose.dose_id).in_(dose_ids) if dose_ids else False,
            col(ReportDose.lot_id).in_(lot_ids),
        )
    )
    candidates = session.exec(
        select(Report).where(Report.person_id == person_id, col(Report.id).in_(linked))
    ).all()
    return [r for r in candidates if overlaps(r.onset_at, onset_at)]


def file_report(
    session: Session,
    actor: Actor,
    data: ReportIn,
    *,
    idempotency_key: str | None = None,
    draft_id: int | None = None,
    source: str = "web",
) -> Report:
    """File a report card. Raises NeedsCorrection (with the fields), PossibleDuplicate, or
    returns the stored report, already triaged (triage subscribes to ``report_filed``).

    Intake stores the facts only; whether the report is serious is triage's decision
    (``triage.rules``), written to ``report.serious`` when it triages the report."""
    if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        raise Invalid(
            "The Idempotency-Key is {n} characters long; at most {max} are allowed. "
            "Send a shorter key, e.g. a UUID.",
            n=len(idempotency_key),
            max=IDEMPOTENCY_KEY_MAX,
        )
    # Reading and checking first, outside the write lock (SQLite: nothing is written yet,
    # so these reads take no lock of the database either); the lock covers the writes.
    require_role(actor, *access.FILERS)
    earlier = _earlier_report(session, actor, idempotency_key)
    if earlier is not None:
        return earlier
    if source == "api":
        # The form shows these defaults to the physician; an API client may leave them out.
        data = with_reporter_defaults(session, actor, data)
    doses, findings = check(session, actor, data)
    if findings.errors or findings.warnings:
        raise NeedsCorrection(findings.errors, findings.warnings)
    with serialized_writes(session):
        try:
            return _file_report(
                session,
                actor,
                data,
                doses,
                idempotency_key=idempotency_key,
                draft_id=draft_id,
                source=source,
            )
        except IntegrityError:
            # Another request with the same Idempotency-Key stored its report first (the
            # unique key waits for it to commit, then fails here, at any flush or at the
            # commit): give its result. Anything else that collided: submit again.
            session.rollback()
            earlier = _earlier_report(session, actor, idempotency_key)
            if earlier is not None:
                return earlier
            raise Conflict(
                "The report collided with another change and was not stored; submit it again."
            ) from None


def _earlier_report(session: Session, actor: Actor, idempotency_key: str | None) -> Report | None:
    """The report an earlier request with this Idempotency-Key filed, if any."""
    if not idempotency_key:
        return None
    earlier = session.exec(
        select(IdempotencyKey).where(
            IdempotencyKey.user_id == actor.user_id, IdempotencyKey.key == idempotency_key
        )
    ).first()
    return session.get(Report, earlier.report_id) if earlier is not None else None


def _file_report(
    session: Session,
    actor: Actor,
    data: ReportIn,
    doses: list[LinkedDose],
    *,
    idempotency_key: str | None,
    draft_id: int | None,
    source: str,
) -> Report:
    """Store a checked report (``doses``: its resolved doses), under the write lock."""
    # A twin with the same key may have stored its report while this one was checking:
    # its result, not a "possible duplicate" of it.
    earlier = _earlier_report(session, actor, idempotency_key)
    if earlier is not None:
        return earlier
    person = next((d.person for d in doses if d.person is not None), None)
    if person is None:
        p = data.patient
        person = registry_doses.upsert_person(
            session,
            actor.county_id,
            PersonIn(name=p.name, id_number=p.id_number, sex=p.sex, birth_date=p.birth_date),
        )
    if not data.confirm_new_event:
        dups = find_duplicates(session, person.id, doses, data.onset_at)
        if dups:
            raise PossibleDuplicate(dups)
    now = clock.now()
    site_id = actor.site_id or next((d.site.id for d in doses if d.site is not None), None)
    if site_id is None:
        raise Invalid("Link a dose given at a site of the county.", fields={"doses": "site"})
    flags = [
        f"{d.lot.lot_number}: {d.lot.status} {d.lot.status_note}".strip()
        for d in doses
        if not lot_states.is_usable(d.lot)
    ]
    outcome = Outcome(data.outcome)
    report = Report(
        number=next_report_number(session, actor.county_id, now.year),
        county_id=actor.county_id,
        site_id=site_id,
        person_id=person.id,
        patient_name=person.name,
        patient_sex=person.sex,
        patient_birth_on=person.birth_on,
        patient_id_number=person.id_number,
        guardian_name=data.guardian_name or person.guardian_name,
        patient_phone=data.patient_phone or person.phone,
        patient_address=data.patient_address or person.address,
        onset_at=data.onset_at,
        symptoms=list(dict.fromkeys(data.symptoms)),
        event_groups=symptoms.groups_of(data.symptoms),
        description=data.description.strip(),
        max_temperature_c=data.max_temperature_c,
        local_reaction_cm=data.local_reaction_cm,
        death=data.serious.death or outcome == Outcome.died,
        life_threatening=data.serious.life_threatening,
        hospitalization=data.serious.hospitalization,
        disability=data.serious.disability,
        congenital_anomaly=data.serious.congenital_anomaly,
        needs_hospital_care=data.needs_hospital_care,
        already_in_hospital=data.already_in_hospital,
        great_public_concern=data.great_public_concern,
        treatment=data.treatment,
        emergency=data.emergency.stored()
        if data.emergency is not None and not data.emergency.is_empty()
        else None,
        hospital_name=data.hospital_name,
        outcome=outcome.value,
        diagnosis=data.diagnosis,
        diagnosis_clear=data.diagnosis_clear,
        reporter_id=actor.user_id,
        reporter_unit=data.reporter_unit,
        reporter_name=data.reporter_name or actor.name,
        reporter_phone=data.reporter_phone,
        discovered_at=data.discovered_at or now,
        reported_at=now,
        received_at=now,
        linked_by_hand=any(d.dose_id is None for d in doses),
        lot_flag="; ".join(flags),
        confirmed_new_event=data.confirm_new_event,
        source=source,
    )
    session.add(report)
    session.flush()
    for d in doses:
        session.add(
            ReportDose(
                report_id=report.id,
                dose_id=d.dose_id,
                lot_id=d.lot.id,
                vaccine_id=d.vaccine.id,
                administered_at=d.administered_at,
                dose_number=d.dose_number,
                route=d.route,
                body_site=d.body_site,
                vaccinating_unit=d.vaccinating_unit,
            )
        )
    if idempotency_key:
        session.add(IdempotencyKey(user_id=actor.user_id, key=idempotency_key, report_id=report.id))
        session.flush()  # a racing twin waits here for the first one, then fails
    # The drafts about these doses are done: removed with the filing, in its transaction.
    drafts_service.retire_for_report(
        session,
        actor,
        draft_keys.filed_keys(
            [d.dose_id for d in doses if d.dose_id is not None],
            data.patient.id_number if data.patient else person.id_number,
            [h.lot_number for h in data.hand_doses],
        ),
        draft_id,
    )
    audit.record(
        session,
        actor,
        "create",
        "report",
        report.id,
        summary=report.number,
        changes={
            "doses": [d.lot.lot_number for d in doses],
            "symptoms": report.symptoms,
            "outcome": report.outcome,
        },
    )
    session.flush()
    publish(
        session,
        actor,
        ReportFiled(
            report_id=report.id,
            county_id=report.county_id,
            site_id=report.site_id,
            source=report.source,
            lot_ids=tuple(sorted({d.lot.id for d in doses})),
        ),
    )
    session.commit()
    session.info.setdefault(FILED_NOW, set()).add(report.id)
    return report
