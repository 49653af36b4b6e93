"""Dose imports through the page and the API (encodings, refusals, never a 500) and the
follow-up CSV download with formula cells neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import update
from sqlmodel import select

from aefi.registry import importer
from aefi.registry.models import Dose, Lot, Person, Site
from tests.conftest import api_token, csrf_of, login

EN = {"Accept-Language": "en"}
HEADER = ",".join(importer.COLUMNS)


def _file(session, county, encoding: str, names=("欧阳娜", "诸葛亮")) -> bytes:
    lot = session.exec(select(Lot).where(Lot.status == "active").order_by(Lot.id)).first()
    site = session.get(Site, county.site_ids[0])
    rows = [
        f"3307822010010{i:05d},{n},female,,,{lot.lot_number},{site.code},1,"
        "2026-01-05T09:00:00+08:00,im,,"
        for i, n in enumerate(names)
    ]
    return ("\n".join([HEADER, *rows]) + "\n").encode(encoding)


def test_api_imports_gbk_and_refuses_a_workbook(client, session, county):
    iis = api_token(client, "iis")
    gbk = _file(session, county, "gbk")
    r = client.post("/api/v1/doses/import", headers=iis, files={"file": ("d.csv", gbk)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["imported"], body["duplicates"], body["encoding"]) == (2, 0, "gb18030")
    again = client.post("/api/v1/doses/import", headers=iis, files={"file": ("d.csv", gbk)})
    assert (again.json()["imported"], again.json()["duplicates"]) == (0, 2)
    xlsx = b"PK\x03\x04" + bytes(range(256)) * 4
    r = client.post("/api/v1/doses/import", headers={**iis, **EN}, files={"file": ("d.xlsx", xlsx)})
    assert r.status_code == 422
    assert "Excel workbook" in r.json()["message"]
    assert r.json()["detail"][0]["loc"] == ["body", "file"]


def test_import_page_shows_a_refusal_and_a_duplicate_count(client, session, county):
    token = login(client, "admin")
    utf16 = _file(session, county, "utf-16")
    r = client.post(
        "/imports/doses",
        data={"csrf_token": token},
        files={"file": ("d.csv", utf16, "text/csv")},
        headers=EN,
    )
    assert r.status_code == 200 and "Nothing was imported." in r.text and "UTF-16" in r.text
    bom = b"\xef\xbb\xbf" + _file(session, county, "utf-8")
    for expected in ("2 doses imported.", "2 rows were already recorded"):
        r = client.post(
            "/imports/doses",
            data={"csrf_token": csrf_of(client)},
            files={"file": ("d.csv", bom, "text/csv")},
            headers=EN,
        )
        assert r.status_code == 200 and expected in r.text


@pytest.mark.demo_county  # reads a dose the demo county has
def test_follow_up_csv_neutralises_formula_cells(client, session, county):
    login(client, "bureau")
    lot = session.exec(
        select(Lot).join(Dose, Dose.lot_id == Lot.id).where(Dose.site_id == county.site_ids[0])
    ).first()
    person_ids = list(session.exec(select(Dose.person_id).where(Dose.lot_id == lot.id)))
    evil = {"name": "=cmd|' /C calc'!A0", "guardian_name": "=1+1", "address": "@SUM(A1)"}
    session.execute(update(Person).where(Person.id == person_ids[0]).values(**evil))
    session.commit()
    r = client.post(
        "/api/v1/halts",
        headers=api_token(client, "bureau"),
        json={"scope": "lot", "target": lot.lot_number, "reason": "聚集性发热"},
    )
    assert r.status_code == 201, r.text
    got = client.get(f"/lots/{lot.lot_number}/follow-up.csv")
    assert got.status_code == 200
    rows = list(csv.DictReader(io.StringIO(got.text.lstrip("\ufeff"))))
    mine = [row for row in rows if row["name"].endswith("calc'!A0")]
    assert [(m["name"], m["guardian"], m["address"]) for m in mine] == [
        ("'=cmd|' /C calc'!A0", "'=1+1", "'@SUM(A1)")
    ]
    cells = [c for row in rows for c in row.values()]
    assert not any(c[:1] in ("=", "+", "-", "@", "\t", "\r") for c in cells if c)
