"""A failed submit leads to the fix, on a phone (390x844): the error summary at the top
takes the focus, links to each field, and the fields carry aria-invalid and point at their
message. In Chinese and English, with screenshots under test-artifacts/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in, shot
from tests.factories import nth_dose_at

pytestmark = pytest.mark.browser

INTRO = {
    "zh-CN": "有些内容需要修改",
    "en": "Some fields need correcting: see the messages beside them.",
}


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_failed_report_submit_on_a_phone_focuses_the_summary(
    live_url, new_page, session, county, locale
):
    tag = "zh" if locale == "zh-CN" else "en"
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    page = new_page(locale=locale, viewport=(390, 844))
    log_in(page, live_url, "reporter")
    page.goto(f"{live_url}/reports/new?dose_id={dose.id}")
    # No onset, no symptom, no outcome: submit as it is.
    page.click("button[type=submit][name=submit]")
    page.wait_for_selector("#error-summary")
    summary = page.locator("#error-summary")
    assert INTRO[locale] in summary.inner_text()
    # The focus is on the summary, which is on screen (not left at the submit bar).
    assert page.evaluate("document.activeElement.id") == "error-summary"
    box = summary.bounding_box()
    assert box is not None and -2 <= box["y"] < 844  # scrolled to its top (sub-pixel)
    # Each problem links to its field; the field says it is invalid and names its message.
    onset = page.locator("#f-onset_at")
    assert onset.get_attribute("aria-invalid") == "true"
    described = onset.get_attribute("aria-describedby")
    assert described and page.locator(f"#{described}").inner_text().strip()
    assert page.locator('#error-summary a[href="#f-onset_at"]').count() == 1
    symptom = page.locator("input[name=symptoms]").first
    assert symptom.get_attribute("aria-invalid") == "true"  # a group's message, set by aefi.js
    shot(page, f"form-errors-{tag}-390")
    # Following a link puts the focus in the field itself.
    page.click('#error-summary a[href="#f-onset_at"]')
    assert page.evaluate("document.activeElement.id") == "f-onset_at"
    page.click('#error-summary a[data-field="symptoms"]')
    assert page.evaluate("document.activeElement.name") == "symptoms"
    # Nothing entered is lost: the linked dose is still linked.
    assert page.locator(f'input[name=dose_ids][value="{dose.id}"]').is_checked()
    # The summary itself fits the phone's width (the page's own layout is the responsive
    # work's test).
    assert summary.bounding_box()["width"] <= 390
