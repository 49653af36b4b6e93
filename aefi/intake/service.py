"""Use cases of intake: file a report, add a follow-up, drafts, lists, one report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import (
    Actor,
    in_scope,
    require_role,
    scope_clause,
    sees_identity,
    site_filter,
)
from aefi.db import serialized_writes
from aefi.errors import Conflict, Invalid, NotFound
from aefi.intake import access, events, symptoms
from aefi.intake.models import (
    Draft,
    FollowUp,
    IdempotencyKey,
    Outcome,
    Report,
    ReportCounter,
    ReportDose,
)
from aefi.intake.schemas import FollowUpIn, ReportIn
from aefi.intake.validation import check_report, overlaps
from aefi.registry import service as registry
from aefi.registry.models import Lot, LotStatus, Person, Region, Site, Vaccine
from aefi.registry.schemas import PersonIn

# Facts a follow-up may change, and the report card field each one updates.
FOLLOW_UP_FIELDS = (
    "outcome",
    "death",
    "life_threatening",
    "hospitalization",
    "disability",
    "already_in_hospital",
    "hospital_name",
    "diagnosis",
    "diagnosis_clear",
    "treatment",
)


# The stored length of an Idempotency-Key (intake.models.IdempotencyKey.key); a longer key
# is refused (422), not cut, so that the lookup and the stored key are the same string.
IDEMPOTENCY_KEY_MAX = 200


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


# --- filing ------------------------------------------------------------------------------


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
    for row in registry.get_doses(session, actor, data.dose_ids):
        if actor.role == Role.reporter and row.site.id != actor.site_id:
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
            lot = registry.lot_by_number(session, actor, hand.lot_number)
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


def _next_number(session: Session, county_id: int, year: int) -> str:
    """Human-readable and unique per county and year: 330782-2026-00017."""
    for _attempt in range(3):
        result = session.execute(
            update(ReportCounter)
            .where(ReportCounter.county_id == county_id, ReportCounter.year == year)
            .values(last=ReportCounter.last + 1)
            .returning(ReportCounter.last)
        ).first()
        if result is not None:
            seq = result[0]
            break
        try:
            with session.begin_nested():
                session.add(ReportCounter(county_id=county_id, year=year, last=1))
            seq = 1
            break
        except IntegrityError:
            continue
    else:  # pragma: no cover - three racing first reports of a year
        raise Conflict("Could not number the report; submit again.")
    code = session.get(Region, county_id).code
    return f"{code}-{year}-{seq:05d}"


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
    returns the stored report, already triaged (triage subscribes to ``report_filed``)."""
    if idempotency_key is not None and len(idempotency_key) > IDEMPOTENCY_KEY_MAX:
        raise Invalid(
            "The Idempotency-Key is {n} characters long; at most {max} are allowed. "
            "Send a shorter key, e.g. a UUID.",
            n=len(idempotency_key),
            max=IDEMPOTENCY_KEY_MAX,
        )
    with serialized_writes(session):
        try:
            return _file_report(session, actor, data, idempotency_key=idempotency_key,
                                draft_id=draft_id, source=source)
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
    *,
    idempotency_key: str | None,
    draft_id: int | None,
    source: str,
) -> Report:
    require_role(actor, *access.FILERS)
    earlier = _earlier_report(session, actor, idempotency_key)
    if earlier is not None:
        return earlier
    doses, findings = check(session, actor, data)
    if findings.errors or findings.warnings:
        raise NeedsCorrection(findings.errors, findings.warnings)
    person = next((d.person for d in doses if d.person is not None), None)
    if person is None:
        p = data.patient
        person = registry.upsert_person(
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
        if d.lot.status in (LotStatus.held, LotStatus.halted, LotStatus.recalled)
    ]
    outcome = Outcome(data.outcome)
    report = Report(
        number=_next_number(session, actor.county_id, now.year),
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
    report.serious = any(
        (
            report.death,
            report.life_threatening,
            report.hospitalization,
            report.disability,
            report.congenital_anomaly,
        )
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
        session.add(
            IdempotencyKey(user_id=actor.user_id, key=idempotency_key, report_id=report.id)
        )
        session.flush()  # a racing twin waits here for the first one, then fails
    if draft_id is not None:
        draft = session.get(Draft, draft_id)
        if draft is not None and draft.user_id == actor.user_id:
            draft.report_id = report.id
            session.add(draft)
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
    events.report_filed(session, actor, report)
    session.commit()
    return report


# --- follow-ups --------------------------------------------------------------------------


def add_follow_up(
    session: Session,
    actor: Actor,
    report_id: int,
    data: FollowUpIn,
    *,
    source: str = "reporter",
    draft_id: int | None = None,
) -> FollowUp:
    """Add later information as a dated follow-up. The card's current facts change; the
    follow-up keeps what they were, so the report's history shows every step.

    ``access.can_follow_up`` says who may; a hospital adds to the report of a patient
    referred to it (``access.hospital_cares_for``). ``draft_id``: the report form's draft
    that ended up as this follow-up (a likely duplicate linked to its report)."""
    report = session.get(Report, report_id)
    if report is None or not access.hospital_cares_for(session, actor, report):
        report = get_report(session, actor, report_id)  # refused as reading it would be
        if not access.can_follow_up(actor, report):
            require_role(actor, *access.FOLLOW_UP_ROLES)
            raise NotFound("Not found.")
    unknown = symptoms.unknown_codes(data.symptoms_added)
    if unknown:
        raise Invalid(
            "Unknown symptom codes; pick from the list.",
            fields={"symptoms_added": ", ".join(unknown)},
        )
    requested = data.changes()
    if requested.get("outcome") == Outcome.died:
        requested["death"] = True
    changes: dict[str, list[Any]] = {}
    for key in FOLLOW_UP_FIELDS:
        if key in requested:
            new = requested[key].value if hasattr(requested[key], "value") else requested[key]
            old = getattr(report, key)
            if new != old:
                changes[key] = [old, new]
                setattr(report, key, new)
    added = [c for c in data.symptoms_added if c not in report.symptoms]
    if added:
        changes["symptoms"] = [list(report.symptoms), [*report.symptoms, *added]]
        report.symptoms = [*report.symptoms, *added]
        report.event_groups = symptoms.groups_of(report.symptoms)
    if not changes and not data.note.strip():
        raise Invalid(
            "The follow-up has nothing new: change a fact or write a note.",
            fields={"note": "empty"},
        )
    follow_up = FollowUp(
        report_id=report.id,
        at=data.at or clock.now(),
        author_id=actor.user_id or None,
        author_name=actor.name,
        source=source,
        changes=changes,
        note=data.note.strip(),
    )
    session.add(follow_up)
    session.add(report)
    if draft_id is not None:
        draft = session.get(Draft, draft_id)
        if draft is not None and draft.user_id == actor.user_id and draft.report_id is None:
            draft.report_id = report.id
            session.add(draft)
    session.flush()
    audit.record(
        session,
        actor,
        "follow_up",
        "report",
        report.id,
        changes=changes,
        summary=data.note.strip()[:200] or report.number,
        county_id=report.county_id,
    )
    events.follow_up_added(session, actor, report, follow_up)
    session.commit()
    return follow_up


def follow_ups(session: Session, report_id: int) -> list[FollowUp]:
    return list(
        session.exec(
            select(FollowUp)
            .where(FollowUp.report_id == report_id)
            .order_by(FollowUp.at, FollowUp.id)
        )
    )


def original_card(report: Report, history: list[FollowUp]) -> dict[str, Any]:
    """The facts as first filed, recovered by undoing the follow-ups newest first."""
    card = {k: getattr(report, k) for k in (*FOLLOW_UP_FIELDS, "symptoms")}
    for fu in reversed(history):
        for key, (old, _new) in fu.changes.items():
            card[key] = old
    return card


# --- reading -----------------------------------------------------------------------------


def get_report(session: Session, actor: Actor, report_id: int) -> Report:
    require_role(actor, *access.READERS)
    report = session.get(Report, report_id)
    if report is None or not in_scope(actor, report.county_id):
        raise NotFound("Not found.")
    if actor.role == Role.reporter and report.site_id != actor.site_id:
        raise NotFound("Not found.")
    return report


def print_card(session: Session, actor: Actor, report_id: int) -> Report:
    """The report for its printed card (PDF). The card carries the full identity, so
    printing it is recorded like any other disclosure."""
    if not sees_identity(actor):
        raise NotFound("Not found.")
    report = get_report(session, actor, report_id)
    audit.record(
        session,
        actor,
        "print",
        "report",
        report.id,
        summary=report.number,
        county_id=report.county_id,
    )
    session.commit()
    return report


@dataclass(frozen=True)
class DoseView:
    link: ReportDose
    lot: Lot
    vaccine: Vaccine


def report_doses(session: Session, report_ids: list[int]) -> dict[int, list[DoseView]]:
    """The linked doses of several reports in one query."""
    out: dict[int, list[DoseView]] = {rid: [] for rid in report_ids}
    if not report_ids:
        return out
    rows = session.exec(
        select(ReportDose, Lot, Vaccine)
        .join(Lot, Lot.id == ReportDose.lot_id)
        .join(Vaccine, Vaccine.id == ReportDose.vaccine_id)
        .where(col(ReportDose.report_id).in_(report_ids))
        .order_by(ReportDose.id)
    )
    for link, lot, vaccine in rows:
        out[link.report_id].append(DoseView(link, lot, vaccine))
    return out


@dataclass(frozen=True)
class ReportFilter:
    since: datetime | None = None
    until: datetime | None = None
    site_id: int | None = None
    site_code: str = ""
    vaccine_code: str = ""
    lot_number: str = ""
    serious: bool | None = None
    status: str = ""
    q: str = ""


def list_reports(
    session: Session, actor: Actor, flt: ReportFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[Report], int]:
    """Reports in the actor's scope, newest first, filtered and paged."""
    require_role(actor, *access.READERS)
    stmt = select(Report).where(scope_clause(Report.county_id, actor))
    only_site = site_filter(actor)
    if only_site is not None:
        stmt = stmt.where(Report.site_id == only_site)
    if flt.since:
        stmt = stmt.where(col(Report.reported_at) >= flt.since)
    if flt.until:
        stmt = stmt.where(col(Report.reported_at) < flt.until)
    if flt.site_id:
        stmt = stmt.where(Report.site_id == flt.site_id)
    if flt.site_code:
        stmt = stmt.where(
            Report.site_id == select(Site.id).where(Site.code == flt.site_code).scalar_subquery()
        )
    if flt.lot_number:
        stmt = stmt.where(
            exists().where(
                ReportDose.report_id == Report.id,
                ReportDose.lot_id == Lot.id,
                Lot.lot_number == flt.lot_number.strip(),
            )
        )
    if flt.vaccine_code:
        stmt = stmt.where(
            exists().where(
                ReportDose.report_id == Report.id,
                ReportDose.vaccine_id == Vaccine.id,
                Vaccine.code == flt.vaccine_code.strip(),
            )
        )
    if flt.serious is not None:
        stmt = stmt.where(Report.serious == flt.serious)
    if flt.status:
        stmt = stmt.where(Report.status == flt.status)
    if flt.q.strip():
        term = flt.q.strip()
        stmt = stmt.where(or_(Report.number == term, col(Report.patient_name).ilike(f"%{term}%")))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(col(Report.reported_at).desc(), col(Report.id).desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


# --- drafts ------------------------------------------------------------------------------

# In a draft saved logged out: the id of the user's draft it carries on.
CONTINUES = "_continues"


def save_draft(
    session: Session,
    actor: Actor,
    draft_id: int | None,
    payload: dict[str, Any],
    *,
    device: str = "",
) -> Draft:
    """Keep what was typed, as the user's draft."""
    return _save_draft(session, actor.user_id, draft_id, payload, device=device)


def save_device_draft(
    session: Session, draft_id: int | None, payload: dict[str, Any], *, device: str
) -> Draft:
    """Keep what was typed when nobody is logged in (the session expired): the draft
    belongs to the browser's device id until its user logs in there again."""
    return _save_draft(session, None, draft_id, payload, device=device)


def _save_draft(
    session: Session,
    user_id: int | None,
    draft_id: int | None,
    payload: dict[str, Any],
    *,
    device: str,
) -> Draft:
    draft = session.get(Draft, draft_id) if draft_id else None
    continues = None
    if draft is not None:
        owner_ok = (user_id is not None and draft.user_id == user_id) or (
            draft.user_id is None and device and draft.device == device
        )
        if not owner_ok or draft.report_id is not None:
            # Logged out, the browser carries on a user's draft: the new copy names it, so
            # that claiming the copy at login retires the older one (one draft, not two).
            if user_id is None and draft.user_id is not None and draft.report_id is None:
                continues = draft.id
            draft = None
        else:
            continues = draft.payload.get(CONTINUES)
    if draft is None:
        draft = Draft(user_id=user_id, device=device)
    draft.payload = {**payload, CONTINUES: continues} if continues else payload
    draft.updated_at = clock.now()
    session.add(draft)
    session.commit()
    return draft


def claim_device_drafts(session: Session, actor: Actor, device: str) -> int:
    """After a login, the drafts this browser saved while logged out become the user's."""
    if not device:
        return 0
    drafts = session.exec(
        select(Draft).where(col(Draft.user_id).is_(None), Draft.device == device)
    ).all()
    for d in drafts:
        d.user_id = actor.user_id
        older_id = d.payload.get(CONTINUES)
        if older_id:
            older = session.get(Draft, older_id)
            if older is not None and older.user_id == actor.user_id and older.report_id is None:
                session.delete(older)
            d.payload = {k: v for k, v in d.payload.items() if k != CONTINUES}
        session.add(d)
    session.commit()
    return len(drafts)


def open_drafts(session: Session, actor: Actor) -> list[Draft]:
    return list(
        session.exec(
            select(Draft)
            .where(Draft.user_id == actor.user_id, col(Draft.report_id).is_(None))
            .order_by(col(Draft.updated_at).desc())
        )
    )


def get_draft(session: Session, actor: Actor, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or draft.user_id != actor.user_id:
        raise NotFound("Not found.")
    return draft


def discard_draft(session: Session, actor: Actor, draft_id: int) -> None:
    draft = get_draft(session, actor, draft_id)
    session.delete(draft)
    session.commit()
