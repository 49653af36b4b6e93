"""An investigator takes an open case, fills a section of the investigation form, runs the
guided WHO causality form to a category, classifies the case and closes it; the timeline
shows each step. Screenshots in test-artifacts/investigation-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from aefi import db
from aefi.auth.permissions import Actor
from aefi.intake.filing import service as intake_filing
from aefi.intake.schemas import ReportIn
from aefi.investigation.cases import service as case_files
from aefi.registry.models import Dose
from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def open_case(county) -> int:
    with Session(db.get_engine(), expire_on_commit=False) as session:
        rep = county.actor(session, "reporter")
        dose = session.exec(
            select(Dose).where(Dose.site_id == rep.site_id).order_by(Dose.administered_at)
        ).first()
        report = intake_filing.file_report(
            session,
            rep,
            ReportIn(
                dose_ids=[dose.id],
                onset_at=dose.administered_at + timedelta(minutes=8),
                symptoms=["ANAPH", "URTIC", "BRONCHO"],
                outcome="recovering",
                serious={"life_threatening": True},
                reporter_name="刘医生",
                reporter_phone="13800000000",
                diagnosis="严重过敏反应",
                description="接种后8分钟出现全身荨麻疹、喘鸣，肾上腺素肌注后缓解。",
            ),
        )
        case = case_files.open_case_for_report(
            session, Actor.system(report.county_id, reason="triage"), report
        )
        session.commit()
        return case.id


def test_investigator_works_a_case_from_take_to_close(live_url, new_page, county):
    case_id = open_case(county)
    page = new_page(locale="zh-CN")
    log_in(page, live_url, "investigator")

    # The case list: the open case, not yet anybody's.
    page.click("nav.main-nav >> text=个案调查")
    page.wait_for_url(f"{live_url}/cases")
    row = page.locator(f"#case-row-{case_id}")
    assert row.is_visible()
    assert "未分配" in row.inner_text()
    shot(page, "investigation-1-list")

    # Take it: assigned to me, the investigation starts.
    row.get_by_role("button", name="认领").click()
    page.wait_for_url(f"{live_url}/cases/{case_id}")
    head = page.locator("header.case-head")
    assert "调查中" in head.inner_text()
    assert "王调查员" in head.inner_text() or "调查员" in head.inner_text()

    # Fill the history section; an error first keeps what was typed.
    section = page.locator("#section-examinations")
    section.locator("input[name=pulse]").fill("很快")
    exam = "全身荨麻疹，双肺可闻及哮鸣音"
    section.locator("textarea[name=physical_exam]").fill(exam)
    section.get_by_role("button", name="保存本部分").click()
    page.locator("#section-examinations .field-error").wait_for()
    section = page.locator("#section-examinations")
    assert section.locator("textarea[name=physical_exam]").input_value() == exam
    assert "请输入整数" in section.inner_text()
    section.locator("input[name=pulse]").fill("132")
    section.locator("input[name=clinical_diagnosis]").fill("严重过敏反应")
    section.get_by_role("button", name="保存本部分").click()
    page.locator("#section-examinations >> text=已保存。").wait_for()
    assert page.locator("#section-examinations input[name=pulse]").input_value() == "132"
    shot(page, "investigation-2-section-saved")

    # The guided causality form, to a category.
    page.goto(f"{live_url}/cases/{case_id}/causality")
    result = page.locator("#causality-result")
    for name, value in (
        ("e.vaccine_given_before_event", "yes"),
        ("e.valid_diagnosis", "yes"),
        ("e.clear_event", "yes"),
        ("c.other_cause_confirmed", "no"),
        ("c.in_published_literature", "yes"),
        ("c.evidence_against", "no"),
    ):
        page.check(f"input[name='{name}'][value='{value}']")
    # With the time window unknown the algorithm says what is missing (D).
    page.check("input[name='c.within_time_window'][value='unknown']")
    page.locator("#causality-result .who-cat-D").wait_for()
    assert "III.1" in page.locator("#causality-result").inner_text()
    page.check("input[name='c.within_time_window'][value='yes']")
    page.locator("#causality-result .who-cat-A").wait_for()
    assert "疫苗产品相关反应" in result.inner_text()
    shot(page, "investigation-3-causality")
    page.get_by_role("button", name="保存评估").click()
    page.wait_for_url(f"{live_url}/cases/{case_id}#causality")
    assert "疫苗产品相关反应" in page.locator("#causality").inner_text()

    # The panel's classification: disagreeing with A1 shows a warning; agreeing does not.
    form = page.locator("#classification")
    form.locator("input[value=coincidental]").check()
    page.locator("#classify-warning .warning-box").wait_for()
    assert "偶合症" in page.locator("#classify-warning").inner_text()
    form.locator("input[value=rare_reaction]").check()
    page.locator("#classify-warning .warning-box").wait_for(state="detached")
    form.locator("input[name=panel_diagnosis]").fill("严重过敏反应（异常反应）")
    form.locator("input[name=panel_members]").fill("李主任、张医师、王医师")
    form.get_by_role("button", name="记录分类").click()
    page.wait_for_url(f"{live_url}/cases/{case_id}#classification")
    assert "已分类" in page.locator("header.case-head").inner_text()
    assert "异常反应" in page.locator("header.case-head").inner_text()

    # Close it: with most of the form empty it is refused with the list, until a reason
    # is given (test_case_close_browser.py walks this at every size).
    page.locator("#closing textarea[name=note]").fill("专家组诊断为异常反应，已告知家属补偿程序。")
    page.get_by_role("button", name="结案").click()
    page.locator("#close-missing").wait_for()
    page.check("#close-reason-other")
    page.locator("#closing textarea[name=reason_text]").fill("家属拒绝进一步访视，其余部分无法调查")
    page.get_by_role("button", name="结案").click()
    page.wait_for_url(f"{live_url}/cases/{case_id}#closing")
    assert "已结案" in page.locator("header.case-head").inner_text()

    # The timeline shows each step.
    timeline = page.locator("#timeline").inner_text()
    for step in (
        "报告已提交",
        "建立个案档案",
        "已分配",
        "未开始 → 调查中",
        "保存调查表",
        "体格检查与实验室检查",
        "WHO因果关系评估",
        "A1",
        "专家组诊断分类",
        "异常反应",
        "已分类 → 已结案",
    ):
        assert step in timeline, step
    shot(page, "investigation-4-closed")

    # The reporter sees the final classification of the report, not the case.
    reporter = new_page(locale="zh-CN")
    log_in(reporter, live_url, "reporter")
    reporter.goto(f"{live_url}/cases/{case_id}")
    assert "不允许" in reporter.content() or reporter.locator("h1").inner_text() != ""


def test_case_page_in_english(live_url, new_page, county):
    case_id = open_case(county)
    page = new_page(locale="en-US")
    log_in(page, live_url, "investigator")
    page.goto(f"{live_url}/cases/{case_id}")
    assert page.locator("h1").inner_text().startswith("Case file")
    assert page.get_by_text("History and clinical course").first.is_visible()
    shot(page, "investigation-5-case-en")
    page.goto(f"{live_url}/cases/{case_id}/causality")
    assert "Step 2: checklist" in page.content()
    shot(page, "investigation-6-causality-en")


def test_group_case_lists_its_members(live_url, new_page, county):
    from aefi.investigation.models import CaseFile

    first = open_case(county)
    with Session(db.get_engine(), expire_on_commit=False) as session:
        rep = county.actor(session, "reporter")
        dose = session.exec(
            select(Dose).where(Dose.site_id == rep.site_id).order_by(Dose.administered_at)
        ).all()[1]
        intake_filing.file_report(
            session,
            rep,
            ReportIn(
                dose_ids=[dose.id],
                onset_at=dose.administered_at + timedelta(minutes=15),
                symptoms=["ANAPH", "HYPOTEN"],
                outcome="recovering",
                serious={"hospitalization": True},
                reporter_name="刘医生",
                reporter_phone="13800000000",
            ),
        )
        group = session.exec(select(CaseFile).where(CaseFile.kind == "cluster")).first()
    assert group is not None
    page = new_page(locale="zh-CN")
    log_in(page, live_url, "investigator")
    page.goto(f"{live_url}/cases/{group.id}")
    assert "群体性AEFI" in page.locator("header.case-head").inner_text()
    assert page.locator("#report table tbody tr").count() == 2
    shot(page, "investigation-7-group-case")
    page.goto(f"{live_url}/cases/{first}")
    assert group.number in page.locator("header.case-head").inner_text()
