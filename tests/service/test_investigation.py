"""Case files on SQLite and PostgreSQL: opening after triage, deadlines with a controllable
clock, the form, evidence, causality, classification, closing, and who may do what."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import func, select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.events import ClusterFormed, ReportTriaged
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.models import Report
from aefi.intake.schemas import FollowUpIn
from aefi.investigation import access, flows, lifecycle
from aefi.investigation.assessments import service as case_assessments
from aefi.investigation.cases import service as case_files
from aefi.investigation.evidence import service as case_evidence
from aefi.investigation.form import service as case_form
from aefi.investigation.models import CaseFile, CaseStatus, CompensationStatus
from aefi.investigation.overview import service as case_overview
from aefi.investigation.panel import service as case_panel
from aefi.investigation.schemas import (
    AppraisalIn,
    AssignIn,
    BrightonIn,
    CausalityIn,
    ClassifyIn,
    CloseIn,
    CompensationIn,
    ReopenIn,
)
from aefi.notifications.models import Notification
from aefi.registry.models import Dose, Lot
from aefi.triage.models import Cluster
from aefi.triage.rules import TriageDecision
from tests.factories import a_case, a_dose, a_report, complete_values


def _triage(report: Report) -> Actor:
    """Triage acts for the report's county."""
    return Actor.system(report.county_id, reason="triage")


def freeze_now() -> datetime:
    """Stop the clock now (the demo county's doses lie in the 30 days before the real now)."""
    t0 = datetime.now(UTC).replace(second=0, microsecond=0)
    clock.freeze(t0)
    return t0


def site_doses(session, county, n=1) -> list[Dose]:
    """``n`` doses at the reporter's site for new persons, ten minutes apart, earliest first."""
    first = clock.now() - timedelta(hours=2)
    return [a_dose(session, county, at=first + timedelta(minutes=10 * i)) for i in range(n)]


def file(session, county, *, symptoms=("ANAPH",), username="reporter", dose=None, **kw) -> Report:
    """``a_report`` of ``symptoms`` (anaphylaxis) with its onset 10 minutes after the dose."""
    rep = county.actor(session, username)
    dose = dose or a_dose(session, county, site=county.site_ids.index(rep.site_id))
    onset = dose.administered_at + timedelta(minutes=10)
    return a_report(
        session, county, username, dose=dose, symptoms=list(symptoms), **{"onset_at": onset, **kw}
    )


def open_case(session, county, **kw) -> CaseFile:
    return a_case(session, file(session, county, **kw))


# --- opening -----------------------------------------------------------------------------


def test_open_case_for_report_sets_deadlines_and_is_idempotent(session, county):
    t0 = freeze_now()  # noqa: F841
    report = file(session, county)
    case = case_files.open_case_for_report(
        session, Actor.system(report.county_id, reason="triage"), report
    )
    session.commit()

    assert case.status == CaseStatus.open
    assert case.number == report.number
    assert case.report_ids == [report.id]
    assert "anaphylaxis" in case.event_groups
    # 48 h from receipt (national plan), no form or preliminary deadline before the start.
    assert case.start_due_at == report.received_at + timedelta(hours=48)
    assert case.form_due_at is None and case.preliminary_due_at is None
    assert case.next_due_at == case.start_due_at
    again = case_files.open_case_for_report(
        session, Actor.system(report.county_id, reason="triage"), report
    )
    assert again.id == case.id
    assert session.exec(select(func.count()).select_from(CaseFile)).one() == 1
    opened = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == "case_file", AuditEvent.action == "case_opened"
        )
    ).all()
    assert len(opened) == 1
    investigator = county.actor(session, "investigator")
    notes = session.exec(
        select(Notification).where(Notification.user_id == investigator.user_id)
    ).all()
    assert any(n.kind == "case_opened" and n.link == f"/cases/{case.id}" for n in notes)


