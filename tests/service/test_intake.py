"""Filing reports on SQLite and PostgreSQL: numbers, duplicates, follow-ups, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aefi import clock
from aefi.errors import Forbidden, NotFound
from aefi.intake import access as intake_access
from aefi.intake.filing import service as intake_filing
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.listing import service as intake_listing
from aefi.intake.schemas import FollowUpIn, ReportIn
from tests.factories import a_dose, a_held_lot, report_in


def test_file_numbers_and_history(session, county):
    rep = county.actor(session, "reporter")
    d1 = a_dose(session, county)
    r1 = intake_filing.file_report(session, rep, report_in(d1))
    year = clock.now().year
    assert r1.number == f"330782-{year}-00001"
    d2 = a_dose(session, county)  # another person at the same site
    r2 = intake_filing.file_report(session, rep, report_in(d2))
    assert r2.number == f"330782-{year}-00002"
    intake_follow_up.add_follow_up(session, rep, r1.id, FollowUpIn(outcome="died", note="院内死亡"))
    session.refresh(r1)
    assert r1.outcome == "died" and r1.death
    history = intake_follow_up.follow_ups(session, r1.id)
    assert history[0].changes == {"outcome": ["recovering", "died"], "death": [False, True]}
    assert intake_follow_up.original_card(r1, history)["outcome"] == "recovering"


def test_validation_errors_and_late_onset_warning(session, county):
    rep = county.actor(session, "reporter")
    dose = a_dose(session, county)
    with pytest.raises(intake_filing.NeedsCorrection) as err:
        intake_filing.file_report(
            session,
            rep,
            report_in(dose, onset_at=dose.administered_at - timedelta(hours=1), reporter_phone=""),
        )
    assert set(err.value.errors) == {"onset_at", "reporter_phone"}
    late = dose.administered_at + timedelta(days=50)
    clock.freeze(late + timedelta(days=1))
    with pytest.raises(intake_filing.NeedsCorrection) as err:
        intake_filing.file_report(session, rep, report_in(dose, onset_at=late))
    assert set(err.value.warnings) == {"onset_at"} and not err.value.errors
    report = intake_filing.file_report(
        session, rep, report_in(dose, onset_at=late, confirm_late_onset=True)
    )
    assert report.id


def test_duplicate_is_caught_until_confirmed(session, county):
    rep = county.actor(session, "reporter")
    dose = a_dose(session, county)
    first = intake_filing.file_report(session, rep, report_in(dose))
    with pytest.raises(intake_filing.PossibleDuplicate) as err:
        intake_filing.file_report(
            session, rep, report_in(dose, onset_at=dose.administered_at + timedelta(hours=2))
        )
    assert [r.id for r in err.value.candidates] == [first.id]
    again = intake_filing.file_report(
        session,
        rep,
        report_in(dose, onset_at=dose.administered_at + timedelta(hours=2), confirm_new_event=True),
    )
    assert again.id != first.id and again.confirmed_new_event


def test_idempotency_key_gives_one_report(session, county):
    rep = county.actor(session, "reporter")
    dose = a_dose(session, county)
    a = intake_filing.file_report(session, rep, report_in(dose), idempotency_key="k-1")
    b = intake_filing.file_report(session, rep, report_in(dose), idempotency_key="k-1")
    assert a.id == b.id


def test_reporter_scope(session, county):
    rep = county.actor(session, "reporter")
    rep2 = county.actor(session, "reporter2")
    mine = intake_filing.file_report(session, rep, report_in(a_dose(session, county)))
    with pytest.raises(NotFound):
        intake_access.get_report(session, rep2, mine.id)
    rows, total = intake_listing.list_reports(session, rep2, intake_listing.ReportFilter())
    assert total == 0
    other = a_dose(session, county, site=1)
    with pytest.raises(NotFound):
        intake_filing.file_report(session, rep, report_in(other))
    with pytest.raises(Forbidden):
        intake_access.get_report(session, county.actor(session, "hospital"), mine.id)
    rows, total = intake_listing.list_reports(
        session, county.actor(session, "bureau"), intake_listing.ReportFilter(serious=False)
    )
    assert total == 1


def test_hand_linked_dose_and_held_lot_flag(session, county):

    rep = county.actor(session, "reporter")
    lot = a_held_lot(session, county)
    at = clock.now() - timedelta(hours=3)
    report = intake_filing.file_report(
        session,
        rep,
        ReportIn(
            hand_doses=[
                {
                    "lot_number": lot.lot_number,
                    "administered_at": at,
                    "vaccinating_unit": "外县接种点",
                }
            ],
            patient={"name": "外来儿", "id_number": "330782202001010015", "sex": "male"},
            onset_at=at + timedelta(hours=1),
            symptoms=["FEVER"],
            outcome="recovered",
            reporter_name="刘医生",
            reporter_phone="138",
        ),
    )
    assert report.linked_by_hand
    assert lot.lot_number in report.lot_flag and "held" in report.lot_flag


@pytest.mark.parametrize(
    ("kw", "serious"),
    [
        ({"symptoms": ["DEATH"]}, True),  # a death event: died, so serious (WHO / ICH E2A)
        ({"outcome": "died"}, True),
        ({"serious": {"hospitalization": True}}, True),
        ({"symptoms": ["ANAPH"]}, False),  # a designated condition escalates, is not serious
    ],
)
def test_seriousness_on_the_report_is_triage_decision(session, county, kw, serious):
    """Intake stores the facts; report.serious is what triage decided, one rule for both."""
    rep = county.actor(session, "reporter")
    report = intake_filing.file_report(session, rep, report_in(a_dose(session, county), **kw))
    session.refresh(report)
    assert report.serious is serious
    assert report.triage["serious"] is serious
