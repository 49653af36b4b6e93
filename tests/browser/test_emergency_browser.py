"""The emergency path in Chromium, at the three sizes, in Chinese and English: the site's
physician files an anaphylaxis from the observation board with adrenaline (and a repeat),
vital signs and weight; the report page leads with where the child is going; the hospital's
open inbox shows the arrival banner, beeps (the sound switch's click is the gesture the
browser needs) and has the adrenaline and vital signs at the top of the entry; the hospital
acknowledges, records the arrival, admits and discharges while the physician's page follows
live; the hand-over sheet's text carries the dose, its time and the vital signs."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from aefi import clock, i18n
from aefi.intake.models import Report
from aefi.referral.models import Referral
from aefi.registry.models import Lot, LotStatus, Site
from aefi.web import iso_local
from tests.browser.conftest import ARTIFACTS, api_client, log_in, shot

pytestmark = pytest.mark.browser

# 10:00 in Shanghai on a day after the demo county's doses: the board starts empty.
DAY0 = (datetime.now(UTC) + timedelta(days=60)).replace(hour=2, minute=0, second=0, microsecond=0)
SIZES = {"desktop": (1366, 768), "tablet": (820, 1180), "phone": (390, 844)}


def tr(lang: str, msg: str, **params) -> str:
    token = i18n.set_locale("zh_CN" if lang == "zh" else "en")
    try:
        return i18n.gettext(msg, **params)
    finally:
        i18n._current.reset(token)


def hhmm(at: datetime) -> str:
    return clock.to_local(at).strftime("%H:%M")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", list(SIZES))
def test_anaphylaxis_from_the_board_to_discharge(live_url, new_page, session, county, size, lang):
    clock.freeze(DAY0)
    t = lambda msg, **kw: tr(lang, msg, **kw)  # noqa: E731
    browser_locale = "zh-CN" if lang == "zh" else "en"
    viewport = SIZES[size]
    rep = county.actor(session, "reporter")
    site = session.get(Site, rep.site_id)
    lot = session.exec(select(Lot).where(Lot.status == LotStatus.active)).first()
    r = api_client(live_url, "iis").post(
        "/api/v1/doses",
        json={
            "person": {"name": "陈小雨", "id_number": "330782202103150021", "sex": "female"},
            "lot_number": lot.lot_number,
            "site_code": site.code,
            "dose_number": 1,
            "administered_at": clock.now().isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    dose_id = r.json()["id"]

    # The hospital desk has its inbox open and turns the arrival sound on (that click is
    # the user gesture that lets the page play sound).
    desk = new_page(locale=browser_locale, viewport=viewport)
    log_in(desk, live_url, "hospital")
    desk.locator("#desk-alert[data-sound=off] button").click()
    desk.locator("#desk-alert[data-sound=on]").wait_for()
    assert desk.locator("#desk-arrival").is_hidden()

    # The physician files from the board's row: the block opens with the anaphylaxis box.
    page = new_page(locale=browser_locale, viewport=viewport)
    log_in(page, live_url, "reporter")
    clock.advance(timedelta(minutes=14))
    row = page.locator(f"tr[data-dose-id='{dose_id}']")
    row.get_by_role("link", name=t("File report")).click()
    page.wait_for_url(re.compile(rf".*/reports/new\?dose_id={dose_id}$"))
    page.wait_for_selector(f"#linked-doses input[name=dose_ids][value='{dose_id}']")
    assert page.locator("#section-emergency[open]").count() == 0
    page.get_by_label(
        "严重过敏反应/过敏性休克" if lang == "zh" else "Anaphylaxis / anaphylactic shock",
        exact=True,
    ).check()
    page.locator("#section-emergency[open]").wait_for()
    onset, given, repeat = (DAY0 + timedelta(minutes=m) for m in (10, 12, 22))
    page.fill("#f-onset_at", iso_local(onset))
    page.locator("#f-onset_at").blur()
    page.fill("#f-em_adrenaline_mg", "0.15")
    page.fill("#f-em_adrenaline_at", hhmm(given))
    page.fill("#f-em_repeat1_at", hhmm(repeat))
    page.fill("#f-em_vitals_at", hhmm(given + timedelta(minutes=1)))
    for name, value in {
        "bp_systolic": "70",
        "bp_diastolic": "40",
        "heart_rate": "168",
        "resp_rate": "38",
        "spo2": "90",
        "temperature_c": "37.2",
        "weight_kg": "15.5",
    }.items():
        page.fill(f"#f-em_{name}", value)
    page.select_option("#f-em_consciousness", "voice")
    page.fill("#f-em_oxygen_at", hhmm(given + timedelta(minutes=1)))
    page.get_by_label(t("Life-threatening"), exact=True).check()
    page.get_by_label(t("recovering"), exact=True).check()
    shot(page, f"emergency-form-{size}-{lang}")
    page.get_by_role("button", name=t("Submit report")).click()
    page.wait_for_url(re.compile(r".*/reports/\d+\?filed=1$"))

    # First on the report page: where the child is going, with the phone as a link.
    live = page.locator("#referral-live")
    live.locator("[data-status='sent']").wait_for()
    assert live.bounding_box()["y"] < page.locator("#triage").bounding_box()["y"]
    assert live.locator("a.tel").get_attribute("href").startswith("tel:")
    assert "县人民医院" in live.inner_text() or "County" in live.inner_text()
    assert page.locator("details.triage-why:not([open])").count() == 1
    shot(page, f"emergency-report-sent-{size}-{lang}")
    session.expire_all()
    report_id = int(re.search(r"/reports/(\d+)", page.url).group(1))
    ref = session.exec(select(Referral).where(Referral.report_id == report_id)).one()
    assert ref.adrenaline_mg == 0.15 and ref.spo2 == 90 and ref.weight_kg == 15.5

    # The desk: a banner, a beep, and the adrenaline and vital signs on the entry.
    desk.locator("#desk-arrival:not([hidden])").wait_for()
    desk.locator("html[data-desk-beeps]").wait_for(state="attached")
    entry = desk.locator(f"#results tr#ref-{ref.id}-em")
    assert "0.15 mg" in entry.inner_text() and "70/40" in entry.inner_text()
    if size == "phone":
        # On cards the line under the entry takes no column's heading, and a heading's
        # sort mark is not part of its name.
        assert entry.locator("td").get_attribute("data-label") is None
        patient = desk.locator(f"#results tr#ref-{ref.id} td").nth(1)
        assert patient.get_attribute("data-label") == t("Patient")
    shot(desk, f"emergency-inbox-alert-{size}-{lang}")
    desk.goto(f"{live_url}/referrals/{ref.id}")
    top = desk.locator("#em-summary")
    text = top.inner_text()
    assert "0.15 mg" in text and hhmm(given) in text and hhmm(repeat) in text
    assert "70/40 mmHg" in text and "SpO₂ 90%" in text and "15.5 kg" in text
    assert top.bounding_box()["y"] < desk.locator("#ref-status").bounding_box()["y"]
    shot(desk, f"emergency-referral-detail-{size}-{lang}")

    # Receipt to discharge; the physician's page follows without a reload.
    page.evaluate("window.__noReload = 'still here'")
    actions = desk.locator(".ref-actions")
    actions.get_by_role("button", name=t("Acknowledge"), exact=True).click()
    desk.wait_for_load_state()
    live.locator("[data-status='acknowledged']").wait_for()
    desk.locator(".ref-actions").get_by_role("button", name=t("Patient arrived")).click()
    desk.wait_for_load_state()
    desk.locator(".ref-actions input[name=ward]").fill("儿科")
    desk.locator(".ref-actions").get_by_role("button", name=t("Admitted"), exact=True).click()
    desk.wait_for_load_state()
    form = desk.locator("form.outcome-form")
    form.locator("input[name=result][value=discharged]").check()
    form.locator("input[name=diagnosis]").fill("严重过敏反应")
    form.locator("select[name=patient_outcome]").select_option("recovered")
    form.get_by_role("button", name=t("Record outcome")).click()
    desk.wait_for_load_state()
    live.locator("[data-status='discharged']").wait_for()
    page.locator("#referral-live[data-live=no]").wait_for()
    assert page.evaluate("window.__noReload === 'still here'"), "the report page was reloaded"
    shot(page, f"emergency-report-discharged-{size}-{lang}")
    session.expire_all()
    assert session.get(Referral, ref.id).status == "discharged"
    assert session.get(Report, report_id).emergency["adrenaline"]["repeats"]

    # The hand-over sheet: the dose and its time, the repeat, the vital signs.
    # WeasyPrint with a CJK font takes seconds on a loaded machine.
    pdf = desk.request.get(f"{live_url}/referrals/{ref.id}/handover.pdf", timeout=90000)
    assert pdf.status == 200
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"emergency-handover-{size}-{lang}.pdf"
    path.write_bytes(pdf.body())
    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "0.15 mg" in text and hhmm(given) in text and hhmm(repeat) in text
        # The desk's request context sends no language: the sheet may print in Chinese.
        per_min = "次/分" if "打印于" in text else "/min"
        assert "70/40 mmHg" in text and f"168 {per_min}" in text and "90 %" in text
        assert "15.5 kg" in text
        assert "未记录" not in text and "not recorded" not in text
        if size == "desktop" and shutil.which("pdftoppm"):
            subprocess.run(
                ["pdftoppm", "-png", "-r", "60", str(path), str(path.with_suffix(""))], check=True
            )
