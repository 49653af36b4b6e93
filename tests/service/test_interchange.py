"""E2B(R3) export and import with a database (SQLite and PostgreSQL): a report with its
case file, causality and referral as an ICSR; received batches filed as reports, linked to
lots where they exist, acknowledged, audited; the round trip; scope."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlmodel import select

from aefi.audit import AuditEvent
from aefi.errors import Forbidden, NotFound
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.listing import service as intake_listing
from aefi.intake.models import FollowUp, Report, ReportDose
from aefi.intake.schemas import FollowUpIn
from aefi.interchange import e2b_reader
from aefi.interchange.ack import read_ack
from aefi.interchange.e2b_writer import write_batch
from aefi.interchange.export import service as export
from aefi.interchange.icsr import Batch, Party
from aefi.interchange.models import IcsrLink
from aefi.interchange.receive import service as receive
from aefi.interchange.validation import schema_errors
from aefi.investigation.assessments import service as case_assessments
from aefi.investigation.cases import service as case_files
from aefi.investigation.panel import service as case_panel
from aefi.investigation.schemas import CausalityIn, ClassifyIn
from aefi.referral.models import Referral
from aefi.registry.models import Lot
from aefi.settings import get_settings
from aefi.terminology.models import ReportedTerm
from tests.factories import a_case, a_dose, a_report

STANDARDS = get_settings().standards_dir


def file(session, county, *, symptoms=("FEVER",), **kw) -> Report:
    """``a_report`` of ``symptoms`` (fever) with its onset 40 minutes after the dose, and a
    description."""
    dose = a_dose(session, county)  # at the reporter's site
    base = dict(
        onset_at=dose.administered_at + timedelta(minutes=40),
        description="接种后40分钟出现症状。",
    )
    return a_report(session, county, dose=dose, symptoms=list(symptoms), **{**base, **kw})


def classified_serious_case(session, county) -> Report:
    report = file(
        session,
        county,
        symptoms=("ANAPH", "URTIC"),
        serious={"life_threatening": True, "hospitalization": True},
    )
    inv = county.actor(session, "investigator")
    case = case_files.case_of_report(session, inv, report.id) or a_case(session, report)
    case_assessments.assess_causality(
        session,
        inv,
        case.id,
        CausalityIn(
            eligibility={
                "vaccine_given_before_event": True,
                "valid_diagnosis": True,
                "clear_event": True,
                "diagnosis": "严重过敏反应",
            },
            checklist={"I.1": "no", "II.1": "yes", "III.1": "yes", "IV.1": "no"},
        ),
    )
    case_panel.classify_case(
        session,
        inv,
        case.id,
        ClassifyIn(
            china_classification="rare_reaction",
            panel_diagnosis="严重过敏反应",
            panel_members="王、李",
        ),
    )
    return session.get(Report, report.id)


def one_icsr(xml: bytes):
    result = e2b_reader.read_batch(xml)
    assert result.problems == ()
    (icsr,) = result.batch.messages
    return icsr


def test_a_serious_classified_case_exports_as_a_valid_icsr(session, county):
    report = classified_serious_case(session, county)
    inv = county.actor(session, "investigator")
    xml = export.export_reports(session, inv, [report.id])
    assert schema_errors(xml, STANDARDS) == []
    icsr = one_icsr(xml)
    assert icsr.safety_report_id == f"CN-AEFI-{report.number}" == icsr.worldwide_case_id
    assert icsr.expedited
    assert [r.reported_term for r in icsr.reactions] == ["严重过敏反应/过敏性休克", "荨麻疹"]
    assert all(
        r.seriousness.life_threatening and r.seriousness.hospitalization for r in icsr.reactions
    )
    assert {r.outcome for r in icsr.reactions} == {"recovering"}
    (vaccine,) = icsr.vaccines
    link = session.exec(select(ReportDose).where(ReportDose.report_id == report.id)).one()
    lot = session.get(Lot, link.lot_id)
    assert vaccine.lot_number == lot.lot_number and vaccine.dose_number == link.dose_number
    results = {(r.method.split()[0], r.result) for r in icsr.relatedness}
    assert results == {
        ("WHO", "A1 Vaccine product-related reaction"),
        ("China", "异常反应 / Rare adverse reaction"),
    }
    assert len(icsr.relatedness) == 2 * len(icsr.reactions)
    assert "严重过敏反应" in icsr.narrative
    assert icsr.patient.name == report.patient_name[0]  # initials by default
    exported = session.exec(select(AuditEvent).where(AuditEvent.action == "export_e2b")).all()
    assert exported and exported[-1].entity_id == report.id


def test_meddra_codes_are_sent_where_the_county_loaded_them(session, county):
    session.add(
        ReportedTerm(
            system="meddra_pt",
            code="10016256",
            text="Fever",
            normalised="fever",
            symptom_code="FEVER",
            origin="meddra",
        )
    )
    session.commit()
    get_settings().meddra_version = "27.0"
    try:
        report = file(session, county, symptoms=("FEVER", "RASH"))
        inv = county.actor(session, "investigator")
        xml = export.export_reports(session, inv, [report.id])
    finally:
        get_settings().meddra_version = ""
    assert schema_errors(xml, STANDARDS) == []
    fever, rash = one_icsr(xml).reactions
    assert (fever.meddra_code, fever.meddra_version) == ("10016256", "27.0")
    assert rash.meddra_code == "" and rash.reported_term == "皮疹"


def test_a_follow_up_is_the_next_version_of_the_same_case(session, county):
    report = file(session, county)
    inv = county.actor(session, "investigator")
    first = one_icsr(export.export_reports(session, inv, [report.id]))
    intake_follow_up.add_follow_up(
        session, inv, report.id, FollowUpIn(outcome="recovered", note="痊愈")
    )
    second = one_icsr(export.export_reports(session, inv, [report.id]))
    assert first.safety_report_id == second.safety_report_id
    assert first.worldwide_case_id == second.worldwide_case_id
    assert (first.message_id, second.message_id) == (
        f"{first.safety_report_id}-v1",
        f"{first.safety_report_id}-v2",
    )
    assert second.reactions[0].outcome == "recovered"
    assert [r.ref for r in first.reactions] == [r.ref for r in second.reactions]


def test_a_cluster_member_exports_with_its_cluster(session, county):
    first = file(session, county, symptoms=("FEVER",))
    report = session.get(Report, first.id)
    inv = county.actor(session, "investigator")
    icsr = one_icsr(export.export_reports(session, inv, [report.id]))
    cluster = (report.triage or {}).get("cluster_id")
    if cluster:
        assert f"cluster {cluster}" in icsr.narrative
    else:
        report.triage = {**(report.triage or {}), "cluster_id": 99}
        session.add(report)
        session.commit()
        icsr = one_icsr(export.export_reports(session, inv, [report.id]))
        assert "Member of cluster 99." in icsr.narrative


def test_batch_export_of_a_filter_and_the_limits(session, county):
    a = file(session, county, symptoms=("FEVER",))
    b = file(session, county, symptoms=("RASH",))
    inv = county.actor(session, "investigator")
    xml = export.export_reports(session, inv, [a.id, b.id, a.id])
    assert schema_errors(xml, STANDARDS) == []
    assert len(e2b_reader.read_batch(xml).batch.messages) == 2
    filtered = export.export_filtered(session, inv, intake_listing.ReportFilter(q=a.number))
    assert [m.safety_report_id for m in e2b_reader.read_batch(filtered).batch.messages] == [
        f"CN-AEFI-{a.number}"
    ]
    with pytest.raises(NotFound):
        export.export_filtered(session, inv, intake_listing.ReportFilter(q="no-such-number"))


def test_who_may_export(session, county):
    report = file(session, county)
    with pytest.raises(Forbidden):
        export.export_reports(session, county.actor(session, "reporter"), [report.id])
    with pytest.raises(Forbidden):
        export.export_reports(session, county.actor(session, "hospital"), [report.id])
    other = dataclasses.replace(
        county.actor(session, "investigator"), county_id=-1, county_ids=frozenset({-1})
    )
    with pytest.raises(NotFound):
        export.export_reports(session, other, [report.id])


def _strip_for_reimport(xml: bytes, batch_number: str) -> bytes:
    """The same cases as if another county sent them (new batch number)."""
    batch = e2b_reader.read_batch(xml).batch
    return write_batch(
        dataclasses.replace(batch, batch_number=batch_number, sender=Party("CN-OTHER-CDC"))
    )


def test_import_files_reports_links_lots_and_acknowledges(session, county):
    report = classified_serious_case(session, county)
    inv = county.actor(session, "investigator")
    exported = export.export_reports(session, inv, [report.id])
    # One more vaccine whose lot this county does not have: kept as reported text.
    batch = e2b_reader.read_batch(exported).batch
    icsr = batch.messages[0]
    stranger = dataclasses.replace(
        icsr.vaccines[0],
        ref="0e5f4a1c-0000-4000-8000-000000000001",
        product_name="Imported vaccine",
        lot_number="NOT-HERE-1",
    )
    sent = write_batch(
        dataclasses.replace(
            batch,
            batch_number="IN-1",
            sender=Party("CN-OTHER-CDC"),
            messages=(
                dataclasses.replace(
                    icsr, worldwide_case_id="CN-OTHER-2026-7", vaccines=(*icsr.vaccines, stranger)
                ),
            ),
        )
    )
    result = receive.import_batch(session, inv, sent)
    assert schema_errors(result.ack_xml, STANDARDS, ack=True) == []
    ack = read_ack(result.ack_xml)
    assert ack.code == "AA" and ack.batch_number == "IN-1"
    (new_id,) = result.report_ids
    new = session.get(Report, new_id)
    assert ack.messages[0].local_id == new.number and new.id != report.id
    assert new.source == "e2b" and new.symptoms == ["ANAPH", "URTIC"]
    assert new.life_threatening and new.hospitalization and new.serious
    doses = session.exec(select(ReportDose).where(ReportDose.report_id == new.id)).all()
    original = session.exec(select(ReportDose).where(ReportDose.report_id == report.id)).one()
    assert [d.lot_id for d in doses] == [original.lot_id]
    assert "Imported vaccine lot NOT-HERE-1" in new.description
    link = session.exec(select(IcsrLink).where(IcsrLink.report_id == new.id)).one()
    assert link.worldwide_case_id == "CN-OTHER-2026-7"
    assert [v["lot_number"] for v in link.unlinked_vaccines] == ["NOT-HERE-1"]
    audited = session.exec(
        select(AuditEvent).where(AuditEvent.action == "import_e2b", AuditEvent.entity_id == new.id)
    ).one()
    assert audited.changes["message_id"] == icsr.message_id
    assert new.triage  # triage ran on the received case
    # ... but opened no green-channel referral: the patient was hospitalised at the source.
    assert session.exec(select(Referral).where(Referral.report_id == new.id)).first() is None
    # Sent on, it carries the unlinked vaccine as received and keeps the worldwide number.
    onward = export.export_reports(session, inv, [new.id])
    assert schema_errors(onward, STANDARDS) == []
    again = one_icsr(onward)
    assert again.worldwide_case_id == "CN-OTHER-2026-7"
    assert [v.lot_number for v in again.vaccines] == [
        lot.lot_number for lot in [session.get(Lot, original.lot_id)]
    ] + ["NOT-HERE-1"]


def test_the_round_trip_keeps_the_content(session, county):
    report = classified_serious_case(session, county)
    inv = county.actor(session, "investigator")
    first = one_icsr(export.export_reports(session, inv, [report.id]))
    sent = _strip_for_reimport(export.export_reports(session, inv, [report.id]), "RT-1")
    # Filed here as a received case, then exported again.
    (new_id,) = receive.import_batch(session, inv, sent).report_ids
    again = one_icsr(export.export_reports(session, inv, [new_id]))

    def content(icsr):
        return (
            icsr.worldwide_case_id,
            icsr.patient,
            [(r.reported_term, r.meddra_code, r.seriousness, r.outcome) for r in icsr.reactions],
            [
                (
                    v.product_name,
                    v.product_code,
                    v.lot_number,
                    v.dose_number,
                    v.route,
                    v.administered_at,
                )
                for v in icsr.vaccines
            ],
            icsr.expedited,
        )

    assert content(again) == content(first)
    assert first.narrative in again.narrative


def test_a_repeated_message_changes_nothing_and_a_follow_up_updates(session, county):
    report = file(session, county)
    inv = county.actor(session, "investigator")
    sent = _strip_for_reimport(export.export_reports(session, inv, [report.id]), "B-1")
    (new_id,) = receive.import_batch(session, inv, sent).report_ids
    again = receive.import_batch(session, inv, sent)
    assert again.report_ids == (new_id,) and again.ack.code == "AA"
    assert session.exec(select(FollowUp).where(FollowUp.report_id == new_id)).all() == []

    intake_follow_up.add_follow_up(
        session, inv, report.id, FollowUpIn(outcome="recovered", note="痊愈")
    )
    update = _strip_for_reimport(export.export_reports(session, inv, [report.id]), "B-2")
    assert receive.import_batch(session, inv, update).report_ids == (new_id,)
    assert session.get(Report, new_id).outcome == "recovered"
    (fu,) = session.exec(select(FollowUp).where(FollowUp.report_id == new_id)).all()
    assert fu.source == "e2b" and fu.changes["outcome"] == ["recovering", "recovered"]


def test_fdas_vaers_example_is_filed_and_a_broken_batch_is_refused(session, county):
    inv = county.actor(session, "investigator")
    xml = (STANDARDS / "e2br3/examples/VAERS_EXAMPLE.xml").read_bytes()
    result = receive.import_batch(session, inv, xml)
    assert result.ack.code == "AA"
    new = session.get(Report, result.report_ids[0])
    assert "influenza virus vaccine, inactivated" in new.description  # no such lot here
    assert new.patient_sex == "male"

    refused = receive.import_batch(session, inv, b"<not-xml")
    assert refused.ack.code == "AR" and "well-formed" in refused.ack.batch_error
    assert schema_errors(refused.ack_xml, STANDARDS, ack=True) == []


def test_fdas_drug_examples_are_acknowledged(session, county):
    inv = county.actor(session, "investigator")
    for path in sorted((STANDARDS / "e2br3/examples").glob("FAERS*.xml")):
        result = receive.import_batch(session, inv, path.read_bytes())
        assert result.ack.code == "AA", path.name
        assert schema_errors(result.ack_xml, STANDARDS, ack=True) == []


def test_who_may_import(session, county):
    with pytest.raises(Forbidden):
        receive.import_batch(session, county.actor(session, "reporter"), b"<x/>")
    with pytest.raises(Forbidden):
        receive.import_batch(session, county.actor(session, "bureau"), b"<x/>")


def test_a_message_without_reaction_is_refused_the_others_filed(session, county):
    a = file(session, county, symptoms=("FEVER",))
    inv = county.actor(session, "investigator")
    batch = e2b_reader.read_batch(export.export_reports(session, inv, [a.id])).batch
    good = dataclasses.replace(batch.messages[0], worldwide_case_id="W-1", message_id="M-1")
    bad = dataclasses.replace(good, worldwide_case_id="W-2", message_id="M-2", reactions=())
    result = receive.import_batch(
        session,
        inv,
        write_batch(Batch("B-9", Party("X"), Party("Y"), batch.created_at, (good, bad))),
    )
    assert result.ack.code == "AE"
    assert [(m.message_id, m.accepted) for m in result.ack.messages] == [
        ("M-1", True),
        ("M-2", False),
    ]
    assert "no reaction" in result.ack.messages[1].reason
