"""API.md's contract for ``POST /api/v1/reports``: a body with exactly the fields API.md
lists (no reporter block) is filed, the reporter taken from the authenticated account."""

from __future__ import annotations

from datetime import timedelta

from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.intake.models import Report
from aefi.registry.models import Site
from tests.conftest import api_token
from tests.factories import a_dose


def _api_md_body(dose) -> dict:
    """API.md's example: dose_ids, onset_at, symptoms, serious, outcome (the optional
    description, max_temperature_c and discovered_at too; no reporter_name/phone)."""
    return {
        "dose_ids": [dose.id],
        "onset_at": (dose.administered_at + timedelta(minutes=20)).isoformat(),
        "symptoms": ["URTIC"],
        "description": "Hives on both arms 20 minutes after the dose.",
        "max_temperature_c": 37.2,
        "serious": {
            "death": False,
            "life_threatening": False,
            "hospitalization": False,
            "disability": False,
            "congenital_anomaly": False,
        },
        "outcome": "recovering",
    }


def test_the_api_md_body_is_filed_with_the_account_as_reporter(client, session, county):
    dose = a_dose(session, county)
    headers = api_token(client, "reporter")
    r = client.post("/api/v1/reports", json=_api_md_body(dose), headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert {"id", "number", "status", "triage"} <= body.keys()
    session.expire_all()
    report = session.get(Report, body["id"])
    user = session.exec(select_user("reporter")).one()
    site = session.get(Site, user.site_id)
    assert report.reporter_name == Actor.of(user).name
    assert report.reporter_phone == (user.phone or site.phone)
    assert report.reporter_phone  # the site's phone when the account has none
    assert report.reporter_unit == site.name


def test_a_given_reporter_block_is_kept(client, session, county):
    dose = a_dose(session, county)
    headers = api_token(client, "reporter")
    body = _api_md_body(dose) | {"reporter_name": "王护士", "reporter_phone": "13900001111"}
    r = client.post("/api/v1/reports", json=body, headers=headers)
    assert r.status_code == 201, r.text
    session.expire_all()
    report = session.get(Report, r.json()["id"])
    assert (report.reporter_name, report.reporter_phone) == ("王护士", "13900001111")


def select_user(username: str):
    from sqlmodel import select

    return select(User).where(User.username == username)
