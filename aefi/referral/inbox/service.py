"""The green channel read: the hospital's inbox and the county's list, one referral as
its reader may see it (the patient masked for those who do not see identities), the
report's referrals, the send form's defaults, the handover PDF and the timing figures.

Every read checks the actor's scope first (``access``), so pages, the API and the PDF share
one rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from aefi import audit, clock, listing
from aefi.audit import AuditEvent
from aefi.auth.permissions import Actor, mask_id_number, require_role, sees_identity
from aefi.errors import NotFound
from aefi.intake import access as intake_access
from aefi.intake import emergency as emergency_block
from aefi.intake import symptoms
from aefi.intake.models import Report
from aefi.referral import states
from aefi.referral.access import (
    READERS,
    REQUESTERS,
    SENDERS,
    in_scope,
    receives_referrals,
    scope_stmt,
    watches_escalations,
)
from aefi.referral.legs import ack_minutes, chain, later_legs, next_hospital_id, open_of_report
from aefi.referral.models import LABELS, Referral
from aefi.referral.schemas import DETAIL_FIELDS
from aefi.referral.states import Action, ReferralStatus
from aefi.registry.models import Hospital, Site
from aefi.triage.rules_in_force.service import emergency_groups


@dataclass(frozen=True)
class PatientFacts:
    name: str
    sex: str
    birth_on: date | None
    id_number: str
    guardian_name: str
    phone: str
    age_years: int | None
    age_months: int | None


@dataclass(frozen=True)
class DoseFacts:
    vaccine_code: str
    vaccine_name: str
    vaccine_name_en: str
    manufacturer: str
    lot_number: str
    dose_number: int
    route: str
    administered_at: datetime


@dataclass(frozen=True)
class EventFacts:
    onset_at: datetime
    symptoms: list[str]
    symptom_names: list[tuple[str, str]]  # (zh, en)
    event_groups: list[str]
    description: str
    max_temperature_c: float | None
    site_treatment: str


@dataclass
class ReferralView:
    """One referral as the actor may see it: the hospital gets the patient and clinical
    facts it needs, the ID number masked; the sending side also gets the trail."""

    referral: Referral
    report_number: str
    hospital: Hospital
    site: Site
    patient: PatientFacts
    event: EventFacts
    doses: list[DoseFacts]
    legs: list[Referral] = field(default_factory=list)
    hospitals: dict[int, Hospital] = field(default_factory=dict)
    rerouted: bool = False
    backup: Hospital | None = None
    actions: list[str] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    ack_due_at: datetime | None = None
    # The report's emergency block: adrenaline route and repeats, treatment times.
    emergency: emergency_block.EmergencyIn | None = None


def _age(birth_on: date | None, on: date) -> tuple[int | None, int | None]:
    if birth_on is None:
        return None, None
    months = (on.year - birth_on.year) * 12 + on.month - birth_on.month
    if on.day < birth_on.day:
        months -= 1
    months = max(months, 0)
    return months // 12, months


def _patient(actor: Actor, report: Report, on: date) -> PatientFacts:
    years, months = _age(report.patient_birth_on, on)
    return PatientFacts(
        name=report.patient_name,
        sex=report.patient_sex,
        birth_on=report.patient_birth_on,
        id_number=report.patient_id_number
        if sees_identity(actor)
        else mask_id_number(report.patient_id_number),
        guardian_name=report.guardian_name,
        phone=report.patient_phone,
        age_years=years,
        age_months=months,
    )


def _event(report: Report) -> EventFacts:
    names = [
        (symptoms.BY_CODE[c].zh, symptoms.BY_CODE[c].en) if c in symptoms.BY_CODE else (c, c)
        for c in report.symptoms
    ]
    return EventFacts(
        onset_at=report.onset_at,
        symptoms=list(report.symptoms),
        symptom_names=names,
        event_groups=list(report.event_groups),
        description=report.description,
        max_temperature_c=report.max_temperature_c,
        site_treatment=report.treatment,
    )


def _doses(session: Session, report_id: int, linked=None) -> list[DoseFacts]:
    """The report's doses; ``linked`` is what ``intake_access.report_doses`` already fetched."""
    if linked is None:
        linked = intake_access.report_doses(session, [report_id])[report_id]
    return [
        DoseFacts(
            vaccine_code=d.vaccine.code,
            vaccine_name=d.vaccine.name,
            vaccine_name_en=d.vaccine.name_en,
            manufacturer=d.vaccine.manufacturer,
            lot_number=d.lot.lot_number,
            dose_number=d.link.dose_number,
            route=d.link.route,
            administered_at=d.link.administered_at,
        )
        for d in linked
    ]


