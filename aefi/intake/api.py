"""Intake JSON API (API.md, intake section)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, select

from aefi import exporting, i18n, listing
from aefi.deps import ApiActor, SessionDep
from aefi.intake import access, symptoms
from aefi.intake.filing import service as filing
from aefi.intake.follow_up import service as follow_up
from aefi.intake.listing import export as list_export
from aefi.intake.listing import service as report_list
from aefi.intake.models import FollowUp, Report
from aefi.intake.schemas import (
    FollowUpIn,
    FollowUpOut,
    ReportDoseOut,
    ReportIn,
    ReportList,
    ReportOut,
    TriageOut,
)
from aefi.registry.models import Site
from aefi.types import Id, When

router = APIRouter(prefix="/api/v1", tags=["intake"])


def present(session: Session, reports: list[Report]) -> list[ReportOut]:
    """Reports as API.md shows them, with their doses and follow-ups, in three queries at
    most: a report this session has just filed has no follow-up yet (not looked for), and
    the sites the session already holds are not read again."""
    ids = [r.id for r in reports]
    doses = access.report_doses(session, ids)
    history: dict[int, list[FollowUp]] = {i: [] for i in ids}
    just_filed = session.info.get(filing.FILED_NOW, set())
    if asked := [i for i in ids if i not in just_filed]:
        for fu in session.exec(
            select(FollowUp)
            .where(col(FollowUp.report_id).in_(asked))
            .order_by(FollowUp.at, FollowUp.id)
        ):
            history[fu.report_id].append(fu)
    site_codes: dict[int, str] = {}
    for site_id in {r.site_id for r in reports}:
        held = session.identity_map.get(identity_key(Site, site_id))
        if held is not None:
            site_codes[site_id] = held.code
    if missing := {r.site_id for r in reports} - site_codes.keys():
        site_codes |= dict(
            session.exec(select(Site.id, Site.code).where(col(Site.id).in_(missing))).all()
        )
    out = []
    for r in reports:
        triage = TriageOut(
            **{k: v for k, v in (r.triage or {}).items() if k in TriageOut.model_fields}
        )
        if not r.triage:
            triage.serious = r.serious
        out.append(
            ReportOut(
                id=r.id,
                number=r.number,
                status=r.status,
                site_code=site_codes.get(r.site_id, ""),
                patient_name=r.patient_name,
                onset_at=r.onset_at,
                discovered_at=r.discovered_at,
                reported_at=r.reported_at,
                symptoms=r.symptoms,
                event_groups=r.event_groups,
                description=r.description,
                serious=r.serious,
                outcome=r.outcome,
                linked_by_hand=r.linked_by_hand,
                lot_flag=r.lot_flag,
                emergency=r.emergency or None,
                doses=[
                    ReportDoseOut(
                        dose_id=d.link.dose_id,
                        lot_number=d.lot.lot_number,
                        lot_status=d.lot.status,
                        vaccine_code=d.vaccine.code,
                        vaccine_name=d.vaccine.name,
                        manufacturer=d.vaccine.manufacturer,
                        dose_number=d.link.dose_number,
                        route=d.link.route,
                        administered_at=d.link.administered_at,
                    )
                    for d in doses[r.id]
                ],
                follow_ups=[
                    FollowUpOut(
                        id=f.id,
                        at=f.at,
                        author_name=f.author_name,
                        source=f.source,
                        changes=f.changes,
                        note=f.note,
                    )
                    for f in history[r.id]
                ],
                triage=triage,
            )
        )
    return out


@router.get("/symptoms")
def list_symptoms() -> list[dict]:
    """The coded symptom vocabulary, each code with its event group, in both languages."""
    return [
        {
            "code": s.code,
            "event_group": s.group,
            "zh": s.zh,
            "en": s.en,
            "event_group_zh": symptoms.EVENT_GROUPS[s.group][0],
            "event_group_en": symptoms.EVENT_GROUPS[s.group][1],
        }
        for s in symptoms.SYMPTOMS
    ]


@router.post("/reports", status_code=status.HTTP_201_CREATED, response_model=ReportOut)
def file_report(
    body: ReportIn,
    session: SessionDep,
    actor: ApiActor,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Your own key for this filing, at most 200 characters (a UUID).",
        ),
    ] = None,
) -> ReportOut:
    """File a report. A retry with the same Idempotency-Key returns the first result, also
    when the two arrive at the same time; a key over 200 characters answers 422.
    A likely duplicate answers 409 naming the earlier report; send
    ``confirm_new_event: true`` if it is a new event."""
    try:
        report = filing.file_report(
            session, actor, body, idempotency_key=idempotency_key, source="api"
        )
    except filing.NeedsCorrection as exc:
        exc.fields = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        raise
    return present(session, [report])[0]


@dataclass(frozen=True)
class ReportParams:
    """The report list's filters as the API takes them (codes, not ids; times, not days)."""

    lot_number: str = ""
    site_code: str = ""
    vaccine_code: str = ""
    serious: bool | None = None
    status: str = ""
    since: When | None = None
    until: When | None = None
    sort: Annotated[str, Query(pattern=listing.sort_pattern(report_list.SORTS))] = "-reported"


@router.get("/reports", response_model=ReportList, responses=exporting.API_RESPONSES)
def list_reports(
    session: SessionDep,
    actor: ApiActor,
    params: Annotated[ReportParams, Depends()],
    at: Annotated[listing.ApiPaging, Depends()],
    format: exporting.ApiFormat = "json",
) -> ReportList:
    """Reports of the caller's scope. ``sort``: number, reported, onset, patient, site,
    lot, serious or status, ``-`` before it for descending (id breaks ties)."""
    flt = report_list.ReportFilter(**asdict(params))
    if format != "json":
        return exporting.export_list(
            session,
            actor,
            list_export.REPORTS,
            lambda n, size: report_list.list_reports(session, actor, flt, page=n, per_page=size),
            fmt=format,
            filter_text=exporting.describe(flt),
        )
    rows, total = report_list.list_reports(session, actor, flt, page=at.page, per_page=at.per_page)
    return ReportList(items=present(session, rows), total=total, page=at.page, per_page=at.per_page)


@router.get("/reports/{report_id}", response_model=ReportOut)
def get_report(report_id: Id, session: SessionDep, actor: ApiActor) -> ReportOut:
    return present(session, [access.get_report(session, actor, report_id)])[0]


@router.post("/reports/{report_id}/follow-ups", status_code=201, response_model=ReportOut)
def add_follow_up(
    report_id: Id, body: FollowUpIn, session: SessionDep, actor: ApiActor
) -> ReportOut:
    follow_up.add_follow_up(session, actor, report_id, body)
    return present(session, [access.get_report(session, actor, report_id)])[0]
