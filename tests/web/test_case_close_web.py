"""The case page: the form pre-filled from the report, the referral and the hospital's
outcome, saying where each value came from; closing refused with the list of missing
sections (linked), then closed with a reason that the page and the PDF show."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from aefi import clock, db
from aefi.referral.schemas import AdmitIn, OutcomeIn
from aefi.referral.steps import service as steps
from tests.conftest import login
from tests.factories import a_case, file_anaphylaxis, referral_of

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def case_id(app, county) -> int:
    """An anaphylaxis case whose child reached the hospital, was admitted and discharged."""
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


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _section(html: str, key: str) -> str:
    return html.split(f'id="section-{key}"', 1)[1].split("</details>", 1)[0]


def test_the_form_is_prefilled_and_says_from_where(client, county, case_id):
    login(client, "investigator")
    page = client.get(f"/cases/{case_id}", headers=ZH).text
    history = _section(page, "history")
    assert "发病" in history and "肾上腺素0.3mg肌注" in history
    assert "建议值，来自报告卡" in history
    assert "建议值，来自医院的诊疗结果" in history  # the outcome
    exams = _section(page, "examinations")
    assert 'value="严重过敏反应"' in exams and "建议值，来自医院的诊疗结果" in exams
    en = client.get(f"/cases/{case_id}", headers=EN).text
    assert "Suggested from report" in _section(en, "history")
    # The bureau reads the case: nothing is suggested to it as if it were filled.
    client.cookies.clear()
    login(client, "bureau")
    assert "Suggested from" not in client.get(f"/cases/{case_id}", headers=EN).text


def test_close_refused_with_the_list_then_closed_with_a_reason(client, county, case_id):
    login(client, "investigator")
    page = client.get(f"/cases/{case_id}", headers=ZH).text
    token = _csrf(page)
    r = client.post(
        f"/cases/{case_id}/close", data={"csrf_token": token, "note": "家属不同意"}, headers=ZH
    )
    assert r.status_code == 422
    summary = r.text.split('id="close-errors"', 1)[1].split("</div>", 1)[0]
    assert "data-focus-on-load" in summary and 'role="alert"' in summary
    assert '<a href="#section-history">' in summary
    assert summary.count("<li>") == 6  # every section has required fields
    assert "家属不同意" in r.text  # what was typed is kept
    history = {"csrf_token": token, "version": "0", "past_history": "体健", "treatment": "肾上腺素"}
    assert client.post(f"/cases/{case_id}/form/history", data=history).status_code in (200, 303)
    # "Other" needs the words.
    r = client.post(
        f"/cases/{case_id}/close",
        data={"csrf_token": token, "reason": "other", "reason_text": " "},
        headers=ZH,
    )
    assert r.status_code == 422 and "请写明结案原因" in r.text
    r = client.post(
        f"/cases/{case_id}/close",
        data={"csrf_token": token, "reason": "refused_by_family", "note": "家属不同意"},
        headers=ZH,
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/cases/{case_id}", headers=ZH).text
    assert "调查表未填写完整即结案" in page and "家属拒绝调查" in page
    texts = {}
    for lang, headers in (("zh", ZH), ("en", EN)):
        pdf = client.get(f"/cases/{case_id}/report.pdf", headers=headers)
        assert pdf.status_code == 200
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"case-closed-with-reason-{lang}.pdf").write_bytes(pdf.content)
        texts[lang] = subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True
        ).stdout.decode()
    zh, en = texts["zh"], texts["en"]
    assert "家属拒绝调查" in zh and "Investigation refused by the family" in en
    # Every section is there (四 was skipped), the history as saved, the others not filled
    # in with the reason why; Chinese punctuation in the Chinese heading.
    for heading in ("1.", "2.", "3.", "4.", "5.", "6.", "7.", "8."):
        assert heading in en
    assert (
        "Past medical history" in en
        and "Not filled in (the case closed without it: Investigation" in en
    )
    assert "个案档案：" in zh


def test_a_bad_reason_is_a_clear_422_not_a_500(client, county, case_id):
    login(client, "investigator")
    token = _csrf(client.get(f"/cases/{case_id}", headers=EN).text)
    r = client.post(
        f"/cases/{case_id}/close",
        data={"csrf_token": token, "reason": "x" * 40, "reason_text": "y" * 5000},
        headers=EN,
    )
    assert r.status_code == 422 and 'id="close-errors"' in r.text


@pytest.mark.parametrize("username", ["bureau", "reporter", "hospital", "admin"])
def test_only_investigators_see_the_close_form_and_may_post_it(client, county, case_id, username):
    login(client, username)
    page = client.get(f"/cases/{case_id}", headers=EN)
    assert 'id="close-form"' not in page.text
    token = _csrf(client.get("/", headers=EN).text)
    r = client.post(
        f"/cases/{case_id}/close",
        data={"csrf_token": token, "reason": "lost_to_follow_up"},
        headers=EN,
    )
    assert r.status_code == 403
