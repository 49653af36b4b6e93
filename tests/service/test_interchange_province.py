"""The province side of reporting upward: each county sends with an account of its own
county at the province, so the received case is filed under its county of origin; the
same message twice is the same case; the province's report list names the county."""

from __future__ import annotations

from sqlmodel import select

from aefi.auth import passwords
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.intake.models import Report
from aefi.interchange.export import service as export
from aefi.interchange.receive import service as receive
from aefi.registry.models import Region, RegionLevel, Site
from tests.conftest import login
from tests.factories import a_dose, file_report

PASSWORD = "province-pass-1"


def _user(session, username: str, role: Role, region_id: int) -> User:
    u = User(
        username=username,
        full_name=username,
        role=role.value,
        county_id=region_id,
        password_hash=passwords.hash_password(PASSWORD),
    )
    session.add(u)
    session.commit()
    return u


def _county(session, code: str) -> int:
    """A county at the province with one township and one vaccination site."""
    c = Region(code=code, name=f"县{code}", level=RegionLevel.county)
    session.add(c)
    session.flush()
    t = Region(code=f"{code}-T", name=f"乡{code}", level=RegionLevel.township, parent_id=c.id)
    session.add(t)
    session.flush()
    session.add(Site(code=f"{code}-S", name=f"站{code}", township_id=t.id, county_id=c.id))
    session.commit()
    return c.id


def test_received_cases_are_filed_under_their_county_of_origin(client, session, county):
    report = file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    xml = export.export_reports(session, county.actor(session, "investigator"), [report.id])
    # At the province: the sending county's region and its account there.
    origin = _county(session, "ORIG1")
    sender = Actor.of(_user(session, "county-origin-api", Role.api_client, origin))
    first = receive.import_batch(session, sender, xml)
    again = receive.import_batch(session, sender, xml)
    assert first.ack.code == "AA" and len(first.report_ids) == 1
    assert again.report_ids == first.report_ids  # the same message: the same case
    filed = session.get(Report, first.report_ids[0])
    assert filed.county_id == origin != county.county_id
    assert filed.source == "e2b"
    count = session.exec(select(Report).where(Report.county_id == origin)).all()
    assert len(count) == 1

    province = Region(code="PRV9", name="某省", level=RegionLevel.province)
    session.add(province)
    session.flush()
    for cid in (origin, county.county_id):
        region = session.get(Region, cid)
        region.parent_id = province.id
        session.add(region)
    session.commit()
    _user(session, "province-user", Role.province, province.id)
    login(client, "province-user", PASSWORD)
    page = client.get("/reports")
    assert page.status_code == 200
    assert filed.number in page.text
    assert session.get(Region, origin).name in page.text
