"""The escalation queue in Chromium: order by urgency, overdue in red, acknowledge with
htmx, in Chinese and in English."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from aefi import clock
from tests.browser.conftest import log_in, shot
from tests.factories import T0, file, lots, new_dose

pytestmark = pytest.mark.browser


def test_escalation_queue(live_url, new_page, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    a, b, c = lots(session, 3)
    # Serious (hospitalised), discovered early: its 2 h fast report is overdue.
    late = file(
        session,
        county,
        "reporter",
        new_dose(session, county, site_index=0, lot=c, minutes=0),
        symptoms=["URTIC"],
        serious={"hospitalization": True},
    )
    # Two anaphylaxis reports of one lot: a cluster.
    for m in (300, 320):
        file(session, county, "reporter", new_dose(session, county, site_index=0, lot=a, minutes=m))
    # A death.
    death = file(
        session,
        county,
        "reporter2",
        new_dose(session, county, site_index=1, lot=b, minutes=330),
        symptoms=["SEIZ"],
        outcome="died",
    )

    page = new_page(locale="zh-CN")
    log_in(page, live_url, "bureau")
    page.goto(f"{live_url}/escalations")
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(5)
    assert death.number in rows.nth(0).inner_text() and "死亡" in rows.nth(0).inner_text()
    overdue = page.locator("tr.overdue")
    expect(overdue).to_have_count(1)
    assert late.number in overdue.inner_text() and "已超时" in overdue.inner_text()
    # Red: the row's cells are tinted and its text is in the danger colour.
    cell = overdue.locator("td").first
    assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(253, 236, 234)"
    shot(page, "triage-queue-zh")

    # Acknowledge the death: the queue reloads itself without it.
    rows.nth(0).get_by_role("button", name="确认接收").click()
    expect(rows).to_have_count(4)
    assert death.number not in page.locator("table.queue").inner_text()
    page.select_option("select[name=show]", "all")
    expect(rows).to_have_count(5)
    assert "卫健局" in page.locator(f"tr:has-text('{death.number}')").inner_text()

    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Escalation queue"
    shot(page, "triage-queue-en")

    cluster_link = page.locator("a[href^='/clusters/']").first
    cluster_link.click()
    page.wait_for_load_state()
    assert "Possible group AEFI" in page.locator("h1").inner_text()
    assert a.lot_number in page.content()
    shot(page, "triage-cluster-en")