def triaged(report: Report, **flags: bool) -> ReportTriaged:
    """triage's event for ``report`` with a decision of the given flags (others False)."""
    names = ("serious", "investigation_required", "preliminary_report_required")
    decision = TriageDecision(
        **{n: flags.get(n, False) for n in names},
        escalated=False,
        referral_required=False,
        fast_report_required=False,
        designated=(),
        reasons=(),
        deadlines={},
        ruleset_version="test",
    )
    return ReportTriaged(report.id, report.county_id, decision, None)


def test_triage_event_opens_the_case_and_later_triage_updates_it(session, county):
    report = file(session, county, symptoms=("URTIC",))
    existing = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    if existing is None:  # triage found no investigation needed
        flows.on_report_triaged(
            session, _triage(report), triaged(report, investigation_required=True)
        )
        session.commit()
    case = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).one()
    assert case.preliminary_report_required is False

    event = triaged(
        report, investigation_required=True, serious=True, preliminary_report_required=True
    )
    flows.on_report_triaged(session, _triage(report), event)
    session.commit()
    session.refresh(case)
    assert case.serious and case.preliminary_report_required
    assert session.exec(select(func.count()).select_from(CaseFile)).one() == 1


def test_no_case_when_triage_requires_no_investigation(session, county):
    report = file(session, county, symptoms=("REDNESS",), diagnosis_clear=True)
    before = session.exec(select(func.count()).select_from(CaseFile)).one()
    flows.on_report_triaged(session, _triage(report), triaged(report))
    session.commit()
    assert session.exec(select(func.count()).select_from(CaseFile)).one() == before


def test_real_triage_opens_a_case_for_a_serious_report(session, county):
    report = file(
        session,
        county,
        symptoms=("ANAPH",),
        serious={"life_threatening": True},
    )
    session.refresh(report)
    case = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    assert case is not None, report.triage
    assert case.serious and case.preliminary_report_required
    assert (
        case.start_due_at.isoformat()
        == datetime.fromisoformat(report.triage["deadlines"]["investigation_start_due"]).isoformat()
    )


def test_cluster_case_opens_and_grows(session, county):
    t0 = freeze_now()  # noqa: F841
    d1, d2, d3 = site_doses(session, county, 3)
    r1 = file(session, county, dose=d1)
    r2 = file(session, county, dose=d2)
    cluster = Cluster(
        kind="site_serious",
        event_group="anaphylaxis",
        county_id=county.county_id,
        created_at=t0,
        first_onset_at=t0,
        last_onset_at=t0,
    )
    session.add(cluster)
    session.flush()

    def formed(*reports: Report) -> ClusterFormed:
        ids = tuple(r.id for r in reports)
        return ClusterFormed(cluster.id, county.county_id, None, ids, (), created=len(ids) == 2)

    flows.on_cluster_formed(
        session, Actor.system(county.county_id, reason="triage"), formed(r1, r2)
    )
    session.commit()
    case = session.exec(select(CaseFile).where(CaseFile.cluster_id == cluster.id)).one()
    assert case.kind == "cluster" and case.report_ids == [r1.id, r2.id]
    assert case.preliminary_report_required
    assert case.number.endswith(f"-G{cluster.id:04d}")

    r3 = file(session, county, dose=d3)
    flows.on_cluster_formed(
        session, Actor.system(county.county_id, reason="triage"), formed(r1, r2, r3)
    )
    session.commit()
    session.refresh(case)
    assert case.report_ids == [r1.id, r2.id, r3.id]
    grew = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_id == case.id, AuditEvent.action == "cluster_grew"
        )
    ).one()
    assert grew.changes["added"] == [r3.number]
    # The timeline of the group case shows its members' reports.
    inv = county.actor(session, "investigator")
    page = case_overview.case_page(session, inv, case.id)
    assert {e.entity_id for e in page.events if e.entity_type == "report"} >= {r1.id, r2.id}


# --- deadlines ---------------------------------------------------------------------------


