"""E2B(R3) use cases: a report (with its case file, causality and referral) as an ICSR, a
batch of them, and a received batch filed as reports with its acknowledgement.

Permissions and county scope come from the domains that own the records (intake's
``get_report``, investigation's ``case_of_report``); every import is audited.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, require_own_county, require_role
from aefi.errors import Invalid, NotFound
from aefi.events import ReportFiled, publish
from aefi.intake import access as intake_access
from aefi.intake import symptoms
from aefi.intake.filing import service as intake_filing
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.listing import service as intake_listing
from aefi.intake.models import Outcome, Report, ReportDose
from aefi.intake.schemas import FollowUpIn
from aefi.interchange import e2b_reader, e2b_writer
from aefi.interchange.access import EXPORTERS, IMPORTERS
from aefi.interchange.ack import Acknowledgement, MessageAck, write_ack
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
from aefi.registry import access as registry_access
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Lot, Region, Site
from aefi.registry.schemas import PersonIn
from aefi.settings import get_settings
from aefi.terminology import service as terminology
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


def _as_utc(at: datetime) -> datetime:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.astimezone(UTC).replace(microsecond=0)


# --- export ------------------------------------------------------------------------------


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
    start = _as_utc(report.onset_at)
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
                administered_at=_as_utc(view.link.administered_at),
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
        created_at=_as_utc(clock.now()),
        first_received_on=_as_utc(report.received_at).date(),
        most_recent_on=_as_utc(latest).date(),
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
    now = _as_utc(clock.now())
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


# --- import ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    ack: Acknowledgement
    ack_xml: bytes
    report_ids: tuple[int, ...]


def _symptoms_of(session: Session, reactions: tuple[Reaction, ...], died: bool) -> list[str]:
    """aefi symptom codes of the reported terms: a label of the vocabulary (zh or en), else
    the county's terminology mapping (MedDRA by code, then verbatim text)."""
    by_label = {s.zh: s.code for s in symptoms.SYMPTOMS} | {
        s.en.lower(): s.code for s in symptoms.SYMPTOMS
    }
    infos: list[terminology.TermInfo] = []
    codes: list[str] = []
    for r in reactions:
        hit = by_label.get(r.reported_term) or by_label.get(r.reported_term.lower())
        if hit:
            codes.append(hit)
            continue
        if r.meddra_code:
            term = session.exec(
                select(ReportedTerm).where(
                    col(ReportedTerm.system).in_(["meddra_llt", "meddra_pt"]),
                    ReportedTerm.code == r.meddra_code,
                )
            ).first()
            if term is not None:
                infos.append(terminology.TermInfo(term.id, term.symptom_code, term.event_group))
                continue
        found = terminology.terms_for(session, "verbatim", [r.reported_term[:200]])
        infos.extend(found.values())
    mapped, _groups = terminology.codes_and_groups(infos, died)
    return list(dict.fromkeys([*codes, *mapped]))


def _at(value: datetime | date | None, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=UTC)
    return fallback


def _import_site(session: Session, actor: Actor, site_code: str) -> Site:
    if site_code:
        return registry_access.site_by_code(session, actor, site_code)
    site = session.exec(
        select(Site).where(Site.county_id == actor.county_id).order_by(Site.id)
    ).first()
    if site is None:
        raise Invalid(
            "The county has no vaccination site to file received cases under; add one first.",
            fields={"site_code": "none"},
        )
    return site


def _lot(session: Session, actor: Actor, number: str) -> Lot | None:
    if not number.strip():
        return None
    try:
        return registry_access.lot_by_number(session, actor, number.strip())
    except NotFound:
        return None


