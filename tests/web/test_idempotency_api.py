"""Idempotency-Key through the API: a retry answers the first report; an over-long key
is a 422 that says what to do, in the caller's language."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import api_token
from tests.factories import nth_dose_at


def _body(session, county) -> dict:
    rep = county.actor(session, "reporter")
    dose = nth_dose_at(session, rep.site_id)
    return {
        "dose_ids": [dose.id],
        "onset_at": (dose.administered_at + timedelta(minutes=15)).isoformat(),
        "symptoms": ["URTIC"],
        "outcome": "recovering",
        "reporter_name": "刘医生",
        "reporter_phone": "13800000000",
    }


def test_retry_with_the_same_key_answers_the_first_report(client, county, session):
    auth = api_token(client, "reporter")
    body = _body(session, county)
    first = client.post("/api/v1/reports", json=body, headers={**auth, "Idempotency-Key": "a1"})
    again = client.post("/api/v1/reports", json=body, headers={**auth, "Idempotency-Key": "a1"})
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_an_over_long_key_is_a_422_naming_the_limit(client, county, session):
    auth = api_token(client, "reporter")
    body = _body(session, county)
    r = client.post(
        "/api/v1/reports",
        json=body,
        headers={**auth, "Idempotency-Key": "x" * 300, "Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert "300 characters" in r.json()["message"] and "200" in r.json()["message"]
    zh = client.post(
        "/api/v1/reports",
        json=body,
        headers={**auth, "Idempotency-Key": "x" * 300, "Accept-Language": "zh-CN"},
    )
    assert zh.status_code == 422 and "最多允许 200 个" in zh.json()["message"]
