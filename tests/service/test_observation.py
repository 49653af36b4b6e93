"""The observation board on SQLite and PostgreSQL: doses enter, countdowns end, rows are
closed only by hand, the day's counts, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.errors import Conflict, Forbidden, NotFound
from aefi.observation import service
from aefi.observation.models import ObservationEntry
from aefi.registry.models import Site
from tests.factories import DAY0, active_lot, file_report, give


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
    assert row.name == "王*明"
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
    service.left_early(session, rep, by_dose[doses[0].id].id, "家长带走")
    report = file_report(session, rep, doses[1], onset_at=clock.now() - timedelta(minutes=2))
    clock.advance(timedelta(minutes=25))
    service.release(session, rep, by_dose[doses[1].id].id)
    service.release(session, rep, by_dose[doses[2].id].id)
    with pytest.raises(Conflict):
        service.release(session, rep, by_dose[doses[0].id].id)
    b = service.board(session, rep)
    assert [r.entry.dose_id for r in b.rows] == [doses[3].id]
    assert b.counts == service.DayCounts(observed=4, released=2, left_early=1, reactions=1)
    left = session.get(ObservationEntry, by_dose[doses[0].id].id)
    assert left.note == "家长带走" and left.closed_by_name == rep.name
    reacted = session.get(ObservationEntry, by_dose[doses[1].id].id)
    assert reacted.report_id == report.id
    assert {r.entry.dose_id: r.state.state for r in b.closed_today} == {
        doses[0].id: "left_early",
        doses[1].id: "released",
        doses[2].id: "released",
    }
    # release everyone who is ready
    assert service.release_ready(session, rep) == 1
    assert service.board(session, rep).rows == []


def test_hand_check_in_and_scope(session, county, site_setup):
    rep, site, lot = site_setup
    old = give(session, rep, site, lot, 1, at=DAY0 - timedelta(hours=6))
    assert service.board(session, rep).rows == []  # older than the board looks back
    found = service.check_in_candidates(session, rep, "王小明")
    assert [(r.dose.id, seen) for r, seen, _name in found] == [(old.id, False)]
    entry = service.check_in(session, rep, old.id)
    assert entry.source == "hand" and entry.due_at == DAY0 + timedelta(minutes=30)
    with pytest.raises(Conflict):
        service.check_in(session, rep, old.id)
    # Another site's physician neither sees nor closes it; the bureau watches, does not act.
    rep2 = county.actor(session, "reporter2")
    assert service.board(session, rep2).rows == []
    with pytest.raises(NotFound):
        service.release(session, rep2, entry.id)
    with pytest.raises(NotFound):
        service.check_in(session, rep2, old.id)
    bureau = county.actor(session, "bureau")
    b = service.board(session, bureau, site.id)
    assert len(b.rows) == 1 and not b.can_act
    with pytest.raises(Forbidden):
        service.release(session, bureau, entry.id)
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
