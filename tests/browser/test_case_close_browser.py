"""The investigator's case to close, at the three sizes and in both languages: the form
pre-filled from the report, the referral and the hospital (saying from where); closing
with sections empty refused with the list, focus on it, each entry leading to its
section; closed with a reason; the PDF says it. Screenshots in test-artifacts/close-*.png.
"""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from sqlmodel import Session

from aefi import clock, db
from aefi.referral.schemas import AdmitIn, OutcomeIn
from aefi.referral.steps import service as steps
from tests.browser.conftest import ARTIFACTS, log_in, shot
from tests.factories import a_case, file_anaphylaxis, referral_of

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1366, 768), "tablet": (820, 1180), "phone": (390, 844)}
WORDS = {
    "zh-CN": {
        "close": "结案",
        "from_report": "建议值，来自报告卡",
        "from_hospital": "建议值，来自医院的诊疗结果",
        "refused": "调查表尚未填写完整",
        "history": "病史与临床经过",
        "closed": "已结案",
        "reason": "失访",
    },
    "en": {
        "close": "Close the case",
        "from_report": "Suggested from report",
        "from_hospital": "Suggested from the hospital's outcome",
        "refused": "The investigation form is not complete",
        "history": "History and clinical course",
        "closed": "Case closed",
        "reason": "Lost to follow-up",
    },
}


def discharged_case(county) -> int:
    """An anaphylaxis whose child reached the hospital, was admitted and discharged."""
    with Session(db.get_engine(), expire_on_commit=False) as session:
        report = file_anaphylaxis(session, county)
        ref = referral_of(session, report)
        hospital = county.actor(session, "hospital")
        steps.acknowledge(session, hospital, ref.id)
        clock.freeze(clock.now() + timedelta(minutes=25))
        steps.record_arrival(session, hospital, ref.id)
        clock.freeze(clock.now() + timedelta(minutes=20))
        steps.admit(session, hospital, ref.id, AdmitIn(ward="儿科"))
        clock.freeze(clock.now() + timedelta(days=2))
        steps.record_outcome(
            session,
            hospital,
            ref.id,
            OutcomeIn(result="discharged", diagnosis="严重过敏反应", patient_outcome="recovered"),
        )
        return a_case(session, report).id


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("locale", list(WORDS))
def test_investigator_closes_a_case_complete_or_with_a_reason(
    live_url, new_page, county, locale, size
):
    w = WORDS[locale]
    case_id = discharged_case(county)
    page = new_page(locale=locale, viewport=SIZES[size])
    log_in(page, live_url, "investigator")
    page.goto(f"{live_url}/cases/{case_id}")
    name = f"close-{locale}-{size}"

    # Pre-filled, saying from where.
    history = page.locator("#section-history")
    course = history.locator("textarea[name=clinical_course]").input_value()
    assert "ANAPH" not in course and course  # the dose, onset and symptoms, in words
    assert w["from_report"] in history.inner_text()
    assert w["from_hospital"] in history.inner_text()
    exams = page.locator("#section-examinations")
    assert exams.locator("input[name=clinical_diagnosis]").input_value() == "严重过敏反应"
    shot(page, f"{name}-1-prefilled")
    history.screenshot(path=str(ARTIFACTS / f"{name}-1-history.png"))

    # Close with the form empty: refused, the list of sections, focus on it.
    page.locator("#close-case").click()
    page.locator("#close-missing").wait_for()
    assert page.evaluate("document.activeElement && document.activeElement.id") == "close-errors"
    errors = page.locator("#close-errors")
    assert w["refused"] in errors.inner_text()
    links = errors.locator("#close-missing a")
    assert links.count() == 6
    assert links.first.inner_text() == w["history"]
    shot(page, f"{name}-2-refused")
    page.screenshot(path=str(ARTIFACTS / f"{name}-2-refused-viewport.png"))
    # An entry leads to its section's first field.
    links.first.click()
    assert page.evaluate("document.activeElement.closest('#section-history') !== null")

    # With a reason it closes; the page and the PDF say why.
    page.check("#close-reason-lost-to-follow-up")
    page.locator("#close-case").click()
    page.wait_for_url(f"{live_url}/cases/{case_id}#closing")
    head = page.locator("header.case-head").inner_text()
    assert w["closed"] in head
    assert w["reason"] in page.locator("#closed-with-reason").inner_text()
    shot(page, f"{name}-3-closed")
    # WeasyPrint on a shared machine: give the PDF time.
    pdf = page.request.get(
        f"{live_url}/cases/{case_id}/report.pdf",
        headers={"Accept-Language": locale},
        timeout=90000,
    )
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf.body(), capture_output=True, check=True
    ).stdout.decode()
    assert w["reason"] in text and "lost_to_follow_up" not in text