def _view(
    session: Session, actor: Actor, ref: Referral, *, with_trail: bool, linked=None
) -> ReferralView:
    report = session.get(Report, ref.report_id)
    is_hospital = receives_referrals(actor)
    # A hospital sees its own legs only, not where else the patient was sent.
    legs = [ref] if is_hospital else chain(session, ref) + later_legs(session, ref)
    hospitals = {
        h.id: h
        for h in session.exec(
            select(Hospital).where(col(Hospital.id).in_({leg.hospital_id for leg in legs}))
        )
    }
    rerouted = (
        session.exec(select(Referral.id).where(Referral.previous_id == ref.id)).first() is not None
    )
    backup = None
    if not is_hospital and ref.status in states.AWAITING_ACK:
        backup_id = next_hospital_id(session, ref)
        backup = session.get(Hospital, backup_id) if backup_id else None
    if is_hospital:
        actions = [a.value for a in states.allowed(ref.status, states.HOSPITAL_ACTIONS)]
    elif actor.role in SENDERS:
        actions = [a.value for a in states.allowed(ref.status, states.SENDER_ACTIONS)]
        if backup is None and Action.reroute.value in actions:
            actions.remove(Action.reroute.value)
    else:
        actions = []
    events = []
    if with_trail:
        events = audit.timeline(
            session, "referral", legs[0].id, also=[("referral", leg.id) for leg in legs[1:]]
        )
    return ReferralView(
        referral=ref,
        report_number=report.number,
        hospital=hospitals.get(ref.hospital_id) or session.get(Hospital, ref.hospital_id),
        site=session.get(Site, ref.site_id),
        patient=_patient(actor, report, clock.now().date()),
        event=_event(report),
        doses=_doses(session, report.id, linked),
        legs=legs,
        hospitals=hospitals,
        rerouted=rerouted,
        backup=backup,
        actions=actions,
        events=events,
        ack_due_at=states.ack_due_at(ref.sent_at, ack_minutes())
        if ref.status == ReferralStatus.sent
        else None,
        emergency=emergency_block.read(report.emergency),
    )


def get_referral(
    session: Session, actor: Actor, referral_id: int, *, with_trail: bool = True
) -> ReferralView:
    require_role(actor, *READERS)
    ref = session.get(Referral, referral_id)
    if not in_scope(actor, ref):
        raise NotFound("Not found.")
    return _view(session, actor, ref, with_trail=with_trail)


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    report_number: str
    patient_name: str
    patient_sex: str
    patient_birth_on: date | None
    event_groups: list[str]
    hospital_name: str
    hospital_name_en: str
    site_name: str
    site_name_en: str
    report_emergency: dict[str, Any] | None = None

    @property
    def emergency(self) -> emergency_block.EmergencyIn | None:
        return emergency_block.read(self.report_emergency)


# The columns the referral list sorts by (``listing.order_by``); "" is its own order.
REFERRAL_SORTS = {
    "sent": col(Referral.sent_at),
    "patient": col(Report.patient_name),
    "report": col(Report.number),
    "hospital": col(Hospital.name),
    "site": col(Site.name),
    "urgency": col(Referral.urgency),
    "status": col(Referral.status),
    "acknowledged": col(Referral.acknowledged_at),
}