def test_overdue_deadlines_follow_the_clock(session, county):
    t0 = freeze_now()  # noqa: F841
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    case.preliminary_report_required = True
    session.add(case)
    session.commit()

    clock.advance(timedelta(hours=47))
    assert not lifecycle.is_overdue(case)
    assert case_overview.list_cases(session, inv, case_overview.CaseFilter(overdue=True))[1] == 0

    clock.advance(timedelta(hours=2))  # 49 h after receipt: the start is late
    assert lifecycle.is_overdue(case)
    states = {s.name: s for s in lifecycle.deadline_states(case)}
    assert states["investigation_start_due"].overdue
    rows, total = case_overview.list_cases(session, inv, case_overview.CaseFilter(overdue=True))
    assert total == 1 and rows[0].id == case.id
    assert case_overview.overdue_count(session, inv) == 1

    case = case_files.take_case(session, inv, case.id)
    assert case.status == CaseStatus.investigating and case.assignee_id == inv.user_id
    assert case.started_at == clock.now()
    states = {s.name: s for s in lifecycle.deadline_states(case)}
    # Started late: flagged late, but no longer running, so the case is not overdue now.
    start = states["investigation_start_due"]
    assert start.overdue and not start.running
    assert not lifecycle.is_overdue(case)
    assert case.form_due_at == case.started_at + timedelta(days=3)
    assert case.preliminary_due_at == case.started_at + timedelta(days=7)
    assert case.next_due_at == case.form_due_at

    clock.advance(timedelta(days=3, minutes=1))
    assert lifecycle.is_overdue(case)
    assert {s.name for s in lifecycle.deadline_states(case) if s.overdue and s.running} == {
        "investigation_form_due"
    }

    for key, values in complete_values().items():
        case_form.save_section(session, inv, case.id, key, values)
    case = case_form.complete_form(session, inv, case.id)
    assert case.form_completed_at == clock.now()
    assert not lifecycle.is_overdue(case)
    assert case.next_due_at == case.preliminary_due_at

    clock.advance(timedelta(days=4))
    assert lifecycle.is_overdue(case)
    case = case_form.record_preliminary_report(session, inv, case.id)
    assert not lifecycle.is_overdue(case) and case.next_due_at is None


def test_deadline_reminder_goes_out_once(session, county):
    t0 = freeze_now()  # noqa: F841
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    clock.advance(timedelta(hours=49))
    assert lifecycle.check_deadlines(session) == 1
    assert lifecycle.check_deadlines(session) == 0
    reminders = session.exec(
        select(Notification).where(
            Notification.user_id == inv.user_id, Notification.kind == "case_overdue"
        )
    ).all()
    assert len(reminders) == 1 and reminders[0].link == f"/cases/{case.id}"


def test_list_is_sorted_by_deadline_and_filters(session, county):
    t0 = freeze_now()  # noqa: F841
    inv = county.actor(session, "investigator")
    first = open_case(session, county)
    clock.advance(timedelta(hours=5))
    second = open_case(session, county, dose=site_doses(session, county, 2)[1])
    # Two anaphylaxis reports at one site may also form a cluster (group AEFI) with its own
    # case file when triage is wired in: look at the report cases here.
    rows, total = case_overview.list_cases(session, inv, case_overview.CaseFilter(kind="report"))
    assert [c.id for c in rows] == [first.id, second.id] and total == 2
    case_files.take_case(session, inv, second.id)
    # Started: its next deadline is the form, 3 days away; the first is due sooner.
    rows, _ = case_overview.list_cases(
        session, inv, case_overview.CaseFilter(assignee="me", kind="report")
    )
    assert [c.id for c in rows] == [second.id]
    rows, _ = case_overview.list_cases(
        session, inv, case_overview.CaseFilter(assignee="none", kind="report")
    )
    assert [c.id for c in rows] == [first.id]
    flt = case_overview.CaseFilter(status="investigating", kind="report")
    rows, _ = case_overview.list_cases(session, inv, flt)
    assert [c.id for c in rows] == [second.id]
    with pytest.raises(Invalid):
        case_overview.list_cases(session, inv, case_overview.CaseFilter(status="nonsense"))


# --- the work ----------------------------------------------------------------------------


