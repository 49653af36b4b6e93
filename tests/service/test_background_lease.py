"""Background jobs run once per interval across processes (issue 12): two "processes"
(two engines of their own, each with its own job state, on threads) tick many times."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from aefi import background, clock, db


def _processes(db_url: str, every_s: int, ran: list[str]):
    """Two independent engines and job objects, as two app processes would have."""
    lock = threading.Lock()

    def make(who: str):
        def run(session: Session) -> None:
            with lock:
                ran.append(who)

        return db.make_engine(db_url), background.Job("test.lease", run, every_s), who

    return [make("A"), make("B")]


def _tick_together(procs, times: int) -> None:
    barrier = threading.Barrier(len(procs))

    def tick(engine, job, who) -> None:
        barrier.wait()
        for _ in range(times):
            background.run_due(engine=engine, jobs=[job], who=who)
            job.next_at = 0.0  # look at the lease on every tick, the worst case

    threads = [threading.Thread(target=tick, args=p) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_two_processes_ticking_within_one_interval_run_the_job_once(db_url, engine):
    clock.freeze(datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    ran: list[str] = []
    procs = _processes(db_url, 60, ran)
    try:
        _tick_together(procs, 40)
        assert len(ran) == 1

        clock.advance(timedelta(seconds=59))
        _tick_together(procs, 20)
        assert len(ran) == 1, "not due yet"

        clock.advance(timedelta(seconds=1))
        _tick_together(procs, 20)
        assert len(ran) == 2, "due again, once"

        with Session(engine) as s:
            lease = s.exec(
                select(background.JobLease).where(background.JobLease.name == "test.lease")
            ).one()
            assert lease.last_run_at == clock.now()
            assert lease.run_by == ran[-1]
    finally:
        for e, _job, _who in procs:
            e.dispose()


def test_over_many_intervals_each_interval_runs_once(db_url, engine):
    clock.freeze(datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    ran: list[str] = []
    procs = _processes(db_url, 30, ran)
    try:
        for _ in range(12):  # 12 ticks of 10 s: 2 minutes, intervals at 0, 30, 60, 90 s
            _tick_together(procs, 3)
            clock.advance(timedelta(seconds=10))
        assert len(ran) == 4
    finally:
        for e, _job, _who in procs:
            e.dispose()


def test_a_process_that_lost_the_claim_waits_for_the_lease_time(db_url, engine):
    """Without looking again on every tick, the loser's next look is due when the
    winner's interval ends, not one interval after its own first look."""
    clock.freeze(datetime(2026, 5, 1, 8, 0, tzinfo=UTC))
    ran: list[str] = []
    (ea, ja, a), (eb, jb, b) = _processes(db_url, 60, ran)
    try:
        assert background.run_due(engine=ea, jobs=[ja], who=a) == ["test.lease"]
        clock.advance(timedelta(seconds=20))
        assert background.run_due(engine=eb, jobs=[jb], who=b) == []
        assert jb.next_at == (clock.now() + timedelta(seconds=40)).timestamp()
        clock.advance(timedelta(seconds=40))
        assert background.run_due(engine=eb, jobs=[jb], who=b) == ["test.lease"]
        assert background.run_due(engine=ea, jobs=[ja], who=a) == []
        assert ran == ["A", "B"]
    finally:
        ea.dispose()
        eb.dispose()
