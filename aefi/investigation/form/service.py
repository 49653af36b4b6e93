"""The sectioned investigation form, its completion and the preliminary report; the others
vaccinated with the patient, counted from the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, distinct
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, Invalid, NotFound
from aefi.i18n import N_, pick
from aefi.intake.models import Report, ReportDose
from aefi.intake.symptoms import BY_CODE
from aefi.investigation import sections
from aefi.investigation.access import can_work, load_case, load_working
from aefi.investigation.form import prefill
from aefi.investigation.form.prefill import Suggestion
from aefi.investigation.lifecycle import (
    ensure_started,
    record,
    refresh_deadlines,
)
from aefi.investigation.models import (
    CaseFile,
    CaseFormSection,
)
from aefi.registry.models import Dose, Lot, Site, Vaccine

# --- investigation form ------------------------------------------------------------------


class SectionInvalid(Invalid):
    """A section's input with errors: the typed values come back with the messages."""

    def __init__(self, cleaned: sections.Cleaned) -> None:
        super().__init__(
            "Some fields need correcting.",
            fields={k: msg for k, (msg, _params) in cleaned.errors.items()},
        )
        self.cleaned = cleaned


class SectionConflict(Conflict):
    """Somebody saved the section after this form was loaded."""

    def __init__(self, saved: CaseFormSection) -> None:
        super().__init__(
            "{name} saved this section at {at} while you were editing it. Your values are "
            "kept below: check them against the saved ones and save again.",
            name=saved.saved_by_name,
            at=saved.saved_at.strftime("%H:%M"),
        )
        self.saved = saved


def form_sections(session: Session, case_id: int) -> dict[str, CaseFormSection]:
    rows = session.exec(select(CaseFormSection).where(CaseFormSection.case_id == case_id))
    return {row.section: row for row in rows}


def _saved_values(session: Session, case_id: int) -> dict[str, dict[str, Any]]:
    return {k: dict(v.values) for k, v in form_sections(session, case_id).items()}


def get_section(
    session: Session, actor: Actor, case_id: int, key: str
) -> tuple[CaseFile, sections.Section, CaseFormSection | None]:
    case = load_case(session, actor, case_id)
    section = sections.BY_KEY.get(key)
    if section is None:
        raise NotFound("Not found.")
    return case, section, form_sections(session, case.id).get(key)


def save_section(
    session: Session,
    actor: Actor,
    case_id: int,
    key: str,
    raw: dict[str, str],
    *,
    version: int | None = None,
) -> CaseFormSection:
    """Save one section. ``version`` is the one the form was loaded with: a section saved
    by someone else since then is refused (SectionConflict), not overwritten."""
    case = load_working(session, actor, case_id)
    section = sections.BY_KEY.get(key)
    if section is None:
        raise NotFound("Not found.")
    cleaned = sections.clean(section, raw)
    if cleaned.errors:
        raise SectionInvalid(cleaned)
    row = session.exec(
        select(CaseFormSection).where(
            CaseFormSection.case_id == case.id, CaseFormSection.section == key
        )
    ).first()
    if row is not None and version is not None and row.version != version:
        raise SectionConflict(row)
    before = dict(row.values) if row is not None else {}
    if row is None:
        row = CaseFormSection(case_id=case.id, section=key)
    changes = audit.diff(before, cleaned.values)
    if not changes and row.id is not None:
        return row
    ensure_started(session, actor, case)
    row.values = dict(cleaned.values)
    row.version = (row.version or 0) + 1
    row.saved_at = clock.now()
    row.saved_by_id = actor.user_id
    row.saved_by_name = actor.name
    session.add(row)
    case.updated_at = row.saved_at
    session.add(case)
    session.flush()
    record(session, actor, case, "form_section", changes={"section": key, **changes}, summary=key)
    session.commit()
    return row


def complete_form(session: Session, actor: Actor, case_id: int) -> CaseFile:
    """Mark the investigation form complete (the 3-day indicator) once every required field
    is filled; otherwise say which are missing."""
    case = load_working(session, actor, case_id)
    missing = sections.missing_required(_saved_values(session, case.id))
    if missing:
        raise Invalid(
            "The form is not complete: {n} required fields are empty.",
            fields={f"{s.key}.{f.name}": f.label for s, f in missing},
            n=len(missing),
        )
    if case.form_completed_at is not None:
        return case
    ensure_started(session, actor, case)
    case.form_completed_at = clock.now()
    refresh_deadlines(case)
    session.add(case)
    session.flush()
    record(session, actor, case, "form_completed")
    session.commit()
    return case


