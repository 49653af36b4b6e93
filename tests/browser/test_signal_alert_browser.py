"""The bureau's alert, from a small factory county where three anaphylaxis reports make a
lot cross: the alert read in plain words, a halt issued through its confirmation step, the
banner gone, the halt lifted through its confirmation; at the three sizes, in Chinese and
English, with no horizontal scroll."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aefi import clock
from aefi.intake.schemas import SeriousIn
from tests.browser.conftest import log_in, shot
from tests.factories import a_county, a_dose, file_report

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1366, 768), "tablet": (820, 1180), "phone": (390, 844)}
WORDS = {
    "zh-CN": {
        "banner": "待卫健局决定的叫停建议",
        "signals": "信号",
        "open": "打开",
        "seen": "接种后 1 天内报告严重过敏反应 3 例",
        "chance": "偶然出现这么多的可能：不到百万分之一",
        "issue": "发布叫停决定",
        "sites": "2 个接种单位",
        "in_force": "叫停生效中",
        "lift": "解除叫停",
        "lifted": "已解除",
    },
    "en-US": {
        "banner": "Halt recommendation awaiting the bureau's decision",
        "signals": "Signals",
        "open": "Open",
        "seen": "3 reports of anaphylaxis within 1 day of",
        "chance": "a count this high by chance: less than 1 in 1,000,000",
        "issue": "Issue the halt decision",
        "sites": "2 sites",
        "in_force": "Halt in force",
        "lift": "Lift the halt",
        "lifted": "Halt lifted",
    },
}


@pytest.fixture
def county(session):
    """A small county (two sites), not the demo county: a few reports make a lot cross."""
    return a_county(session)


def a_lot_crosses(session, county):
    """Doses of one lot over six weeks at both sites, then three life-threatening
    anaphylaxis reports on recent doses: the lot's anaphylaxis test recommends a halt."""
    lot = county.lot(session, "DTAP")
    for i in range(40):
        a_dose(
            session,
            county,
            lot=lot,
            site=i % 2,
            at=clock.now() - timedelta(days=42 - i, hours=3),
            commit=False,
        )
    session.commit()
    inv = county.actor(session, "investigator")
    for i in range(3):
        file_report(
            session,
            inv,
            a_dose(session, county, lot=lot, site=i % 2),
            symptoms=["ANAPH", "URTIC"],
            serious=SeriousIn(life_threatening=True),
        )
    return lot


def no_horizontal_scroll(page) -> None:
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"page is {wide[0]} px wide in a {wide[1]} px window"


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("locale", list(WORDS))
def test_bureau_reads_the_alert_halts_and_lifts(live_url, new_page, session, county, size, locale):
    w = WORDS[locale]
    tag = f"{size}-{locale[:2]}"
    lot = a_lot_crosses(session, county)
    page = new_page(locale=locale, viewport=SIZES[size])
    log_in(page, live_url, "bureau")
    banner = page.locator(".banner-warning").filter(has_text=w["banner"])
    assert banner.count() == 1 and lot.lot_number in banner.inner_text()

    # One alert for the lot, on top.
    page.goto(f"{live_url}/signals")
    rows = page.locator("#results tbody tr", has_text=lot.lot_number)
    assert rows.count() == 1
    no_horizontal_scroll(page)
    shot(page, f"alert-1-overview-{tag}")
    rows.first.get_by_role("link", name=w["open"]).click()
    page.wait_for_selector("#alert-plain")

    # The alert in plain words; the statistics only in the panel that opens.
    plain = page.locator("#alert-plain").inner_text()
    assert w["seen"] in plain and lot.lot_number in plain and w["chance"] in plain
    assert "e-0" not in plain and "e+0" not in plain and "LLR" not in plain
    assert not page.locator("#stats dl").is_visible()
    reports = page.locator("#alert-reports tbody tr")
    assert reports.count() == 3 and reports.first.locator("a").inner_text().strip()
    chart = page.locator(".card.chart svg:visible")
    assert chart.count() == 1
    box = chart.bounding_box()
    assert box["width"] <= SIZES[size][0]
    no_horizontal_scroll(page)
    shot(page, f"alert-2-page-{tag}")
    page.locator("#stats summary").click()
    assert page.locator("#stats dl").is_visible()
    no_horizontal_scroll(page)

    # The halt: the form, then the confirmation naming the lot, product and sites.
    page.locator("#issue-halt").click()
    page.wait_for_selector("#halt-form")
    assert page.input_value("input[name=target]") == lot.lot_number
    page.fill("textarea[name=reason]", "同一批号 3 例严重过敏反应")
    page.get_by_role("button", name=w["issue"]).click()
    page.wait_for_selector("#confirm-step")
    text = page.locator("#confirm-step").inner_text()
    assert lot.lot_number in text and w["sites"] in text
    no_horizontal_scroll(page)
    shot(page, f"alert-3-confirm-halt-{tag}")
    page.locator("#confirm-button").click()
    page.wait_for_selector("#halt-state")
    assert page.locator("#halt-state").inner_text() == w["in_force"]
    # The recommendation's banner is gone: the lot is halted now.
    assert page.locator(".banner-warning").filter(has_text=w["banner"]).count() == 0
    shot(page, f"alert-4-halted-{tag}")

    # The lift: one more step that names the lot again.
    page.fill("#lift-form textarea[name=reason]", "复检合格，恢复使用")
    page.locator("#lift-form").get_by_role("button", name=w["lift"]).click()
    page.wait_for_selector("#confirm-step")
    assert lot.lot_number in page.locator("#confirm-step").inner_text()
    no_horizontal_scroll(page)
    shot(page, f"alert-5-confirm-lift-{tag}")
    page.locator("#confirm-button").click()
    page.wait_for_selector(f"#halt-state >> text={w['lifted']}")
    page.goto(f"{live_url}/")
    assert page.locator(".banner-warning").filter(has_text=w["banner"]).count() == 0
    assert page.locator(".banner-danger").filter(has_text=lot.lot_number).count() == 0
