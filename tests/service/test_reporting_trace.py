"""Lot and person traceability and the follow-up list after a halt, on SQLite and
PostgreSQL, checked against counts straight from the registry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, func, select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.errors import Conflict, Forbidden, NotFound
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, LotStatus, Site
from aefi.reporting.follow_up import service as follow_up
from aefi.reporting.models import FollowUpContact
from aefi.reporting.trace import service as trace
from aefi.signals.halts import service as halts
from tests.factories import file_report


def busiest_lot(session, site_id: int) -> Lot:
    """A lot used at the reporter's site and at least one other."""
    lot_id = session.exec(
        select(Dose.lot_id)
        .where(Dose.site_id == site_id)
        .group_by(Dose.lot_id)
        .order_by(func.count().desc(), Dose.lot_id)
    ).first()
    return session.get(Lot, lot_id)


def persons_of(session, lot: Lot, site_id: int | None = None) -> set[int]:
    stmt = select(Dose.person_id).where(Dose.lot_id == lot.id)
    if site_id is not None:
        stmt = stmt.where(Dose.site_id == site_id)
    return set(session.exec(stmt))


def test_lot_page_counts_match_the_registry(session, county):
    rep = county.actor(session, "reporter")
    bureau = county.actor(session, "bureau")
    lot = busiest_lot(session, rep.site_id)
    t = trace.lot_trace(session, bureau, lot.lot_number)
    doses = session.exec(select(func.count()).where(Dose.lot_id == lot.id)).one()
    assert t.doses == doses == sum(u.doses for u in t.sites) == sum(d[2] for d in t.days)
    assert t.persons == len(persons_of(session, lot))
    assert t.vaccine.id == lot.vaccine_id and t.only_site is None
    rows, total = trace.lot_persons(session, bureau, lot.lot_number, per_page=10)
    assert total == doses and len(rows) == min(10, doses)
    assert all("*" in r.id_number for r in rows)
    # The reporter sees the part of their site.
    mine = trace.lot_trace(session, rep, lot.lot_number)
    at_site = session.exec(
        select(func.count()).where(Dose.lot_id == lot.id, Dose.site_id == rep.site_id)
    ).one()
    assert mine.doses == at_site and [u.site.id for u in mine.sites] == [rep.site_id]
    assert mine.persons == len(persons_of(session, lot, rep.site_id))
    rows, total = trace.lot_persons(session, rep, lot.lot_number, per_page=500)
    assert total == at_site and {r.site.id for r in rows} == {rep.site_id}
    with pytest.raises(Forbidden):
        trace.lot_trace(session, county.actor(session, "hospital"), lot.lot_number)
    with pytest.raises(NotFound):
        trace.lot_trace(session, bureau, "NO-SUCH-LOT")


def test_reports_history_and_halt_on_the_lot_page(session, county):
    rep = county.actor(session, "reporter")
    bureau = county.actor(session, "bureau")
    lot = busiest_lot(session, rep.site_id)
    dose = session.exec(
        select(Dose).where(Dose.lot_id == lot.id, Dose.site_id == rep.site_id)
    ).first()
    report = file_report(
        session,
        rep,
        dose,
        onset_at=dose.administered_at + timedelta(hours=2),
        symptoms=["FEVER", "URTIC"],
    )
    halt = halts.issue_halt(
        session, bureau, scope="lot", target=lot.lot_number, reason="疑似聚集性发热", confirmed=True
    )
    session.refresh(lot)
    t = trace.lot_trace(session, bureau, lot.lot_number)
    assert [r.id for r in t.reports] == [report.id]
    assert {g: n for g, _zh, _en, n in t.report_groups} == {"allergic_rash": 1, "fever": 1}
    assert [h.id for h in t.halts] == [halt.id]
    assert lot.status == LotStatus.halted and t.can_follow_up
    assert any(
        e.action == "status" and e.changes.get("status") == ["active", "halted"] for e in t.history
    )


@pytest.fixture
def halted(session, county):
    """The reporter's busiest lot, given to 3 more persons at their site and 2 at the next
    site, then halted."""
    from aefi.registry.schemas import DoseCreate, PersonIn

    rep = county.actor(session, "reporter")
    rep2 = county.actor(session, "reporter2")
    bureau = county.actor(session, "bureau")
    lot = busiest_lot(session, rep.site_id)
    for i, actor in enumerate([rep, rep, rep, rep2, rep2]):
        registry_doses.record_dose(
            session,
            actor,
            DoseCreate(
                person=PersonIn(name=f"随访{i}", id_number=f"33078220190101{i:04d}"),
                lot_number=lot.lot_number,
                site_code=session.get(Site, actor.site_id).code,
                administered_at=clock.now() - timedelta(days=2, hours=i),
            ),
        )
    halts.issue_halt(
        session, bureau, scope="lot", target=lot.lot_number, reason="疑似聚集", confirmed=True
    )
    return lot, rep, bureau


