"""Lists through HTTP: the sort in header links (aria-sort) and in the API, the export as
CSV (parsed) and XLSX (opened with openpyxl) in the reader's language with no raw codes,
the header's search page and its API, and the dashboard's trend."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from aefi import audit, i18n
from aefi.intake.models import ReportStatus
from tests.conftest import api_token, login
from tests.service.test_lists_sort_export import build_listed


@pytest.fixture
def listed(session, county):
    return build_listed(session, county)


EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}

# (list page, its API, an English header, its Chinese, a raw code the cells never show)
LISTS = [
    ("/reports", "/api/v1/reports", "Number", "编码", "submitted"),
    ("/cases?status=all", "/api/v1/cases?status=all", "Case", "个案", "open"),
    ("/referrals?show=all", "/api/v1/referrals?show=all", "Sent at", "发送时间", "sent"),
    ("/signals?open_only=false", "/api/v1/signals", "Level", "级别", "maxsprt"),
]


def _zh(values) -> set[str]:
    """The Chinese of each value, as the catalog has it."""
    token = i18n.set_locale("zh_CN")
    try:
        return {i18n.gettext(v) for v in values}
    finally:
        i18n._current.reset(token)


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode()), "UTF-8 with a byte-order mark"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _with(url: str, **params: str) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + "&".join(f"{k}={v}" for k, v in params.items())


@pytest.mark.parametrize(("page", "api", "en", "zh", "raw"), LISTS)
def test_each_list_exports_csv_and_xlsx_in_the_readers_language(
    client, session, listed, page, api, en, zh, raw
):
    headers = {**api_token(client, "investigator"), **ZH}
    listed_json = client.get(_with(api, per_page="200"), headers=headers).json()
    rows = len(listed_json) if isinstance(listed_json, list) else listed_json["total"]
    assert rows >= 1
    login(client, "investigator")
    r = client.get(_with(page, format="csv"), headers=EN)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    table = _csv(r.content)
    assert table[0][0] == en
    assert len(table) - 1 == rows
    r = client.get(_with(page, format="xlsx"), headers=ZH)
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    values = [list(v) for v in ws.iter_rows(values_only=True)]
    assert values[0][0] == zh
    assert len(values) - 1 == rows
    # Chinese cells: statuses, methods and the like through the catalogs, never the code.
    cells = {str(c) for row in values[1:] for c in row if c is not None}
    assert raw not in cells
    # The API gives the same file.
    r = client.get(_with(api, format="csv"), headers=headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert _csv(r.content)[0][0] == zh


def test_exports_are_audited_with_the_filter(client, session, listed):
    login(client, "bureau")
    r = client.get("/reports?serious=yes&sort=-onset&format=xlsx", headers=EN)
    assert r.status_code == 200
    event = session.exec(
        select(audit.AuditEvent)
        .where(audit.AuditEvent.action == "export")
        .order_by(audit.AuditEvent.id.desc())
    ).first()
    assert event.entity_type == "reports_list" and event.actor_role == "bureau"
    assert event.changes == {"filter": "serious=yes&sort=-onset", "rows": 1, "format": "xlsx"}


def test_the_report_export_reads_as_on_the_page(client, session, listed):
    login(client, "investigator")
    table = _csv(client.get("/reports?sort=patient&format=csv", headers=ZH).content)
    header = table[0]
    rows = [dict(zip(header, row, strict=True)) for row in table[1:]]
    assert [r["受种者"] for r in rows] == sorted(r["受种者"] for r in rows)
    assert {r["状态"] for r in rows} <= _zh(ReportStatus)
    assert not {r["状态"] for r in rows} & set(ReportStatus)
    assert "发热" in {r["事件类别"] for r in rows}
    assert all(r["编码"].startswith("330782-") for r in rows)


def test_a_bad_sort_or_format_is_a_422_naming_it(client, listed):
    login(client, "investigator")
    for url in ("/reports?sort=patient_id_number", "/cases?sort=-x", "/reports?format=pdf"):
        r = client.get(url, headers=EN)
        assert r.status_code == 422, url
    headers = api_token(client, "investigator")
    for url in ("/api/v1/reports?sort=secret", "/api/v1/cases?format=pdf"):
        assert client.get(url, headers=headers).status_code == 422, url


def test_header_links_sort_and_say_so(client, listed):
    login(client, "investigator")
    page = client.get("/reports?sort=-onset", headers=EN).text
    th = re.search(r'<th aria-sort="descending">.*?</th>', page, re.S).group(0)
    assert "Onset" in th and 'href="/reports?sort=onset"' in th
    assert page.count("aria-sort=") == 1
    assert 'href="/reports?sort=-onset&amp;format=csv"' in page
    assert 'name="sort" value="-onset" form="report-filters"' in page
    # The default order is newest filed first, and the header says so.
    assert re.search(
        r'<th aria-sort="descending"><a[^>]*>Reported', client.get("/reports", headers=EN).text
    )


def test_the_api_sorts(client, listed):
    headers = api_token(client, "investigator")
    r = client.get("/api/v1/reports?sort=-onset", headers=headers)
    onsets = [x["onset_at"] for x in r.json()["items"]]
    assert len(onsets) == 4
    ordered = client.get("/api/v1/reports?sort=onset", headers=headers).json()["items"]
    assert [x["id"] for x in ordered] == [x["id"] for x in r.json()["items"]][::-1]
    names = [
        x["patient_name"]
        for x in client.get("/api/v1/reports?sort=patient", headers=headers).json()["items"]
    ]
    assert names == sorted(names)


# --- search ---------------------------------------------------------------------------------


def test_the_header_search_jumps_on_one_exact_match(client, listed):
    login(client, "investigator")
    home = client.get("/reports", headers=EN).text
    assert 'class="header-search"' in home and 'action="/search"' in home
    report = listed.reports[0]
    r = client.get(f"/search?q={report.number}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{report.id}"


def test_the_search_page_groups_by_kind(client, listed):
    login(client, "investigator")
    r = client.get("/search?q=某", headers=ZH)
    assert r.status_code == 200
    kinds = re.findall(r'data-kind="(\w+)"', r.text)
    assert kinds == ["report", "person"]
    assert "<h2>报告" in r.text and "<h2>受种者" in r.text
    assert client.get("/search?q=" + "x" * 101, headers=EN).status_code == 422


def test_the_search_api(client, listed):
    headers = api_token(client, "investigator")
    lot = "FLU2026001"
    body = client.get(f"/api/v1/search?q={lot}", headers=headers).json()
    assert body["jump"] == f"/lots/{lot}"
    assert body["groups"][0]["kind"] == "lot" and body["groups"][0]["hits"][0]["exact"]
    assert client.get("/api/v1/search?q=", headers=headers).json()["total"] == 0


# --- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_shows_the_curve_and_township_rates(client, listed):
    login(client, "bureau")
    page = client.get("/", headers=ZH).text
    assert 'id="epi-curve"' in page and "<svg" in page
    assert re.search(r'<table class="grid epi-table">', page)
    rows = re.findall(r'<tr data-township="(\d+)">', page)
    assert rows == ["330782001"]  # every report and dose is at the first site
    # The tiles' refresh (htmx) does not redraw the trend.
    tiles = client.get("/dashboard", headers={**ZH, "HX-Request": "true"}).text
    assert 'id="epi-curve"' not in tiles
