"""The county's side in Chromium: dashboard, indicators with charts, a lot's page, the
follow-up list after a halt (and a site's physician seeing only their part), the daily
report form. Screenshots in test-artifacts/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.registry.models import Dose, Lot, LotStatus, Site
from tests.browser.conftest import api_client, log_in, shot

pytestmark = pytest.mark.browser


def test_dashboard_indicators_lot_and_follow_up(live_url, new_page, session, county):
    rep2 = county.actor(session, "reporter2")
    s1, s2 = session.get(Site, county.site_ids[0]), session.get(Site, rep2.site_id)
    lot = session.exec(select(Lot).where(Lot.status == LotStatus.active)).first()
    iis = api_client(live_url, "iis")
    for i, site in enumerate([s1, s1, s2, s2, s2]):
        r = iis.post(
            "/api/v1/doses",
            json={
                "person": {"name": f"随访对象{i}", "id_number": f"33078220180202{i:04d}"},
                "lot_number": lot.lot_number,
                "site_code": site.code,
                "administered_at": (clock.now() - timedelta(days=1, hours=i)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text

    page = new_page(locale="zh-CN")
    log_in(page, live_url, "bureau")
    assert page.locator("h1").inner_text() == "全县工作台"
    shot(page, "reporting-dashboard-zh")
    page.locator("[data-tile=missing_daily]").click()
    page.wait_for_url(f"{live_url}/daily?day=*")
    assert page.locator("tr[data-site]").count() == len(county.site_ids)
    shot(page, "reporting-daily-county-zh")

    page.goto(f"{live_url}/indicators")
    assert page.locator(".chart svg").count() == 4
    shot(page, "reporting-indicators-zh")

    # The bureau halts the lot; its page shows the decision; the follow-up list opens.
    bureau = api_client(live_url, "bureau")
    r = bureau.post(
        "/api/v1/halts", json={"scope": "lot", "target": lot.lot_number, "reason": "疑似聚集"}
    )
    assert r.status_code == 201, r.text
    page.goto(f"{live_url}/lots/{lot.lot_number}")
    assert page.locator("[data-lot-status]").get_attribute("data-lot-status") == "halted"
    shot(page, "reporting-lot-zh")
    page.get_by_role("link", name="随访名单").first.click()
    persons = set(session.exec(select(Dose.person_id).where(Dose.lot_id == lot.id)))
    assert int(page.locator("#progress").get_attribute("data-total")) == len(persons)
    first = page.locator("tr[data-person-id]").first
    pid = first.get_attribute("data-person-id")
    first.get_by_role("button", name="已联系，无异常").click()
    page.wait_for_selector(f"tr[data-person-id='{pid}'][data-state=well]")
    shot(page, "reporting-follow-up-zh")

    # The next site's physician sees only their site's part of the list.
    page2 = new_page(locale="en")
    log_in(page2, live_url, "reporter2")
    page2.goto(f"{live_url}/lots/{lot.lot_number}/follow-up")
    groups = page2.locator("section[data-group]")
    assert groups.count() == 1 and groups.get_attribute("data-group") == s2.code
    mine = set(
        session.exec(select(Dose.person_id).where(Dose.lot_id == lot.id, Dose.site_id == s2.id))
    )
    rows = page2.locator("tr[data-person-id]")
    assert {int(rows.nth(i).get_attribute("data-person-id")) for i in range(rows.count())} == mine
    shot(page2, "reporting-follow-up-site-en")

    # The daily report form of a site, in English.
    page2.goto(f"{live_url}/daily")
    assert page2.get_by_role("button", name="Submit the daily report").is_visible()
    shot(page2, "reporting-daily-form-en")
