"""The observation board in Chromium: doses recorded through the API appear without a
reload, the countdown runs out on a controlled clock, a report is filed from a row with its
dose linked, another row is released and one marked as left early; the day's counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from aefi import clock
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Dose, Hospital, Lot, LotStatus, Site
from aefi.web import iso_local
from tests.browser.conftest import api_client, log_in, shot
from tests.factories import ANAPHYLAXIS, file_report, referral_of

pytestmark = pytest.mark.browser

# 10:00 in Shanghai on a day after the demo county's doses: the board starts empty.
DAY0 = (datetime.now(UTC) + timedelta(days=60)).replace(hour=2, minute=0, second=0, microsecond=0)


def _record(api: httpx.Client, site: Site, lot: Lot, i: int, name: str) -> int:
    r = api.post(
        "/api/v1/doses",
        json={
            "person": {"name": name, "id_number": f"3307822021031{i:05d}", "sex": "female"},
            "lot_number": lot.lot_number,
            "site_code": site.code,
            "dose_number": 1,
            "administered_at": clock.now().isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_board_live_countdown_report_release_left_early(live_url, new_page, session, county):
    clock.freeze(DAY0)
    rep = county.actor(session, "reporter")
    site = session.get(Site, rep.site_id)
    lot = session.exec(select(Lot).where(Lot.status == LotStatus.active)).first()
    api = api_client(live_url, "iis")

    page = new_page(locale="zh-CN")
    log_in(page, live_url, "reporter")  # the reporter's home is the board
    assert page.locator("h1").inner_text().startswith("留观区")
    assert page.locator("[data-count=open]").inner_text() == "0"

    # Doses recorded by the immunization information system appear without a reload.
    names = ["张小红", "李明明", "王芳"]
    ids = [_record(api, site, lot, i, n) for i, n in enumerate(names)]
    for dose_id in ids:
        page.wait_for_selector(f"tr[data-dose-id='{dose_id}'][data-state=observing]")
    first = page.locator(f"tr[data-dose-id='{ids[0]}']")
    # The site's physician, standing with them, sees full names (the view is audited).
    assert "张小红" in first.inner_text()
    assert page.locator(f"tr[data-dose-id='{ids[0]}'] .countdown").inner_text() == "30:00"
    shot(page, "observation-board-observing-zh")

    # Ten minutes on: the countdown follows the clock; at thirty the rows are ready.
    clock.advance(timedelta(minutes=10))
    # (a locator, not wait_for_function: the CSP forbids the eval that one needs)
    page.locator(f"tr[data-dose-id='{ids[0]}'] .countdown", has_text="20:00").wait_for()
    clock.advance(timedelta(minutes=20))
    for dose_id in ids:
        page.wait_for_selector(f"tr[data-dose-id='{dose_id}'][data-state=ready]")
    assert "可以离开" in first.inner_text()
    assert page.locator("[data-count=ready]").inner_text() == "3"
    shot(page, "observation-board-ready-zh")

    # File a report from the first row: the form comes with that dose linked.
    first.get_by_role("link", name="填报个案").click()
    page.wait_for_url(re.compile(rf".*/reports/new\?dose_id={ids[0]}$"))
    page.wait_for_selector(f"#linked-doses input[name=dose_ids][value='{ids[0]}']")
    assert lot.lot_number in page.locator("#linked-doses").inner_text()
    page.get_by_label("荨麻疹", exact=True).check()
    page.get_by_label("好转", exact=True).check()
    page.fill("#f-onset_at", iso_local(DAY0 + timedelta(minutes=15)))
    page.locator("#f-onset_at").blur()
    page.get_by_role("button", name="提交报告").click()
    page.wait_for_url(re.compile(r".*/reports/\d+\?filed=1$"))
    session.expire_all()
    report_id = int(re.search(r"/reports/(\d+)", page.url).group(1))
    links = session.exec(select(ReportDose).where(ReportDose.report_id == report_id)).all()
    assert [x.dose_id for x in links] == [ids[0]]
    number = session.get(Report, report_id).number

    # Back on the board: the row carries the report and is no longer "ready"; release
    # one, one left early.
    page.goto(f"{live_url}/")
    assert number in page.locator(f"tr[data-dose-id='{ids[0]}']").inner_text()
    page.wait_for_selector(f"tr[data-dose-id='{ids[0]}'][data-state=reported]")
    assert (
        page.locator(f"tr[data-dose-id='{ids[0]}']").get_by_role("button", name="放行").count() == 0
    )
    page.locator(f"tr[data-dose-id='{ids[1]}']").get_by_role("button", name="放行").click()
    page.wait_for_selector(
        f"#board tr[data-dose-id='{ids[1]}'][data-state=released]", state="attached"
    )
    page.once("dialog", lambda d: d.accept())
    page.locator(f"tr[data-dose-id='{ids[2]}']").get_by_role("button", name="提前离开").click()
    page.wait_for_selector(
        f"#board tr[data-dose-id='{ids[2]}'][data-state=left_early]", state="attached"
    )
    counts = {
        k: page.locator(f"[data-count={k}]").inner_text()
        for k in ("open", "ready", "observed", "released", "left_early", "reactions")
    }
    assert counts == {
        "open": "1",  # the one with the report stays until the physician closes it
        "ready": "0",  # ... and is not counted as ready
        "observed": "3",
        "released": "1",
        "left_early": "1",
        "reactions": "1",
    }
    shot(page, "observation-board-day-zh")

    # The same board in English, refreshed by itself, still says the same.
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Observation area")
    assert page.locator("[data-count=observed]").inner_text() == "3"
    shot(page, "observation-board-day-en")


@pytest.mark.parametrize("size", [(390, 844), (1366, 768)], ids=["phone", "desktop"])
def test_a_referred_child_shows_its_referral_and_is_never_released_as_ready(
    live_url, new_page, session, county, size
):
    clock.freeze(DAY0)
    rep = county.actor(session, "reporter")
    site = session.get(Site, rep.site_id)
    lot = session.exec(select(Lot).where(Lot.status == LotStatus.active)).first()
    api = api_client(live_url, "iis")
    sick = _record(api, site, lot, 11, "赵小刚")
    calm = _record(api, site, lot, 12, "钱多多")

    page = new_page(locale="zh-CN", viewport=size)
    log_in(page, live_url, "reporter")
    page.wait_for_selector(f"tr[data-dose-id='{calm}'][data-state=observing]")
    # A seizure-like emergency five minutes in: filed, triage refers the child.
    clock.advance(timedelta(minutes=6))
    report = file_report(
        session, rep, session.get(Dose, sick), onset_at=DAY0 + timedelta(minutes=5), **ANAPHYLAXIS
    )
    hospital = session.get(Hospital, referral_of(session, report).hospital_id)
    clock.advance(timedelta(minutes=30))
    row = page.locator(f"tr[data-dose-id='{sick}'][data-state=referred]")
    row.wait_for()
    page.wait_for_selector(f"tr[data-dose-id='{calm}'][data-state=ready]")
    text = row.inner_text()
    assert report.number in text and f"转诊至{hospital.name}" in text and "已发送" in text
    assert "赵小刚" in text and "男" not in text  # full name; recorded as female
    assert "女" in text
    assert row.get_by_role("button", name="放行").count() == 0
    assert row.get_by_role("link", name="医生决定结束留观").count() == 1
    tag = f"{size[0]}x{size[1]}"
    shot(page, f"observation-referred-{tag}-zh")

    # "Release all ready" counts and releases the calm child only.
    page.get_by_role("button", name="放行全部可离开者（1）").click()
    page.wait_for_selector(
        f"#board tr[data-dose-id='{calm}'][data-state=released]", state="attached"
    )
    assert page.locator(f"#board tr[data-dose-id='{sick}'][data-state=referred]").count() == 1
    assert page.locator("[data-count=open]").inner_text() == "1"
    assert page.locator("[data-count=ready]").inner_text() == "0"
    assert page.get_by_role("button", name=re.compile("放行全部")).count() == 0
    shot(page, f"observation-referred-after-release-all-{tag}-zh")
