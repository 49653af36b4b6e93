"""Reporting pages, downloads and API through HTTP, in Chinese and English."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select

from aefi import clock
from aefi.registry.models import Dose, Lot, LotStatus, Site
from tests.conftest import api_token, dose_via_api, login
from tests.factories import a_dose

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def test_county_roles_land_on_the_dashboard(client, county):
    for who in ("bureau", "investigator"):
        login(client, who)
        page = client.get("/", headers=EN)
        assert "County dashboard" in page.text
        assert (
            'data-tile="missing_daily"' in page.text and 'href="/referrals?show=open"' in page.text
        )


def test_daily_report_form_errors_keep_what_was_typed(client, session, county):
    token = login(client, "reporter")
    page = client.get("/daily", headers=EN)
    assert page.status_code == 200 and "Submit the daily report" in page.text
    day = re.search(r'name="day" value="([\d-]+)"', page.text).group(1)
    r = client.post(
        "/daily",
        data={"csrf_token": token, "day": day, "observed": "77", "remark": ""},
        headers=EN,
    )
    assert r.status_code == 422
    assert 'value="77"' in r.text
    assert "Say why the figures differ from the records." in r.text
    assert "Confirm that the figures are right." in r.text
    r = client.post(
        "/daily",
        data={
            "csrf_token": token,
            "day": day,
            "observed": "77",
            "remark": "纸质登记补录",
            "confirm": "yes",
        },
        headers=EN,
    )
    assert r.status_code == 200 and "Daily report submitted (version 1)." in r.text
    assert 'data-version="1"' in r.text


def test_daily_summary_page_csv_and_chinese_pdf(client, session, county, tmp_path):
    """Three doses recorded at S01 on a quiet day, the report submitted at 10:00 with 12
    persons observed (a correction: 9 were not on the board); the PDF in Chinese shows the
    site's row with its figures."""
    day0 = (datetime.now(UTC) + timedelta(days=60)).replace(hour=1, minute=30, second=0)
    clock.freeze(day0)
    for i in range(3):
        dose_via_api(client, session, county, 20 + i)
    clock.freeze(day0 + timedelta(minutes=30))  # 10:00 in Shanghai, before the deadline
    day = (day0 + timedelta(hours=8)).date().isoformat()
    token = login(client, "reporter")
    r = client.post(
        "/daily",
        data={
            "csrf_token": token,
            "day": day,
            "observed": "12",
            "released": "12",
            "remark": "9人纸质登记",
            "confirm": "yes",
        },
    )
    assert r.status_code == 200
    client.post("/logout", data={"csrf_token": token})
    login(client, "bureau")
    site = session.get(Site, county.site_ids[0])
    county_page = client.get(f"/daily?day={day}", headers=ZH)
    assert site.name in county_page.text and 'data-state="on_time"' in county_page.text
    csv = client.get(f"/daily/summary.csv?since={day}&until={day}", headers=ZH)
    assert csv.status_code == 200 and csv.text.startswith("\ufeff")
    row = next(line for line in csv.text.splitlines() if line.startswith(site.code))
    assert row.split(",")[-7:] == ["3", "12", "12", "0", "0", "0", "0"]
    pdf = client.get(f"/daily/summary.pdf?since={day}&until={day}", headers=ZH)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    path = tmp_path / "daily.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "预防接种单位日报" in text
    line = next(x for x in text.splitlines() if site.name in x)
    assert "按时报送" in line
    assert re.search(r"\b3\s+12\s+12\s+0\s+0\s+0\s+0\b", line), line
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "reporting-daily-zh.pdf").write_bytes(pdf.content)
    en = client.get(f"/daily/summary.pdf?since={day}&until={day}", headers=EN)
    (ARTIFACTS / "reporting-daily-en.pdf").write_bytes(en.content)
    rng = client.get(f"/daily/summary?since=2020-01-01&until={day}", headers=EN)
    assert rng.status_code == 422  # at most a year


