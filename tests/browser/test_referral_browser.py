"""Both directions of the green channel, live, in two browsers: a physician files an
anaphylaxis report on the real form; the hospital's open inbox shows the referral without
a reload; the hospital acknowledges; the physician's report page shows it without a reload.

"Without a reload" is checked with a marker set on each page's window before the change:
a reload would wipe it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from aefi.intake.models import Report
from aefi.referral.models import Referral
from aefi.registry.models import Dose, Person
from aefi.web import iso_local
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser

MARK = "window.__noReload = 'still here'"
STILL = "window.__noReload === 'still here'"


def _dose_of_a_new_person(session, site_id: int) -> Dose:
    return session.exec(select(Dose).where(Dose.site_id == site_id).order_by(Dose.id)).first()


def test_anaphylaxis_referral_reaches_the_hospital_and_the_ack_comes_back(
    live_url, new_page, session, county
):
    rep = county.actor(session, "reporter")
    dose = _dose_of_a_new_person(session, rep.site_id)
    person = session.get(Person, dose.person_id)

    # The hospital's inbox is open (its home page), empty, before anything is filed.
    hospital = new_page(locale="zh-CN")
    log_in(hospital, live_url, "hospital")
    assert hospital.locator("h1").inner_text() == "转诊收件箱"
    assert hospital.locator("#results tr.ref-new").count() == 0
    hospital.evaluate(MARK)

    # The physician files the report on the real form.
    physician = new_page(locale="zh-CN")
    log_in(physician, live_url, "reporter")
    physician.goto(f"{live_url}/reports/new")
    physician.fill("#f-dose_q", person.id_number)
    physician.locator(f"#dose-results tr[data-dose='{dose.id}']").get_by_role(
        "button", name="关联"
    ).click()
    physician.wait_for_selector(f"#linked-doses input[name=dose_ids][value='{dose.id}']")
    physician.get_by_label("严重过敏反应/过敏性休克", exact=True).check()
    physician.get_by_label("血压下降", exact=True).check()
    physician.fill(
        "#f-description", "接种后15分钟出现全身荨麻疹、喘鸣、血压下降，已肌注肾上腺素0.15mg"
    )
    physician.get_by_label("好转", exact=True).check()
    physician.fill("#f-onset_at", iso_local(dose.administered_at + timedelta(minutes=15)))
    physician.locator("#f-onset_at").blur()
    physician.get_by_role("button", name="提交报告").click()
    physician.wait_for_url(re.compile(r".*/reports/\d+\?filed=1$"))
    status = physician.locator("#referral-live")
    status.locator("[data-status='sent']").wait_for()
    assert "县人民医院" in status.inner_text()
    physician.evaluate(MARK)
    shot(physician, "referral-physician-sent-zh")

    session.expire_all()
    report = session.exec(select(Report).where(Report.person_id == person.id)).one()
    ref = session.exec(select(Referral).where(Referral.report_id == report.id)).one()
    assert ref.origin == "triage" and ref.hospital_id == county.hospital_ids[0]

    # The hospital's open inbox shows it, highlighted, with the count in the tab title.
    row = hospital.locator(f"#results tr#ref-{ref.id}.ref-new")
    row.wait_for()
    assert person.name in row.inner_text()
    assert hospital.evaluate(STILL), "the inbox was reloaded"
    # (expect, not wait_for_function: the CSP forbids the eval its polling needs)
    expect(hospital).to_have_title(re.compile(r"^\(1\)"))
    assert "待确认接收" in hospital.locator(".inbox-alert").inner_text()
    shot(hospital, "referral-inbox-new-zh")

    # The hospital acknowledges from the row.
    row.get_by_role("button", name="确认接收").click()
    hospital.locator(f"#results tr#ref-{ref.id}:not(.ref-new)").wait_for()
    expect(hospital).not_to_have_title(re.compile(r"^\("))
    assert hospital.evaluate(STILL)
    shot(hospital, "referral-inbox-acknowledged-zh")

    # The physician's page shows the acknowledgement without a reload.
    status.locator("[data-status='acknowledged']").wait_for()
    assert physician.evaluate(STILL), "the report page was reloaded"
    assert "急诊科" in status.inner_text() or "医生" in status.inner_text()  # who acknowledged
    shot(physician, "referral-physician-acknowledged-zh")

    # The physician adds vital signs; the hospital's detail page and the hand-over sheet.
    physician.goto(f"{live_url}/reports/{report.id}/referral")
    physician.fill("input[name=adrenaline_mg]", "0.15")
    physician.fill("input[name=bp_systolic]", "78")
    physician.fill("input[name=bp_diastolic]", "45")
    physician.fill("input[name=heart_rate]", "152")
    physician.fill("input[name=spo2]", "92")
    physician.get_by_label("120救护车").check()
    shot(physician, "referral-form-zh")
    physician.get_by_role("button", name="保存并通知医院").click()
    physician.wait_for_url(f"{live_url}/reports/{report.id}")
    hospital.goto(f"{live_url}/referrals/{ref.id}")
    assert "78/45 mmHg" in hospital.locator(".ref-facts").inner_text()
    shot(hospital, "referral-detail-hospital-zh")


def test_inbox_in_english_and_hospital_b_sees_nothing(live_url, new_page, session, county):
    from tests.factories import file_anaphylaxis, referral_of

    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    other = new_page(locale="en")
    log_in(other, live_url, "hospital2")
    assert other.locator("h1").inner_text() == "Referral inbox"
    assert report.patient_name not in other.content()
    assert other.goto(f"{live_url}/referrals/{ref.id}").status == 404
    page = new_page(locale="en")
    log_in(page, live_url, "hospital")
    page.locator(f"#results tr#ref-{ref.id}.ref-new").wait_for()
    shot(page, "referral-inbox-new-en")
    page.goto(f"{live_url}/referrals/{ref.id}")
    assert "Decline" in page.content()
    shot(page, "referral-detail-hospital-en")


def test_escalated_referral_is_rerouted_from_the_report_page(live_url, new_page, session, county):
    from aefi import clock
    from aefi.referral.inbox import service as inbox
    from aefi.referral.steps import service as steps
    from tests.factories import file_anaphylaxis, referral_of

    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    clock.advance(timedelta(minutes=10))
    steps.check_timers(session)
    page = new_page(locale="zh-CN")
    log_in(page, live_url, "reporter")
    assert "超时未确认的转诊：1" in page.locator(".banner").inner_text()
    page.goto(f"{live_url}/reports/{report.id}")
    status = page.locator("#referral-live")
    status.locator("[data-status='escalated']").wait_for()
    page.evaluate(MARK)
    shot(page, "referral-physician-escalated-zh")
    status.get_by_role("button", name=re.compile("改派至")).click()
    status.locator("[data-status='sent']").wait_for()
    assert "县中医院" in status.inner_text() and "已改派" in status.inner_text()
    assert page.evaluate(STILL)
    session.expire_all()
    assert referral_of(session, report).status == "rerouted"
    assert (
        ref.id
        != inbox.report_referrals(session, county.actor(session, "reporter"), report.id).current.id
    )
