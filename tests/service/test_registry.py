"""Registry use cases on SQLite and PostgreSQL: scope, audit, halts, import."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from aefi import audit, clock
from aefi.errors import Conflict, Forbidden, NotFound
from aefi.registry import access as registry_access
from aefi.registry import importer
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Person, Site
from aefi.registry.records import service as registry_records
from aefi.registry.schemas import DoseCreate, PersonIn


def _dose_in(lot_number: str, site_code: str, id_number: str = "330782201001010011"):
    return DoseCreate(
        person=PersonIn(name="测试儿童", id_number=id_number, sex="female"),
        lot_number=lot_number,
        site_code=site_code,
        dose_number=1,
        administered_at=clock.now() - timedelta(minutes=5),
        route="im",
    )


def test_lot_and_dose_changes_are_audited_with_actor(session, county):
    admin = county.actor(session, "admin")
    lot = registry_records.create_lot(
        session, admin, lot_number="AUD-1", vaccine_code="FLU", expiry_on=None, doses_received=100
    )
    registry_records.save_record(
        session, admin, registry_records.KINDS["lots"], lot.id, {"doses_received": "150"}
    )
    site = session.get(Site, county.site_ids[0])
    dose = registry_doses.record_dose(session, admin, _dose_in("AUD-1", site.code))
    registry_doses.update_dose(session, admin, dose.id, {"vaccinator": "新护士"})
    lot_events = audit.timeline(session, "lot", lot.id)
    assert [e.action for e in lot_events] == ["create", "update"]
    assert lot_events[1].changes == {"doses_received": [100, 150]}
    assert all(e.actor_name == "系统管理员" and e.actor_role == "admin" for e in lot_events)
    dose_events = audit.timeline(session, "dose", dose.id)
    assert [e.action for e in dose_events] == ["create", "update"]
    assert dose_events[1].changes["vaccinator"] == ["", "新护士"]


@pytest.mark.demo_county  # reads a dose the demo county has
def test_audit_trail_is_append_only(session, county):
    event = session.exec(select(audit.AuditEvent)).first()
    with pytest.raises(Exception, match="append-only"):
        session.execute(text("UPDATE audit_event SET action='x' WHERE id=:i"), {"i": event.id})
        session.flush()
    session.rollback()
    with pytest.raises(Exception, match="append-only"):
        session.execute(text("DELETE FROM audit_event"))
        session.flush()
    session.rollback()


def test_halted_lot_refuses_new_dose_naming_the_decision(session, county):
    from aefi.signals.halts import service as halts

    admin = county.actor(session, "admin")
    lot = session.exec(select(Lot)).first()
    halts.issue_halt(
        session,
        county.actor(session, "bureau"),
        scope="lot",
        target=lot.lot_number,
        reason="叫停决定 2026-001",
        confirmed=True,
    )
    site = session.get(Site, county.site_ids[0])
    with pytest.raises(Conflict) as err:
        registry_doses.record_dose(session, admin, _dose_in(lot.lot_number, site.code))
    assert "2026-001" in str(err.value)


@pytest.mark.demo_county  # reads persons of the demo county's sites
def test_reporter_sees_only_own_site_persons_and_doses(session, county):
    rep = county.actor(session, "reporter")
    other_site_person = session.exec(
        select(Person)
        .join(Dose, Dose.person_id == Person.id)
        .where(Dose.site_id != rep.site_id)
        .where(~Person.id.in_(select(Dose.person_id).where(Dose.site_id == rep.site_id)))
    ).first()
    with pytest.raises(NotFound):
        registry_doses.get_person(session, rep, other_site_person.id)
    rows = registry_doses.find_doses(session, rep, q=other_site_person.id_number)
    assert rows == []
    assert registry_doses.search_persons(session, rep, other_site_person.id_number) == []
    own = registry_doses.find_doses(
        session, county.actor(session, "admin"), q=other_site_person.id_number
    )
    assert own, "the admin finds the same person"


def test_hospital_and_reporter_may_not_edit_reference_data(session, county):
    for username in ("reporter", "hospital", "investigator", "bureau"):
        with pytest.raises(Forbidden):
            registry_records.create_vaccine(
                session, county.actor(session, username), code="X", name="X", manufacturer=""
            )
    with pytest.raises(NotFound):
        registry_access.get_lot(session, county.actor(session, "hospital"), "whatever")


@pytest.mark.demo_county  # reads a person the demo county has
def test_identity_view_is_audited(session, county):
    inv = county.actor(session, "investigator")
    person = session.exec(select(Person)).first()
    registry_doses.get_person(session, inv, person.id, reveal=True)
    events = audit.timeline(session, "person", person.id)
    assert [e.action for e in events] == ["view_identity"]
    assert events[0].actor_name == inv.name


def _csv(rows: list[str]) -> io.BytesIO:
    header = ",".join(importer.COLUMNS)
    return io.BytesIO(("\n".join([header, *rows]) + "\n").encode())


def test_import_reports_bad_rows_and_keeps_good(session, county):
    admin = county.actor(session, "admin")
    lot = session.exec(select(Lot).where(Lot.status == "active")).first()
    site = session.get(Site, county.site_ids[0])
    good = (
        f"330782201001010027,张三,male,2010-01-01,,{lot.lot_number},{site.code},1,"
        "2026-01-05T09:00:00+08:00,im,左上臂,护士"
    )
    rows = [
        good,
        f"330782201001010035,李四,female,,,NOPE,{site.code},1,2026-01-05T09:00:00,im,,",
        f"330782201001010043,王五,female,,,{lot.lot_number},{site.code},x,2026-01-05T09:00:00,,,",
    ]
    before = session.exec(select(func.count()).select_from(Dose)).one()
    report = importer.import_doses(session, admin, _csv(rows))
    assert report.imported == 1
    assert report.rejected == [
        {"row": 3, "error": "no lot numbered NOPE"},
        {"row": 4, "error": "dose_number is not a whole number"},
    ]
    assert session.exec(select(func.count()).select_from(Dose)).one() == before + 1


def test_import_all_or_nothing_rolls_back(session, county):
    admin = county.actor(session, "admin")
    lot = session.exec(select(Lot).where(Lot.status == "active")).first()
    site = session.get(Site, county.site_ids[0])
    rows = [
        f"33078220100101{i:04d},人{i},male,,,{lot.lot_number},{site.code},1,2026-01-05T09:00:00+08:00,,,"
        for i in range(12000)
    ]
    rows.append(f"330782201001019999,坏行,male,,,{lot.lot_number},NOSITE,1,2026-01-05T09:00:00,,,")
    before = session.exec(select(func.count()).select_from(Dose)).one()
    persons_before = session.exec(select(func.count()).select_from(Person)).one()
    report = importer.import_doses(session, admin, _csv(rows), all_or_nothing=True)
    assert report.rolled_back and report.imported == 0
    assert report.rejected == [{"row": 12002, "error": "no vaccination site with code NOSITE"}]
    assert session.exec(select(func.count()).select_from(Dose)).one() == before
    assert session.exec(select(func.count()).select_from(Person)).one() == persons_before
