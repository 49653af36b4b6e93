"""E2B(R3) export: a report (with its case file, causality and referral) as an ICSR, and
a batch of them (MCCI_IN200100UV01).

Permissions and county scope come from the domains that own the records (intake's
``get_report``, investigation's ``case_of_report``); every export is audited.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid, NotFound
from aefi.intake import access as intake_access
from aefi.intake import symptoms
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.listing import service as intake_listing
from aefi.intake.models import Report
from aefi.interchange import e2b_writer
from aefi.interchange.access import EXPORTERS
from aefi.interchange.icsr import (
    QUALIFICATION_PHYSICIAN,
    Batch,
    Icsr,
    Party,
    Patient,
    Reaction,
    Relatedness,
    Reporter,
    Sender,
    Seriousness,
    SuspectVaccine,
)
from aefi.interchange.models import IcsrLink
from aefi.investigation.cases import service as cases
from aefi.investigation.causality import CHINA_CLASSIFICATION_LABELS, ChinaClassification
from aefi.investigation.models import CaseFile, CausalityAssessment
from aefi.referral.models import Referral
from aefi.registry.models import Region, Site
from aefi.settings import get_settings
from aefi.terminology.models import ReportedTerm

MAX_BATCH = 500  # cases in one export: ~20 kB each (measured), 10 MB a batch

_REF_NAMESPACE = uuid.UUID("3c0e7f9a-5b1d-4c2e-9f0a-aef1e2b3c4d5")
WHO_METHOD = "WHO AEFI causality assessment (2nd ed., 2019)"
CHINA_METHOD = "China AEFI classification (national AEFI surveillance plan)"
WHO_CATEGORY_TEXT = {
    "A1": "A1 Vaccine product-related reaction",
    "A2": "A2 Vaccine quality defect-related reaction",
    "A3": "A3 Immunization error-related reaction",
    "A4": "A4 Immunization anxiety-related reaction",
    "B1": "B1 Indeterminate: consistent temporal relationship, insufficient evidence",
    "B2": "B2 Indeterminate: conflicting trends",
    "C": "C Coincidental",
    "D": "D Unclassifiable",
}


def _ref(*parts: object) -> str:
    """A UUID stable for the same thing in every version of the case (reactions, doses)."""
    return str(uuid.uuid5(_REF_NAMESPACE, "/".join(str(p) for p in parts)))


def safety_report_id(report: Report) -> str:
    """C.1.1: country, aefi, the report number (county code, year, sequence): unique and
    the same for every version of the case."""
    return f"{get_settings().e2b_country}-AEFI-{report.number}"


def sender_party(session: Session, county_id: int) -> Party:
    settings = get_settings()
    if settings.e2b_sender_id:
        return Party(settings.e2b_sender_id)
    region = session.get(Region, county_id)
    return Party(f"{settings.e2b_country}-{region.code if region else county_id}-CDC")


def _patient_name(name: str) -> str:
    mode = get_settings().e2b_patient_name
    if mode == "full":
        return name
    if mode == "masked" or not name.strip():
        return ""
    parts = name.split()
    # "张三" → "张"; "Jane Doe" → "JD": D.1 allows initials, the usual privacy choice.
    return "".join(p[0] for p in parts).upper() if len(parts) > 1 else name.strip()[0]


def as_utc(at: datetime) -> datetime:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0)


def _case_file(session: Session, actor: Actor, report: Report) -> CaseFile | None:
    case = cases.case_of_report(session, actor, report.id)
    if case is not None:
        return case
    # A cluster member's case file is the cluster's (report_ids lists its members).
    for cluster in session.exec(
        select(CaseFile).where(CaseFile.county_id == report.county_id, CaseFile.kind == "cluster")
    ):
        if report.id in (cluster.report_ids or []):
            return cluster
    return None


def _reactions(session: Session, report: Report, link: IcsrLink | None) -> list[Reaction]:
    settings = get_settings()
    seriousness = Seriousness(
        death=report.death,
        life_threatening=report.life_threatening,
        hospitalization=report.hospitalization,
        disability=report.disability,
        congenital_anomaly=report.congenital_anomaly,
        other_important=report.great_public_concern and not report.serious,
    )
    start = as_utc(report.onset_at)
    base = link.worldwide_case_id if link else safety_report_id(report)
    if link and link.reactions:
        # Received with its own terms (and MedDRA codes): send them on as received.
        return [
            Reaction(
                ref=r.get("ref") or _ref(base, "reaction", i),
                reported_term=r["reported_term"],
                meddra_code=r.get("meddra_code", ""),
                meddra_version=r.get("meddra_version", ""),
                start_at=start,
                seriousness=seriousness,
                outcome=report.outcome,
            )
            for i, r in enumerate(link.reactions)
        ]
    out = []
    for code in report.symptoms:
        symptom = symptoms.BY_CODE.get(code)
        term = symptom.zh if symptom else code
        # The county's MedDRA, where it loaded one: the PT its administrator mapped here.
        meddra = session.exec(
            select(ReportedTerm)
            .where(
                col(ReportedTerm.system).in_(["meddra_pt", "meddra_llt"]),
                ReportedTerm.symptom_code == code,
                ReportedTerm.code != "",
            )
            .order_by(col(ReportedTerm.system).desc(), ReportedTerm.id)
        ).first()
        out.append(
            Reaction(
                ref=_ref(base, "reaction", code),
                reported_term=term,
                meddra_code=meddra.code if meddra else "",
                meddra_version=settings.meddra_version if meddra else "",
                start_at=start,
                seriousness=seriousness,
                outcome=report.outcome,
            )
        )
    if not out:  # a card always names the reaction; an imported one may carry only text
        out.append(
            Reaction(
                ref=_ref(base, "reaction", "description"),
                reported_term=(report.diagnosis or report.description or "AEFI")[:250],
                start_at=start,
                seriousness=seriousness,
                outcome=report.outcome,
            )
        )
    return out


def _vaccines(session: Session, report: Report, link: IcsrLink | None) -> list[SuspectVaccine]:
    out = []
    for view in intake_access.report_doses(session, [report.id])[report.id]:
        out.append(
            SuspectVaccine(
                ref=_ref(safety_report_id(report), "dose", view.link.id),
                product_name=view.vaccine.name,
                product_code=view.vaccine.code,
                manufacturer=view.vaccine.manufacturer,
                lot_number=view.lot.lot_number,
                dose_number=view.link.dose_number,
                route=view.link.route,
                administered_at=as_utc(view.link.administered_at),
            )
        )
    for i, v in enumerate(link.unlinked_vaccines if link else []):
        given = v.get("administered_at")
        out.append(
            SuspectVaccine(
                ref=v.get("ref") or _ref(link.worldwide_case_id, "unlinked", i),
                product_name=v["product_name"],
                product_code=v.get("product_code", ""),
                manufacturer=v.get("manufacturer", ""),
                lot_number=v.get("lot_number", ""),
                dose_number=v.get("dose_number"),
                route=v.get("route", ""),
                administered_at=_parse_stored(given),
            )
        )
    return out


def _parse_stored(value: str | None) -> datetime | date | None:
    if not value:
        return None
    return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)


def _relatedness(
    session: Session,
    case: CaseFile | None,
    vaccines: list[SuspectVaccine],
    reactions: list[Reaction],
) -> list[Relatedness]:
    if case is None:
        return []
    out = []
    who_category = case.who_category
    if not who_category:
        latest = session.exec(
            select(CausalityAssessment)
            .where(CausalityAssessment.case_id == case.id)
            .order_by(col(CausalityAssessment.at).desc(), col(CausalityAssessment.id).desc())
        ).first()
        who_category = latest.category if latest else ""
    source = f"{case.panel_members or 'County CDC'} (case {case.number})"[:200]
    for v in vaccines:
        for r in reactions:
            if who_category:
                out.append(
                    Relatedness(
                        v.ref,
                        r.ref,
                        source,
                        WHO_METHOD,
                        WHO_CATEGORY_TEXT.get(who_category, who_category),
                    )
                )
            if case.china_classification:
                label = (
                    CHINA_CLASSIFICATION_LABELS.get(ChinaClassification(case.china_classification))
                    if case.china_classification in ChinaClassification.__members__
                    else None
                )
                text = f"{label['zh']} / {label['en']}" if label else case.china_classification
                out.append(Relatedness(v.ref, r.ref, source, CHINA_METHOD, text))
    return out


def _narrative(session: Session, report: Report, case: CaseFile | None) -> str:
    lines = [report.description.strip()] if report.description.strip() else []
    if report.diagnosis:
        lines.append(f"Diagnosis: {report.diagnosis}")
    if report.max_temperature_c is not None:
        lines.append(f"Maximum temperature: {report.max_temperature_c} °C")
    if report.treatment:
        lines.append(f"Treatment: {report.treatment}")
    referral = session.exec(
        select(Referral).where(Referral.report_id == report.id).order_by(col(Referral.id).desc())
    ).first()
    if referral is not None:
        hospital = f"Referred (green channel, leg {referral.leg}), status {referral.status}"
        if referral.diagnosis:
            hospital += f"; hospital diagnosis: {referral.diagnosis}"
        if referral.patient_outcome:
            hospital += f"; outcome at hospital: {referral.patient_outcome}"
        lines.append(hospital)
    elif report.hospital_name:
        lines.append(f"Hospital: {report.hospital_name}")
    cluster = (report.triage or {}).get("cluster_id")
    if cluster:
        lines.append(f"Member of cluster {cluster}.")
    if case is not None:
        if case.panel_diagnosis:
            lines.append(f"Expert panel diagnosis: {case.panel_diagnosis}")
        if case.classification_note:
            lines.append(f"Classification note: {case.classification_note}")
    if report.lot_flag:
        lines.append(f"Lot status at report: {report.lot_flag}")
    return "\n".join(lines)[:100000] or "-"


def icsr_of_report(session: Session, actor: Actor, report_id: int) -> Icsr:
    """The report as one ICSR at its current version (initial + one per follow-up)."""
    require_role(actor, *EXPORTERS)
    report = intake_access.get_report(session, actor, report_id)
    link = session.exec(select(IcsrLink).where(IcsrLink.report_id == report.id)).first()
    case = _case_file(session, actor, report)
    history = intake_follow_up.follow_ups(session, report.id)
    version = 1 + len(history)
    latest = max([report.received_at, *(f.at for f in history)])
    if case is not None and case.updated_at and case.updated_at > latest:
        latest = case.updated_at
    site = session.get(Site, report.site_id)
    region = session.get(Region, report.county_id)
    vaccines = _vaccines(session, report, link)
    reactions = _reactions(session, report, link)
    own_id = safety_report_id(report)
    return Icsr(
        message_id=f"{own_id}-v{version}",
        safety_report_id=own_id,
        worldwide_case_id=link.worldwide_case_id if link else own_id,
        created_at=as_utc(clock.now()),
        first_received_on=as_utc(report.received_at).date(),
        most_recent_on=as_utc(latest).date(),
        narrative=_narrative(session, report, case),
        sender=Sender(
            organisation=f"{region.name if region else ''} CDC".strip(),
            department="AEFI surveillance",
            country=get_settings().e2b_country,
        ),
        reporter=Reporter(
            name=report.reporter_name,
            organisation=report.reporter_unit or (site.name if site else ""),
            phone=report.reporter_phone,
            qualification=QUALIFICATION_PHYSICIAN,
            country=get_settings().e2b_country,
        ),
        patient=Patient(
            name=_patient_name(report.patient_name),
            sex=report.patient_sex,
            birth_on=report.patient_birth_on,
        ),
        reactions=tuple(reactions),
        vaccines=tuple(vaccines),
        relatedness=tuple(_relatedness(session, case, vaccines, reactions)),
        expedited=report.serious,
        additional_documents=False,
    )


def export_reports(
    session: Session, actor: Actor, report_ids: list[int], *, receiver: str = ""
) -> bytes:
    """One MCCI batch of the given reports (each in the actor's scope)."""
    require_role(actor, *EXPORTERS)
    if not report_ids:
        raise Invalid("Choose at least one report to export.", fields={"report_ids": "empty"})
    if len(report_ids) > MAX_BATCH:
        raise Invalid(
            "At most {max} reports go in one batch; narrow the filter.",
            fields={"report_ids": "too many"},
            max=MAX_BATCH,
        )
    icsrs = tuple(icsr_of_report(session, actor, rid) for rid in dict.fromkeys(report_ids))
    now = as_utc(clock.now())
    sender = sender_party(session, actor.county_id)
    batch = Batch(
        batch_number=f"{sender.identifier}-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}",
        sender=sender,
        receiver=Party(receiver or get_settings().e2b_receiver_id),
        created_at=now,
        messages=icsrs,
    )
    xml = e2b_writer.write_batch(batch)
    audit.record(
        session,
        actor,
        "export_e2b",
        "report",
        report_ids[0],
        summary=f"E2B batch {batch.batch_number}: {len(icsrs)} case(s)",
        changes={"reports": list(dict.fromkeys(report_ids)), "batch": batch.batch_number},
    )
    session.commit()
    return xml


def export_filtered(
    session: Session, actor: Actor, flt: intake_listing.ReportFilter, *, receiver: str = ""
) -> bytes:
    reports, total = intake_listing.list_reports(session, actor, flt, page=1, per_page=MAX_BATCH)
    if total > MAX_BATCH:
        raise Invalid(
            "{total} reports match; at most {max} go in one batch. Narrow the filter.",
            fields={"filter": "too many"},
            total=total,
            max=MAX_BATCH,
        )
    if not reports:
        raise NotFound("No report matches the filter.")
    return export_reports(session, actor, [r.id for r in reports], receiver=receiver)