def record_preliminary_report(
    session: Session, actor: Actor, case_id: int, at: datetime | None = None
) -> CaseFile:
    """The preliminary investigation report was sent (death, serious and group AEFI)."""
    case = load_working(session, actor, case_id)
    now = clock.now()
    at = at or now
    if at > now + timedelta(minutes=5):
        raise Invalid("The time lies in the future.", fields={"at": "The time lies in the future."})
    ensure_started(session, actor, case)
    if case.started_at is not None and at < case.started_at:
        raise Invalid(
            "The report cannot precede the start of the investigation.",
            fields={"at": "The report cannot precede the start of the investigation."},
        )
    old = case.preliminary_report_at
    case.preliminary_report_at = at
    refresh_deadlines(case)
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "preliminary_report",
        changes={"at": [old.isoformat() if old else None, at.isoformat()]},
    )
    session.commit()
    return case


# --- others vaccinated (registry) --------------------------------------------------------


@dataclass(frozen=True)
class ReportRef:
    id: int
    number: str
    event_groups: list[str]
    serious: bool
    case_id: int | None


@dataclass(frozen=True)
class ExposureRow:
    """People vaccinated together with a case's patient, counted from the registry."""

    scope: str  # session, lot_session, lot
    label: str  # msgid
    day: date | None
    site: Site | None
    lot: Lot | None
    vaccine: Vaccine | None
    doses: int
    persons: int
    reports: int
    report_refs: list[ReportRef] = field(default_factory=list)


EXPOSURE_LABELS = {
    "session": N_("Same site, same day (the session), any vaccine"),
    "lot_session": N_("Same lot, same site, same day"),
    "lot": N_("All doses of the lot in the county"),
}


def _local_day_bounds(at: datetime) -> tuple[date, datetime, datetime]:
    zone = clock.local_zone()
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return day, start, start + timedelta(days=1)


def _report_refs(session: Session, report_ids: set[int], limit: int = 12) -> list[ReportRef]:
    if not report_ids:
        return []
    reports = session.exec(
        select(Report).where(col(Report.id).in_(report_ids)).order_by(col(Report.id).desc())
    ).all()
    case_of = dict(
        session.exec(
            select(CaseFile.report_id, CaseFile.id).where(col(CaseFile.report_id).in_(report_ids))
        ).all()
    )
    return [
        ReportRef(r.id, r.number, list(r.event_groups), r.serious, case_of.get(r.id))
        for r in reports[:limit]
    ]


