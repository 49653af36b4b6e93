"""After the vaccinee leaves, as people see it: the physician prints the certificate, the
guardian scans its QR code on a phone, answers "well" on day 1, reports a red flag on day 3
and sees whom to call while the site and the hospital are alerted; a non-urgent symptom
becomes a self-report the physician files as a report linked to the dose."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

import pytest
from sqlmodel import select

from aefi import clock, demo
from aefi.aftercare.models import SelfReport
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Person
from tests.browser.conftest import log_in, shot
from tests.factories import DAY0, a_dose

pytestmark = pytest.mark.browser
PHONE = (390, 844)


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.url


def _qr_link(pdf: bytes, tmp_path) -> str:
    import zxingcpp
    from PIL import Image

    (tmp_path / "cert.pdf").write_bytes(pdf)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "150",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "cert.pdf"),
            str(tmp_path / "cert"),
        ],
        check=True,
    )
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            str(tmp_path / "cert.pdf"),
            "test-artifacts/aftercare-certificate",
        ],
        check=False,
    )
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(next(tmp_path.glob("cert*.png"))))]
    assert len(found) == 1, found
    return found[0]


def test_guardian_checks_in_from_the_certificate_qr_code(
    live_url, new_page, session, county, tmp_path
):
    clock.freeze(DAY0)
    # The browser tests' county is the demo's: an ID number its persons cannot have.
    person = Person(
        county_id=county.county_id,
        name="林小满",
        id_number=demo._id_number(date(2026, 5, 1), 987),
        sex="female",
        birth_on=date(2026, 5, 1),
        phone="13900000000",
        guardian_name="林大海",
    )
    session.add(person)
    session.flush()
    dose = a_dose(session, county, person=person, at=DAY0 - timedelta(minutes=45))

    # The site's physician prints the certificate.
    desk = new_page("zh-CN", (1366, 768))
    log_in(desk, live_url, "reporter")
    desk.goto(f"{live_url}/persons/{person.id}/certificate?dose={dose.id}")
    assert desk.get_by_role("heading", name="预防接种凭证").is_visible()
    shot(desk, "aftercare-certificate-page")
    pdf = desk.request.get(
        f"{live_url}/persons/{person.id}/certificate.pdf?dose={dose.id}", timeout=90_000
    )
    assert pdf.ok
    link = _qr_link(pdf.body(), tmp_path)
    assert link.startswith(live_url + "/c/")

    # Day 1: the guardian scans it on a phone and answers "well".
    clock.advance(timedelta(days=1))
    phone = new_page("zh-CN", PHONE)
    phone.goto(link)
    assert phone.get_by_role("heading", name="受种者今天情况怎么样？").is_visible()
    assert person.name not in phone.content()
    _no_sideways_scroll(phone)
    phone.get_by_label("一切正常").check()
    phone.get_by_role("button", name="提交").click()
    assert phone.get_by_text("谢谢，祝您健康").is_visible()
    shot(phone, "aftercare-checkin-well-phone")

    # Day 3: swelling of the face: the page says whom to call, at once.
    clock.advance(timedelta(days=2))
    phone.goto(link)
    phone.get_by_label("不舒服").check()
    phone.get_by_label("脸、嘴唇、舌头或喉咙肿胀").check()
    phone.fill("input[name=onset_on]", clock.local_today().isoformat())
    phone.get_by_label("重：无法正常活动，或需要看医生").check()
    phone.get_by_role("button", name="提交").click()
    alert = phone.get_by_role("alert")
    assert alert.get_by_role("heading", name="请立即就医").is_visible()
    assert phone.locator('a[href="tel:120"]').first.is_visible()
    hospital_phone = phone.locator(".hospital a[href^='tel:']")
    assert hospital_phone.is_visible() and hospital_phone.inner_text().strip()
    assert alert.get_by_text("示范县城关镇人民路 88 号").is_visible()  # where to go
    _no_sideways_scroll(phone)
    shot(phone, "aftercare-checkin-red-flag-phone")

    # The site's physician and the hospital's desk are alerted.
    desk.goto(f"{live_url}/notifications")
    assert desk.get_by_text("居家危险信号").first.is_visible()
    hosp = new_page("zh-CN", PHONE)
    log_in(hosp, live_url, "hospital")
    hosp.goto(f"{live_url}/notifications")
    assert hosp.get_by_text("居家危险信号").first.is_visible()
    _no_sideways_scroll(hosp)

    # Day 4: a rash, not a red flag: a self-report in the site's queue.
    clock.advance(timedelta(days=1))
    phone.goto(link)
    phone.get_by_label("不舒服").check()
    phone.get_by_label("皮疹、荨麻疹或瘙痒").check()
    phone.fill("input[name=onset_on]", clock.local_today().isoformat())
    phone.get_by_label("轻：有感觉，但不影响日常生活").check()
    phone.get_by_role("button", name="提交").click()
    assert phone.get_by_text("谢谢，您的回答已送达接种单位").is_visible()

    # The physician files it on a phone too; triage handles it as any report.
    doc = new_page("zh-CN", PHONE)
    log_in(doc, live_url, "reporter")
    doc.goto(f"{live_url}/aftercare/self-reports")
    # The queue's rows are cards on the phone (a squeezed table read one character a line).
    doc.locator("table.grid.stacked").wait_for()
    _no_sideways_scroll(doc)
    shot(doc, "aftercare-queue-phone")
    rash = session.exec(
        select(SelfReport).where(SelfReport.dose_id == dose.id, SelfReport.urgent == False)  # noqa: E712
    ).one()
    doc.goto(f"{live_url}/aftercare/self-reports/{rash.id}")
    doc.locator("table.grid.stacked").wait_for()
    _no_sideways_scroll(doc)
    shot(doc, "aftercare-self-report-phone")
    doc.get_by_role("button", name="提交报告").click()
    doc.wait_for_url(f"{live_url}/reports/*")
    shot(doc, "aftercare-report-from-self-report-phone")
    session.expire_all()
    rash = session.get(SelfReport, rash.id)
    report = session.get(Report, rash.report_id)
    assert rash.status == "confirmed" and report.source == "self_report"
    linked = session.exec(select(ReportDose.dose_id).where(ReportDose.report_id == report.id)).all()
    assert linked == [dose.id]
    assert report.number in doc.content()