def test_indicators_page_csv_and_api(client, session, county):
    for code in ("FLU", "FLU", "DTAP"):
        a_dose(session, county, lot=county.lot(session, code), at=clock.now() - timedelta(days=1))
    login(client, "investigator")
    page = client.get("/indicators", headers=EN)
    assert page.status_code == 200
    assert page.text.count("<svg") == 4 and 'id="by-vaccine"' in page.text
    assert "Reports filed within 48 h of discovery" in page.text
    zh = client.get("/indicators", headers=ZH)
    assert "监测指标" in zh.text or "指标" in zh.text
    csv = client.get("/indicators.csv", headers=EN)
    assert csv.status_code == 200 and "Reporting rate by vaccine" in csv.text
    r = client.get("/api/v1/indicators", headers=api_token(client, "bureau"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rate_county"]["doses"] == sum(x["doses"] for x in body["rate_by_vaccine"]) == 3
    assert set(body["reports_within_48h"]) == {"done", "total", "pending", "percent"}
    r = client.get("/api/v1/indicators?since=2026-02-01&until=2026-01-01",
                   headers=api_token(client, "bureau"))  # fmt: skip
    assert r.status_code == 422
    assert client.get("/api/v1/indicators", headers=api_token(client, "iis")).status_code == 403
    assert client.get("/api/v1/indicators").status_code == 401


def test_lot_page_follow_up_and_export(client, session, county):
    lot = county.lot(session, "FLU")
    for site in (0, 0, 1):
        a_dose(session, county, site=site, lot=lot)
    a_dose(session, county, lot=county.lot(session, "FLU", 1))  # another lot: not followed up
    token = login(client, "bureau")
    page = client.get(f"/lots/{lot.lot_number}", headers=EN)
    assert page.status_code == 200 and "Sites that used it" in page.text
    assert "Follow-up list" not in page.text
    assert client.get(f"/lots/{lot.lot_number}/follow-up", headers=EN).status_code == 409
    r = client.post(
        "/api/v1/halts",
        headers=api_token(client, "bureau"),
        json={"scope": "lot", "target": lot.lot_number, "reason": "聚集性发热"},
    )
    assert r.status_code == 201, r.text
    fl = client.get(f"/lots/{lot.lot_number}/follow-up", headers=EN)
    assert fl.status_code == 200
    persons = set(session.exec(select(Dose.person_id).where(Dose.lot_id == lot.id)))
    assert int(re.search(r'data-total="(\d+)"', fl.text).group(1)) == len(persons)
    pid = int(re.search(r'data-person-id="(\d+)"', fl.text).group(1))
    r = client.post(
        f"/lots/{lot.lot_number}/follow-up/{pid}",
        data={"csrf_token": token, "outcome": "reaction", "note": "发热"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/reports/new?dose_id=")
    csv = client.get(f"/lots/{lot.lot_number}/follow-up.csv")
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == len(persons) + 1
    session.expire_all()
    assert session.get(Lot, lot.id).status == LotStatus.halted


def test_trace_search_and_person_page(client, session, county):
    dose = a_dose(session, county, site=0)
    other = a_dose(session, county, site=1)
    login(client, "reporter")
    lot = session.get(Lot, dose.lot_id)
    r = client.get(f"/trace?q={lot.lot_number}", headers={"HX-Request": "true", **EN})
    assert f'href="/lots/{lot.lot_number}"' in r.text and "<html" not in r.text
    page = client.get(f"/trace/persons/{dose.person_id}", headers=EN)
    assert page.status_code == 200 and lot.lot_number in page.text
    assert "Show full identity (recorded)" in page.text
    assert client.get(f"/trace/persons/{dose.person_id}?reveal=true").status_code == 200
    # A person given a dose only at another site is not the reporter's to see.
    assert client.get(f"/trace/persons/{other.person_id}").status_code == 404


def test_every_page_reads_in_both_languages(client, county):
    pages = {
        "reporter": ["/", "/observation", "/daily", "/trace"],
        "bureau": ["/", "/dashboard", "/daily", "/daily/summary", "/indicators", "/trace",
                   "/observation"],
        "admin": ["/dashboard", "/indicators"],
    }  # fmt: skip
    for who, paths in pages.items():
        login(client, who)
        for path in paths:
            for headers in (ZH, EN):
                r = client.get(path, headers=headers)
                assert r.status_code == 200, (who, path, r.text[:300])


def test_dates_from_the_clock(client, county):
    clock.freeze(datetime(2030, 1, 2, 3, 0, tzinfo=UTC))
    login(client, "bureau")
    page = client.get("/daily", headers=EN)
    assert "2030-01-02" in page.text
    assert client.get("/daily?day=not-a-day").status_code == 422
    _ = timedelta


def test_cli_report_commands(session, county, tmp_path):
    from typer.testing import CliRunner

    from aefi.cli import app
    from aefi.reporting.daily import service as daily

    day = daily.today().isoformat()
    runner = CliRunner()
    out = runner.invoke(
        app,
        ["report", "daily", "--date", day, "--lang", "en", "--csv", str(tmp_path / "d.csv"),
         "--pdf", str(tmp_path / "d.pdf")],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    site = session.get(Site, county.site_ids[0])
    assert f"Daily reports of {day}" in out.output and site.code in out.output
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")
    assert site.name_en in (tmp_path / "d.csv").read_text(encoding="utf-8")
    out = runner.invoke(
        app, ["report", "indicators", "--until", day, "--csv", str(tmp_path / "i.csv")]
    )
    assert out.exit_code == 0, out.output
    assert "每10万剂次报告率" in out.output or "Rate per 100,000 doses" in out.output
    assert (tmp_path / "i.csv").exists()
    from aefi import i18n

    i18n.set_locale("zh_CN")  # the command set the language of this thread
