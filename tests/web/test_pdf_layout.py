"""The printed report card and investigation report keep a lot number and a report number
whole (the card once wrapped the lot mid-string), in Chinese and English."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from aefi import db
from aefi.registry.models import Lot
from tests.conftest import login
from tests.factories import a_case, a_dose, file_report

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LONG_LOT = "J202611250042B"


@pytest.fixture
def ids(app, county) -> tuple[int, int]:
    """A report (and its case) whose dose is of a lot with a long number."""
    with Session(db.get_engine(), expire_on_commit=False) as session:
        dose = a_dose(session, county)
        lot = session.get(Lot, dose.lot_id)
        lot.lot_number = LONG_LOT
        session.add(lot)
        session.commit()
        report = file_report(
            session,
            county.actor(session, "reporter"),
            dose,
            onset_at=dose.administered_at + timedelta(minutes=12),
            symptoms=["ANAPH", "URTIC"],
        )
        return report.id, a_case(session, report).id


def _lines(pdf: bytes) -> list[str]:
    out = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    return out.splitlines()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_numbers_print_whole(client, county, ids, lang):
    report_id, case_id = ids
    headers = {"Accept-Language": lang}
    login(client, "investigator")
    ARTIFACTS.mkdir(exist_ok=True)
    for name, url in (
        ("report-card", f"/reports/{report_id}.pdf"),
        ("case", f"/cases/{case_id}/report.pdf"),
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 200, url
        (ARTIFACTS / f"{name}-{lang}.pdf").write_bytes(r.content)
        lines = _lines(r.content)
        assert any(LONG_LOT in line for line in lines), (url, [x for x in lines if "J2026" in x])
        assert not any(line.rstrip().endswith("J2026") for line in lines)
