"""The scan's counts, on SQLite and PostgreSQL, against their definition computed here in
Python from the rows (DOMAIN.md, "Signal detection"): observed reports per lot, vaccine
and site x event group inside the risk window, and doses per lot x site from the summary
``dose_count`` (migration 0030) — after filings, doses added, a follow-up that changes a
report's symptoms and seriousness, a dose deleted and a dose moved to another site."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import select

from aefi import clock
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.models import Report, ReportDose
from aefi.intake.schemas import FollowUpIn
from aefi.registry.models import Dose, Lot, Vaccine
from aefi.signals import counts
from aefi.signals.models import ExpectedRate, Signal, SignalMethod
from aefi.signals.rates import service as rates
from aefi.signals.rates.service import current_rates
from aefi.signals.scans import service as scans
from tests.factories import a_dose, a_report


def _set_rate(session, admin, code: str, group: str, rate: float, window) -> None:
    rates.list_rates(session, admin)  # the shipped defaults, on first use
    row = session.exec(
        select(ExpectedRate).where(
            ExpectedRate.vaccine_code == code, ExpectedRate.event_group == group
        )
    ).first()
    values = {
        "vaccine_code": code,
        "event_group": group,
        "rate_per_dose": str(rate),
        "window_start_days": str(window[0]),
        "window_end_days": str(window[1]),
        "source": "test",
    }
    rates.save_rate(session, admin, row.id if row else None, values)


def _definition(session) -> tuple[dict, Counter]:
    """Observed (scope, target, group) -> distinct reports, and doses per (lot, site)."""
    session.expire_all()  # the rows as stored, not as this session last saw them
    rows = {(r.vaccine_code, r.event_group): r for r in session.exec(select(ExpectedRate))}
    code = {v.id: v.code for v in session.exec(select(Vaccine))}
    doses = {d.id: d for d in session.exec(select(Dose))}
    seen: dict[tuple[str, int, str], set[int]] = {}
    for rd, rep in session.exec(
        select(ReportDose, Report).join(Report, Report.id == ReportDose.report_id)
    ):
        if rep.source == "vaers":
            continue
        groups = list(rep.event_groups or []) + ["all_aefi"] + (["serious_aefi"] * rep.serious)
        dose = doses.get(rd.dose_id) if rd.dose_id else None
        site = dose.site_id if dose is not None else rep.site_id
        dt = (rep.onset_at - rd.administered_at).total_seconds() / 86400.0
        for g in groups:
            rate = rows.get((code[rd.vaccine_id], g)) or rows.get(("*", g))
            if rate is None or rate.rate_per_dose <= 0:
                continue
            if not rate.window_start_days <= dt <= rate.window_end_days:
                continue
            for scope, target in (("lot", rd.lot_id), ("vaccine", rd.vaccine_id), ("site", site)):
                seen.setdefault((scope, target, g), set()).add(rep.id)
    observed = {k: len(v) for k, v in seen.items()}
    return observed, Counter((d.lot_id, d.site_id) for d in doses.values())


def _check(session) -> None:
    observed, dose_n = _definition(session)
    got = {
        (scope, t, g): n
        for scope, items in counts.observed_counts_all(session).items()
        for t, g, n in items
    }
    assert got == observed
    for scope in ("lot", "vaccine", "site"):
        targets = sorted({t for s, t, _g in observed if s == scope})
        one = {(scope, t, g): n for t, g, n in counts.observed_counts(session, scope, targets)}
        assert one == {k: n for k, n in observed.items() if k[0] == scope}
    dc = counts.full_dose_counts(session)
    summary = Counter()
    for lot, site, n in zip(dc.lot_id.tolist(), dc.site_id.tolist(), dc.n.tolist(), strict=True):
        summary[(lot, site)] += n
    assert +summary == dose_n
    # The cells of a full scan carry the same numbers.
    cells = counts.build_cells(session, current_rates(session), scans.thresholds())
    o, d, _e, _t, _r = cells.arrays()
    per_lot = Counter()
    for (lot, _site), n in dose_n.items():
        per_lot[lot] += n
    lot_cells = 0
    for i in range(len(cells)):
        if cells.scope_name(i) != "lot":
            continue
        lot_cells += 1
        key = ("lot", int(cells.target_id[i]), cells.group_name(i))
        assert int(o[i]) == observed.get(key, 0)
        assert int(d[i]) == per_lot[int(cells.target_id[i])]
    assert lot_cells > 0


def test_scan_counts_equal_their_definition_through_writes(session, county):
    admin = county.actor(session, "admin")
    reporter = county.actor(session, "reporter")
    _set_rate(session, admin, "*", "fever", 1e-2, (0, 3))
    _set_rate(session, admin, "*", "all_aefi", 1e-2, (0, 30))
    _set_rate(session, admin, "*", "serious_aefi", 1e-3, (0, 30))
    lots = list(session.exec(select(Lot).order_by(Lot.id)))
    first, second = lots[0], lots[1]
    vaccine = session.get(Vaccine, first.vaccine_id)
    # The lot's own vaccine row wins over '*': its fever window is shorter.
    _set_rate(session, admin, vaccine.code, "fever", 2e-2, (0, 1))
    now = clock.now()
    for k in range(6):
        dose = a_dose(
            session, county, lot=first if k % 2 else second, at=now - timedelta(days=12, hours=k)
        )
        # Onsets 15 minutes, 2 days and 10 days after the dose: in and out of the windows.
        onset = dose.administered_at + [timedelta(minutes=15), timedelta(days=2)][k % 2]
        if k == 5:
            onset = dose.administered_at + timedelta(days=10)
        a_report(session, county, dose=dose, onset_at=onset, confirm_late_onset=True)
    for k in range(5):
        a_dose(session, county, site=k % 2, lot=lots[k % len(lots)])
    _check(session)  # the first full count: the summary built from nothing

    scans.run_scan(session, admin, trigger="test")
    more = [a_dose(session, county, site=1, lot=second) for _ in range(3)]
    _check(session)  # the doses above the watermark are added

    # A follow-up changes the report's symptoms and makes it serious.
    rep = session.exec(select(Report).where(Report.site_id == reporter.site_id)).first()
    intake_follow_up.add_follow_up(
        session, reporter, rep.id, FollowUpIn(symptoms_added=["SEIZ"], hospitalization=True)
    )
    session.commit()
    _check(session)

    # A dose deleted, a dose moved to another site: the summary is recounted.
    session.delete(session.get(Dose, more[0].id))
    session.commit()
    _check(session)
    session.execute(
        text("UPDATE dose SET site_id = :s WHERE id = :i"),
        {"s": county.site_ids[0], "i": more[1].id},
    )
    session.commit()
    _check(session)
    a_dose(session, county, site=0, lot=first)
    _check(session)


def test_a_lot_scan_reads_only_the_signals_of_its_lot(session, county):
    admin = county.actor(session, "admin")
    _set_rate(session, admin, "*", "fever", 1e-2, (0, 3))
    lots = list(session.exec(select(Lot).order_by(Lot.id)))
    a, b = lots[0], lots[1]
    for lot in (a, b):
        a_dose(session, county, lot=lot)
        session.add(
            Signal(
                scope="lot",
                target_id=lot.id,
                lot_id=lot.id,
                vaccine_id=lot.vaccine_id,
                event_group="fever",
                method=SignalMethod.maxsprt,
                level="signal",
                first_detected_at=clock.now(),
                level_changed_at=clock.now(),
            )
        )
    session.commit()
    cells = counts.build_cells(
        session,
        current_rates(session),
        scans.thresholds(),
        lot_ids=[a.id],
        vaccine_ids=[],
        site_ids=[],
    )
    stored = scans._stored_signals(session, cells, full=False)
    assert {key[1] for key in stored} == {a.id}
    every = scans._stored_signals(session, cells, full=True)
    assert {key[1] for key in every} == {a.id, b.id}
