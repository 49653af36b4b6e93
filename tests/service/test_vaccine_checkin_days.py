"""A product's check-in schedule set by the admin (``Vaccine.checkin_days``): checked on
save, kept tidy, audited, and the one the personal link's questions follow."""

from __future__ import annotations

import pytest
from sqlmodel import select

from aefi.aftercare import schedule
from aefi.audit import AuditEvent
from aefi.errors import Forbidden, Invalid
from aefi.registry.models import Vaccine
from aefi.registry.records import service as records


def test_admin_sets_and_changes_a_vaccines_check_in_days(session, county):
    admin = county.actor(session, "admin")
    v = records.create_vaccine(
        session, admin, code="MMRX", name="麻腮风疫苗", manufacturer="", checkin_days="1, 3，7,14"
    )
    assert v.checkin_days == "1,3,7,14"
    assert schedule.days_for(v.code, v.checkin_days) == (1, 3, 7, 14)
    with pytest.raises(Invalid) as bad:
        records.edit_vaccine(session, admin, "MMRX", {"checkin_days": "7,3"})
    assert bad.value.fields == {"checkin_days": schedule.DAYS_MESSAGE}
    session.rollback()
    records.edit_vaccine(session, admin, "MMRX", {"checkin_days": "2,21"})
    stored = session.exec(select(Vaccine).where(Vaccine.code == "MMRX")).one()
    assert stored.checkin_days == "2,21" and stored.name == "麻腮风疫苗"
    trail = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "vaccine", AuditEvent.entity_id == stored.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in trail] == ["create", "update"]
    assert trail[-1].changes == {"checkin_days": ["1,3,7,14", "2,21"]}
    # Empty goes back to the rule's schedule.
    cleared = records.edit_vaccine(session, admin, "MMRX", {"checkin_days": ""})
    assert cleared.checkin_days == ""
    assert schedule.days_for(cleared.code, cleared.checkin_days) == schedule.DEFAULT_DAYS


def test_only_the_registry_writers_change_it(session, county):
    with pytest.raises(Forbidden):
        records.edit_vaccine(
            session, county.actor(session, "investigator"), "HEPB", {"checkin_days": "1"}
        )