def list_referrals(
    session: Session,
    actor: Actor,
    *,
    show: str = "open",
    page: int = 1,
    per_page: int = 50,
    sort: str = "",
) -> tuple[list[ReferralRow], int]:
    """The actor's referrals: a hospital's are those addressed to it, a site's those it
    sent, the county roles' the county's. Unacknowledged first, then newest first, unless
    ``sort`` names a column of ``REFERRAL_SORTS``."""
    stmt = scope_stmt(actor)
    if show == "open":
        stmt = stmt.where(col(Referral.status).in_(list(states.OPEN)))
    elif show == "closed":
        stmt = stmt.where(col(Referral.status).not_in(list(states.OPEN)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    ids = stmt.with_only_columns(Referral.id).subquery()
    waiting_first = case(
        (Referral.status == ReferralStatus.escalated, 0),
        (Referral.status == ReferralStatus.sent, 1),
        else_=2,
    )
    rows = session.exec(
        select(
            Referral,
            Report.number,
            Report.patient_name,
            Report.patient_sex,
            Report.patient_birth_on,
            Report.event_groups,
            Hospital.name,
            Hospital.name_en,
            Site.name,
            Site.name_en,
            Report.emergency,
        )
        .join(Report, Report.id == Referral.report_id)
        .join(Hospital, Hospital.id == Referral.hospital_id)
        .join(Site, Site.id == Referral.site_id)
        .where(col(Referral.id).in_(select(ids.c.id)))
        .order_by(
            *(
                listing.order_by(sort, REFERRAL_SORTS, col(Referral.id))
                if sort
                else (waiting_first, col(Referral.sent_at).desc(), col(Referral.id).desc())
            )
        )
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return [ReferralRow(*row) for row in rows], total


def awaiting_count(session: Session, actor: Actor) -> int:
    """Referrals waiting for acknowledgement in the actor's scope (the inbox's alert)."""
    stmt = scope_stmt(actor).where(col(Referral.status).in_(list(states.AWAITING_ACK)))
    return session.exec(select(func.count()).select_from(stmt.subquery())).one()


def escalated_count(session: Session, actor: Actor) -> int:
    """Referrals not acknowledged in time, for those who watch them (the page banner)."""
    if not watches_escalations(actor):
        return 0
    stmt = scope_stmt(actor).where(Referral.status == ReferralStatus.escalated)
    return session.exec(select(func.count()).select_from(stmt.subquery())).one()


@dataclass(frozen=True)
class Timing:
    """Time to acknowledge and to arrival over the actor's referrals."""

    referrals: int
    acknowledged: int
    median_ack_minutes: float | None
    within_limit: int
    arrived: int
    median_arrival_minutes: float | None
    ack_limit_minutes: int


def timing(session: Session, actor: Actor, *, since: datetime | None = None) -> Timing:
    stmt = scope_stmt(actor)
    if since is not None:
        stmt = stmt.where(col(Referral.sent_at) >= since)
    rows = session.execute(
        stmt.with_only_columns(Referral.sent_at, Referral.acknowledged_at, Referral.arrived_at)
    ).all()
    limit = ack_minutes()
    acks = [m for s, a, _ in rows if (m := states.minutes_between(s, a)) is not None]
    arrivals = [m for s, _, a in rows if (m := states.minutes_between(s, a)) is not None]
    return Timing(
        referrals=len(rows),
        acknowledged=len(acks),
        median_ack_minutes=states.median(acks),
        within_limit=sum(1 for m in acks if m <= limit),
        arrived=len(arrivals),
        median_arrival_minutes=states.median(arrivals),
        ack_limit_minutes=limit,
    )


@dataclass
class ReportReferrals:
    """The referral status block of a report page: every leg, newest last."""

    report_id: int
    report_number: str
    legs: list[Referral]
    hospitals: dict[int, Hospital]
    # Where a new referral would go (the site's primary hospital), and the offered backup.
    primary: Hospital | None
    backup: Hospital | None
    can_request: bool
    can_reroute: bool
    ack_minutes: int

    @property
    def current(self) -> Referral | None:
        return self.legs[-1] if self.legs else None


def report_referrals(session: Session, actor: Actor, report_id: int) -> ReportReferrals:
    """What the report page shows of its referrals (the reporter's own site, the county)."""
    require_role(actor, *SENDERS)
    report = intake_access.get_report(session, actor, report_id)
    legs = list(
        session.exec(select(Referral).where(Referral.report_id == report.id).order_by(Referral.id))
    )
    hospitals = {
        h.id: h
        for h in session.exec(
            select(Hospital).where(col(Hospital.id).in_({leg.hospital_id for leg in legs}))
        )
    }
    current = legs[-1] if legs else None
    backup = None
    if current is not None and current.status in states.AWAITING_ACK:
        backup_id = next_hospital_id(session, current)
        backup = session.get(Hospital, backup_id) if backup_id else None
    site = session.get(Site, report.site_id)
    primary_id = states.next_hospital(site.primary_hospital_id, site.backup_hospital_id, [])
    return ReportReferrals(
        report_id=report.id,
        report_number=report.number,
        legs=legs,
        hospitals=hospitals,
        primary=session.get(Hospital, primary_id) if primary_id else None,
        backup=backup,
        can_request=actor.role in REQUESTERS,
        can_reroute=backup is not None,
        ack_minutes=ack_minutes(),
    )


def form_defaults(session: Session, actor: Actor, report_id: int) -> dict[str, Any]:
    """The referral form's starting values: the open referral's details, or the report's."""
    require_role(actor, *REQUESTERS)
    report = intake_access.get_report(session, actor, report_id)
    ref = open_of_report(session, report.id)
    block = emergency_block.read(report.emergency)
    if ref is not None:
        return {**{name: getattr(ref, name) for name in DETAIL_FIELDS}, **_adrenaline_values(block)}
    return {
        **_adrenaline_values(block),
        "urgency": states.urgency_for(
            report.event_groups, report.life_threatening, emergency_groups=emergency_groups()
        ).value,
        "treatment_given": report.treatment,
        "temperature_c": report.max_temperature_c,
        "contact_name": report.reporter_name,
        "contact_phone": report.reporter_phone,
        "family_contact": " ".join(p for p in (report.guardian_name, report.patient_phone) if p),
        **emergency_block.referral_details(block),
    }


def _adrenaline_values(block: emergency_block.EmergencyIn | None) -> dict[str, Any]:
    """The route and repeat rows of the referral form, from the report's emergency block
    (where they live): ``repeat_at_0``, ``repeat_dose_0``, ``repeat_route_0``, ..."""
    adrenaline = block.adrenaline if block is not None else None
    if adrenaline is None:
        return {}
    out: dict[str, Any] = {"adrenaline_route": adrenaline.route.value}
    for i, rep in enumerate(adrenaline.repeats):
        out[f"repeat_at_{i}"] = rep.at
        out[f"repeat_dose_{i}"] = rep.dose_mg
        out[f"repeat_route_{i}"] = rep.route.value if rep.route else ""
    return out


def handover_pdf(session: Session, actor: Actor, referral_id: int) -> bytes:
    """The hand-over sheet that travels with the patient (printable at the site)."""
    from aefi.pdf import render_pdf

    view = get_referral(session, actor, referral_id, with_trail=False)
    return render_pdf(
        "pdf/handover.html",
        {
            "v": view,
            "r": view.referral,
            "labels": LABELS,
            "printed_at": clock.now(),
            "printed_by": actor.name,
            "groups": symptoms.EVENT_GROUPS,
            "em_routes": emergency_block.ROUTE_LABELS,
        },
    )


def referrals_for_api(
    session: Session, actor: Actor, rows: list[ReferralRow]
) -> list[ReferralView]:
    """Full views of listed rows (the list already applied the actor's scope). Reports and
    their doses are fetched for the whole page at once, not per row."""
    report_ids = list({row.referral.report_id for row in rows})
    if report_ids:  # into the session's identity map, so _view's session.get costs nothing
        session.exec(select(Report).where(col(Report.id).in_(report_ids))).all()
    linked = intake_access.report_doses(session, report_ids)
    return [
        _view(session, actor, row.referral, with_trail=False, linked=linked[row.referral.report_id])
        for row in rows
    ]
