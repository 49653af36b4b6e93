"""The plans a full scan keeps in memory (migration 0033, ``plan_store._cached``): reused
while the database's plan token stands, reread after any plan write — the scan's own, or
another writer's committed behind its back — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sqlalchemy import text
from sqlmodel import Session, select

from aefi import clock
from aefi.registry.models import Lot
from aefi.signals import counts
from aefi.signals.rates.service import current_rates
from aefi.signals.scans import plan_store
from aefi.signals.scans import service as scans
from tests.factories import a_dose, a_report


def _token(session) -> str:
    plan_store._plans_token(session)  # the row, put back if the test truncated it
    return session.execute(text("SELECT token FROM surveillance_plan_version")).scalar_one()


def _full_cells(session):
    return counts.build_cells(session, current_rates(session), scans.thresholds())


def _counting_reads(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = plan_store._plan_rows

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_store, "_plan_rows", counted)
    return calls


def test_warm_scans_reuse_the_plans_until_a_plan_is_written(session, county, engine, monkeypatch):
    admin = county.actor(session, "admin")
    lot = session.exec(select(Lot).order_by(Lot.id)).first()
    now = clock.now()
    for k in range(3):
        dose = a_dose(session, county, lot=lot, at=now - timedelta(days=2, hours=k))
        a_report(session, county, dose=dose, onset_at=dose.administered_at + timedelta(hours=1))
    plan_store.forget_cached_plans()
    before = _token(session)
    scans.run_scan(session, admin, trigger="test")  # starts the plans: the token moves
    assert _token(session) != before
    reads = _counting_reads(monkeypatch)

    scans.run_scan(session, admin, trigger="test")  # reads the plans, keeps them
    scans.run_scan(session, admin, trigger="test")
    scans.run_scan(session, admin, trigger="test")
    assert len(reads) == 1

    # Another process changes a plan and commits: the next scan sees the new value.
    cells = _full_cells(session)
    kept = plan_store._active(session, cells, True)
    i = int(np.nonzero(kept.has)[0][0])
    with Session(engine) as other:
        other.execute(
            text("UPDATE surveillance_plan SET cv_signal = 99.5 WHERE id = :i"),
            {"i": int(kept.id[i])},
        )
        other.commit()
    session.commit()  # a new transaction sees the other's commit
    fresh = plan_store._active(session, cells, True)
    assert fresh.cv_signal[i] == 99.5
    assert len(reads) == 2

    # A plan write rolled back leaves the token, and the kept plans, as they were.
    token = _token(session)
    session.execute(text("UPDATE surveillance_plan SET cv_signal = 1.0 WHERE id = :i"), {"i": 1})
    assert _token(session) != token
    session.rollback()
    assert _token(session) == token
    assert plan_store._active(session, cells, True).cv_signal[i] == 99.5
    assert len(reads) == 2


def test_every_kind_of_plan_write_moves_the_token(session, county):
    admin = county.actor(session, "admin")
    a_dose(session, county)
    scans.run_scan(session, admin, trigger="test")
    tokens = [_token(session)]
    for sql in (
        "UPDATE surveillance_plan SET reason = 'x'",
        "DELETE FROM surveillance_plan WHERE superseded_by_id IS NULL AND id = "
        "(SELECT MAX(id) FROM surveillance_plan)",
    ):
        session.execute(text(sql))
        session.commit()
        tokens.append(_token(session))
    scans.run_scan(session, admin, trigger="test")  # starts the deleted plan again
    tokens.append(_token(session))
    assert len(set(tokens)) == len(tokens)
