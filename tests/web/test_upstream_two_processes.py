"""County → province with two live aefi servers (uvicorn subprocesses on 127.0.0.1, SQLite
files in tmp dirs): a case filed in the county arrives at the province, acknowledged; the
province is stopped, another case is filed and waits in the outbox (retried with a short
back-off); the province starts again and the case arrives, once."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
from sqlmodel import Session, select

from aefi import clock, db
from aefi.intake.models import Report
from aefi.interchange.models import UpstreamMessage
from bench.soak import ServerProcess
from tests.factories import a_county, a_dose

WAIT_S = 120  # a deadline for each wait, not a measured time


def _database(path: Path, build) -> str:
    url = f"sqlite:///{path}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        out = build(session)
    engine.dispose()
    return url, out


def _wait(what, predicate, server=None):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        if server is not None and server.proc.poll() is not None:
            raise AssertionError(f"the server exited while waiting for {what}")
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}")


def _rows(url: str, model):
    engine = db.make_engine(url)
    with Session(engine) as session:
        rows = list(session.exec(select(model).order_by(model.id)))
    engine.dispose()
    return rows


def _file(base: str, dose_id: int, at) -> str:
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": "reporter", "password": "demo-reporter-1"}
    ).json()["access_token"]
    body = {  # API.md's fields, no reporter block
        "dose_ids": [dose_id],
        "onset_at": at.isoformat(),
        "symptoms": ["URTIC"],
        "serious": {
            "death": False,
            "life_threatening": False,
            "hospitalization": False,
            "disability": False,
            "congenital_anomaly": False,
        },
        "outcome": "recovering",
    }
    r = httpx.post(
        f"{base}/api/v1/reports", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    return r.json()["number"]


def test_county_to_province_with_the_province_down_for_a_while(tmp_path):
    province_url, _ = _database(tmp_path / "province.db", a_county)

    def county_build(session):
        county = a_county(session)
        return [a_dose(session, county).id, a_dose(session, county).id]

    county_url, doses = _database(tmp_path / "county.db", county_build)
    province = ServerProcess(province_url, 1, tmp_path / "province.log")
    county = ServerProcess(county_url, 1, tmp_path / "county.log")
    county.env |= {
        "AEFI_UPSTREAM_URL": province.base,
        "AEFI_UPSTREAM_USERNAME": "iis",  # the county's API account at the province
        "AEFI_UPSTREAM_PASSWORD": "demo-iis-1",
        "AEFI_UPSTREAM_EVERY_S": "1",
        "AEFI_UPSTREAM_BACKOFF_S": "1",
        "AEFI_UPSTREAM_MAX_ATTEMPTS": "50",
    }
    try:
        province.start()
        county.start()
        province.wait_ready()
        county.wait_ready()
        now = clock.now()
        first = _file(county.base, doses[0], now)
        _wait(
            "the first case acknowledged",
            lambda: [m.status for m in _rows(county_url, UpstreamMessage)] == ["acknowledged"],
            county,
        )
        province.stop()
        second = _file(county.base, doses[1], now)
        _wait(
            "the second case retried while the province is down",
            lambda: any(
                m.status == "pending" and m.attempts >= 2
                for m in _rows(county_url, UpstreamMessage)
            ),
            county,
        )
        province.start()
        province.wait_ready()
        _wait(
            "both cases acknowledged",
            lambda: (
                [m.status for m in _rows(county_url, UpstreamMessage)]
                == ["acknowledged", "acknowledged"]
            ),
            county,
        )
        received = [r for r in _rows(province_url, Report) if r.source == "e2b"]
        assert len(received) == 2  # each once
        assert sorted(r.external_id for r in received) == sorted(
            f"CN-AEFI-{n}" for n in (first, second)
        )
        # The county's page shows them acknowledged.
        with httpx.Client(base_url=county.base) as web:
            page = web.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            web.post(
                "/login",
                data={
                    "username": "investigator",
                    "password": "demo-investigator-1",
                    "csrf_token": csrf,
                    "next": "/",
                },
            )
            listed = web.get("/interchange/outbox?status=acknowledged")
        assert listed.status_code == 200
        assert first in listed.text and second in listed.text
    finally:
        county.stop()
        province.stop()
