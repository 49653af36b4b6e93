"""Daily report, county status and indicators on SQLite and PostgreSQL, on fixtures whose
answers are counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlmodel import col, func, select

from aefi import clock
from aefi.errors import Forbidden, Invalid, NotFound
from aefi.intake.models import Report, ReportDose
from aefi.investigation.models import CaseFile
from aefi.observation import service as observation
from aefi.observation.actions import service as observation_actions
from aefi.referral.models import Referral
from aefi.registry.models import Dose, Lot, LotStatus, Person, Site, Vaccine
from aefi.reporting.county import service as county_view
from aefi.reporting.daily import service as daily
from tests.factories import a_person, file_report

SH = ZoneInfo("Asia/Shanghai")
# A local day well after the demo county's doses (the 30 days before the real now).
D = (datetime.now(UTC) + timedelta(days=60)).astimezone(SH).date()


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A local (Shanghai) time as aware UTC."""
    return datetime.combine(day, time(hh, mm), SH).astimezone(UTC)


def lot_of(session, code: str) -> Lot:
    v = session.exec(select(Vaccine).where(Vaccine.code == code)).one()
    return session.exec(
        select(Lot).where(Lot.vaccine_id == v.id, Lot.status == LotStatus.active)
    ).first()


# --- daily report --------------------------------------------------------------------------