def _file_icsr(
    session: Session, actor: Actor, icsr: Icsr, site: Site, sender: str
) -> tuple[Report, bool]:
    """The report this ICSR is: a new one, or (same worldwide case number) a follow-up of
    the one filed before. Returns (report, changed)."""
    link = session.exec(
        select(IcsrLink).where(
            IcsrLink.county_id == actor.county_id,
            IcsrLink.worldwide_case_id == icsr.worldwide_case_id,
        )
    ).first()
    seriousness = Seriousness(
        **{
            k: any(getattr(r.seriousness, k) for r in icsr.reactions)
            for k in (
                "death",
                "life_threatening",
                "hospitalization",
                "disability",
                "congenital_anomaly",
                "other_important",
            )
        }
    )
    outcome = icsr.reactions[0].outcome if icsr.reactions else "unknown"
    if outcome not in Outcome.__members__:
        outcome = Outcome.unknown.value
    if link is not None:
        report = session.get(Report, link.report_id)
        if link.last_message_id == icsr.message_id:
            return report, False  # the same message again: already applied
        intake_follow_up.add_follow_up(
            session,
            actor,
            report.id,
            FollowUpIn(
                outcome=Outcome(outcome),
                death=seriousness.death or None,
                life_threatening=seriousness.life_threatening or None,
                hospitalization=seriousness.hospitalization or None,
                disability=seriousness.disability or None,
                note=f"E2B follow-up {icsr.message_id} from {sender}"[:4000],
                at=_at(icsr.most_recent_on, _as_utc(clock.now())),
            ),
            source="e2b",
        )
        link = session.get(IcsrLink, link.id)
        link.last_message_id = icsr.message_id
        session.add(link)
        session.commit()
        return report, True

    now = _as_utc(clock.now())
    onset = _at(icsr.reactions[0].start_at if icsr.reactions else None, now)
    patient = icsr.patient
    # The ICSR carries no ID number; the person is keyed on the worldwide case number.
    pseudo_id = "E2B-" + hashlib.sha256(icsr.worldwide_case_id.encode()).hexdigest()[:20].upper()
    person = registry_doses.upsert_person(
        session,
        actor.county_id,
        PersonIn(
            name=(patient.name.strip() or "(masked)")[:100],
            id_number=pseudo_id,
            sex=patient.sex,
            birth_date=patient.birth_on,
        ),
    )
    linked: list[tuple[SuspectVaccine, Lot]] = []
    unlinked: list[dict] = []
    for v in icsr.vaccines:
        lot = _lot(session, actor, v.lot_number)
        if lot is not None:
            linked.append((v, lot))
        else:
            given = v.administered_at
            unlinked.append(
                {
                    "ref": v.ref,
                    "product_name": v.product_name,
                    "product_code": v.product_code,
                    "manufacturer": v.manufacturer,
                    "lot_number": v.lot_number,
                    "dose_number": v.dose_number,
                    "route": v.route,
                    "administered_at": given.isoformat() if given else None,
                }
            )
    codes = _symptoms_of(session, icsr.reactions, seriousness.death)
    description = icsr.narrative if icsr.narrative != "-" else ""
    if unlinked:
        listed = "; ".join(f"{u['product_name']} lot {u['lot_number'] or '?'}" for u in unlinked)
        description = f"{description}\n[E2B] Vaccines not in the registry: {listed}".strip()
    report = Report(
        number=intake_filing._next_number(session, actor.county_id, now.year),
        county_id=actor.county_id,
        site_id=site.id,
        person_id=person.id,
        patient_name=person.name,
        patient_sex=person.sex,
        patient_birth_on=person.birth_on,
        patient_id_number=person.id_number,
        onset_at=onset,
        symptoms=codes,
        event_groups=symptoms.groups_of(codes),
        description=description[:4000],
        death=seriousness.death or outcome == Outcome.died,
        life_threatening=seriousness.life_threatening,
        hospitalization=seriousness.hospitalization,
        disability=seriousness.disability,
        congenital_anomaly=seriousness.congenital_anomaly,
        great_public_concern=seriousness.other_important,
        # Hospitalised where the case came from: triage must not open a green-channel
        # referral for care that already happened (rules.py, referral.already_in_hospital).
        already_in_hospital=seriousness.hospitalization,
        outcome=outcome,
        reporter_unit=icsr.reporter.organisation[:200],
        reporter_name=icsr.reporter.name[:100],
        reporter_phone=icsr.reporter.phone[:40],
        discovered_at=_at(icsr.first_received_on, now),
        reported_at=now,
        received_at=now,
        linked_by_hand=True,
        source="e2b",
        external_id=icsr.worldwide_case_id[:64],
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
    for v, lot in linked:
        session.add(
            ReportDose(
                report_id=report.id,
                lot_id=lot.id,
                vaccine_id=lot.vaccine_id,
                administered_at=_at(v.administered_at, onset),
                dose_number=v.dose_number,
                route=v.route[:16],
                lot_as_reported=v.lot_number[:64],
            )
        )
    session.add(
        IcsrLink(
            report_id=report.id,
            county_id=actor.county_id,
            worldwide_case_id=icsr.worldwide_case_id[:100],
            safety_report_id=icsr.safety_report_id[:100],
            sender_identifier=sender[:60],
            last_message_id=icsr.message_id[:100],
            unlinked_vaccines=unlinked,
            reactions=[
                {
                    "ref": r.ref,
                    "reported_term": r.reported_term,
                    "meddra_code": r.meddra_code,
                    "meddra_version": r.meddra_version,
                }
                for r in icsr.reactions
            ],
        )
    )
    audit.record(
        session,
        actor,
        "import_e2b",
        "report",
        report.id,
        summary=f"{report.number} from E2B {icsr.message_id} ({sender})",
        changes={
            "worldwide_case_id": icsr.worldwide_case_id,
            "message_id": icsr.message_id,
            "linked_lots": [lot.lot_number for _v, lot in linked],
            "unlinked_vaccines": [u["product_name"] for u in unlinked],
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
        ),
    )
    session.commit()
    return report, True


def import_batch(
    session: Session, actor: Actor, xml: bytes, *, site_code: str = ""
) -> ImportResult:
    """File every ICSR of a received batch (in the actor's county) and acknowledge it.
    A batch that cannot be read is acknowledged AR with the reason; a message that cannot
    be filed is CR with its reason, and the others still go in."""
    require_role(actor, *IMPORTERS)
    require_own_county(actor, actor.county_id)
    site = _import_site(session, actor, site_code)
    me = sender_party(session, actor.county_id)
    now = _as_utc(clock.now())
    ack_number = f"ACK-{me.identifier}-{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"
    try:
        result = e2b_reader.read_batch(xml)
    except e2b_reader.NotAnIcsrBatch as exc:
        ack = Acknowledgement(ack_number, "", me, Party(""), now, (), batch_error=str(exc))
        return ImportResult(ack, write_ack(ack), ())
    batch = result.batch
    messages: list[MessageAck] = [
        MessageAck(message_id=mid, accepted=False, reason=reason) for mid, reason in result.problems
    ]
    filed: list[int] = []
    for icsr in batch.messages:
        problem = _refusal(icsr)
        if problem:
            messages.append(MessageAck(icsr.message_id, False, problem, icsr.safety_report_id))
            continue
        report, _changed = _file_icsr(session, actor, icsr, site, batch.sender.identifier)
        filed.append(report.id)
        messages.append(MessageAck(icsr.message_id, True, "", icsr.safety_report_id, report.number))
    ack = Acknowledgement(
        ack_number=ack_number,
        batch_number=batch.batch_number,
        sender=me,
        receiver=batch.sender,
        created_at=now,
        messages=tuple(messages),
    )
    audit.record(
        session,
        actor,
        "receive_e2b",
        "report",
        filed[0] if filed else None,
        summary=f"E2B batch {batch.batch_number} from {batch.sender.identifier}: {ack.code}",
        changes={
            "reports": filed,
            "ack": ack_number,
            "refused": [m.message_id for m in messages if not m.accepted],
        },
    )
    session.commit()
    return ImportResult(ack, write_ack(ack), tuple(filed))


def _refusal(icsr: Icsr) -> str:
    """Why aefi cannot file this ICSR as a report card, or ""."""
    if not icsr.reactions:
        return "The ICSR names no reaction (E.i); a report card needs one."
    if not icsr.vaccines:
        return "The ICSR names no suspect product (G.k with G.k.1 = 1); aefi files vaccines."
    return ""