def test_whole_case_from_take_to_close_and_reopen(session, county):
    t0 = freeze_now()  # noqa: F841
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    report_id = case.report_id

    # Saving a section of an open case starts the investigation.
    row = case_form.save_section(
        session, inv, case.id, "history", {"past_history": "体健", "previous_similar_event": "no"}
    )
    assert row.version == 1 and row.values["past_history"] == "体健"
    session.refresh(case)
    assert case.status == CaseStatus.investigating and case.started_at == t0
    assert session.get(Report, report_id).status == "investigating"

    with pytest.raises(Invalid) as err:
        case_form.complete_form(session, inv, case.id)
    assert "summary.summary" in err.value.fields

    data = CausalityIn(
        eligibility={
            "vaccine_given_before_event": True,
            "valid_diagnosis": True,
            "clear_event": True,
            "diagnosis": "严重过敏反应",
        },
        checklist={"I.1": "no", "II.1": "yes", "III.1": "yes", "IV.1": "no"},
    )
    preview = case_assessments.preview_causality(session, inv, case.id, data)
    assert preview.category.value == "A1"
    assessment = case_assessments.assess_causality(session, inv, case.id, data)
    assert assessment.category == "A1" and assessment.reasons and assessment.reasons_zh
    session.refresh(case)
    assert case.who_category == "A1"

    # A second run is kept beside the first.
    data.checklist["II.1"] = "unknown"
    data.checklist["II.2"] = "unknown"
    second = case_assessments.assess_causality(session, inv, case.id, data)
    assert second.category == "B1"
    assert [a.id for a in case_assessments.assessments(session, case.id)] == [
        second.id,
        assessment.id,
    ]

    data.checklist["II.1"] = "yes"
    case_assessments.assess_causality(session, inv, case.id, data)

    case = case_panel.classify_case(
        session,
        inv,
        case.id,
        ClassifyIn(
            china_classification="coincidental",
            panel_diagnosis="偶合症",
            panel_members="王、李、张",
        ),
    )
    assert case.status == CaseStatus.classified
    assert "A1" in case.classification_warning and "偶合症" in case.classification_warning_zh
    assert session.get(Report, report_id).status == "classified"

    case = case_panel.classify_case(
        session,
        inv,
        case.id,
        ClassifyIn(china_classification="rare_reaction", panel_diagnosis="严重过敏反应"),
    )
    assert case.classification_warning == ""
    assert case.compensation_status == CompensationStatus.pending  # 异常反应 is compensated

    case_panel.record_appraisal(
        session,
        inv,
        case.id,
        AppraisalIn(status="requested", requested_on=t0.date(), body="县医学会"),
    )
    with pytest.raises(Invalid):
        case_panel.record_appraisal(
            session, inv, case.id, AppraisalIn(status="concluded", requested_on=t0.date())
        )
    case_panel.record_compensation(
        session, inv, case.id, CompensationIn(status="paid", amount=12000)
    )

    # The form is still incomplete: closing needs the reason (test_case_close.py).
    with pytest.raises(case_panel.FormIncomplete):
        case_panel.close_case(session, inv, case.id, CloseIn())
    session.rollback()
    case = case_panel.close_case(session, inv, case.id, CloseIn(reason="lost_to_follow_up"))
    assert case.status == CaseStatus.closed and case.next_due_at is None
    assert session.get(Report, report_id).status == "closed"
    with pytest.raises(Conflict):
        case_form.save_section(session, inv, case.id, "history", {"past_history": "x"})
    with pytest.raises(Invalid):
        case_panel.reopen_case(session, inv, case.id, ReopenIn(reason=""))
    case = case_panel.reopen_case(session, inv, case.id, ReopenIn(reason="家属提出鉴定"))
    assert case.status == CaseStatus.investigating and case.reopen_count == 1
    assert session.get(Report, report_id).status == "investigating"

    actions = [
        e.action for e in case_overview.timeline(session, case) if e.entity_type == "case_file"
    ]
    for expected in (
        "case_opened",
        "status",
        "form_section",
        "causality",
        "classified",
        "appraisal",
        "compensation",
        "reopened" if "reopened" in actions else "status",
    ):
        assert expected in actions
    # The report's own status entries are not repeated on the case's timeline.
    assert not any(
        e.entity_type == "report" and e.action == "status"
        for e in case_overview.timeline(session, case)
    )


