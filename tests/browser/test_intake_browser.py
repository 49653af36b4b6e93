"""A physician files a report: dose search, link, symptoms, one validation error fixed
without retyping, submit, report page. In Chinese and in English, with screenshots."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select

from aefi.intake.models import Report
from aefi.registry.models import Dose, Lot, Person
from aefi.web import iso_local
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser

TEXT = {
    "zh-CN": {
        "file": "填报个案",
        "link": "关联",
        "before": "发病时间早于接种时间",
        "urtic": "荨麻疹",
        "itch": "全身瘙痒",
        "recovering": "好转",
        "submit": "提交报告",
        "filed": "已提交",
        "saved": "草稿已于",
    },
    "en": {
        "file": "File a report",
        "link": "Link",
        "before": "The onset is before the vaccination",
        "urtic": "Urticaria",
        "itch": "Generalised itching",
        "recovering": "recovering",
        "submit": "Submit report",
        "filed": "is filed",
        "saved": "Draft saved at",
    },
}


def _dose_of_a_new_person(session, site_id: int, nth: int) -> Dose:
    seen: list[int] = []
    for d in session.exec(select(Dose).where(Dose.site_id == site_id).order_by(Dose.id)):
        if d.person_id not in seen:
            seen.append(d.person_id)
            if len(seen) == nth + 1:
                return d
    raise AssertionError("not enough persons at the site")


@pytest.mark.parametrize("locale,nth", [("zh-CN", 0), ("en", 1)])
def test_file_a_report_from_dose_search_to_report_page(
    live_url, new_page, session, county, locale, nth
):
    t = TEXT[locale]
    tag = "zh" if locale == "zh-CN" else "en"
    rep = county.actor(session, "reporter")
    dose = _dose_of_a_new_person(session, rep.site_id, nth)
    person = session.get(Person, dose.person_id)
    lot = session.get(Lot, dose.lot_id)

    page = new_page(locale=locale)
    log_in(page, live_url, "reporter")
    page.get_by_role("link", name=t["file"]).first.click()
    page.wait_for_url(f"{live_url}/reports/new")

    # Find the vaccinee by ID number and link the dose.
    page.fill("#f-dose_q", person.id_number)
    row = page.locator(f"#dose-results tr[data-dose='{dose.id}']")
    row.get_by_role("button", name=t["link"]).click()
    page.wait_for_selector(f"#linked-doses input[name=dose_ids][value='{dose.id}']")
    assert lot.lot_number in page.locator("#linked-doses").inner_text()
    assert person.name in page.locator("#linked-doses").inner_text()

    # Symptoms, outcome; an onset an hour BEFORE the vaccination.
    page.get_by_label(t["urtic"], exact=True).check()
    page.get_by_label(t["itch"], exact=True).check()
    page.fill("#f-description", "注射后出现荨麻疹 / urticaria after the injection")
    page.get_by_label(t["recovering"], exact=True).check()
    page.fill("#f-max_temperature_c", "37.4")
    page.fill("#f-onset_at", iso_local(dose.administered_at - timedelta(hours=1)))
    page.locator("#f-onset_at").blur()
    error = page.locator("#msg-onset_at .field-error")
    error.wait_for()
    assert t["before"] in error.inner_text()
    page.locator("#draft-status", has_text=t["saved"]).wait_for()
    shot(page, f"intake-form-error-{tag}")
    if tag == "zh":
        page.set_viewport_size({"width": 800, "height": 1100})
        shot(page, "intake-form-800px-zh")
        page.set_viewport_size({"width": 1280, "height": 900})

    # Fix the onset only; everything else stays as typed.
    page.fill("#f-onset_at", iso_local(dose.administered_at + timedelta(minutes=20)))
    page.locator("#f-onset_at").blur()
    error.wait_for(state="detached")
    assert page.locator("input[name=symptoms][value=URTIC]").is_checked()
    page.get_by_role("button", name=t["submit"]).click()
    page.wait_for_url(re.compile(r".*/reports/\d+\?filed=1$"))
    assert t["filed"] in page.locator(".confirm-banner").inner_text()
    shot(page, f"intake-report-{tag}")

    session.expire_all()
    report = session.exec(select(Report).where(Report.person_id == person.id)).one()
    assert report.symptoms == ["URTIC", "ITCH"]
    assert report.max_temperature_c == pytest.approx(37.4)
    assert page.locator("h1").inner_text().startswith(("报告", "Report"))
    assert report.number in page.locator("h1").inner_text()


def test_hand_entered_dose_survives_an_expired_session(live_url, new_page, session, county):
    """A dose given elsewhere, its lot looked up as typed; the session expires mid-form;
    the autosave keeps everything on the device; after logging in again the draft
    resumes with every value and is filed."""
    from aefi import clock
    from aefi.demo import DEMO_PASSWORDS

    lot = session.exec(select(Lot).order_by(Lot.id.desc())).first()
    at = clock.now() - timedelta(hours=4)
    page = new_page(locale="en")
    log_in(page, live_url, "reporter")
    page.goto(f"{live_url}/reports/new")
    page.get_by_text("Dose given elsewhere? Enter it by hand").click()
    page.locator("input[name='hand-0-lot_number']").press_sequentially(lot.lot_number[:5])
    page.wait_for_selector(f"#lots-0 option[value='{lot.lot_number}']", state="attached")
    page.fill("input[name='hand-0-lot_number']", lot.lot_number)
    page.locator("#lot-info-0 .lot-found").wait_for()
    page.fill("input[name='hand-0-administered_at']", iso_local(at))
    page.fill("input[name='hand-0-vaccinating_unit']", "Neighbouring county clinic")
    page.fill("#f-patient_name", "Wang Xiaoming")
    page.fill("#f-patient_id_number", "330782202001010015")
    page.get_by_label("Fever", exact=True).check()
    page.get_by_label("recovered", exact=True).check()
    page.fill("#f-onset_at", iso_local(at + timedelta(hours=2)))
    page.locator("#draft-status", has_text="Draft saved at").wait_for()

    # The login session ends (expired); the physician goes on typing.
    kept = [c for c in page.context.cookies() if c["name"] != "aefi_session"]
    page.context.clear_cookies()
    page.context.add_cookies(kept)
    page.fill("#f-description", "Fever 38.5 two hours after a dose given elsewhere")
    page.locator("#f-description").blur()
    page.locator("#draft-status", has_text="Your session has expired.").wait_for()
    assert page.url == f"{live_url}/reports/new"  # still on the form, nothing thrown away
    shot(page, "intake-expired-draft-en")

    page.get_by_role("link", name="Log in again to continue").click()
    page.fill("input[name=username]", "reporter")
    page.fill("input[name=password]", DEMO_PASSWORDS["reporter"][1])
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/reports/new\?draft=\d+$"))
    assert page.input_value("#f-description") == "Fever 38.5 two hours after a dose given elsewhere"
    assert page.input_value("input[name='hand-0-lot_number']") == lot.lot_number
    assert page.input_value("#f-patient_name") == "Wang Xiaoming"
    assert page.get_by_label("Fever", exact=True).is_checked()
    page.get_by_role("button", name="Submit report").click()
    page.wait_for_url(re.compile(r".*/reports/\d+\?filed=1$"))
    assert "linked by hand" in page.content()
    shot(page, "intake-hand-report-en")
