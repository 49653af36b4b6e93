"""The system actor (``Actor.system``): aefi's own duties act for exactly the counties given,
and no user can pass as it."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from sqlmodel import Session, col, select

from aefi import audit
from aefi.audit import AuditEvent
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor, require_system, site_filter
from aefi.auth.users import service as auth_users
from aefi.errors import Forbidden, Invalid, NotFound
from aefi.intake import access
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.schemas import FollowUpIn
from aefi.investigation.cases import service as case_files
from aefi.registry import importer, lot_states
from aefi.registry.models import Lot, Region, RegionLevel, Site
from aefi.signals.scans import service as scans
from tests.factories import a_report

PASSWORD = "a-long-enough-password-1"


def _other_county(session: Session) -> int:
    region = Region(code="X99", name="县X", level=RegionLevel.county)
    session.add(region)
    session.commit()
    return region.id


# --- no one passes as the system ---------------------------------------------------------


def test_a_user_cannot_pass_as_the_system(session, county):
    with pytest.raises(ValueError):
        Actor(5, "mallory", "Mallory", Role.system, county.county_id)
    with pytest.raises(ValueError):
        Actor.system(county.county_id, reason="  ")
    with pytest.raises(ValueError):  # nor the system as a user
        Actor(None, "system", "system", Role.admin, county.county_id)
    claimed = User(username="fake", role="system", county_id=county.county_id, password_hash="x")
    with pytest.raises(Forbidden):
        Actor.of(claimed)
    admin = county.actor(session, "admin")
    with pytest.raises(Invalid):
        auth_users.create_user(
            session,
            admin,
            username="fake",
            password=PASSWORD,
            role=Role.system,
            county_id=county.county_id,
        )
    assert not session.exec(select(User).where(User.username == "fake")).first()


def test_a_system_duty_refuses_a_person(session, county):
    bureau = county.actor(session, "bureau")
    lot = session.exec(select(Lot).order_by(Lot.id)).first()
    with pytest.raises(Forbidden):
        lot_states.hold_lot(session, bureau, lot, county.county_id, signal_id=None, note="x")
    with pytest.raises(Forbidden):
        require_system(county.actor(session, "admin"), county.county_id)
    with pytest.raises(Forbidden):
        scans.run_scan(session, county.actor(session, "reporter"), trigger="web")


def test_the_system_actor_audits_as_system_with_its_reason(session, county):
    system = Actor.system(county.county_id, reason="timer: lot expiry")
    assert system.is_system and system.county_ids == {county.county_id}
    event = audit.record(session, system, "status", "lot", 1, summary="x")
    session.commit()
    assert (event.actor_id, event.actor_role) == (None, "system")
    assert event.actor_name == "system (timer: lot expiry)"
    assert event.county_id == county.county_id  # in the county's trail, as a user's row is
    wide = Actor.system([county.county_id, 12345], reason="timer: signal scan")
    assert wide.county_ids == {county.county_id, 12345} and wide.county_id == 0
    assert audit.record(session, wide, "status", "lot", 1).county_id is None  # no one county


# --- each duty stays in its county -------------------------------------------------------


def test_triage_opens_case_files_only_in_its_county(session, county):
    other = _other_county(session)
    report = a_report(session, county)
    with pytest.raises(NotFound):
        case_files.open_case_for_report(session, Actor.system(other, reason="triage"), report)
    case = case_files.open_case_for_report(
        session, Actor.system(county.county_id, reason="triage"), report
    )
    assert case.county_id == county.county_id


def test_a_cluster_case_file_only_in_its_county(session, county):
    other = _other_county(session)
    report = a_report(session, county)
    cluster = SimpleNamespace(
        id=9001,
        kind="site_serious",
        event_group="fever",
        county_id=county.county_id,
        created_at=report.received_at,
    )
    with pytest.raises(NotFound):
        case_files.open_case_for_cluster(
            session, Actor.system(other, reason="triage"), cluster, [report.id]
        )
    case = case_files.open_case_for_cluster(
        session, Actor.system(county.county_id, reason="triage"), cluster, [report.id]
    )
    assert case.report_ids == [report.id]


def test_an_automatic_hold_only_in_its_county(session, county):
    other = _other_county(session)
    lot = session.exec(select(Lot).order_by(Lot.id)).first()
    with pytest.raises(NotFound):
        lot_states.hold_lot(
            session,
            Actor.system(other, reason="automatic hold"),
            lot,
            county.county_id,
            signal_id=None,
            note="x",
        )
    assert lot_states.hold_lot(
        session,
        Actor.system(county.county_id, reason="automatic hold"),
        lot,
        county.county_id,
        signal_id=None,
        note="信号复核中",
    )
    assert lot_states.state_for_county(session, lot, county.county_id).status == "held"


def test_the_halt_timer_only_in_its_counties(session, county):
    other = _other_county(session)
    lot = session.exec(select(Lot).order_by(Lot.id)).first()
    halt = SimpleNamespace(county_id=county.county_id, scope="lot", target_id=lot.id)
    with pytest.raises(NotFound):
        lot_states.apply_halt(session, Actor.system(other, reason="timer"), halt)
    assert lot.status == "active"


def test_the_command_line_manages_accounts_only_in_their_county(session, county):
    other = _other_county(session)
    with pytest.raises(NotFound):
        auth_users.create_user(
            session,
            Actor.system(other, reason="command line"),
            username="newinv",
            password=PASSWORD,
            role=Role.investigator,
            county_id=county.county_id,
        )
    with pytest.raises(Invalid):
        auth_users.set_password(
            session, Actor.system(other, reason="command line"), "investigator", PASSWORD
        )
    with pytest.raises(Invalid):
        auth_users.set_active_by_name(
            session, Actor.system(other, reason="command line"), "investigator", False
        )
    operator = auth_users.operator_for(session, "investigator")
    assert operator.county_ids == {county.county_id}
    user = auth_users.set_active_by_name(session, operator, "investigator", False)
    assert not user.active
    event = session.exec(
        select(AuditEvent).where(AuditEvent.entity_id == user.id).order_by(col(AuditEvent.id))
    ).all()[-1]
    assert event.actor_role == "system" and event.county_id == county.county_id
    # An unknown account: the operator acts for no county and finds nothing.
    assert auth_users.operator_for(session, "nobody").county_ids == frozenset()


def test_the_command_line_imports_doses_only_into_its_county(session, county):
    other = _other_county(session)
    lot = session.exec(select(Lot).where(Lot.status == "active")).first()
    site = session.get(Site, county.site_ids[0])
    header = ",".join(importer.COLUMNS)
    row = (
        f"330782201001010027,张三,male,2010-01-01,,{lot.lot_number},{site.code},1,"
        "2026-01-05T09:00:00+08:00,im,左上臂,护士"
    )
    body = (header + "\n" + row + "\n").encode()
    elsewhere = Actor.system(other, reason="command line: dose import")
    assert importer.import_doses(session, elsewhere, io.BytesIO(body)).imported == 0
    home = Actor.system(county.county_id, reason="command line: dose import")
    assert importer.import_doses(session, home, io.BytesIO(body)).imported == 1
    with pytest.raises(Forbidden):
        importer.import_doses(session, county.actor(session, "bureau"), io.BytesIO(body))


def test_the_system_reads_its_counties_whole(session, county):
    assert site_filter(Actor.system(county.county_id, reason="scan")) is None


# --- who may follow up a report ----------------------------------------------------------


def test_who_may_follow_up_aa_report(session, county):
    report = a_report(session, county)
    may = {
        name: access.can_follow_up(county.actor(session, name), report)
        for name in ("reporter", "reporter2", "investigator", "bureau", "admin", "hospital")
    }
    assert may == {
        "reporter": True,
        "reporter2": False,  # another site's physician
        "investigator": True,
        "bureau": False,
        "admin": True,
        "hospital": False,
    }
    assert not access.can_follow_up(Actor.system(county.county_id, reason="x"), report)
    other = _other_county(session)
    stranger = Actor(999, "inv-x", "inv-x", Role.investigator, other)
    assert not access.can_follow_up(stranger, report)


def test_a_hospital_adds_only_to_a_report_referred_to_it(session, county):
    report = a_report(session, county)
    hospital = county.actor(session, "hospital")
    with pytest.raises(Forbidden):  # as reading the report is
        intake_follow_up.add_follow_up(
            session, hospital, report.id, FollowUpIn(note="入院"), source="hospital"
        )
    with pytest.raises(Forbidden):
        intake_follow_up.add_follow_up(
            session, county.actor(session, "bureau"), report.id, FollowUpIn(note="x")
        )


def test_the_command_line_scans_and_lists_signals_as_the_system(session, county):
    from typer.testing import CliRunner

    from aefi.cli import app
    from aefi.signals.models import ScanRun

    done = CliRunner().invoke(app, ["signals", "scan", "--top", "3"])
    assert done.exit_code == 0, done.output
    assert "open signals; the strongest:" in done.output
    session.expire_all()
    assert session.exec(select(ScanRun).where(ScanRun.trigger == "cli")).first() is not None