def test_follow_up_list_holds_exactly_the_lots_persons(session, county, halted):
    lot, rep, bureau = halted
    fl = follow_up.follow_up_list(session, bureau, lot.lot_number)
    assert {r.person.id for r in fl.rows} == persons_of(session, lot)
    assert fl.progress.total == len(persons_of(session, lot))
    assert len({g.site.id for g in fl.groups}) == len(fl.groups) > 1
    assert all(r.site.id == g.site.id for g in fl.groups for r in g.rows)
    # The site's physician sees their site's part only.
    mine = follow_up.follow_up_list(session, rep, lot.lot_number)
    assert [g.site.id for g in mine.groups] == [rep.site_id]
    assert {r.person.id for r in mine.rows} == persons_of(session, lot, rep.site_id)
    # Only the last N days.
    cutoff = clock.now() - timedelta(days=7)
    recent = set(
        session.exec(
            select(Dose.person_id).where(Dose.lot_id == lot.id, col(Dose.administered_at) >= cutoff)
        )
    )
    assert {r.person.id for r in follow_up.follow_up_list(session, bureau, lot.lot_number, days=7)
            .rows} == recent  # fmt: skip
    other = next(pid for pid in persons_of(session, lot) - persons_of(session, lot, rep.site_id))
    with pytest.raises(NotFound):
        follow_up.record_contact(session, rep, lot.lot_number, other, "well")


def test_contacts_progress_and_the_report_they_open(session, county, halted):
    lot, rep, _bureau = halted
    rows = follow_up.follow_up_list(session, rep, lot.lot_number).rows
    a, b, c = rows[0], rows[1], rows[2]
    follow_up.record_contact(session, rep, lot.lot_number, a.person.id, "not_reached")
    follow_up.record_contact(session, rep, lot.lot_number, a.person.id, "well", "电话随访，无不适")
    follow_up.record_contact(session, rep, lot.lot_number, b.person.id, "not_reached")
    contact = follow_up.record_contact(session, rep, lot.lot_number, c.person.id, "reaction")
    assert contact.dose_id == c.dose.id
    report = file_report(
        session,
        rep,
        session.get(Dose, contact.dose_id),
        onset_at=c.dose.administered_at + timedelta(hours=5),
        symptoms=["FEVER"],
    )
    session.refresh(contact)
    assert contact.report_id == report.id
    fl = follow_up.follow_up_list(session, rep, lot.lot_number)
    p = fl.progress
    assert (p.well, p.reaction, p.not_reached, p.reached) == (1, 1, 1, 2)
    assert p.not_contacted == p.total - 3
    states = {r.person.id: (r.state, r.contacts) for r in fl.rows}
    assert states[a.person.id] == ("well", 2) and states[b.person.id] == ("not_reached", 1)
    with pytest.raises(Exception):  # noqa: B017 - Invalid: an outcome from the list only
        follow_up.record_contact(session, rep, lot.lot_number, a.person.id, "maybe")
    audited = session.exec(select(func.count()).where(AuditEvent.action == "contact")).one()
    assert audited == 4 == len(session.exec(select(FollowUpContact)).all())


def test_export_for_phoning_is_audited_and_scoped(session, county, halted):
    lot, rep, bureau = halted
    rows = follow_up.follow_up_export(session, bureau, lot.lot_number)
    assert all("*" not in r["id_number"] for r in rows)  # for phoning: the whole identity
    assert len(rows) == len(persons_of(session, lot))
    mine = follow_up.follow_up_export(session, rep, lot.lot_number)
    site_code = session.get(Site, rep.site_id).code
    assert {r["site_code"] for r in mine} == {site_code}
    assert session.exec(select(func.count()).where(AuditEvent.action == "export")).one() == 2


def test_active_lot_has_no_follow_up_list(session, county):
    rep = county.actor(session, "reporter")
    lot = busiest_lot(session, rep.site_id)
    with pytest.raises(Conflict):
        follow_up.follow_up_list(session, rep, lot.lot_number)


def test_search_and_person_page(session, county):
    rep = county.actor(session, "reporter")
    bureau = county.actor(session, "bureau")
    dose = session.exec(select(Dose).where(Dose.site_id == rep.site_id)).first()
    lot = session.get(Lot, dose.lot_id)
    found = trace.search(session, bureau, lot.lot_number[:6])
    assert lot.id in {x.id for x, _v in found.lots}
    person = registry_doses.get_person(session, bureau, dose.person_id)
    found = trace.search(session, bureau, person.id_number)
    assert [p.id for p, _n, _i in found.persons] == [person.id]
    assert found.persons[0][2] != person.id_number  # masked
    page = trace.person_trace(session, rep, person.id)
    assert dose.id in {d.dose.id for d in page.doses} and page.id_number != person.id_number
    before = session.exec(select(func.count()).where(AuditEvent.action == "view_identity")).one()
    page = trace.person_trace(session, rep, person.id, reveal=True)
    assert page.id_number == person.id_number
    after = session.exec(select(func.count()).where(AuditEvent.action == "view_identity")).one()
    assert after == before + 1
    # Another site's physician does not find this person through the trace page.
    rep2 = county.actor(session, "reporter2")
    if not session.exec(
        select(Dose.id).where(Dose.person_id == person.id, Dose.site_id == rep2.site_id)
    ).first():
        with pytest.raises(NotFound):
            trace.person_trace(session, rep2, person.id)
