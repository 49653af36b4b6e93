"""E2B(R3) receipt: a received batch filed as reports (or follow-ups of the reports filed
before under the same worldwide case number) with its acknowledgement (MCCI_IN200101UV01).

Permissions and county scope come from the registry and intake access rules; every import
is audited.
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
from aefi.intake import symptoms
from aefi.intake.filing.numbers import next_report_number
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.models import Outcome, Report, ReportDose
from aefi.intake.schemas import FollowUpIn
from aefi.interchange import e2b_reader
from aefi.interchange.access import IMPORTERS
from aefi.interchange.ack import Acknowledgement, MessageAck, write_ack
from aefi.interchange.export.service import as_utc as _as_utc
from aefi.interchange.export.service import sender_party
from aefi.interchange.icsr import Icsr, Party, Reaction, Seriousness, SuspectVaccine
from aefi.interchange.models import IcsrLink
from aefi.registry import access as registry_access
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Lot, Site
from aefi.registry.schemas import PersonIn
from aefi.terminology import service as terminology
from aefi.terminology.models import ReportedTerm

# The API client: at a province, each county sends with an account of its own county there,
# so what it sends is filed under its county of origin (the account's county).


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
        number=next_report_number(session, actor.county_id, now.year),
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
