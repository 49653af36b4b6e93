"""A list filtered by htmx, a record opened from it, then Back: the whole list page comes
back (header, filters, results), not the bare results block; and Back again steps through
the filters one by one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def _whole_list_page(page, q: str) -> None:
    page.locator("header.top nav.main-nav").wait_for()
    assert page.locator("h1").first.is_visible()
    assert page.locator("form.filters input[name=q]").input_value() == q
    assert page.locator("#results").count() == 1
    assert page.locator("#results #results").count() == 0
    lots = page.locator("#results tbody tr td:first-child").all_inner_texts()
    assert lots and all(q in lot for lot in lots), lots
    assert page.locator("#results nav.pager").count() == 1


def test_back_after_filtering_a_list_shows_the_whole_page(live_url, new_page) -> None:
    page = new_page(locale="en")
    log_in(page, live_url, "admin")
    page.goto(f"{live_url}/registry/lots")
    box = page.locator("form.filters input[name=q]")

    box.fill("2026")
    page.wait_for_url(re.compile(r"/registry/lots\?q=2026$"))
    box.fill("20261")
    page.wait_for_url(re.compile(r"/registry/lots\?q=20261$"))
    _whole_list_page(page, "20261")
    first_lot = page.locator("#results tbody tr td:first-child").first.inner_text()

    # Open a record from the filtered list, then Back.
    page.locator("#results tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/registry/lots/\d+$"))
    assert first_lot in page.content()
    page.go_back()
    page.wait_for_url(re.compile(r"/registry/lots\?q=20261$"))
    _whole_list_page(page, "20261")
    shot(page, "lists-back-after-filter")

    # Back again: the first filter, the whole page still.
    page.go_back()
    page.wait_for_url(re.compile(r"/registry/lots\?q=2026$"))
    expect(page.locator("form.filters input[name=q]")).to_have_value("2026")
    _whole_list_page(page, "2026")

    # A reload of a pushed url is the whole page too.
    page.reload()
    _whole_list_page(page, "2026")


def test_back_after_paging_restores_the_page_and_its_filters(live_url, new_page) -> None:
    page = new_page(locale="en")
    log_in(page, live_url, "admin")
    page.goto(f"{live_url}/registry/lots?q=2026")
    page.locator("#results nav.pager a[rel=next]").click()
    page.wait_for_url(re.compile(r"/registry/lots\?q=2026&page=2$"))
    assert "page 2 of" in page.locator("#results nav.pager").inner_text()
    page.locator("#results tbody tr a").first.click()
    page.wait_for_url(re.compile(r"/registry/lots/\d+$"))
    page.go_back()
    page.wait_for_url(re.compile(r"page=2$"))
    _whole_list_page(page, "2026")
    assert "page 2 of" in page.locator("#results nav.pager").inner_text()
