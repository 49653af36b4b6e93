"""The emergency halt end to end: two anaphylaxis reports on one lot → the lot is held and
the bureau sees the halt recommendation → the bureau issues a halt → a new dose of the lot
is refused through the API → the site's reporter sees the banner → the bureau lifts it."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from aefi import clock
from aefi.demo import DEMO_PASSWORDS
from aefi.intake.filing import service as intake_filing
from aefi.intake.schemas import ReportIn
from aefi.registry.models import Dose, Lot, Site
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def two_anaphylaxis_reports(session, county) -> Lot:
    reporter = county.actor(session, "reporter")
    lot_id = session.exec(
        select(Dose.lot_id).where(Dose.site_id == reporter.site_id).order_by(Dose.id)
    ).first()
    doses = session.exec(
        select(Dose)
        .where(Dose.lot_id == lot_id, Dose.site_id == reporter.site_id)
        .order_by(Dose.id)
    ).all()
    # Two different people; if the site gave only one dose of the lot, add a second.
    assert len(doses) >= 1
    if len(doses) < 2:
        from aefi.registry.doses import service as registry_doses
        from aefi.registry.schemas import DoseCreate, PersonIn

        site = session.get(Site, reporter.site_id)
        registry_doses.record_dose(
            session,
            county.actor(session, "admin"),
            DoseCreate(
                person=PersonIn(name="赵小明", id_number="330782202001010015", sex="male"),
                lot_number=session.get(Lot, lot_id).lot_number,
                site_code=site.code,
                dose_number=1,
                administered_at=clock.now() - timedelta(hours=3),
            ),
        )
        doses = session.exec(
            select(Dose)
            .where(Dose.lot_id == lot_id, Dose.site_id == reporter.site_id)
            .order_by(Dose.id)
        ).all()
    for d in doses[:2]:
        intake_filing.file_report(
            session,
            reporter,
            ReportIn(
                dose_ids=[d.id],
                onset_at=d.administered_at + timedelta(minutes=15),
                symptoms=["ANAPH", "HYPOTEN"],
                outcome="recovering",
                reporter_name="刘医生",
                reporter_phone="13800000000",
                serious={"life_threatening": True},
            ),
        )
    lot = session.get(Lot, lot_id)
    session.refresh(lot)
    return lot


def test_bureau_halts_a_lot_and_lifts_it(live_url, new_page, session, county):
    lot = two_anaphylaxis_reports(session, county)
    assert lot.status == "held"

    # The bureau sees the recommendation: the banner on every page, the signal on top.
    page = new_page(locale="zh-CN")
    log_in(page, live_url, "bureau")
    assert page.locator(".banner-warning").filter(has_text="待卫健局决定的叫停建议").is_visible()
    page.get_by_role("link", name="信号").first.click()
    page.wait_for_url(f"{live_url}/signals")
    first = page.locator("#results tbody tr").first
    assert "建议叫停" in first.inner_text() and lot.lot_number in first.inner_text()
    shot(page, "halt-1-signals-overview-zh")
    row = page.locator("#results tbody tr", has_text=lot.lot_number)
    row.first.get_by_role("link", name="打开").click()
    page.wait_for_selector(".card.chart svg")
    assert page.locator("#alert-options").is_visible()
    shot(page, "halt-2-signal-detail-zh")

    # ... issues the halt from the signal: the form comes filled in.
    page.locator("#issue-halt").click()
    page.wait_for_selector("#halt-form")
    assert page.input_value("input[name=target]") == lot.lot_number
    page.fill("textarea[name=reason]", "同一批号 2 例严重过敏反应，MaxSPRT 超过临界值")
    shot(page, "halt-3-form-zh")
    page.get_by_role("button", name="发布叫停决定").click()
    # The second step names the lot and the sites it stops at.
    page.wait_for_selector("#confirm-step")
    assert lot.lot_number in page.locator("#confirm-step").inner_text()
    page.locator("#confirm-button").click()
    page.wait_for_selector("#halt-state")
    assert page.locator("#halt-state").inner_text() == "叫停生效中"
    number = page.locator("h1").inner_text()
    assert number.startswith("叫停〔")
    shot(page, "halt-4-decision-zh")

    # A new dose of that lot is refused through the API, naming the decision.
    with httpx.Client(base_url=live_url, timeout=10) as api:
        token = api.post(
            "/api/v1/auth/token",
            data={"username": "iis", "password": DEMO_PASSWORDS["iis"][1]},
        ).json()["access_token"]
        site_code = session.get(Site, county.site_ids[0]).code
        r = api.post(
            "/api/v1/doses",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "person": {"name": "钱小红", "id_number": "330782201801010028", "sex": "female"},
                "lot_number": lot.lot_number,
                "site_code": site_code,
                "dose_number": 1,
                "administered_at": (clock.now() - timedelta(minutes=2)).isoformat(),
            },
        )
    assert r.status_code == 409 and number in r.json()["detail"]

    # The site's reporter sees the banner (the site has given doses of the lot).
    rpage = new_page(locale="zh-CN")
    log_in(rpage, live_url, "reporter")
    banner = rpage.locator(".banner-danger")
    assert banner.filter(has_text=lot.lot_number).is_visible()
    assert number in banner.first.inner_text()
    shot(rpage, "halt-5-reporter-banner-zh")
    rpage.goto(f"{live_url}/halts")
    assert rpage.get_by_text(number).first.is_visible()

    # The bureau lifts it by a later decision.
    page.fill("#lift-form textarea[name=reason]", "复检合格，恢复使用")
    page.locator("#lift-form").get_by_role("button", name="解除叫停").click()
    page.wait_for_selector("#confirm-step")
    page.locator("#confirm-button").click()
    page.wait_for_selector("#halt-state >> text=已解除")
    assert page.get_by_text("解除叫停〔").first.is_visible()
    shot(page, "halt-6-lifted-zh")
    session.refresh(lot)
    assert lot.status == "active"
    rpage.goto(f"{live_url}/")
    assert rpage.locator(".banner-danger").count() == 0

    # The same pages read right in English.
    epage = new_page(locale="en-US")
    log_in(epage, live_url, "bureau")
    epage.goto(f"{live_url}/signals?open_only=false")
    assert epage.locator("h1").inner_text() == "Signals"
    assert epage.locator("#results tbody tr", has_text=lot.lot_number).count() >= 1
    shot(epage, "halt-7-signals-overview-en")
