"""The four lists county staff work with (reports, cases, referrals, signals): every sort
column in both directions with the id breaking ties, the export of the filtered list
(bounded, audited), and a second county's records never in them. SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from aefi import audit, clock, exporting, listing
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.intake.listing import service as reports_list
from aefi.intake.models import Report
from aefi.investigation.models import CaseFile
from aefi.investigation.overview import service as cases_list
from aefi.referral.inbox import service as referrals_list
from aefi.registry.models import Lot, Region, RegionLevel, Site
from aefi.signals.models import Signal, SignalLevel, SignalMethod, SignalScope
from aefi.signals.review import service as signals_list
from tests.factories import (
    REFERRAL_T0,
    County,
    a_case,
    a_dose,
    a_person,
    a_report,
    file_anaphylaxis,
    file_report,
)


@dataclass
class Listed:
    county: County
    reports: list[Report]  # 甲, 乙, 丙 (fever) then 丁 (anaphylaxis, referred)
    cases: list[CaseFile]
    signals: list[Signal]


def _signal(session: Session, lot: Lot, group: str, observed: int, strength: float) -> Signal:
    sig = Signal(
        scope=SignalScope.lot,
        target_id=lot.id,
        lot_id=lot.id,
        vaccine_id=lot.vaccine_id,
        event_group=group,
        method=SignalMethod.maxsprt,
        level=SignalLevel.signal,
        observed=observed,
        expected=0.5,
        statistic=strength * 3,
        threshold=3.0,
        strength=strength,
        p_value=0.01 / observed,
    )
    session.add(sig)
    session.commit()
    return sig


@pytest.fixture
def listed(session, county) -> Listed:
    return build_listed(session, county)


def build_listed(session: Session, county: County) -> Listed:
    """Three fever reports (甲, 乙, 丙, filed in the order 乙 甲 丙, onsets the other way
    round), an anaphylaxis that triage refers, case files, two signals; the clock stopped
    at REFERRAL_T0."""
    clock.freeze(REFERRAL_T0)
    lots = [session.get(Lot, i) for i in county.lot_ids["FLU"]]
    reports = []
    for i, name in enumerate(["乙", "甲", "丙"]):
        person = a_person(session, county.county_id, name=f"{name}某")
        dose = a_dose(
            session,
            county,
            person=person,
            lot=lots[i % 2],
            at=REFERRAL_T0 - timedelta(days=10 - i),
        )
        # Onsets in the reverse order of filing, so "onset" and "reported" sort apart.
        reports.append(
            a_report(
                session,
                county,
                dose=dose,
                onset_at=dose.administered_at + timedelta(hours=9 - i * 4),
            )
        )
        clock.advance(timedelta(minutes=5))
    reports.append(file_anaphylaxis(session, county))
    cases = [a_case(session, r) for r in reports[:3]]
    signals = [
        _signal(session, lots[0], "fever", 3, 2.0),
        _signal(session, lots[1], "anaphylaxis", 5, 1.0),
    ]
    return Listed(county, reports, cases, signals)


def _investigator(session, listed: Listed) -> Actor:
    return listed.county.actor(session, "investigator")


def _reports(session, actor, sort: str) -> list[Report]:
    flt = reports_list.ReportFilter(sort=sort)
    return reports_list.list_reports(session, actor, flt, per_page=50)[0]


# --- sorting -------------------------------------------------------------------------------


def test_reports_sort_by_each_column_both_ways(session, listed):
    actor = _investigator(session, listed)
    r = listed.reports
    assert [x.patient_name for x in _reports(session, actor, "patient")][:3] == sorted(
        x.patient_name for x in r
    )[:3]
    assert [x.id for x in _reports(session, actor, "-onset")][:3] == [
        x.id for x in sorted(r, key=lambda x: x.onset_at, reverse=True)
    ][:3]
    assert [x.id for x in _reports(session, actor, "reported")] == [x.id for x in r]
    assert [x.id for x in _reports(session, actor, "-reported")] == [x.id for x in r][::-1]
    assert _reports(session, actor, "-serious")[0].id == r[3].id  # the anaphylaxis
    # Equal values (three not serious) keep the id order, in the sort's direction.
    assert [x.id for x in _reports(session, actor, "serious")][:3] == [x.id for x in r[:3]]
    for key in reports_list.SORTS:
        for sort in (key, f"-{key}"):
            assert sorted(x.id for x in _reports(session, actor, sort)) == sorted(
                x.id for x in r
            ), sort


def test_reports_sort_by_lot_and_site(session, listed):
    actor = _investigator(session, listed)
    r = listed.reports
    # Reports 0 and 2 are on FLU2026001, report 1 on FLU2026002, the anaphylaxis on the
    # county's first lot (HEPB2026001); equal lots keep the id order.
    assert [x.id for x in _reports(session, actor, "lot")] == [r[0].id, r[2].id, r[1].id, r[3].id]
    assert [x.id for x in _reports(session, actor, "-lot")] == [r[3].id, r[1].id, r[2].id, r[0].id]
    # One site: the id decides.
    assert [x.id for x in _reports(session, actor, "site")] == [x.id for x in r]
    assert [x.id for x in _reports(session, actor, "-site")] == [x.id for x in r][::-1]


def test_cases_sort_by_each_column(session, listed):
    actor = _investigator(session, listed)

    def ids(sort: str) -> list[int]:
        flt = cases_list.CaseFilter(status="all", sort=sort)
        return [c.id for c in cases_list.list_cases(session, actor, flt)[0]]

    by_number = sorted(listed.cases + _all_cases(session), key=lambda c: c.number)
    assert ids("number") == [c.id for c in _unique(by_number)]
    assert ids("-number") == [c.id for c in _unique(by_number)][::-1]
    for key in cases_list.CASE_SORTS:
        for sort in (key, f"-{key}"):
            assert sorted(ids(sort)) == sorted(c.id for c in _all_cases(session)), sort


def _all_cases(session) -> list[CaseFile]:
    return list(session.exec(select(CaseFile)))


def _unique(cases: list[CaseFile]) -> list[CaseFile]:
    seen, out = set(), []
    for c in cases:
        if c.id not in seen:
            seen.add(c.id)
            out.append(c)
    return out


def test_referrals_sort_by_each_column(session, listed):
    actor = _investigator(session, listed)
    second = file_anaphylaxis(session, listed.county, "reporter2")
    rows, total = referrals_list.list_referrals(session, actor, show="all", sort="-sent")
    assert total == 2
    assert rows[0].report_number == second.number
    rows, _ = referrals_list.list_referrals(session, actor, show="all", sort="sent")
    assert rows[0].report_number == listed.reports[3].number
    for key in referrals_list.REFERRAL_SORTS:
        for sort in (key, f"-{key}"):
            rows, _ = referrals_list.list_referrals(session, actor, show="all", sort=sort)
            assert len(rows) == 2, sort


def test_signals_sort_by_each_column(session, listed):
    actor = _investigator(session, listed)

    first, second = listed.signals
    mine = {first.id, second.id}  # filing the reports ran scans, which found others
    every = {s.id for s in session.exec(select(Signal))}

    def ids(sort: str) -> list[int]:
        flt = signals_list.SignalFilter(sort=sort)
        rows = signals_list.list_signals(session, actor, flt)[0]
        assert {r.signal.id for r in rows} == every, sort
        return [r.signal.id for r in rows if r.signal.id in mine]

    assert ids("") == [first.id, second.id]  # the ranking: stronger first
    assert ids("observed") == [first.id, second.id]
    assert ids("-observed") == [second.id, first.id]
    assert ids("event_group") == [second.id, first.id]  # anaphylaxis before fever
    for key in signals_list.SIGNAL_SORTS:
        for sort in (key, f"-{key}"):
            assert sorted(ids(sort)) == sorted(mine), sort


# --- export --------------------------------------------------------------------------------


def _exports(session) -> list[audit.AuditEvent]:
    return list(
        session.exec(
            select(audit.AuditEvent)
            .where(audit.AuditEvent.action == "export")
            .order_by(audit.AuditEvent.id)
        )
    )


def test_an_export_collects_every_page_and_is_audited(session, listed, monkeypatch):
    actor = _investigator(session, listed)
    monkeypatch.setattr(exporting, "_CHUNK", 2)  # four reports: two pages
    flt = reports_list.ReportFilter(sort="patient")
    rows = exporting.collect(
        session,
        actor,
        lambda n, size: reports_list.list_reports(session, actor, flt, page=n, per_page=size),
        what="reports",
        filter_text=exporting.describe(flt),
        fmt="csv",
    )
    assert sorted(r.id for r in rows) == sorted(r.id for r in listed.reports)
    event = _exports(session)[-1]
    assert event.entity_type == "reports_list"
    assert event.actor_id == actor.user_id and event.actor_role == "investigator"
    assert event.changes == {"filter": "sort=patient", "rows": 4, "format": "csv"}


def test_an_export_over_the_bound_is_refused_with_what_to_do(session, listed, monkeypatch):
    actor = _investigator(session, listed)
    monkeypatch.setattr(exporting, "MAX_ROWS", 3)
    with pytest.raises(exporting.TooManyRows) as refused:
        exporting.collect(
            session,
            actor,
            lambda n, size: reports_list.list_reports(
                session, actor, reports_list.ReportFilter(), page=n, per_page=size
            ),
            what="reports",
            filter_text="",
            fmt="xlsx",
        )
    assert "Narrow the filter" in refused.value.message
    assert _exports(session) == []


# --- a second county -----------------------------------------------------------------------


def other_county(session: Session, county: County) -> tuple[Report, Actor]:
    """County 330783 beside the test's county, with a site, a reporter and one report
    (on a lot both counties use)."""
    region = Region(code="330783", name="邻县", name_en="Next County", level=RegionLevel.county)
    session.add(region)
    session.flush()
    town = Region(code="330783001", name="邻镇", level=RegionLevel.township, parent_id=region.id)
    session.add(town)
    session.flush()
    site = Site(code="B01", name="邻县接种点", township_id=town.id, county_id=region.id)
    session.add(site)
    session.flush()
    user = User(
        username="reporter-b",
        full_name="邻县医生",
        role=Role.reporter.value,
        county_id=region.id,
        site_id=site.id,
        password_hash="x",
    )
    session.add(user)
    session.commit()
    actor = Actor.of(user)
    there = County(region.id, [site.id], [])
    person = a_person(session, region.id, name="邻县孩子")
    dose = a_dose(session, there, person=person, lot=session.get(Lot, county.lot_ids["FLU"][0]))
    report = file_report(session, actor, dose, symptoms=["FEVER"], confirm_new_event=True)
    a_case(session, report)
    return report, actor


@pytest.mark.parametrize("username", ["investigator", "bureau", "reporter"])
def test_lists_and_exports_hold_only_the_own_county(session, listed, username):
    theirs, _ = other_county(session, listed.county)
    actor = listed.county.actor(session, username)
    rows = exporting.collect(
        session,
        actor,
        lambda n, size: reports_list.list_reports(
            session, actor, reports_list.ReportFilter(), page=n, per_page=size
        ),
        what="reports",
        filter_text="",
        fmt="csv",
    )
    assert rows and theirs.id not in {r.id for r in rows}
    assert all(r.county_id == listed.county.county_id for r in rows)
    if username != "reporter":
        cases, _ = cases_list.list_cases(session, actor, cases_list.CaseFilter(status="all"))
        assert all(c.county_id == listed.county.county_id for c in cases)
        assert theirs.id not in {i for c in cases for i in c.report_ids}


def test_a_sort_name_not_listed_never_reaches_the_database(session, listed):
    with pytest.raises(KeyError):
        listing.order_by("patient_id_number", reports_list.SORTS, Report.id)