def test_close_without_classification_needs_a_reason(session, county):
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    for key, values in complete_values().items():
        case_form.save_section(session, inv, case.id, key, values)
    with pytest.raises(Invalid) as err:
        case_panel.close_case(session, inv, case.id, CloseIn(note=" "))
    assert "note" in err.value.fields
    case = case_panel.close_case(session, inv, case.id, CloseIn(note="非预防接种后事件"))
    assert case.status == CaseStatus.closed and case.close_note == "非预防接种后事件"


def test_section_errors_keep_the_typed_values_and_conflicts_are_refused(session, county):
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    with pytest.raises(case_form.SectionInvalid) as err:
        case_form.save_section(
            session,
            inv,
            case.id,
            "examinations",
            {"temperature_c": "39,2", "pulse": "fast", "blood_pressure": "90-60"},
        )
    assert set(err.value.fields) == {"pulse", "blood_pressure"}
    assert err.value.cleaned.typed["pulse"] == "fast"
    assert err.value.cleaned.values["temperature_c"] == 39.2
    assert case_form.form_sections(session, case.id) == {}

    first = case_form.save_section(session, inv, case.id, "summary", {"summary": "a"}, version=0)
    assert first.version == 1
    with pytest.raises(case_form.SectionConflict):
        case_form.save_section(session, inv, case.id, "summary", {"summary": "b"}, version=0)
    second = case_form.save_section(session, inv, case.id, "summary", {"summary": "b"}, version=1)
    assert second.version == 2 and second.values["summary"] == "b"


def test_exposure_counts_come_from_the_registry(session, county):
    inv = county.actor(session, "investigator")
    # Other doses of the lot the case's dose is of: the same day at its site, and elsewhere.
    a_dose(session, county)
    a_dose(session, county, site=1, at=clock.now() - timedelta(days=3))
    case = open_case(session, county)
    page = case_overview.case_page(session, inv, case.id)
    rows = {r.scope: r for r in page.exposure}
    assert set(rows) == {"session", "lot_session", "lot"}
    link = page.doses[case.report_id][0]
    dose = session.get(Dose, link.link.dose_id)
    day, start, end = case_form._local_day_bounds(dose.administered_at)
    same_lot_day = session.exec(
        select(func.count()).where(
            Dose.lot_id == dose.lot_id,
            Dose.site_id == dose.site_id,
            Dose.administered_at >= start,
            Dose.administered_at < end,
        )
    ).one()
    whole_lot = session.exec(select(func.count()).where(Dose.lot_id == dose.lot_id)).one()
    assert rows["lot_session"].doses == same_lot_day >= 1
    assert rows["lot"].doses == whole_lot
    assert rows["session"].doses >= same_lot_day
    assert rows["lot"].reports == 1 and rows["lot_session"].reports == 1

    # A second report after the same lot counts, and is listed with its number.
    other = a_dose(session, county, site=1, lot=session.get(Lot, dose.lot_id))
    r2 = file(session, county, username="reporter2", dose=other, symptoms=("FEVER",))
    rows = {r.scope: r for r in case_form.exposure(session, case)}
    assert rows["lot"].reports == 2
    assert [ref.number for ref in rows["lot"].report_refs] == [r2.number]


def test_brighton_level_is_computed_from_recorded_criteria(session, county):
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    case = case_assessments.record_brighton(
        session,
        inv,
        case.id,
        BrightonIn(
            criteria=["generalized_urticaria_or_erythema"],
            signs=["measured_hypotension"],
            sudden_onset_rapid_progression=True,
            multiple_organ_systems=True,
        ),
    )
    assert case.brighton_level == 1
    assert "measured_hypotension" in case.brighton["criteria"]
    assert case.brighton["reported_as_anaphylaxis"] is True
    assert case_assessments.brighton_of(case).level == 1
    case = case_assessments.record_brighton(
        session, inv, case.id, BrightonIn(criteria=["bilateral_wheeze"])
    )
    assert case.brighton_level == 4