def exposure(session: Session, case: CaseFile) -> list[ExposureRow]:
    """For each dose linked to the case's reports: doses given at the same site the same
    day (any vaccine, and of the same lot) and all doses of the lot in the county, each with
    the number of reports among them (registry and intake, not typed by anybody)."""
    if not case.report_ids:
        return []
    links = session.exec(
        select(ReportDose, Report.site_id, Dose.site_id)
        .join(Report, Report.id == ReportDose.report_id)
        .join(Dose, Dose.id == ReportDose.dose_id, isouter=True)
        .where(col(ReportDose.report_id).in_(case.report_ids))
        .order_by(ReportDose.administered_at)
    ).all()
    keys: list[tuple[int, int, date, datetime, datetime]] = []
    for link, report_site, dose_site in links:
        day, start, end = _local_day_bounds(link.administered_at)
        key = (link.lot_id, dose_site or report_site, day, start, end)
        if key not in keys:
            keys.append(key)
    rows: list[ExposureRow] = []
    seen: set[tuple] = set()
    dose_site = func.coalesce(Dose.site_id, Report.site_id)
    for lot_id, site_id, day, start, end in keys:
        lot = session.get(Lot, lot_id)
        vaccine = session.get(Vaccine, lot.vaccine_id) if lot else None
        site = session.get(Site, site_id)
        in_day = and_(col(Dose.administered_at) >= start, col(Dose.administered_at) < end)
        report_in_day = and_(
            col(ReportDose.administered_at) >= start, col(ReportDose.administered_at) < end
        )
        scopes = [
            ("session", (site_id, day), [Dose.site_id == site_id, in_day], [
                dose_site == site_id,
                report_in_day,
            ]),
            ("lot_session", (lot_id, site_id, day), [
                Dose.site_id == site_id,
                Dose.lot_id == lot_id,
                in_day,
            ], [dose_site == site_id, ReportDose.lot_id == lot_id, report_in_day]),
            ("lot", (lot_id,), [Dose.lot_id == lot_id, Site.county_id == case.county_id], [
                ReportDose.lot_id == lot_id,
                Report.county_id == case.county_id,
            ]),
        ]  # fmt: skip
        for scope, ident, dose_where, report_where in scopes:
            if (scope, ident) in seen:
                continue
            seen.add((scope, ident))
            doses, persons = session.exec(
                select(func.count(Dose.id), func.count(distinct(Dose.person_id)))
                .select_from(Dose)
                .join(Site, Site.id == Dose.site_id)
                .where(*dose_where)
            ).one()
            report_ids = set(
                session.exec(
                    select(ReportDose.report_id)
                    .distinct()
                    .select_from(ReportDose)
                    .join(Report, Report.id == ReportDose.report_id)
                    .join(Dose, Dose.id == ReportDose.dose_id, isouter=True)
                    .where(*report_where)
                ).all()
            )
            rows.append(
                ExposureRow(
                    scope=scope,
                    label=EXPOSURE_LABELS[scope],
                    day=None if scope == "lot" else day,
                    site=None if scope == "lot" else site,
                    lot=None if scope == "session" else lot,
                    vaccine=None if scope == "session" else vaccine,
                    doses=doses,
                    persons=persons,
                    reports=len(report_ids),
                    report_refs=_report_refs(session, report_ids - set(case.report_ids)),
                )
            )
    return rows


# --- suggested values (report, referral, hospital outcome) -------------------------------


def suggested_values(session: Session, case: CaseFile) -> dict[str, dict[str, Suggestion]]:
    """What the report, its referral and the hospital's outcome suggest for the form's
    fields (a single report's case; a group case has many patients and none)."""
    if case.kind != "report" or case.report_id is None:
        return {}
    report = session.get(Report, case.report_id)
    if report is None:
        return {}
    from aefi.intake.access import report_doses
    from aefi.referral.models import Referral
    from aefi.registry.models import Hospital

    legs = list(
        session.exec(
            select(Referral).where(Referral.report_id == report.id).order_by(col(Referral.id))
        )
    )
    # The leg the child went to (it arrived), else the latest one asked.
    referral = next((r for r in reversed(legs) if r.arrived_at is not None), None) or (
        legs[-1] if legs else None
    )
    hospital = session.get(Hospital, referral.hospital_id) if referral is not None else None
    return prefill.suggestions(
        report,
        report_doses(session, [report.id]).get(report.id, []),
        referral,
        pick(hospital.name, hospital.name_en) if hospital is not None else "",
        symptom_name=_symptom_name,
    )


def _symptom_name(code: str) -> str:
    s = BY_CODE.get(code)
    return pick(s.zh, s.en) if s else code


# --- what the form's fragments show --------------------------------------------------------


@dataclass
class FormPart:
    """A section, the form's progress: the saved sections, what is missing or of concern,
    whether the actor may edit; the others vaccinated only for the section that shows them."""

    case: CaseFile
    sections: dict[str, CaseFormSection]
    missing: list[tuple[sections.Section, sections.FormField]]
    concerns: list[tuple[sections.Section, sections.FormField]]
    can_work: bool
    exposure: list[ExposureRow] = field(default_factory=list)
    suggested: dict[str, dict[str, Suggestion]] = field(default_factory=dict)


def form_part(session: Session, actor: Actor, case_id: int, *, key: str = "") -> FormPart:
    case = load_case(session, actor, case_id)
    saved = form_sections(session, case.id)
    values = {k: dict(v.values) for k, v in saved.items()}
    return FormPart(
        case=case,
        sections=saved,
        missing=sections.missing_required(values),
        concerns=sections.concerns(values),
        can_work=can_work(actor),
        exposure=exposure(session, case) if key == "others" else [],
        suggested=suggested_values(session, case) if can_work(actor) else {},
    )
