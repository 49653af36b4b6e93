"""The site's queue of self-reports: a physician confirms one into a report (source
``self_report``, linked to the dose, triaged like any other), or dismisses it with a
reason. Who sees the queue: the site's physicians (their site), the county's investigators
and bureau and the admin (the county); a green-channel hospital sees the urgent ones of the
sites it serves (the red flags it was alerted to), read only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.aftercare import questions
from aefi.aftercare.models import CheckIn, SelfReport, SelfReportStatus
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.i18n import gettext
from aefi.intake.filing import service as filing
from aefi.intake.schemas import ReportIn
from aefi.registry.models import Dose, Lot, Person, Site, Vaccine

READERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin, Role.hospital)
DECIDERS = (Role.reporter, Role.investigator)


@dataclass(frozen=True)
class QueueRow:
    self_report: SelfReport
    checkin: CheckIn
    dose: Dose
    person: Person
    vaccine: Vaccine
    lot: Lot
    site: Site


def _in_scope(session: Session, actor: Actor, sr: SelfReport) -> bool:
    if actor.role not in READERS or sr.county_id not in actor.county_ids:
        return False
    if actor.role == Role.reporter:
        return sr.site_id == actor.site_id
    if actor.role == Role.hospital:
        site = session.get(Site, sr.site_id)
        return (
            sr.urgent
            and site is not None
            and actor.hospital_id
            in (
                site.primary_hospital_id,
                site.backup_hospital_id,
            )
        )
    return True


def _rows_stmt():
    return (
        select(SelfReport, CheckIn, Dose, Person, Vaccine, Lot, Site)
        .join(CheckIn, CheckIn.id == SelfReport.checkin_id)
        .join(Dose, Dose.id == SelfReport.dose_id)
        .join(Person, Person.id == Dose.person_id)
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .join(Site, Site.id == SelfReport.site_id)
    )


def queue(session: Session, actor: Actor, status: str = SelfReportStatus.pending) -> list[QueueRow]:
    if actor.role not in READERS:
        raise Forbidden("Your role cannot see self-reports.")
    stmt = _rows_stmt().where(col(SelfReport.county_id).in_(actor.county_ids))
    if status:
        stmt = stmt.where(SelfReport.status == status)
    if actor.role == Role.reporter:
        stmt = stmt.where(SelfReport.site_id == actor.site_id)
    if actor.role == Role.hospital:
        stmt = stmt.where(SelfReport.urgent == True)  # noqa: E712
    stmt = stmt.order_by(col(SelfReport.urgent).desc(), col(SelfReport.created_at).desc()).limit(
        200
    )
    rows = [QueueRow(*r) for r in session.exec(stmt).all()]
    return [r for r in rows if _in_scope(session, actor, r.self_report)]


def get(session: Session, actor: Actor, self_report_id: int) -> QueueRow:
    row = session.exec(_rows_stmt().where(SelfReport.id == self_report_id)).first()
    if row is None or not _in_scope(session, actor, row[0]):
        raise NotFound("Not found.")
    return QueueRow(*row)


def pending_count(session: Session, actor: Actor) -> int:
    if actor.role not in (Role.reporter, Role.investigator):
        return 0
    return len(queue(session, actor))


def _decidable(session: Session, actor: Actor, self_report_id: int) -> QueueRow:
    row = get(session, actor, self_report_id)
    if actor.role not in DECIDERS:
        raise Forbidden(
            "Only the site's physicians and the county's investigators decide a self-report."
        )
    if row.self_report.status != SelfReportStatus.pending:
        raise Conflict("This self-report was already decided; nothing was changed.")
    return row


def proposed_report(row: QueueRow) -> ReportIn:
    """What the self-report says, as a report card (the physician may edit it)."""
    codes = [c for c in row.checkin.symptoms.split(",") if c]
    onset_day = row.checkin.onset_on or clock.to_local(row.checkin.answered_at).date()
    # Noon of the day given (the page asks for the day only), never after the answer.
    onset = min(
        datetime.combine(onset_day, time(12, 0), tzinfo=clock.local_zone()),
        row.checkin.answered_at,
    )
    words = "；".join(gettext(questions.BY_CODE[c].label) for c in codes if c in questions.BY_CODE)
    description = gettext(
        "Self-report through the check-in link, day {day}: {words}",
        day=row.checkin.day,
        words=words,
    )
    if row.checkin.note:
        description = f"{description}\n{row.checkin.note}"
    return ReportIn(
        dose_ids=[row.dose.id],
        onset_at=onset,
        symptoms=questions.report_codes(codes),
        description=description[:4000],
        needs_hospital_care=bool(row.checkin.seen_doctor),
        patient_phone=row.person.phone,
    )


def confirm(
    session: Session,
    actor: Actor,
    self_report_id: int,
    data: ReportIn,
    *,
    idempotency_key: str | None = None,
):
    """File the report (through intake, so triage and everything after it run) and link it."""
    row = _decidable(session, actor, self_report_id)
    if row.dose.id not in data.dose_ids:
        raise Invalid(
            "The report must stay linked to the self-report's dose.",
            fields={"dose_ids": "The report must stay linked to the self-report's dose."},
        )
    data = filing.with_reporter_defaults(session, actor, data)
    report = filing.file_report(
        session, actor, data, idempotency_key=idempotency_key, source="self_report"
    )
    sr = session.get(SelfReport, self_report_id)
    if sr.status != SelfReportStatus.pending:  # decided by someone else meanwhile
        return report
    sr.status = SelfReportStatus.confirmed
    sr.report_id = report.id
    sr.decided_by = actor.user_id
    sr.decided_at = clock.now()
    session.add(sr)
    audit.record(
        session,
        actor,
        "self_report_confirmed",
        "self_report",
        sr.id,
        changes={"report_id": report.id},
        county_id=sr.county_id,
    )
    session.commit()
    return report


def dismiss(session: Session, actor: Actor, self_report_id: int, reason: str) -> SelfReport:
    row = _decidable(session, actor, self_report_id)
    reason = reason.strip()
    if len(reason) < 4:
        raise Invalid(
            "Say why the self-report is dismissed (at least a few words).",
            fields={"reason": "Say why the self-report is dismissed (at least a few words)."},
        )
    sr = row.self_report
    sr.status = SelfReportStatus.dismissed
    sr.reason = reason[:500]
    sr.decided_by = actor.user_id
    sr.decided_at = clock.now()
    session.add(sr)
    audit.record(
        session,
        actor,
        "self_report_dismissed",
        "self_report",
        sr.id,
        changes={"reason": sr.reason},
        county_id=sr.county_id,
    )
    session.commit()
    return sr