def test_evidence_files_are_checked_and_served_only_to_readers(session, county, tmp_path):
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    att = case_evidence.add_attachment(
        session, inv, case.id, "C:\\扫描\\病历.pdf", io.BytesIO(pdf), "入院记录"
    )
    assert att.filename == "病历.pdf" and att.kind == "pdf" and att.size == len(pdf)
    assert "." not in att.stored_name
    with pytest.raises(Invalid) as err:
        case_evidence.add_attachment(session, inv, case.id, "x.pdf", io.BytesIO(b"<html>hi</html>"))
    assert "file" in err.value.fields
    with pytest.raises(Invalid):
        case_evidence.add_attachment(session, inv, case.id, "run.exe", io.BytesIO(b"MZ\x90\x00"))
    with pytest.raises(Invalid):
        case_evidence.add_attachment(
            session, inv, case.id, "photo.png", io.BytesIO(b"\xff\xd8\xff\xe0 jpeg bytes")
        )

    bureau = county.actor(session, "bureau")
    got, path = case_evidence.open_attachment(session, bureau, case.id, att.id)
    assert path.read_bytes() == pdf and got.id == att.id
    for name in ("reporter", "hospital", "admin"):
        with pytest.raises(Forbidden):
            case_evidence.open_attachment(session, county.actor(session, name), case.id, att.id)
    with pytest.raises(Forbidden):
        case_evidence.add_attachment(session, bureau, case.id, "a.txt", io.BytesIO(b"hello"))

    case_evidence.remove_attachment(session, inv, case.id, att.id)
    with pytest.raises(NotFound):
        case_evidence.open_attachment(session, inv, case.id, att.id)
    assert path.exists()  # evidence is not destroyed


def test_upload_size_limit(session, county, monkeypatch):
    from aefi.settings import get_settings

    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    monkeypatch.setattr(get_settings(), "upload_max_bytes", 100)
    with pytest.raises(Invalid) as err:
        case_evidence.add_attachment(session, inv, case.id, "big.txt", io.BytesIO(b"a" * 101))
    assert "MB" in err.value.message
    ok = case_evidence.add_attachment(session, inv, case.id, "small.txt", io.BytesIO(b"a" * 100))
    assert ok.size == 100


def test_notes_and_assignment(session, county):
    from aefi.auth.users import service as auth_users

    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    with pytest.raises(Invalid):
        case_evidence.add_note(session, inv, case.id, "  ")
    case_evidence.add_note(session, inv, case.id, "已电话联系家长")
    assert [n.text for n in case_evidence.notes(session, case.id)] == ["已电话联系家长"]

    colleague = auth_users.create_user(
        session,
        county.actor(session, "admin"),
        username="inv2",
        password="colleague-password-1",
        role=Role.investigator,
        county_id=county.county_id,
        full_name="赵调查",
    )
    session.commit()
    case = case_files.assign_case(session, inv, case.id, AssignIn(username="inv2"))
    assert case.assignee_id == colleague.id and case.assignee_name == "赵调查"
    assert case.status == CaseStatus.open  # assigning is not starting
    told = session.exec(
        select(Notification).where(
            Notification.user_id == colleague.id, Notification.kind == "case_assigned"
        )
    ).all()
    assert len(told) == 1
    with pytest.raises(Invalid):
        case_files.assign_case(session, inv, case.id, AssignIn(username="bureau"))
    case = case_files.assign_case(session, inv, case.id, AssignIn())
    assert case.assignee_id == inv.user_id


# --- who may do what ---------------------------------------------------------------------