def _give_n(session, actor, site, lot, start: int, n: int, dose_number: int = 1):
    from aefi.registry.doses import service as registry_doses
    from aefi.registry.schemas import DoseCreate, PersonIn

    return [
        registry_doses.record_dose(
            session,
            actor,
            DoseCreate(
                person=PersonIn(name=f"受种者{i}", id_number=f"3307822021010{i:05d}"),
                lot_number=lot.lot_number,
                site_code=site.code,
                dose_number=dose_number,
                administered_at=clock.now(),
            ),
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def day_fixture(session, county):
    """Site S01 on day D: 3 FLU dose 1 and 2 DTAP dose 2 at 09:00-09:30; one FLU dose the
    day before and one at another site (neither counts); 5 observed, 3 released, 1 left
    early; 2 reports (one serious) filed during observation."""
    rep = county.actor(session, "reporter")
    rep2 = county.actor(session, "reporter2")
    site = session.get(Site, rep.site_id)
    other = session.get(Site, rep2.site_id)
    flu, dtap = lot_of(session, "FLU"), lot_of(session, "DTAP")
    clock.freeze(at(D - timedelta(days=1), 15))
    _give_n(session, rep, site, flu, 900, 1)
    clock.freeze(at(D, 9))
    flu_doses = _give_n(session, rep, site, flu, 1, 3)
    dtap_doses = _give_n(session, rep, site, dtap, 10, 2, dose_number=2)
    _give_n(session, rep2, other, flu, 50, 1)
    entries = {r.entry.dose_id: r.entry for r in observation.board(session, rep).rows}
    assert len(entries) == 5
    clock.freeze(at(D, 9, 10))
    file_report(session, rep, flu_doses[0], onset_at=at(D, 9, 5))
    file_report(
        session,
        rep,
        dtap_doses[0],
        onset_at=at(D, 9, 5),
        symptoms=["ANAPH", "HYPOTEN"],
        serious={"life_threatening": True},
        needs_hospital_care=True,
    )
    clock.freeze(at(D, 9, 40))
    observation_actions.release(session, rep, entries[flu_doses[1].id].id)
    # Children with a report are closed by the physician's decision (counted as released).
    for d in (flu_doses[0], dtap_doses[0]):
        observation_actions.close_by_decision(session, rep, entries[d.id].id, "观察后好转")
    observation_actions.left_early(session, rep, entries[flu_doses[2].id].id)
    return rep, site, flu, dtap


def _independent_counts(session, site_id: int) -> dict:
    """The day's figures counted straight from the tables, without the service."""
    start, end = at(D, 0), at(D + timedelta(days=1), 0)
    in_day = lambda c: (col(c) >= start) & (col(c) < end)  # noqa: E731
    reports = session.exec(
        select(Report).where(Report.site_id == site_id, in_day(Report.reported_at))
    ).all()
    from aefi.observation.models import ObservationEntry as E

    def entries(c):
        return session.exec(
            select(func.count()).select_from(E).where(E.site_id == site_id, in_day(c))
        ).one()

    return {
        "doses": session.exec(
            select(func.count())
            .select_from(Dose)
            .where(Dose.site_id == site_id, in_day(Dose.administered_at))
        ).one(),
        "observed": entries(E.checked_in_at),
        "released": entries(E.released_at),
        "left_early": entries(E.left_early_at),
        "reports": len(reports),
        "serious": sum(1 for r in reports if r.serious),
        "referrals": session.exec(
            select(func.count())
            .select_from(Referral)
            .where(Referral.site_id == site_id, Referral.leg == 1, in_day(Referral.sent_at))
        ).one(),
    }


def test_prefilled_figures_equal_independent_counts(session, county, day_fixture):
    rep, site, flu, dtap = day_fixture
    clock.freeze(at(D, 16))
    form = daily.daily_form(session, rep, D)
    figures = {name: form.computed.value(name) for name in _independent_counts(session, site.id)}
    assert figures == _independent_counts(session, site.id)
    # ...and the counts by hand.
    assert figures["doses"] == 5
    assert {(x.vaccine_code, x.dose_number): x.count for x in form.computed.dose_lines} == {
        ("DTAP", 2): 2,
        ("FLU", 1): 3,
    }
    assert (figures["observed"], figures["released"], figures["left_early"]) == (5, 3, 1)
    assert (figures["reports"], figures["serious"]) == (2, 1)
    assert form.versions == [] and not form.overdue


def test_deadline_late_and_corrections_keep_every_version(session, county, day_fixture):
    rep, site, _flu, _dtap = day_fixture
    bureau = county.actor(session, "bureau")
    rep2 = county.actor(session, "reporter2")
    clock.freeze(at(D, 16, 59))
    status = daily.day_status(session, bureau, D)
    assert {s.state for s in status.sites} == {"awaiting"}
    daily.submit_daily(session, rep2, D, {}, confirmed=True)  # on time, as recorded
    clock.freeze(at(D, 17, 1))
    status = daily.day_status(session, bureau, D)
    states = {s.site.id: s.state for s in status.sites}
    assert states[rep2.site_id] == "on_time" and states[site.id] == "missing"
    assert status.count("missing") == len(status.sites) - 1
    assert daily.daily_form(session, rep, D).overdue

    with pytest.raises(Invalid) as err:
        daily.submit_daily(session, rep, D, {}, confirmed=False)
    assert set(err.value.fields) == {"confirm"}
    v1 = daily.submit_daily(session, rep, D, {}, confirmed=True)
    assert v1.version == 1 and v1.late and v1.corrected == [] and v1.observed == 5
    assert daily.day_status(session, bureau, D).sites[0].state == "late"

    clock.freeze(at(D, 18))
    with pytest.raises(Invalid) as err:  # a correction says why
        daily.submit_daily(session, rep, D, {"observed": "6"}, confirmed=True)
    assert set(err.value.fields) == {"remark"}
    flu_line = f"dose:{lot_of(session, 'FLU').vaccine_id}:1"
    v2 = daily.submit_daily(
        session,
        rep,
        D,
        {"observed": "6", flu_line: "4"},
        remark="一名受种者未登记留观",
        confirmed=True,
    )
    assert v2.version == 2 and v2.corrected == ["doses", "observed"]
    assert (v2.doses, v2.observed) == (6, 6)
    versions = daily.versions_of(session, site.id, D)
    assert [v.version for v in versions] == [2, 1]
    assert (versions[1].observed, versions[1].doses, versions[1].remark) == (5, 5, "")
    assert versions[1].computed["observed"] == 5
    # The county sees the latest version; lateness is the first submission's.
    status = daily.day_status(session, bureau, D)
    row = next(s for s in status.sites if s.site.id == site.id)
    assert row.state == "late" and row.latest.version == 2 and row.versions == 2
    assert status.total.observed == 6 + 0
    summary = daily.summary(session, bureau, D - timedelta(days=1), D)
    s1 = next(r for r in summary.rows if r.site.id == site.id)
    assert (s1.submitted, s1.late, s1.missing) == (1, 1, 1)
    assert s1.figures.doses == 6 and summary.total.figures.doses == 6 + 1


def test_daily_report_scope(session, county, day_fixture):
    rep, site, _flu, _dtap = day_fixture
    rep2 = county.actor(session, "reporter2")
    with pytest.raises(NotFound):
        daily.daily_form(session, rep2, D, site.id)
    with pytest.raises(NotFound):
        daily.submit_daily(session, rep2, D, {}, confirmed=True, site_id=site.id)
    with pytest.raises(Forbidden):
        daily.day_status(session, rep, D)
    with pytest.raises(Forbidden):
        daily.daily_form(session, county.actor(session, "hospital"), D)
    with pytest.raises(Invalid):
        daily.submit_daily(session, rep, D + timedelta(days=1), {}, confirmed=True)


# --- indicators ----------------------------------------------------------------------------

# Reports: (name, vaccine, site index, filed on day D+k at hh, hours from discovery to
# filing, fields emptied). Doses on D: FLU 4,000 at site 0 (township 0), DTAP 2,000 at site 1.
REPORTS = [
    ("R1", "FLU", 0, 1, 9, 10, {}),
    ("R2", "FLU", 0, 1, 10, 49, {}),
    ("R3", "FLU", 0, 1, 11, 48, {"patient_phone": ""}),
    ("R4", "DTAP", 1, 1, 12, 1, {"outcome": "unknown"}),
    ("R5", None, 0, 1, 13, 72, {}),  # no linked dose (hand-written, lot unknown)
    ("R6", "FLU", 0, 2, 9, 5, {}),  # filed after the period: counts in the rate only
]
# Case files: (received D+1 at hh:mm, hours to start or None, days to form or None,
# classified).
CASES = [
    ((1, 0), 10, 2, True),
    ((1, 30), 50, 4, False),
    ((0, 30), None, None, False),  # never started: overdue
    ((23, 0), None, None, False),  # not started, 48 h not over yet: pending
    ((22, 0), 1.5, None, False),  # started on time, form not due yet: pending
]
NOW = (D + timedelta(days=3), 12)  # D+3 12:00 local
EXPECTED = {
    "reports": 5,
    "on_time": (3, 5, 0),  # R1, R3 (exactly 48 h), R4; R2 and R5 late
    "complete": (2, 5),  # R1, R2
    "phone": (4, 5),
    "outcome": (4, 5),
    "doses": (4, 5),
    "started": (2, 4, 1),  # C1, C5 on time; C2 late; C3 overdue; C4 pending
    "forms": (1, 2, 1),  # C1 on time; C2 late; C5 pending
    "classified": (1, 5),
    "FLU": (4, 4000, 100.0),
    "DTAP": (1, 2000, 50.0),
    "county": (5, 6000, 500_000 / 6000),
}


@pytest.fixture
def indicator_fixture(session, county):
    sites = [session.get(Site, county.site_ids[0]), session.get(Site, county.site_ids[1])]
    lots = {"FLU": lot_of(session, "FLU"), "DTAP": lot_of(session, "DTAP")}
    persons = [a_person(session, county.county_id).id for _ in range(20)]
    rows = []
    for code, n, site in (("FLU", 4000, sites[0]), ("DTAP", 2000, sites[1])):
        for i in range(n):
            rows.append(
                {
                    "person_id": persons[i % 20],
                    "lot_id": lots[code].id,
                    "site_id": site.id,
                    "dose_number": 1,
                    "administered_at": at(D, 8) + timedelta(seconds=5 * i),
                    "created_at": at(D, 8),
                }
            )
    session.execute(insert(Dose), rows)
    first_dose = {
        code: session.exec(
            select(Dose).where(
                Dose.lot_id == lot.id, Dose.site_id == s.id, col(Dose.administered_at) >= at(D, 8)
            )
        ).first()
        for (code, lot), s in zip(lots.items(), sites, strict=True)
    }
    for name, code, si, plus, hh, hours, empty in REPORTS:
        filed = at(D + timedelta(days=plus), hh)
        person = session.get(Person, persons[0])
        report = Report(
            number=f"TEST-{name}",
            county_id=county.county_id,
            site_id=sites[si].id,
            person_id=person.id,
            patient_name=person.name,
            patient_sex="male",
            patient_birth_on=date(2020, 1, 1),
            patient_id_number="330782202001010011",
            patient_phone="13800000000",
            onset_at=filed - timedelta(hours=hours + 1),
            symptoms=["FEVER"],
            event_groups=["fever"],
            outcome="recovering",
            reporter_name="刘医生",
            reporter_phone="13900000000",
            discovered_at=filed - timedelta(hours=hours),
            reported_at=filed,
            received_at=filed,
        )
        for k, v in empty.items():
            setattr(report, k, v)
        session.add(report)
        session.flush()
        if code:
            dose = first_dose[code]
            session.add(
                ReportDose(
                    report_id=report.id,
                    dose_id=dose.id,
                    lot_id=dose.lot_id,
                    vaccine_id=lots[code].vaccine_id,
                    administered_at=dose.administered_at,
                )
            )
    for i, ((hh, mm), start_h, form_d, classified) in enumerate(CASES):
        received = at(D + timedelta(days=1), hh, mm)
        started = received + timedelta(hours=start_h) if start_h is not None else None
        session.add(
            CaseFile(
                number=f"CASE-{i}",
                county_id=county.county_id,
                received_at=received,
                start_due_at=received + timedelta(hours=48),
                started_at=started,
                form_completed_at=started + timedelta(days=form_d) if form_d else None,
                china_classification="common" if classified else "",
                classified_at=received + timedelta(days=5) if classified else None,
            )
        )
    session.commit()
    clock.freeze(at(*NOW))
    return sites


def test_indicators_known_answer(session, county, indicator_fixture):
    bureau = county.actor(session, "bureau")
    r = county_view.indicators(session, bureau, D, D + timedelta(days=1))
    assert r.reports == EXPECTED["reports"]
    share = lambda s: (s.done, s.total, s.pending)  # noqa: E731
    assert share(r.reports_on_time) == EXPECTED["on_time"]
    assert (r.completeness.complete.done, r.completeness.complete.total) == EXPECTED["complete"]
    fields = r.completeness.fields
    assert (fields["patient_phone"].done, fields["patient_phone"].total) == EXPECTED["phone"]
    assert (fields["outcome"].done, fields["outcome"].total) == EXPECTED["outcome"]
    assert (fields["doses"].done, fields["doses"].total) == EXPECTED["doses"]
    assert share(r.investigations_started) == EXPECTED["started"]
    assert share(r.forms_completed) == EXPECTED["forms"]
    assert (r.classified.done, r.classified.total) == EXPECTED["classified"]
    lines = {x.key: x for x in r.by_vaccine}
    assert set(lines) == {"FLU", "DTAP"}
    for code in ("FLU", "DTAP"):
        reports, doses, rate = EXPECTED[code]
        assert (lines[code].reports, lines[code].doses) == (reports, doses)
        assert lines[code].rate == pytest.approx(rate)
        # No vaccine-specific all-AEFI rate for these: DOMAIN.md's 32.52 per 100,000.
        assert lines[code].expected_rate == pytest.approx(32.52)
        assert lines[code].expected_reports == pytest.approx(32.52 * doses / 100_000)
    towns = {x.doses: x for x in r.by_township}
    assert (towns[4000].reports, towns[4000].rate) == (4, pytest.approx(100.0))
    assert (towns[2000].reports, towns[2000].rate) == (1, pytest.approx(50.0))
    reports, doses, rate = EXPECTED["county"]
    assert (r.county.reports, r.county.doses) == (reports, doses)
    assert r.county.rate == pytest.approx(rate)
    # A period without the fixture has nothing in it.
    empty = county_view.indicators(session, bureau, D + timedelta(days=20), D + timedelta(days=21))
    assert empty.reports == 0 and empty.by_vaccine == [] and empty.reports_on_time.total == 0


def test_indicators_are_for_county_roles(session, county, indicator_fixture):
    with pytest.raises(Forbidden):
        county_view.indicators(session, county.actor(session, "reporter"), D, D)
    with pytest.raises(Invalid):
        county_view.indicators(session, county.actor(session, "bureau"), D, D - timedelta(days=1))


def test_dashboard_counts_today(session, county, day_fixture):
    clock.freeze(at(D, 17, 30))
    dash = county_view.dashboard(session, county.actor(session, "bureau"))
    tiles = {t.key: t for t in dash.tiles}
    start, end = at(D, 0), at(D + timedelta(days=1), 0)
    doses = session.exec(
        select(func.count())
        .select_from(Dose)
        .where(col(Dose.administered_at) >= start, col(Dose.administered_at) < end)
    ).one()
    assert tiles["doses"].value == doses == 6
    assert tiles["reports"].value == 2 and tiles["serious"].value == 1
    assert tiles["missing_daily"].value == len(county.site_ids) and tiles["missing_daily"].alarm
    assert tiles["reports"].link == f"/reports?since={D}&until={D}"


def test_the_system_actor_reads_the_county_summaries_and_nothing_else(session, county):
    """The command line's printouts read as aefi itself, of one county (no made-up user)."""
    from aefi.auth.permissions import Actor

    system = Actor.system(county.county_id, reason="command line: reporting summaries")
    status = daily.day_status(session, system, D)
    assert {row.site.id for row in status.sites} == set(county.site_ids)
    assert len(daily.summary(session, system, D, D).rows) == len(county.site_ids)
    county_view.indicators(session, system, D - timedelta(days=7), D)
    # Read only: it submits no daily report, and reads nothing else of reporting's.
    with pytest.raises(Forbidden):
        daily.submit_daily(session, system, D, {}, site_id=county.site_ids[0])
    with pytest.raises(Forbidden):
        county_view.dashboard(session, system)
