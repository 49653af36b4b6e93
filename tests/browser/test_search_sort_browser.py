"""The header's search box and a sorted list, as an investigator uses them on a phone and on
a laptop: a report number jumps to the report, part of a name lists what was found by kind,
a column header sorts (aria-sort says how) and a filter changed afterwards keeps the sort."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, shot
from tests.factories import a_dose, a_person, a_report

pytestmark = pytest.mark.browser

SIZES = [(390, 844), (1366, 768)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_search_box_and_sorting(new_page, live_url, session, county, size) -> None:
    reports = [
        a_report(
            session,
            county,
            dose=a_dose(session, county, person=a_person(session, county.county_id, name=name)),
        )
        for name in ("乙某", "甲某", "丙某")
    ]
    page = new_page(locale="zh-CN", viewport=size)
    log_in(page, live_url, "investigator")
    tag = f"{size[0]}x{size[1]}"

    # A whole report number: straight to the report. On a phone the search box is in the
    # collapsed menu: open it first.
    toggle = page.locator("header .menu-toggle")
    if toggle.is_visible():
        toggle.click()
    box = page.locator("header .header-search input[name=q]")
    expect(box).to_be_visible()
    box.fill(reports[1].number)
    box.press("Enter")
    page.wait_for_url(f"{live_url}/reports/{reports[1].id}")
    expect(page.locator("body")).to_contain_text(reports[1].number)

    # Part of a name: the results page, by kind.
    if toggle.is_visible():
        toggle.click()
    box = page.locator("header .header-search input[name=q]")
    box.fill("某")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    kinds = page.locator("section.search-group").evaluate_all("els => els.map(e => e.dataset.kind)")
    assert kinds == ["report", "person"], kinds
    expect(page.locator("section[data-kind=report] li")).to_have_count(3)
    shot(page, f"search-results-{tag}")

    # Sorting the report list by the patient's name, then the other way round: by the
    # column's header on a wide screen; on a phone the rows are cards (no header row), and
    # the sorted list is the same address.
    narrow = size[0] < 600

    def sort_by(key: str) -> None:
        if narrow:
            page.goto(f"{live_url}/reports?sort={key}")
        else:
            page.locator("table.reports th", has_text="受种者").locator("a.sort-link").click()
        page.wait_for_url(re.compile(rf"/reports\?sort={re.escape(key)}$"))

    page.goto(f"{live_url}/reports")
    sort_by("patient")
    header = page.locator("table.reports th", has_text="受种者")
    expect(header).to_have_attribute("aria-sort", "ascending")
    names = page.locator("table.reports tbody tr td:nth-child(4)").all_inner_texts()
    assert names == sorted(names) and len(names) == 3, names
    sort_by("-patient")
    header = page.locator("table.reports th", has_text="受种者")
    expect(header).to_have_attribute("aria-sort", "descending")
    names = page.locator("table.reports tbody tr td:nth-child(4)").all_inner_texts()
    assert names == sorted(names, reverse=True), names

    # A filter changed after sorting keeps the sort.
    page.select_option("form#report-filters select[name=serious]", "no")
    page.wait_for_url(re.compile(r"serious=no"))
    assert "sort=-patient" in page.url
    expect(page.locator("table.reports th[aria-sort=descending]")).to_contain_text("受种者")
    expect(page.locator(".list-exports a").first).to_have_attribute(
        "href", re.compile(r"sort=-patient.*format=csv")
    )
    shot(page, f"reports-sorted-{tag}")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_dashboard_trend(new_page, live_url, session, county, size) -> None:
    for site, who in ((0, "reporter"), (0, "reporter"), (1, "reporter2")):
        a_report(session, county, who, dose=a_dose(session, county, site=site))
    page = new_page(locale="zh-CN", viewport=size)
    log_in(page, live_url, "bureau")
    curve = page.locator("#epi-curve")
    expect(curve.locator("svg")).to_be_visible()
    rates = page.locator("#township-rates tbody tr[data-township]")
    expect(rates.first).to_be_visible()
    assert rates.count() >= 2
    # Each card fits the screen; the table scrolls inside its own box if it must.
    for card in ("#epi-curve", "#township-rates"):
        box = page.locator(card).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= size[0] + 1, (card, box)
    page.locator("#epi-curve details summary").click()
    expect(page.locator("table.epi-table tbody tr")).to_have_count(26)
    shot(page, f"dashboard-trend-{size[0]}x{size[1]}")