@pytest.mark.parametrize("username", ["reporter", "hospital", "admin", "iis"])
def test_other_roles_cannot_open_case_files(session, county, username):
    case = open_case(session, county)
    actor = county.actor(session, username)
    with pytest.raises(Forbidden):
        access.get_case(session, actor, case.id)
    with pytest.raises(Forbidden):
        case_overview.list_cases(session, actor, case_overview.CaseFilter())
    with pytest.raises(Forbidden):
        case_files.take_case(session, actor, case.id)


def test_bureau_reads_but_does_not_change(session, county):
    case = open_case(session, county)
    bureau = county.actor(session, "bureau")
    page = case_overview.case_page(session, bureau, case.id)
    assert page.case.id == case.id and not page.can_work and page.actions == []
    assert case_overview.list_cases(session, bureau, case_overview.CaseFilter())[1] == 1
    with pytest.raises(Forbidden):
        case_form.save_section(session, bureau, case.id, "history", {"past_history": "x"})
    with pytest.raises(Forbidden):
        case_panel.classify_case(
            session, bureau, case.id, ClassifyIn(china_classification="coincidental")
        )
    with pytest.raises(Forbidden):
        case_panel.close_case(session, bureau, case.id, CloseIn(note="x"))


def test_another_countys_investigator_finds_nothing(session, county):
    case = open_case(session, county)
    inv = county.actor(session, "investigator")
    stranger = Actor(
        user_id=inv.user_id, username="x", name="x", role=Role.investigator, county_id=-1
    )
    with pytest.raises(NotFound):
        access.get_case(session, stranger, case.id)
    assert case_overview.list_cases(session, stranger, case_overview.CaseFilter())[1] == 0


def test_reporter_sees_only_the_final_classification_of_their_sites_report(session, county):
    inv = county.actor(session, "investigator")
    reporter = county.actor(session, "reporter")
    case = open_case(session, county)
    seen = case_files.classification_for_report(session, reporter, case.report_id)
    assert seen.under_investigation and seen.china_classification is None
    case_panel.classify_case(
        session,
        inv,
        case.id,
        ClassifyIn(china_classification="common_reaction", panel_diagnosis="一般反应"),
    )
    seen = case_files.classification_for_report(session, reporter, case.report_id)
    assert seen.china_classification == "common_reaction" and seen.label_zh == "一般反应"
    assert not seen.under_investigation
    assert not hasattr(seen, "who_category")
    with pytest.raises(NotFound):
        case_files.classification_for_report(
            session, county.actor(session, "reporter2"), case.report_id
        )


def test_follow_up_appears_on_the_timeline(session, county):
    inv = county.actor(session, "investigator")
    case = open_case(session, county)
    intake_follow_up.add_follow_up(
        session, county.actor(session, "reporter"), case.report_id, FollowUpIn(note="已出院")
    )
    events_ = case_overview.timeline(session, session.get(CaseFile, case.id))
    assert any(e.entity_type == "report" and e.action == "follow_up" for e in events_)
    assert any(e.entity_type == "report" and e.action == "create" for e in events_)
    assert case_overview.case_page(session, inv, case.id).events


def test_real_triage_cluster_links_the_group_and_its_members(session, county):
    freeze_now()
    inv = county.actor(session, "investigator")
    d1, d2 = site_doses(session, county, 2)
    r1 = file(session, county, dose=d1, serious={"hospitalization": True})
    r2 = file(session, county, dose=d2, serious={"hospitalization": True})
    group = session.exec(select(CaseFile).where(CaseFile.kind == "cluster")).first()
    assert group is not None, "two serious anaphylaxis reports at one site form a group AEFI"
    assert set(group.report_ids) == {r1.id, r2.id}
    own = session.exec(select(CaseFile).where(CaseFile.report_id == r1.id)).one()
    page = case_overview.case_page(session, inv, own.id)
    assert [g.id for g in page.group_cases] == [group.id]
    page = case_overview.case_page(session, inv, group.id)
    assert set(page.member_cases) == {r1.id, r2.id}
    assert page.cluster is not None and page.cluster.id == group.cluster_id
    assert any(e.entity_type == "cluster" for e in page.events)
