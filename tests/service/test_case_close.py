"""Closing a case file: refused with the form's missing sections listed unless a reason is
given; the reason stored and audited; who may close (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from aefi.audit import AuditEvent
from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.errors import Forbidden, Invalid, NotFound
from aefi.investigation.form import service as case_form
from aefi.investigation.models import CaseStatus
from aefi.investigation.panel import service as case_panel
from aefi.investigation.schemas import ClassifyIn, CloseIn, ReopenIn
from tests.factories import a_case, a_dose, a_report, complete_values


def _case(session, county):
    dose = a_dose(session, county)
    report = a_report(
        session,
        county,
        "reporter",
        dose=dose,
        symptoms=["ANAPH"],
        onset_at=dose.administered_at + timedelta(minutes=10),
    )
    return a_case(session, report)


def _fill(session, actor, case_id, values):
    for key, vals in values.items():
        case_form.save_section(session, actor, case_id, key, vals)


def test_closing_with_sections_empty_is_refused_with_the_list(session, county):
    inv = county.actor(session, "investigator")
    case = _case(session, county)
    values = complete_values()
    values.pop("practice")
    values["history"] = {"past_history": "无"}
    _fill(session, inv, case.id, values)
    with pytest.raises(case_panel.FormIncomplete) as err:
        case_panel.close_case(session, inv, case.id, CloseIn(note="非预防接种后事件"))
    assert [m.key for m in err.value.missing] == ["history", "practice"]
    assert set(err.value.fields) == {"missing.history", "missing.practice"}
    session.rollback()
    assert session.get(type(case), case.id).status != CaseStatus.closed


def test_a_complete_form_closes_without_a_reason(session, county):
    inv = county.actor(session, "investigator")
    case = _case(session, county)
    _fill(session, inv, case.id, complete_values())
    case_panel.classify_case(
        session, inv, case.id, ClassifyIn(china_classification="rare_reaction")
    )
    case = case_panel.close_case(session, inv, case.id, CloseIn())
    assert case.status == CaseStatus.closed
    assert (case.close_reason, case.close_missing) == ("", [])


@pytest.mark.parametrize(
    ("reason", "text"),
    [("lost_to_follow_up", ""), ("refused_by_family", "家属拒绝尸检和调查"), ("other", "迁居外省")],
)
def test_a_reason_closes_it_and_is_stored_and_audited(session, county, reason, text):
    inv = county.actor(session, "investigator")
    case = _case(session, county)
    _fill(session, inv, case.id, {"history": complete_values()["history"]})
    case = case_panel.close_case(session, inv, case.id, CloseIn(reason=reason, reason_text=text))
    assert case.status == CaseStatus.closed
    assert (case.close_reason, case.close_reason_text) == (reason, text)
    assert case.close_missing == ["examinations", "cold_chain", "practice", "others", "summary"]
    row = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "case_file", AuditEvent.entity_id == case.id)
        .order_by(AuditEvent.id.desc())
    ).first()
    assert row.action == "status"
    assert row.changes["reason"] == reason and row.changes["missing"] == case.close_missing
    # Reopened, the reason no longer stands; closing again is judged afresh.
    case = case_panel.reopen_case(session, inv, case.id, ReopenIn(reason="家属同意调查"))
    assert (case.close_reason, case.close_missing) == ("", [])
    with pytest.raises(case_panel.FormIncomplete):
        case_panel.close_case(session, inv, case.id, CloseIn(note="x"))


def test_other_needs_words_and_unknown_reasons_are_refused(session, county):
    inv = county.actor(session, "investigator")
    case = _case(session, county)
    with pytest.raises(Invalid) as err:
        case_panel.close_case(session, inv, case.id, CloseIn(reason="other", reason_text=" "))
    assert "reason_text" in err.value.fields
    with pytest.raises(Invalid) as err:
        case_panel.close_case(session, inv, case.id, CloseIn(reason="moved"))
    assert "reason" in err.value.fields


@pytest.mark.parametrize("username", ["bureau", "reporter", "hospital", "admin", "iis"])
def test_only_the_countys_investigators_close(session, county, username):
    case = _case(session, county)
    actor = county.actor(session, username)
    with pytest.raises(Forbidden):
        case_panel.close_case(session, actor, case.id, CloseIn(reason="lost_to_follow_up"))


def test_province_and_system_do_not_close(session, county):
    case = _case(session, county)
    inv = county.actor(session, "investigator")
    for actor in (
        Actor(
            user_id=inv.user_id,
            username="p",
            name="p",
            role=Role.province,
            county_id=-5,
            county_ids=frozenset({case.county_id}),
        ),
        Actor.system(case.county_id, reason="timer"),
    ):
        with pytest.raises(Forbidden):
            case_panel.close_case(session, actor, case.id, CloseIn(reason="lost_to_follow_up"))


def test_another_countys_investigator_finds_nothing(session, county):
    case = _case(session, county)
    inv = county.actor(session, "investigator")
    stranger = Actor(
        user_id=inv.user_id, username="x", name="x", role=Role.investigator, county_id=-1
    )
    with pytest.raises(NotFound):
        case_panel.close_case(session, stranger, case.id, CloseIn(reason="lost_to_follow_up"))
