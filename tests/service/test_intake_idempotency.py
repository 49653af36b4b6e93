"""The same Idempotency-Key at the same time (issue 12): both requests get the first
result, never an error; over-long keys are refused, not cut."""

from __future__ import annotations

import contextlib
import threading

import pytest
from sqlmodel import Session, func, select

from aefi.errors import Invalid
from aefi.intake.filing import service as intake_filing
from aefi.intake.models import IdempotencyKey, Report
from tests.factories import a_dose, report_in


def _file_at_once(engine, actor, body, key: str, n: int) -> list[object]:
    """``n`` threads, each with its own session, file ``body`` with ``key`` together."""
    start = threading.Barrier(n, timeout=60)
    out: list[object] = [None] * n

    def one(i: int) -> None:
        with Session(engine, expire_on_commit=False) as s:
            start.wait()
            try:
                out[i] = intake_filing.file_report(s, actor, body, idempotency_key=key).id
            except Exception as exc:  # the test shows which error it was
                out[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _counts(engine, key: str) -> tuple[int, int]:
    with Session(engine) as s:
        keys = s.exec(select(func.count()).where(IdempotencyKey.key == key)).one()
        reports = s.exec(select(func.count()).select_from(Report)).one()
    return keys, reports


def test_twins_that_both_missed_the_lookup_get_the_first_report(
    session, county, engine, monkeypatch
):
    """The race itself: both requests look the key up before either stores it (no
    in-process write lock, a barrier after the lookup), as two processes on PostgreSQL
    would. The second one's key waits for the first, fails, and it answers the first."""
    rep = county.actor(session, "reporter")
    body = report_in(a_dose(session, county))
    session.close()
    monkeypatch.setattr(intake_filing, "serialized_writes", lambda s: contextlib.nullcontext())
    looked_up = threading.Barrier(2, timeout=60)
    real_check = intake_filing.check

    def check_then_wait(*args, **kw):
        result = real_check(*args, **kw)
        looked_up.wait()
        return result

    monkeypatch.setattr(intake_filing, "check", check_then_wait)

    results = _file_at_once(engine, rep, body, "twin-key", 2)

    assert all(isinstance(r, int) for r in results), results
    assert results[0] == results[1]
    assert _counts(engine, "twin-key") == (1, 1)


def test_many_same_key_filings_at_once_store_one_report(session, county, engine):
    rep = county.actor(session, "reporter")
    body = report_in(a_dose(session, county))
    session.close()

    results = _file_at_once(engine, rep, body, "burst-key", 8)

    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert _counts(engine, "burst-key") == (1, 1)


def test_a_key_longer_than_stored_is_refused_and_the_longest_allowed_is_kept_whole(session, county):
    rep = county.actor(session, "reporter")
    dose = a_dose(session, county)
    longest = "k" * intake_filing.IDEMPOTENCY_KEY_MAX
    with pytest.raises(Invalid) as err:
        intake_filing.file_report(session, rep, report_in(dose), idempotency_key=longest + "x")
    assert "201" in str(err.value) and "200" in str(err.value)
    first = intake_filing.file_report(session, rep, report_in(dose), idempotency_key=longest)
    again = intake_filing.file_report(session, rep, report_in(dose), idempotency_key=longest)
    assert again.id == first.id
    stored = session.exec(select(IdempotencyKey.key)).all()
    assert stored == [longest]
