"""Signals and halts on SQLite and PostgreSQL: a planted lot found and held as reports are
filed, scans that update instead of duplicating, halt and lift of a lot, a vaccine and a
site (with the registry's 409), review, clusters, VAERS imports and disproportionality."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from sqlmodel import col, func, select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.events import ClusterFormed
from aefi.intake.listing import service as intake_listing
from aefi.intake.models import Report
from aefi.notifications.models import Notification
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Person, Site, Vaccine
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.signals import flows, stats, vaers
from aefi.signals.halts import banners
from aefi.signals.halts import service as halts
from aefi.signals.models import ExpectedRate, HaltDecision, ScanRun, Signal
from aefi.signals.rates import service as rates
from aefi.signals.review import service as review
from aefi.signals.scans import service as scans
from aefi.triage.models import Cluster
from tests.factories import data_row, file_report, write_year

SHARED_VAERS = Path(__file__).resolve().parents[3] / "shared" / "data" / "vaers"


# --- small factories -----------------------------------------------------------------------


def set_rate(session, admin, vaccine_code: str, group: str, rate: float, window=(0, 1)):
    rates.list_rates(session, admin)  # the shipped defaults, on first use
    row = session.exec(
        select(ExpectedRate).where(
            ExpectedRate.vaccine_code == vaccine_code, ExpectedRate.event_group == group
        )
    ).first()
    values = {
        "vaccine_code": vaccine_code,
        "event_group": group,
        "rate_per_dose": str(rate),
        "window_start_days": str(window[0]),
        "window_end_days": str(window[1]),
        "source": "test",
    }
    return rates.save_rate(session, admin, row.id if row else None, values)


def new_lots(session, county, vaccine_code: str, n_lots: int, doses_each: int, prefix: str):
    """Lots of ``doses_each`` doses each (bulk), given 5-20 days ago over the county's sites;
    one person a dose."""
    vac = session.exec(select(Vaccine).where(Vaccine.code == vaccine_code)).one()
    now = clock.now()
    lots = []
    for i in range(n_lots):
        lot = Lot(lot_number=f"{prefix}{i:03d}", vaccine_id=vac.id, doses_received=doses_each)
        session.add(lot)
        lots.append(lot)
    session.flush()
    people = [
        {
            "county_id": county.county_id,
            "name": f"测试{prefix}{k}",
            "id_number": f"{prefix}{k:08d}",
            "sex": "female",
            "phone": "",
            "address": "",
            "guardian_name": "",
        }
        for k in range(n_lots * doses_each)
    ]
    session.execute(insert(Person), people)
    pids = list(
        session.exec(
            select(Person.id).where(col(Person.id_number).like(f"{prefix}%")).order_by(Person.id)
        )
    )
    rows = []
    for k, pid in enumerate(pids):
        rows.append(
            {
                "person_id": pid,
                "lot_id": lots[k // doses_each].id,
                "site_id": county.site_ids[k % len(county.site_ids)],
                "dose_number": 1,
                "route": "im",
                "body_site": "",
                "administered_at": now - timedelta(days=5 + (k % 15), hours=k % 7),
                "vaccinator": "",
                "created_at": now,
            }
        )
    session.execute(insert(Dose), rows)
    session.commit()
    return lots


def doses_of(session, lot: Lot) -> list[Dose]:
    return list(session.exec(select(Dose).where(Dose.lot_id == lot.id).order_by(Dose.id)))


def only_anaphylaxis(session, admin, rate: float) -> None:
    """The test's rate, the pseudo-groups off (every report would count there too) and the
    other shipped groups off: a lot's family is then one group, scanned at the full alpha
    (with more groups each gets its Bonferroni share, see test_family_share_...)."""
    set_rate(session, admin, "*", "anaphylaxis", rate)
    set_rate(session, admin, "*", "all_aefi", 0.0, (0, 30))
    set_rate(session, admin, "*", "serious_aefi", 0.0, (0, 30))
    for group, window in (("allergic_rash", (0, 3)), ("angioedema", (0, 3))):
        set_rate(session, admin, "*", group, 0.0, window)
    set_rate(session, admin, "*", "thrombocytopenia", 0.0, (0, 42))


def user(session, username: str) -> User:
    return session.exec(select(User).where(User.username == username)).one()


# --- the planted lot, through the database ----------------------------------------------------


def test_planted_lot_is_held_as_reports_arrive_and_clean_lots_are_not(session, county):
    admin = county.actor(session, "admin")
    inv = county.actor(session, "investigator")
    only_anaphylaxis(session, admin, 4e-3)  # E = 2 per lot of 500 doses
    lots = new_lots(session, county, "HEPB", 11, 500, "SYN")
    clean, planted = lots[:10], lots[10]
    # Clean lots: 0-3 reports each, about E = 2. The planted lot: four times that.
    for lot, n in zip(clean, [2, 1, 3, 2, 0, 3, 1, 2, 3, 2], strict=True):
        for dose in doses_of(session, lot)[:n]:
            file_report(session, inv, dose, symptoms=["ANAPH"])
    held_at = None
    planted_doses = doses_of(session, planted)
    for k, dose in enumerate(planted_doses[:9], start=1):
        file_report(session, inv, dose, symptoms=["ANAPH"])
        session.refresh(planted)
        if planted.status == "held" and held_at is None:
            held_at = k
    # It is held at the first report whose LLR reaches the exact CV (M = 2, T = 2 on the grid).
    sig = session.exec(
        select(Signal).where(Signal.scope == "lot", Signal.target_id == planted.id)
    ).one()
    cv = sig.details["cv_halt"]
    first = next(k for k in range(2, 10) if stats.maxsprt_llr(k, 2.0) >= cv)
    assert held_at == first
    assert sig.level == "halt_recommended" and sig.held_lot and sig.status == "new"
    assert sig.observed == 9 and sig.expected == pytest.approx(2.0)
    assert sig.upper_limit >= 2.0 and sig.p_value < 1e-3
    assert f"信号第{sig.id}号" in planted.status_note  # the hold note names the signal, in words
    for lot in clean:
        session.refresh(lot)
        assert lot.status == "active"
    assert (
        session.exec(
            select(func.count())
            .select_from(Signal)
            .where(Signal.scope == "lot", col(Signal.target_id).in_([x.id for x in clean]))
        ).one()
        == 0
    )
    # The bureau was alerted, urgently, with a link to the signal.
    bureau = county.actor(session, "bureau")
    alert = session.exec(
        select(Notification).where(
            Notification.user_id == bureau.user_id, Notification.kind == "halt_recommended"
        )
    ).first()
    assert alert.urgent and alert.link == f"/signals/{sig.id}"
    # A new dose of the held lot is refused by the registry (409).
    with pytest.raises(Conflict) as refused:
        registry_doses.record_dose(session, admin, dose_in(planted, county, session))
    assert "held" in str(refused.value)
    # A full scan updates the rows, never adds a second one for the same test.
    count_before = session.exec(select(func.count()).select_from(Signal)).one()
    result = scans.run_scan(session, admin, trigger="cli")
    assert result.run.full and result.run.cells > 0
    assert session.exec(select(func.count()).select_from(Signal)).one() == count_before
    again = session.get(Signal, sig.id)
    assert again.observed == 9 and again.last_scanned_at >= sig.first_detected_at
    assert result.run.top and result.run.top[0]["lot_number"] == planted.lot_number
    assert session.exec(select(ScanRun).where(ScanRun.trigger == "report")).first() is not None


def dose_in(lot: Lot, county, session) -> DoseCreate:
    site = session.get(Site, county.site_ids[0])
    return DoseCreate(
        person=PersonIn(name="新受种者", id_number="330782201001010011", sex="male"),
        lot_number=lot.lot_number,
        site_code=site.code,
        dose_number=1,
        administered_at=clock.now() - timedelta(minutes=5),
    )


# --- halt and lift -----------------------------------------------------------------------------


def test_halt_and_lift_a_lot(session, county):
    bureau = county.actor(session, "bureau")
    admin = county.actor(session, "admin")
    lot = session.exec(select(Lot).where(col(Lot.id).in_(select(Dose.lot_id)))).first()
    holding = set(session.exec(select(Dose.site_id).where(Dose.lot_id == lot.id)).all())
    halt = halts.issue_halt(
        session,
        bureau,
        scope="lot",
        target=lot.lot_number,
        reason="两例严重过敏反应",
        confirmed=True,
    )
    year = clock.now().year
    assert halt.number == f"叫停〔{year}〕1号" and halt.state == "in force"
    session.refresh(lot)
    assert lot.status == "halted" and halt.number in lot.status_note
    # New doses are refused with the decision named.
    with pytest.raises(Conflict) as refused:
        registry_doses.record_dose(session, admin, dose_in(lot, county, session))
    assert halt.number in str(refused.value)
    # Every site that holds the lot is told; its reporter sees the banner.
    told = session.exec(
        select(Notification.user_id).where(Notification.kind == "halt", Notification.urgent)
    ).all()
    rep = user(session, "reporter")
    rep2 = user(session, "reporter2")
    assert (rep.id in told) == (rep.site_id in holding)
    assert (rep2.id in told) == (rep2.site_id in holding)
    for u in (rep, rep2):
        texts = [b.text for b in banners.banners_for(session, u) if b.level == "danger"]
        assert bool(texts) == (u.site_id in holding)
    assert any(halt.number in b.text for b in banners.banners_for(session, user(session, "bureau")))
    # One halt at a time on the same target.
    with pytest.raises(Conflict):
        halts.issue_halt(
            session, bureau, scope="lot", target=lot.lot_number, reason="again", confirmed=True
        )
    # The notice, in Chinese.
    _h, pdf = halts.halt_notice_pdf(session, bureau, halt.id)
    assert pdf.startswith(b"%PDF")
    # A later decision lifts it.
    lifted = halts.lift_halt(session, bureau, halt.id, "检验合格，恢复使用", confirmed=True)
    assert lifted.lift_number == f"解除叫停〔{year}〕1号" and lifted.state == "lifted"
    session.refresh(lot)
    assert lot.status == "active"
    assert registry_doses.record_dose(session, admin, dose_in(lot, county, session)).id
    with pytest.raises(Conflict):
        halts.lift_halt(session, bureau, halt.id, "again", confirmed=True)
    assert not [b for b in banners.banners_for(session, rep) if b.level == "danger"]
    actions = {
        e.action
        for e in session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_type == "halt_decision", AuditEvent.entity_id == halt.id
            )
        )
    }
    assert actions == {"halt", "lift"}


def test_halt_a_vaccine_and_a_site(session, county):
    bureau = county.actor(session, "bureau")
    admin = county.actor(session, "admin")
    site = session.get(Site, county.site_ids[0])
    lot = session.exec(select(Lot).where(Lot.status == "active")).first()
    vac = session.get(Vaccine, lot.vaccine_id)
    h1 = halts.issue_halt(
        session, bureau, scope="vaccine", target=vac.code, reason="质量问题", confirmed=True
    )
    session.refresh(vac)
    assert vac.halted and h1.number in vac.halt_note
    with pytest.raises(Conflict) as refused:
        registry_doses.record_dose(session, admin, dose_in(lot, county, session))
    assert h1.number in str(refused.value)
    halts.lift_halt(session, bureau, h1.id, "解除", confirmed=True)
    session.refresh(vac)
    assert not vac.halted
    h2 = halts.issue_halt(
        session, bureau, scope="site", target=site.code, reason="冷链故障", confirmed=True
    )
    session.refresh(site)
    assert site.halted and h2.number.endswith("2号")
    with pytest.raises(Conflict):
        registry_doses.record_dose(session, admin, dose_in(lot, county, session))
    rep = user(session, "reporter")
    assert rep.site_id == site.id
    assert any(h2.number in b.text for b in banners.banners_for(session, rep))
    halts.lift_halt(session, bureau, h2.id, "已修复", confirmed=True)
    session.refresh(site)
    assert not site.halted
    assert registry_doses.record_dose(session, admin, dose_in(lot, county, session)).id
    active = halts.list_halts(session, bureau, active=True)
    assert active == [] and len(halts.list_halts(session, bureau)) == 2


def test_who_may_halt_and_what_is_checked(session, county):
    lot = session.exec(select(Lot)).first()
    for username in ("investigator", "admin", "reporter", "iis"):
        with pytest.raises(Forbidden):
            halts.issue_halt(
                session,
                county.actor(session, username),
                scope="lot",
                target=lot.lot_number,
                reason="x",
                confirmed=True,
            )
    bureau = county.actor(session, "bureau")
    with pytest.raises(Invalid) as bad:
        halts.issue_halt(
            session, bureau, scope="lot", target="NO-SUCH-LOT", reason="x", confirmed=True
        )
    assert "target" in bad.value.fields
    with pytest.raises(Invalid) as bad:
        halts.issue_halt(
            session, bureau, scope="lot", target=lot.lot_number, reason=" ", confirmed=True
        )
    assert "reason" in bad.value.fields
    with pytest.raises(Invalid) as bad:
        halts.issue_halt(
            session,
            bureau,
            scope="lot",
            target=lot.lot_number,
            reason="x",
            signal_ids=[999],
            confirmed=True,
        )
    assert "signal_ids" in bad.value.fields
    for field in ("report_ids", "cluster_ids"):
        with pytest.raises(Invalid) as bad:
            halts.issue_halt(
                session,
                bureau,
                scope="lot",
                target=lot.lot_number,
                reason="x",
                **{field: [999_999, 999_998]},
                confirmed=True,
            )
        assert bad.value.fields == {field: "999998, 999999"}
    # Reporters and the IIS read halts; reporters may not read signals.
    assert halts.list_halts(session, county.actor(session, "reporter")) == []
    assert halts.list_halts(session, county.actor(session, "iis")) == []
    with pytest.raises(Forbidden):
        review.list_signals(session, county.actor(session, "reporter"), review.SignalFilter())
    with pytest.raises(Forbidden):
        halts.list_halts(session, county.actor(session, "hospital"))
    with pytest.raises(NotFound):
        halts.get_halt(session, bureau, 12345)


def test_future_halt_comes_into_force_on_time(session, county):
    bureau = county.actor(session, "bureau")
    lot = session.exec(select(Lot).where(Lot.status == "active")).first()
    start = clock.now()
    clock.freeze(start)
    halt = halts.issue_halt(
        session,
        bureau,
        scope="lot",
        target=lot.lot_number,
        reason="明日起暂停",
        effective_at=start + timedelta(hours=2),
        confirmed=True,
    )
    session.refresh(lot)
    assert halt.state == "pending" and lot.status == "active"
    assert halts.apply_due_halts(session) == 0
    clock.advance(timedelta(hours=2, minutes=1))
    assert halts.apply_due_halts(session) == 1
    session.refresh(lot)
    session.refresh(halt)
    assert lot.status == "halted" and halt.state == "in force"


def test_dismiss_releases_the_hold_and_new_reports_reopen(session, county):
    admin = county.actor(session, "admin")
    inv = county.actor(session, "investigator")
    bureau = county.actor(session, "bureau")
    only_anaphylaxis(session, admin, 1e-4)  # E = 0.04 on 400 doses: tiny T
    (lot,) = new_lots(session, county, "DTAP", 1, 400, "DIS")
    ds = doses_of(session, lot)
    file_report(session, inv, ds[0], symptoms=["ANAPH"])
    sig = session.exec(
        select(Signal).where(Signal.scope == "lot", Signal.target_id == lot.id)
    ).one()
    session.refresh(lot)
    # One report: review level (no CV reaches alpha at this T: any excess), not a hold.
    assert sig.level == "signal" and lot.status == "active"
    file_report(session, inv, ds[1], symptoms=["ANAPH"])
    session.refresh(sig)
    session.refresh(lot)
    assert sig.level == "halt_recommended" and lot.status == "held"
    with pytest.raises(Invalid):
        review.set_signal_status(session, bureau, sig.id, "dismissed", "")
    with pytest.raises(Forbidden):
        review.set_signal_status(session, inv, sig.id, "dismissed", "另有原因", release_hold=True)
    session.rollback()
    review.set_signal_status(
        session, bureau, sig.id, "dismissed", "两例均为同一家庭过敏体质", release_hold=True
    )
    session.refresh(lot)
    assert lot.status == "active"
    # A third report after the dismissal reopens it and holds the lot again.
    file_report(session, inv, ds[2], symptoms=["ANAPH"])
    session.refresh(sig)
    session.refresh(lot)
    assert sig.status == "new" and lot.status == "held" and sig.observed == 3


def test_cluster_asks_for_its_lots(session, county):
    admin = county.actor(session, "admin")
    only_anaphylaxis(session, admin, 1e-4)
    (lot,) = new_lots(session, county, "IPV", 1, 300, "CLU")
    inv = county.actor(session, "investigator")
    ds = doses_of(session, lot)
    for d in ds[:2]:
        file_report(session, inv, d, symptoms=["ANAPH"])
    now = clock.now()
    cluster = Cluster(
        county_id=county.county_id,
        kind="lot_serious",
        event_group="anaphylaxis",
        first_onset_at=now,
        last_onset_at=now,
    )
    session.add(cluster)
    session.flush()
    event = ClusterFormed(
        cluster_id=cluster.id,
        county_id=county.county_id,
        site_id=None,
        report_ids=tuple(session.exec(select(Report.id))),
        lot_ids=(lot.id,),
        created=True,
    )
    before = session.exec(select(func.count()).select_from(ScanRun)).one()
    flows.on_cluster_formed(session, Actor.system(county.county_id, reason="triage"), event)
    session.commit()
    assert session.exec(select(func.count()).select_from(ScanRun)).one() == before + 1
    session.refresh(cluster)
    assert cluster.evaluated_at is not None


def test_rates_are_edited_by_the_admin_only_and_audited(session, county):
    admin = county.actor(session, "admin")
    rows = rates.list_rates(session, admin)
    assert len(rows) >= 10
    with pytest.raises(Invalid) as bad:
        rates.save_rate(
            session,
            admin,
            None,
            {
                "vaccine_code": "NOPE",
                "event_group": "nonsense",
                "rate_per_dose": "abc",
                "window_start_days": "3",
                "window_end_days": "1",
                "source": "",
            },
        )
    assert set(bad.value.fields) >= {
        "vaccine_code",
        "event_group",
        "rate_per_dose",
        "window_end_days",
        "source",
    }
    session.rollback()
    with pytest.raises(Forbidden):
        rates.save_rate(session, county.actor(session, "bureau"), None, {})
    row = set_rate(session, admin, "MMR", "fever", 2.5e-4, (5, 12))
    assert row.updated_by == admin.name
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == "expected_rate", AuditEvent.entity_id == row.id
        )
    ).all()
    assert [e.action for e in events] == ["create"]


# --- VAERS: import and disproportionality ------------------------------------------------------


def test_vaers_import_and_disproportionality(session, county, tmp_path):
    data, vax, sym = [], [], []
    for k in range(1, 61):
        vid = f"{k:06d}"
        data.append(data_row(vid, f"0{1 + k % 3}/1{k % 9}/1996", died="Y" if k == 7 else ""))
        vtype = "MMR" if k <= 12 else ["DTP", "OPV", "HEP"][k % 3]
        vax.append(f"{vid},{vtype},M,{'L1' if k % 2 else ''},1,SC,LA,{vtype} (BRAND)\n")
        term = "Febrile convulsion" if k <= 10 else "Pyrexia"
        sym.append(f"{vid},{term},8.1,Gaze palsy,8.1,,,,,,\n")
    write_year(tmp_path, 1996, data, vax, sym)
    out = vaers.import_dir(session, tmp_path)
    assert out.complete and out.reports_created == 60 and out.doses_created == 60
    assert out.vaccines_created == 4
    rep = session.exec(select(Report).where(Report.external_id == "000001")).one()
    assert rep.source == "vaers" and rep.status == "closed" and rep.event_groups == ["seizure"]
    assert "unmapped: Gaze palsy" in rep.description and rep.symptoms == ["FEBSEIZ"]
    died = session.exec(select(Report).where(Report.external_id == "000007")).one()
    assert died.death and died.serious and "death" in died.event_groups
    # Imported reports are nobody's in the demo county.
    inv = county.actor(session, "investigator")
    listed, _ = intake_listing.list_reports(session, inv, intake_listing.ReportFilter())
    assert all(r.source != "vaers" for r in listed)
    again = vaers.import_dir(session, tmp_path)
    assert again.reports_created == 0 and again.reports_existing == 60 and again.complete
    # The full scan runs disproportionality over them (no doses: no MaxSPRT).
    scans.run_scan(session, county.actor(session, "bureau"), trigger="cli")
    dp = session.exec(select(Signal).where(Signal.method == "disproportionality")).all()
    mmr = session.exec(select(Vaccine).where(Vaccine.code == "US-MMR")).one()
    seizure = next(s for s in dp if s.vaccine_id == mmr.id and s.event_group == "seizure")
    assert seizure.observed == 10 and seizure.details["evans"] and seizure.statistic >= 2
    assert seizure.details["a"] + seizure.details["b"] == 12
    assert seizure.details["ebgm"] is None or seizure.details["ebgm"] > 0
    # Every level of the hierarchy is in the scan's output, counted by reports.
    run = scans.latest_full_run(session)
    levels = run.disproportionality
    assert set(levels) == {"term", "symptom", "event_group", "body_system"}
    terms = {(c["vaccine_id"], c["item"]): c for c in levels["term"]["top"]}
    conv = terms[(mmr.id, "Febrile convulsion")]
    assert (conv["a"], conv["a"] + conv["b"], conv["a"] + conv["c"]) == (10, 12, 10)
    assert conv["reports"] == 60 and conv["evans"] and conv["ic025"] > 0
    # "Gaze palsy" (unmapped) is kept as a term: every report has it, no disproportion.
    gaze = [c for c in levels["term"]["top"] if c["item"] == "Gaze palsy"]
    assert gaze and all(c["a"] + c["c"] == 60 for c in gaze)
    symptom = {(c["vaccine_id"], c["item"]): c for c in levels["symptom"]["top"]}
    assert symptom[(mmr.id, "FEBSEIZ")]["a"] == 10
    # Its chart series comes from the reports, month by month.
    _row, series = review.signal_series(session, inv, seizure.id)
    assert series.observed[-1] == 10 and series.boundary is None


@pytest.mark.skipif(not SHARED_VAERS.exists(), reason="shared VAERS data not present")
def test_vaers_shared_years_load_completely(session):
    out = vaers.import_dir(session, SHARED_VAERS)
    assert out.complete
    assert out.reports_in_db == out.counts.data_rows == 21785
    assert out.doses_in_db == out.counts.vax_rows == 34828
    assert (
        session.exec(select(func.count()).select_from(Report).where(Report.source == "vaers")).one()
        == 21785
    )
    assert session.exec(select(func.count()).select_from(HaltDecision)).one() == 0


# --- fixed surveillance plans -------------------------------------------------------------------


def _plans(session, lot):
    from aefi.signals.models import SurveillancePlan

    return list(
        session.exec(
            select(SurveillancePlan)
            .where(SurveillancePlan.scope == "lot", SurveillancePlan.target_id == lot.id)
            .order_by(SurveillancePlan.id)
        )
    )


def test_plan_fixed_at_start_never_lowered_and_replaced_with_audit(session, county):
    admin = county.actor(session, "admin")
    only_anaphylaxis(session, admin, 1e-3)
    (lot,) = new_lots(session, county, "HEPB", 1, 400, "PLN")
    lot.doses_received = None  # size unknown: the product's plan, else the default
    session.add(lot)
    session.commit()
    scans.run_scan(session, admin, trigger="cli")
    (first,) = _plans(session, lot)
    assert first.active and first.doses_source == "default"
    assert first.planned_doses == 10_000 and first.upper_limit >= 10.0
    assert first.alpha == pytest.approx(0.05) and first.family_size == 1
    assert first.cv_signal == pytest.approx(scans.scan.critical_value(first.upper_limit, 0.05, 1))
    # Later scans read the same plan: T does not move with the doses given.
    scans.run_scan(session, admin, trigger="cli")
    assert [p.id for p in _plans(session, lot)] == [first.id]
    # A smaller recorded size does not lower T.
    lot.doses_received = 500
    session.add(lot)
    session.commit()
    scans.run_scan(session, admin, trigger="cli")
    assert [p.id for p in _plans(session, lot)] == [first.id]
    # The product's planned doses raised past the plan's end: a new plan, audited.
    vac = session.get(Vaccine, lot.vaccine_id)
    lot.doses_received = None
    session.add(lot)
    session.commit()
    rates.set_planned_doses(session, admin, vac.id, "50000")
    scans.run_scan(session, admin, trigger="cli")
    old, new = _plans(session, lot)
    assert not old.active and old.superseded_by_id == new.id and new.active
    assert new.doses_source == "product_planned" and new.upper_limit >= 50.0 > old.upper_limit
    event = session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == "surveillance_plan",
            AuditEvent.entity_id == new.id,
            AuditEvent.action == "replace",
        )
    ).one()
    assert event.changes["replaces"] == old.id
    assert session.exec(
        select(AuditEvent).where(AuditEvent.entity_type == "vaccine", AuditEvent.action == "update")
    ).first().changes["planned_doses"] == [None, 50000]
    with pytest.raises(Invalid):
        rates.set_planned_doses(session, admin, vac.id, "-3")
    with pytest.raises(Forbidden):
        rates.set_planned_doses(session, county.actor(session, "bureau"), vac.id, "5")


def test_family_share_splits_alpha_over_a_lots_groups(session, county):
    """With the shipped groups on (anaphylaxis, allergic rash, angioedema, thrombocytopenia;
    the pseudo-groups off) each group of a lot gets alpha / 4, shown on the signal."""
    admin = county.actor(session, "admin")
    inv = county.actor(session, "investigator")
    set_rate(session, admin, "*", "anaphylaxis", 1e-4)
    set_rate(session, admin, "*", "all_aefi", 0.0, (0, 30))
    set_rate(session, admin, "*", "serious_aefi", 0.0, (0, 30))
    (lot,) = new_lots(session, county, "DTAP", 1, 400, "FAM")
    ds = doses_of(session, lot)
    for d in ds[:3]:
        file_report(session, inv, d, symptoms=["ANAPH"])
    plans_ = _plans(session, lot)
    assert len(plans_) == 4
    assert {p.family_size for p in plans_} == {4}
    assert sum(p.alpha for p in plans_) == pytest.approx(0.05)
    sig = session.exec(
        select(Signal).where(
            Signal.scope == "lot", Signal.target_id == lot.id, Signal.event_group == "anaphylaxis"
        )
    ).one()
    assert sig.details["alpha_group"] == pytest.approx(0.0125)
    assert sig.details["family_size"] == 4 and sig.details["halt_rule"] == "review_cv_and_min_count"
    # The halt needs the review CV: cv_halt is the review CV, with M_halt events.
    assert sig.details["cv_halt"] == sig.details["cv_signal"]


def test_lot_against_its_siblings(session, county):
    from aefi.signals.scans import siblings as sibling_views

    admin = county.actor(session, "admin")
    inv = county.actor(session, "investigator")
    only_anaphylaxis(session, admin, 1e-4)
    session.add(Vaccine(code="SIBV", name="同胞批次测试疫苗"))  # a product of its own
    session.commit()
    lots = new_lots(session, county, "SIBV", 5, 200, "SIB")
    planted, other = lots[0], lots[1]
    for d in doses_of(session, planted)[:6]:
        file_report(session, inv, d, symptoms=["ANAPH"])
    file_report(session, inv, doses_of(session, other)[0], symptoms=["ANAPH"])
    v = sibling_views.lot_views(session, county.actor(session, "bureau"), planted.id)
    assert v.sibling_lots == 4 and v.lot_doses == 200 and v.sibling_doses == 800
    assert v.z_from == "sizes"
    (g,) = v.groups
    assert g.event_group == "anaphylaxis" and g.observed == 6
    assert g.expected == pytest.approx(0.02) and g.rate_level == "halt_recommended"
    b = g.sibling
    assert (b.cases, b.events, b.z) == (6, 7, pytest.approx(10 ** (14 / 24)))
    assert b.z <= 4.0 and b.signal and b.llr >= b.cv > 0
    assert g.cond.historical == 1 and g.cond.tau == pytest.approx(0.25)
    # The sibling lot itself: one report of seven, below its share — no signal.
    w = sibling_views.lot_views(session, county.actor(session, "bureau"), other.id)
    assert not w.groups[0].sibling.signal and not w.groups[0].cond.signal
    with pytest.raises(Forbidden):
        sibling_views.lot_views(session, county.actor(session, "reporter"), planted.id)
    assert sibling_views.for_page(session, county.actor(session, "reporter"), planted.id) is None


def test_tree_scan_on_county_data_finds_the_planted_product(session, county):
    from aefi.signals.scans import tree

    admin = county.actor(session, "admin")
    inv = county.actor(session, "investigator")
    only_anaphylaxis(session, admin, 1e-4)
    (lot,) = new_lots(session, county, "DTAP", 1, 30, "TRE")
    (other,) = new_lots(session, county, "HEPB", 1, 30, "TRO")
    for d in doses_of(session, lot)[:12]:
        file_report(session, inv, d, symptoms=["ANAPH"])  # ANAPH under DTaP
    for d in doses_of(session, other)[:12]:
        file_report(
            session,
            inv,
            d,
            onset_at=d.administered_at + timedelta(hours=5),
            symptoms=["FEVER"],
            outcome="recovered",
        )
    res = tree.run_tree_scan(session, admin, "DTAP", replications=199, seed=1)
    again = tree.run_tree_scan(session, admin, "DTAP", replications=199, seed=1)
    assert res.p_value == again.p_value and res.max_llr == again.max_llr  # seeded
    assert res.p_value <= 0.01
    assert res.best.node in {"symptom:ANAPH", "group:anaphylaxis"}
    assert res.best.observed == 12
    # A bad code or source is a usage error; a reporter may not run it.
    with pytest.raises(Invalid):
        tree.run_tree_scan(session, admin, "NOPE")
    with pytest.raises(Invalid):
        tree.run_tree_scan(session, admin, "DTAP", source="elsewhere")
    with pytest.raises(Forbidden):
        tree.run_tree_scan(session, county.actor(session, "reporter"), "DTAP")
