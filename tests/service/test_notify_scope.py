"""Who a notice goes to: ``users_to_notify`` picks, in the database, the active users of the
county with the asked roles, a reporter only at the event's site and a hospital account
only at the event's hospital; never another county's, never a deactivated account."""

from __future__ import annotations

from sqlmodel import select

from aefi.auth.models import Role, User
from aefi.auth.users.service import users_to_notify
from tests.factories import a_county


def _names(users: list[User]) -> list[str]:
    return sorted(u.username for u in users)


def test_a_notice_reaches_the_roles_and_scope_it_concerns(session):
    county = a_county(session)
    site_1, site_2 = county.site_ids
    hospital_1, hospital_2 = county.hospital_ids

    def who(*roles: Role, **scope) -> list[str]:
        return _names(users_to_notify(session, county.county_id, roles, **scope))

    assert who(Role.investigator) == ["investigator"]
    assert who(Role.investigator, Role.bureau) == ["bureau", "investigator"]
    assert who(Role.reporter, site_id=site_1) == ["reporter"]
    assert who(Role.reporter, site_id=site_2) == ["reporter2"]
    assert who(Role.reporter) == ["reporter", "reporter2"]  # no site: every site's
    assert who(Role.hospital, hospital_id=hospital_2) == ["hospital2"]
    assert who(Role.hospital) == []  # a hospital account only hears of its own hospital
    assert who(Role.investigator, Role.reporter, Role.hospital, site_id=site_1,
               hospital_id=hospital_1) == ["hospital", "investigator", "reporter"]  # fmt: skip
    assert who() == []

    investigator = session.exec(select(User).where(User.username == "investigator")).one()
    investigator.active = False
    session.add(investigator)
    session.commit()
    assert who(Role.investigator) == []
    assert users_to_notify(session, county.county_id + 999, (Role.bureau,)) == []
