"""The header's search (every kind, the user's scope only, audited, the jump on one exact
match) and the dashboard's trend figures against hand-counted data. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import select

from aefi import audit, clock
from aefi.errors import Invalid
from aefi.registry.models import Lot, Person
from aefi.reporting.trend import service as trend
from aefi.search import service as search
from tests.factories import (
    REFERRAL_T0,
    a_case,
    a_dose,
    a_person,
    a_report,
    file_anaphylaxis,
    referral_of,
)
from tests.service.test_lists_sort_export import other_county


@pytest.fixture
def found(session, county):
    clock.freeze(REFERRAL_T0)
    person = a_person(session, county.county_id, name="王小明")
    dose = a_dose(session, county, person=person, at=REFERRAL_T0 - timedelta(days=2))
    report = a_report(session, county, dose=dose)
    case = a_case(session, report)
    return person, report, case


def _searches(session) -> list[audit.AuditEvent]:
    return list(
        session.exec(select(audit.AuditEvent).where(audit.AuditEvent.action == "identity_search"))
    )


def test_a_report_number_jumps_to_the_report_and_lists_its_case(session, county, found):
    _person, report, case = found
    result = search.search(session, county.actor(session, "investigator"), report.number)
    assert [h.url for h in result.groups["report"]] == [f"/reports/{report.id}"]
    # The case file of a report carries its number: listed, the report is where it jumps.
    assert [h.url for h in result.groups["case"]] == [f"/cases/{case.id}"]
    assert result.jump == f"/reports/{report.id}"


def test_a_case_number_is_found_by_its_start(session, county, found):
    _person, _report, case = found
    result = search.search(session, county.actor(session, "bureau"), case.number[:8])
    assert f"/cases/{case.id}" in {h.url for h in result.groups["case"]}
    assert result.jump is None


def test_an_id_number_finds_the_person_masked_and_their_report(session, county, found):
    person, report, _case = found
    result = search.search(session, county.actor(session, "investigator"), person.id_number)
    (hit,) = result.groups["person"]
    assert hit.url == f"/trace/persons/{person.id}" and hit.exact
    assert person.id_number not in hit.detail and "*" in hit.detail
    assert hit.title != person.name  # masked
    assert [h.url for h in result.groups["report"]] == [f"/reports/{report.id}"]
    assert result.jump == hit.url  # the person is the one exact match


def test_part_of_a_name_lists_by_kind_without_a_jump(session, county, found):
    person, report, _case = found
    other = a_person(session, county.county_id, name="王小红")
    a_report(session, county, dose=a_dose(session, county, person=other))
    result = search.search(session, county.actor(session, "investigator"), "王小")
    assert result.jump is None
    assert {h.url for h in result.groups["report"]} >= {f"/reports/{report.id}"}
    assert len(result.groups["person"]) == 2
    assert list(result.groups) == [k for k in search.KINDS if k in result.groups]


def test_a_lot_number_jumps_and_a_prefix_lists(session, county, found):
    lot = session.get(Lot, county.lot_ids["FLU"][0])
    actor = county.actor(session, "bureau")
    assert search.search(session, actor, lot.lot_number).jump == f"/lots/{lot.lot_number}"
    listed = search.search(session, actor, "FLU2026")
    assert listed.jump is None and len(listed.groups["lot"]) == 2


def test_every_search_is_audited_with_what_was_typed(session, county, found):
    person, _report, _case = found
    actor = county.actor(session, "investigator")
    search.search(session, actor, f"  {person.id_number} ")
    (event,) = _searches(session)
    assert event.actor_id == actor.user_id
    assert event.changes["q"] == person.id_number
    assert event.changes["found"] == {"report": 1, "person": 1}
    assert event.county_id == county.county_id


def test_empty_and_overlong_searches(session, county, found):
    actor = county.actor(session, "investigator")
    assert search.search(session, actor, "   ").total == 0
    assert _searches(session) == []  # nothing was looked up
    with pytest.raises(Invalid):
        search.search(session, actor, "x" * (search.MAX_QUERY + 1))


@pytest.mark.parametrize("username", ["investigator", "bureau", "reporter", "admin"])
def test_nothing_of_another_county_is_found(session, county, found, username):
    theirs, _ = other_county(session, county)
    person = session.get(Person, theirs.person_id)
    actor = county.actor(session, username)
    for q in (theirs.number, person.id_number, person.name, "邻县"):
        result = search.search(session, actor, q)
        assert "report" not in result.groups and "person" not in result.groups, q
        assert "case" not in result.groups, q


def test_a_reporter_finds_only_the_own_site(session, county, found):
    _person, report, _case = found  # filed at the first site
    other_site = county.actor(session, "reporter2")
    assert "report" not in search.search(session, other_site, report.number).groups
    assert "person" not in search.search(session, other_site, "王小明").groups


def test_a_hospital_finds_its_referrals_not_reports(session, county):
    referred = file_anaphylaxis(session, county)
    ref = referral_of(session, referred)
    hospital = county.actor(session, "hospital")
    result = search.search(session, hospital, referred.number)
    assert list(result.groups) == ["referral"]
    assert result.jump == f"/referrals/{ref.id}"
    # The second hospital receives nothing of it.
    assert search.search(session, county.actor(session, "hospital2"), referred.number).total == 0


# --- the dashboard's trend -------------------------------------------------------------------


def test_the_curve_and_township_rates_are_the_hand_counted_figures(session, county):
    # 2026-11-25 10:00 in Shanghai, a Wednesday: this week began Monday 11-23.
    clock.freeze(REFERRAL_T0)
    flu = session.get(Lot, county.lot_ids["FLU"][0])

    def dose(site: int, days_ago: int):
        return a_dose(
            session, county, site=site, lot=flu, at=REFERRAL_T0 - timedelta(days=days_ago)
        )

    # Site 0 (township 1): 4 doses, 3 of them with a report; site 1 (township 2): 2 doses,
    # 1 with a report. Onsets: this week 2 fever + 1 rash, 3 weeks ago 1 fever.
    a_report(session, county, "reporter", dose=dose(0, 1))  # fever, this week
    a_report(session, county, "reporter", dose=dose(0, 2))  # fever, this week (Mon 11-23)
    a_report(
        session, county, "reporter", dose=dose(0, 1), symptoms=["URTIC"]
    )  # allergic rash, this week
    dose(0, 5)  # no report
    a_report(session, county, "reporter2", dose=dose(1, 21))  # fever, week of 11-02
    dose(1, 3)
    t = trend.dashboard_trend(session, county.actor(session, "bureau"))
    curve = t.curve
    assert t.since == date(2026, 6, 1) and t.until == date(2026, 11, 25)
    assert curve.weeks[-1] == date(2026, 11, 23) and len(curve.weeks) == 26
    assert curve.count("fever", date(2026, 11, 23)) == 2
    assert curve.count("allergic_rash", date(2026, 11, 23)) == 1
    assert curve.count("fever", date(2026, 11, 2)) == 1
    assert curve.total == 4 and curve.groups[0] == "fever"
    lines = {line.key: line for line in t.townships}
    first, second = (f"330782{i:03d}" for i in (1, 2))
    assert (lines[first].reports, lines[first].doses) == (3, 4)
    assert lines[first].rate == pytest.approx(75_000.0)  # 3 per 4 doses, per 100,000
    assert (lines[second].reports, lines[second].doses) == (1, 2)
    assert lines[second].rate == pytest.approx(50_000.0)
    assert [line.key for line in t.townships] == [first, second]  # highest rate first
    assert (t.county.reports, t.county.doses) == (4, 6)


def test_the_trend_is_for_the_county_roles(session, county):
    from aefi.errors import Forbidden

    with pytest.raises(Forbidden):
        trend.dashboard_trend(session, county.actor(session, "reporter"))
