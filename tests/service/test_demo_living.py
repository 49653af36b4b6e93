"""The living demo (aefi.demo.build_living, aefi.demo.start): a fresh demo at any hour shows
a busy county. Built small (400 doses, a few daily reports) with the clock at 03:00 and at
21:00 in the county."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlmodel import select

from aefi import clock, demo
from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.investigation.models import CaseFile, CaseStatus
from aefi.observation import service as observation
from aefi.referral.models import Referral
from aefi.registry.models import Lot, LotStatus, Site
from aefi.reporting.daily import service as daily
from aefi.signals.models import HaltDecision, Signal, SignalStatus
from aefi.triage.models import Cluster


def at_local(hour: int) -> datetime:
    """Today (in the county) at ``hour``:00 local time, in UTC."""
    zone = clock.local_zone()
    today = datetime.now(UTC).astimezone(zone).date()
    return datetime.combine(today, time(hour), tzinfo=zone).astimezone(UTC)


def build_small(session, hour: int):
    clock.freeze(at_local(hour))
    built, history = demo.build_living(
        session, doses=400, days=90, seed=7, min_reports=6, daily_days=3
    )
    started = demo.start(session, seed=1)
    return built, history, started


def actor(session, username: str) -> Actor:
    return Actor.of(session.exec(select(User).where(User.username == username)).one())


@pytest.mark.parametrize("hour", [3, 21])
def test_a_fresh_demo_is_busy_at_any_hour(session, hour):
    built, history, started = build_small(session, hour)
    assert history.skipped == []

    # Every site's board has vaccinees of the last 30 minutes, some with a reaction noted.
    now = clock.now()
    for site in session.exec(select(Site)):
        physician = session.exec(
            select(User).where(User.site_id == site.id).order_by(User.id)
        ).first()
        board = observation.board(session, Actor.of(physician), site.id)
        assert board.rows, f"no vaccinee on the board of {site.code}"
        assert any(now - r.administered_at <= demo.live.WINDOW for r in board.rows)
    assert started.reactions >= 1
    boards = [observation.board(session, actor(session, u)) for u in ("reporter", "reporter2")]
    assert any(r.has_report for b in boards for r in b.rows), "no reaction noted on a board"

    # Case files in every status.
    statuses = set(session.exec(select(CaseFile.status)))
    assert statuses >= {s.value for s in CaseStatus}

    # A group AEFI, referrals in several states with one on its way now.
    assert session.exec(select(Cluster)).first() is not None
    referral_states = set(session.exec(select(Referral.status)))
    assert {"discharged", "declined", "cancelled", "admitted", "acknowledged"} <= referral_states

    # The lot's signal led to a halt, and the halt was lifted; the lot is usable again.
    halt = session.exec(select(HaltDecision)).one()
    assert halt.applied_at is not None and halt.lifted_at is not None
    assert halt.signal_ids and halt.cluster_ids and len(halt.report_ids) == 2
    assert session.get(Signal, halt.signal_ids[0]).status == SignalStatus.escalated
    assert session.get(Lot, halt.target_id).status == LotStatus.active

    # Today's daily reports are not due yet; past days' are in, some of them late.
    bureau = actor(session, "bureau")
    today = daily.day_status(session, bureau, daily.today())
    assert {s.state for s in today.sites} == {"awaiting"}
    past = [daily.day_status(session, bureau, daily.today() - timedelta(days=k)) for k in (1, 2, 3)]
    states = {s.state for day in past for s in day.sites}
    assert "on_time" in states and "late" in states


def test_every_start_tops_the_boards_up_once(session):
    build_small(session, 10)
    again = demo.start(session, seed=2)
    assert again.doses == 0 and again.reactions == 0
    clock.advance(timedelta(hours=1))
    later = demo.start(session, seed=3)
    assert later.doses > 0  # an hour on, the next vaccinees
