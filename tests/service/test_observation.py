"""The observation board on SQLite and PostgreSQL: doses enter, countdowns end, rows are
closed only by hand, the day's counts, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.observation import service
from aefi.observation.actions import service as observation_actions
from aefi.observation.models import ObservationEntry
from aefi.referral.steps import service as referral_steps
from aefi.registry.models import Hospital, Site
from tests.factories import (
    ANAPHYLAXIS,
    DAY0,
    active_lot,
    file_report,
    give,
    referral_of,
)


@pytest.fixture
def site_setup(session, county):
    clock.freeze(DAY0)
    rep = county.actor(session, "reporter")
    site = session.get(Site, rep.site_id)
    return rep, site, active_lot(session)


def test_dose_enters_counts_down_and_is_ready(session, county, site_setup):
    rep, site, lot = site_setup
    assert service.board(session, rep).rows == []
    dose = give(session, rep, site, lot, 1)
    b = service.board(session, rep)
    assert [r.entry.dose_id for r in b.rows] == [dose.id]
    row = b.rows[0]
    assert row.state.state == "observing" and row.state.countdown == "30:00"
    # The site's physician sees the full name, age and sex (the view is audited).
    assert row.name == "王小明" and row.sex == "male"
    assert row.age_years == clock.local_today().year - 2020  # born 2020-01-01 (ID number)
    assert not row.has_report and row.state.releasable
    assert row.report_link == f"/reports/new?dose_id={dose.id}"
    clock.advance(timedelta(minutes=29, seconds=30))
    assert service.board(session, rep).rows[0].state.countdown == "00:30"
    clock.advance(timedelta(seconds=30))
    b = service.board(session, rep)
    assert b.rows[0].state.state == "ready" and b.ready == 1
    # Ready is not gone: the row stays until somebody closes it.
    clock.advance(timedelta(hours=5))
    assert len(service.board(session, rep).rows) == 1


def test_observation_minutes_follow_the_vaccine(session, county, site_setup):
    rep, site, lot = site_setup
    from aefi.registry.models import Vaccine

    vaccine = session.get(Vaccine, lot.vaccine_id)
    vaccine.observation_minutes = 45
    session.add(vaccine)
    session.commit()
    give(session, rep, site, lot, 1)
    entry = service.board(session, rep).rows[0].entry
    assert entry.minutes == 45 and entry.due_at == DAY0 + timedelta(minutes=45)


def test_release_left_early_reaction_and_day_counts(session, county, site_setup):
    rep, site, lot = site_setup
    doses = [give(session, rep, site, lot, i, name=f"受种者{i}") for i in range(1, 5)]
    board = service.board(session, rep)
    by_dose = {r.entry.dose_id: r.entry for r in board.rows}
    clock.advance(timedelta(minutes=10))
    observation_actions.left_early(session, rep, by_dose[doses[0].id].id, "家长带走")
    report = file_report(session, rep, doses[1], onset_at=clock.now() - timedelta(minutes=2))
    clock.advance(timedelta(minutes=25))
    # The child with a report is closed by the physician's decision, not released as ready.
    observation_actions.close_by_decision(session, rep, by_dose[doses[1].id].id, "观察后好转")
    observation_actions.release(session, rep, by_dose[doses[2].id].id)
    with pytest.raises(Conflict):
        observation_actions.release(session, rep, by_dose[doses[0].id].id)
    b = service.board(session, rep)
    assert [r.entry.dose_id for r in b.rows] == [doses[3].id]
    assert b.counts == service.DayCounts(observed=4, released=2, left_early=1, reactions=1)
    left = session.get(ObservationEntry, by_dose[doses[0].id].id)
    assert left.note == "家长带走" and left.closed_by_name == rep.name
    session.expire_all()  # the reaction was marked by the filing's job, in its own session
    reacted = session.get(ObservationEntry, by_dose[doses[1].id].id)
    assert reacted.report_id == report.id
    assert {r.entry.dose_id: r.state.state for r in b.closed_today} == {
        doses[0].id: "left_early",
        doses[1].id: "decided",
        doses[2].id: "released",
    }
    # release everyone who is ready
    assert observation_actions.release_ready(session, rep) == 1
    assert service.board(session, rep).rows == []


def test_hand_check_in_and_scope(session, county, site_setup):
    rep, site, lot = site_setup
    old = give(session, rep, site, lot, 1, at=DAY0 - timedelta(hours=6))
    assert service.board(session, rep).rows == []  # older than the board looks back
    found = observation_actions.check_in_candidates(session, rep, "王小明")
    assert [(r.dose.id, seen) for r, seen, _name in found] == [(old.id, False)]
    entry = observation_actions.check_in(session, rep, old.id)
    assert entry.source == "hand" and entry.due_at == DAY0 + timedelta(minutes=30)
    with pytest.raises(Conflict):
        observation_actions.check_in(session, rep, old.id)
    # Another site's physician neither sees nor closes it; the bureau watches, does not act.
    rep2 = county.actor(session, "reporter2")
    assert service.board(session, rep2).rows == []
    with pytest.raises(NotFound):
        observation_actions.release(session, rep2, entry.id)
    with pytest.raises(NotFound):
        observation_actions.check_in(session, rep2, old.id)
    bureau = county.actor(session, "bureau")
    b = service.board(session, bureau, site.id)
    assert len(b.rows) == 1 and not b.can_act
    with pytest.raises(Forbidden):
        observation_actions.release(session, bureau, entry.id)
    lines = {line.site.id: line for line in service.overview(session, bureau)}
    assert lines[site.id].open == 1 and lines[site.id].counts.observed == 1
    with pytest.raises(Forbidden):
        service.board(session, county.actor(session, "hospital"), site.id)


def test_sync_is_idempotent(session, county, site_setup):
    rep, site, lot = site_setup
    give(session, rep, site, lot, 1)
    assert service.sync_sites(session) == 1
    session.commit()
    assert service.sync_sites(session) == 0
    assert len(session.exec(select(ObservationEntry)).all()) == 1


def _rows_by_dose(board) -> dict:
    return {r.entry.dose_id: r for r in board.rows}


def test_a_reported_child_is_not_ready_and_is_closed_by_a_decision(session, county, site_setup):
    rep, site, lot = site_setup
    reacted = give(session, rep, site, lot, 1, name="张小红")
    calm = give(session, rep, site, lot, 2, name="李明明")
    service.board(session, rep)
    clock.advance(timedelta(minutes=12))
    report = file_report(session, rep, reacted, onset_at=DAY0 + timedelta(minutes=10))
    clock.advance(timedelta(minutes=19))
    b = service.board(session, rep)
    rows = _rows_by_dose(b)
    assert rows[reacted.id].state.state == "reported"
    assert rows[reacted.id].report_number == report.number
    assert not rows[reacted.id].state.releasable
    assert rows[calm.id].state.state == "ready"
    assert b.ready == 1  # the button's count leaves the reported child out
    assert b.rows[0].entry.dose_id == reacted.id  # the child who needs the physician first
    entry_id = rows[reacted.id].entry.id
    with pytest.raises(Conflict):
        observation_actions.release(session, rep, entry_id)
    # "Release all ready" releases the calm one and leaves the reported child on the board.
    assert observation_actions.release_ready(session, rep) == 1
    b = service.board(session, rep)
    assert [(r.entry.dose_id, r.state.state) for r in b.rows] == [(reacted.id, "reported")]
    # Closing it needs a reason; a row without a report is released instead.
    with pytest.raises(Invalid):
        observation_actions.close_by_decision(session, rep, entry_id, "  ")
    with pytest.raises(Conflict):
        observation_actions.close_by_decision(session, rep, _calm_entry(session, calm.id), "好了")
    observation_actions.close_by_decision(session, rep, entry_id, "现场处置后恢复，家长带回")
    b = service.board(session, rep)
    assert b.rows == []
    closed = {r.entry.dose_id: r for r in b.closed_today}
    assert closed[reacted.id].state.state == "decided"
    assert closed[reacted.id].entry.decision_reason == "现场处置后恢复，家长带回"
    assert closed[calm.id].state.state == "released"
    event = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "close_by_decision", AuditEvent.entity_id == entry_id
        )
    ).one()
    assert event.actor_name == rep.name and report.number in event.summary
    assert event.changes["decision_reason"][1] == "现场处置后恢复，家长带回"


def _calm_entry(session, dose_id: int) -> int:
    return (
        session.exec(select(ObservationEntry).where(ObservationEntry.dose_id == dose_id)).one().id
    )


def test_a_report_on_one_dose_marks_the_childs_other_row(session, county, site_setup):
    rep, site, lot = site_setup
    flu = give(session, rep, site, lot, 1)
    other = give(session, rep, site, county.lot(session, "HEPB"), 1)  # same person, 2nd vaccine
    assert flu.person_id == other.person_id
    service.board(session, rep)
    clock.advance(timedelta(minutes=6))
    file_report(session, rep, flu, onset_at=DAY0 + timedelta(minutes=5))
    clock.advance(timedelta(minutes=40))
    b = service.board(session, rep)
    assert {r.state.state for r in b.rows} == {"reported"} and b.ready == 0
    assert observation_actions.release_ready(session, rep) == 0


def test_a_referred_child_shows_the_referral_and_is_closed_by_its_arrival(
    session, county, site_setup
):
    rep, site, lot = site_setup
    dose = give(session, rep, site, lot, 1, name="赵小刚")
    give(session, rep, site, lot, 2)  # a calm child, released with "all ready"
    service.board(session, rep)
    clock.advance(timedelta(minutes=6))
    report = file_report(session, rep, dose, onset_at=DAY0 + timedelta(minutes=5), **ANAPHYLAXIS)
    ref = referral_of(session, report)
    assert ref is not None
    hospital = session.get(Hospital, ref.hospital_id)
    clock.advance(timedelta(minutes=35))
    b = service.board(session, rep)
    row = _rows_by_dose(b)[dose.id]
    assert row.state.state == "referred" and row.report_number == report.number
    assert (row.referral_status, row.hospital_name) == ("sent", hospital.name)
    assert row.hospital_phone == hospital.phone
    assert b.ready == 1
    for act in (observation_actions.release, observation_actions.left_early):
        with pytest.raises(Conflict):
            act(session, rep, row.entry.id)
    assert observation_actions.release_ready(session, rep) == 1  # the calm one only
    assert [r.entry.dose_id for r in service.board(session, rep).rows] == [dose.id]
    # The board follows the referral live.
    hosp = county.actor(session, "hospital")
    referral_steps.acknowledge(session, hosp, ref.id)
    row = _rows_by_dose(service.board(session, rep))[dose.id]
    assert (row.state.state, row.referral_status) == ("referred", "acknowledged")
    clock.advance(timedelta(minutes=12))
    referral_steps.record_arrival(session, hosp, ref.id)
    arrived_at = clock.now()
    clock.advance(timedelta(minutes=1))
    b = service.board(session, rep)
    assert b.rows == []
    closed = {r.entry.dose_id: r for r in b.closed_today}
    assert closed[dose.id].state.state == "handed_over"
    assert closed[dose.id].entry.handed_over_at == arrived_at
    assert closed[dose.id].entry.referral_id == ref.id
    assert b.counts.handed_over == 1 and b.counts.released == 1
    event = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "handed_over", AuditEvent.entity_id == closed[dose.id].entry.id
        )
    ).one()
    assert event.actor_role == "system"
    # Nothing closes it twice.
    with pytest.raises(Conflict):
        observation_actions.close_by_decision(session, rep, closed[dose.id].entry.id, "已转院")


def test_the_background_job_hands_over_without_a_board_open(session, county, site_setup):
    rep, site, lot = site_setup
    dose = give(session, rep, site, lot, 1)
    service.board(session, rep)
    clock.advance(timedelta(minutes=6))
    report = file_report(session, rep, dose, onset_at=DAY0 + timedelta(minutes=5), **ANAPHYLAXIS)
    ref = referral_of(session, report)
    referral_steps.record_arrival(session, county.actor(session, "hospital"), ref.id)
    from aefi.observation import flows

    flows.sync_boards(session)
    session.commit()
    entry = session.exec(select(ObservationEntry).where(ObservationEntry.dose_id == dose.id)).one()
    assert entry.handed_over_at is not None and not entry.is_open


def test_full_names_for_the_sites_physician_only_and_audited_once(session, county, site_setup):
    rep, site, lot = site_setup
    give(session, rep, site, lot, 1)
    give(session, rep, site, lot, 2, name="李明明")

    def seen_events():
        return session.exec(
            select(AuditEvent).where(
                AuditEvent.action == "view_identity",
                AuditEvent.entity_type == "observation_entry",
            )
        ).all()

    rows = service.board(session, rep).rows
    assert {r.name for r in rows} == {"王小明", "李明明"}
    (event,) = seen_events()
    assert event.actor_id == rep.user_id
    assert sorted(event.changes["person_ids"]) == sorted(r.entry.person_id for r in rows)
    service.board(session, rep)  # the board refreshing adds nothing
    assert len(seen_events()) == 1
    third = give(session, rep, site, lot, 3, name="孙小美")
    service.board(session, rep)  # a new vaccinee: one more record, naming only them
    events = seen_events()
    assert len(events) == 2 and events[-1].changes["person_ids"] == [third.person_id]
    for username in ("bureau", "admin", "investigator"):
        b = service.board(session, county.actor(session, username), site.id)
        assert {r.name for r in b.rows} == {"王*明", "李*明", "孙*美"} and not b.full_names
        assert {r.sex for r in b.rows} == {"male"}  # age and sex are no identity
    assert len(seen_events()) == 2


def test_check_in_offers_only_todays_doses(session, county, site_setup):
    rep, site, lot = site_setup
    # DAY0 is 10:00 in the county: 09:00 yesterday and 00:30 today are both hours ago.
    yesterday = give(session, rep, site, lot, 1, at=DAY0 - timedelta(hours=25))
    today = give(session, rep, site, lot, 2, at=DAY0 - timedelta(hours=9, minutes=30))
    found = observation_actions.check_in_candidates(session, rep, "王小明")
    assert [r.dose.id for r, _seen, _name in found] == [today.id]
    with pytest.raises(Conflict):
        observation_actions.check_in(session, rep, yesterday.id)
    assert observation_actions.check_in(session, rep, today.id).source == "hand"


def test_board_draws_the_latest_rows_that_left_today_and_counts_them_all(
    session, county, site_setup
):
    rep, site, lot = site_setup
    yesterday = give(session, rep, site, lot, 99)
    doses = [give(session, rep, site, lot, n) for n in range(1, 14)]
    clock.advance(timedelta(minutes=31))
    by_dose = {r.entry.dose_id: r.entry.id for r in service.board(session, rep).rows}
    observation_actions.release(session, rep, by_dose[yesterday.id])
    left = session.get(ObservationEntry, by_dose[yesterday.id])
    left.released_at = clock.now() - timedelta(days=1)  # it left yesterday
    session.add(left)
    session.commit()
    for d in doses:
        observation_actions.release(session, rep, by_dose[d.id])
    b = service.board(session, rep)
    assert b.rows == [] and b.closed_today_count == 13
    latest = sorted((by_dose[d.id] for d in doses), reverse=True)[: service.CLOSED_SHOWN]
    assert [r.entry.id for r in b.closed_today] == latest
