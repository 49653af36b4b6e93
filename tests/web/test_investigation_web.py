"""Case files through the pages and the API: every role, the section forms keeping what was
typed, evidence upload and download, the guided causality form, the PDF, the reporter's
classification fragment."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from aefi import clock, db
from aefi.investigation.cases import service as case_files
from aefi.investigation.models import CaseFile
from tests.conftest import api_token, login
from tests.factories import a_case, a_dose, complete_values, file_report

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


@pytest.fixture
def case_id(app, county) -> int:
    """An open case file for an anaphylaxis report of the reporter's site."""
    with Session(db.get_engine(), expire_on_commit=False) as session:
        rep = county.actor(session, "reporter")
        dose = a_dose(session, county)
        report = file_report(
            session,
            rep,
            dose,
            onset_at=dose.administered_at + timedelta(minutes=12),
            symptoms=["ANAPH", "URTIC"],
            diagnosis="严重过敏反应",
        )
        return a_case(session, report).id


def _csrf(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


# --- who may see what --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "list_code", "case_code"),
    [
        ("investigator", 200, 200),
        ("bureau", 200, 200),
        ("reporter", 403, 403),
        ("hospital", 403, 403),
        ("admin", 403, 403),
    ],
)
def test_pages_by_role(client, county, case_id, username, list_code, case_code):
    login(client, username)
    assert client.get("/cases", headers=EN).status_code == list_code
    r = client.get(f"/cases/{case_id}", headers=EN)
    assert r.status_code == case_code
    pdf = client.get(f"/cases/{case_id}/report.pdf")
    assert pdf.status_code == case_code
    if case_code == 200:
        assert "Case file" in r.text
        nav = client.get("/", headers=EN).text
        assert 'href="/cases"' in nav


@pytest.mark.parametrize(
    ("username", "code"),
    [("investigator", 200), ("bureau", 200), ("reporter", 403), ("hospital", 403),
     ("admin", 403), ("iis", 403)],
)  # fmt: skip
def test_api_by_role(client, county, case_id, username, code):
    headers = api_token(client, username)
    assert client.get("/api/v1/cases", headers=headers).status_code == code
    assert client.get(f"/api/v1/cases/{case_id}", headers=headers).status_code == code
    r = client.post(f"/api/v1/cases/{case_id}/assign", headers=headers, json={})
    assert r.status_code == (200 if username == "investigator" else 403)


def test_api_outside_scope_is_404_and_anonymous_401(client, county, case_id):
    headers = api_token(client, "investigator")
    assert client.get("/api/v1/cases/999999", headers=headers).status_code == 404
    assert client.get("/api/v1/cases").status_code == 401


def test_bureau_sees_the_case_read_only(client, county, case_id):
    login(client, "bureau")
    page = client.get(f"/cases/{case_id}", headers=EN).text
    assert "You can read this case file" in page
    assert 'id="save-history"' not in page and 'id="take-case"' not in page
    csrf = _csrf(page)
    r = client.post(
        f"/cases/{case_id}/form/history",
        data={"csrf_token": csrf, "past_history": "x"},
        headers=EN,
    )
    assert r.status_code == 403


# --- the investigator's work -------------------------------------------------------------


def test_list_take_and_overdue_in_red(client, county, case_id):
    clock.freeze(clock.now())
    login(client, "investigator")
    page = client.get("/cases", headers=EN)
    assert page.status_code == 200 and f'id="case-row-{case_id}"' in page.text
    assert 'class="overdue"' not in page.text
    clock.advance(timedelta(hours=49))
    page = client.get("/cases?overdue=1", headers={**EN, "HX-Request": "true"})
    assert f'id="case-row-{case_id}"' in page.text and 'class="overdue"' in page.text
    assert "overdue" in page.text and "<html" not in page.text  # the fragment only
    home = client.get("/", headers=EN).text
    assert "Case files with a deadline past due: 1" in home
    csrf = _csrf(client.get("/cases", headers=EN).text)
    r = client.post(
        f"/cases/{case_id}/take?from=list", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/cases/{case_id}"
    page = client.get(f"/cases/{case_id}", headers=EN).text
    assert "Investigating" in page and "Done late" in page


def test_section_error_keeps_typed_values_then_saves(client, county, case_id):
    login(client, "investigator")
    csrf = _csrf(client.get(f"/cases/{case_id}").text)
    hx = {**EN, "HX-Request": "true", "X-CSRF-Token": csrf}
    r = client.post(
        f"/cases/{case_id}/form/examinations",
        data={
            "version": "0",
            "pulse": "fast",
            "physical_exam": "全身荨麻疹，双肺哮鸣音",
            "clinical_diagnosis": "严重过敏反应",
        },
        headers=hx,
    )
    assert r.status_code == 422
    assert "Enter a whole number." in r.text
    assert 'value="fast"' in r.text and "全身荨麻疹，双肺哮鸣音" in r.text
    assert 'id="section-examinations"' in r.text and "<html" not in r.text
    r = client.post(
        f"/cases/{case_id}/form/examinations",
        data={
            "version": "0",
            "pulse": "128",
            "physical_exam": "全身荨麻疹，双肺哮鸣音",
            "clinical_diagnosis": "严重过敏反应",
        },
        headers=hx,
    )
    assert r.status_code == 200 and "Saved." in r.text and 'value="128"' in r.text
    # A stale form (loaded before that save) is refused, and keeps its values.
    r = client.post(
        f"/cases/{case_id}/form/examinations",
        data={"version": "0", "pulse": "90", "physical_exam": "x", "clinical_diagnosis": "y"},
        headers=hx,
    )
    assert r.status_code == 409 and 'value="90"' in r.text and "saved this section" in r.text
    # Without htmx the error page is the whole case page with the section's message.
    r = client.post(
        f"/cases/{case_id}/form/examinations",
        data={"csrf_token": csrf, "version": "1", "temperature_c": "99"},
        headers=EN,
    )
    assert r.status_code == 422 and "Out of range: between 30 and 45." in r.text
    assert "<html" in r.text and 'value="99"' in r.text


def test_evidence_upload_download_and_refusal(client, county, case_id):
    login(client, "investigator")
    csrf = _csrf(client.get(f"/cases/{case_id}").text)
    hx = {**EN, "HX-Request": "true", "X-CSRF-Token": csrf}
    r = client.post(
        f"/cases/{case_id}/attachments",
        files={"file": ("出院小结.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")},
        data={"description": "出院小结"},
        headers=hx,
    )
    assert r.status_code == 200 and "出院小结.pdf" in r.text
    link = re.search(rf'href="(/cases/{case_id}/attachments/\d+)"', r.text).group(1)
    r = client.post(
        f"/cases/{case_id}/attachments",
        files={"file": ("scan.pdf", b"<script>alert(1)</script>", "application/pdf")},
        data={"description": "typed text stays"},
        headers=hx,
    )
    assert r.status_code == 422 and "not a PDF file" in r.text and "typed text stays" in r.text
    got = client.get(link)
    assert got.status_code == 200 and got.content.startswith(b"%PDF")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in got.headers["content-disposition"]
    r = client.post(f"/cases/{case_id}/notes", data={"text": "  "}, headers=hx)
    assert r.status_code == 422 and "Write the note first." in r.text
    r = client.post(f"/cases/{case_id}/notes", data={"text": "家长同意调查"}, headers=hx)
    assert r.status_code == 200 and "家长同意调查" in r.text

    client.post("/logout", data={"csrf_token": csrf})
    login(client, "reporter")
    assert client.get(link).status_code == 403
    login(client, "bureau")
    assert client.get(link).status_code == 200


def test_causality_form_preview_and_save(client, county, case_id):
    login(client, "investigator")
    page = client.get(f"/cases/{case_id}/causality", headers=EN)
    assert page.status_code == 200
    assert "Step 2: checklist" in page.text and "II.5" in page.text
    assert "Onset 12 min after" in page.text  # the time window hint from the record
    csrf = _csrf(page.text)
    answers = {
        "e.vaccine_given_before_event": "yes",
        "e.valid_diagnosis": "yes",
        "e.clear_event": "yes",
        "e.diagnosis": "严重过敏反应",
        "c.other_cause_confirmed": "no",
        "c.in_published_literature": "yes",
        "c.within_time_window": "yes",
    }
    r = client.post(
        f"/cases/{case_id}/causality/preview",
        data=answers,
        headers={**EN, "HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert r.status_code == 200 and ">A1<" in r.text and "Vaccine product-related" in r.text
    unknown = {**answers, "c.within_time_window": "unknown"}
    r = client.post(
        f"/cases/{case_id}/causality/preview",
        data=unknown,
        headers={**ZH, "HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert ">D<" in r.text and "III.1 事件发生在风险增加的时间窗内" in r.text
    r = client.post(
        f"/cases/{case_id}/causality",
        data={**answers, "csrf_token": csrf},
        headers=EN,
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/cases/{case_id}", headers=EN).text
    assert "Vaccine product-related reaction" in page
    # Classify against it: the disagreement is shown.
    r = client.post(
        f"/cases/{case_id}/classify/preview",
        data={"china_classification": "coincidental"},
        headers={**ZH, "HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert "与中国分类“偶合症”不一致" in r.text
    r = client.post(
        f"/cases/{case_id}/classify",
        data={"csrf_token": csrf, "china_classification": "coincidental", "panel_on": "bad"},
        headers=EN,
    )
    assert r.status_code == 422 and "Enter a date as YYYY-MM-DD." in r.text
    r = client.post(
        f"/cases/{case_id}/classify",
        data={
            "csrf_token": csrf,
            "china_classification": "coincidental",
            "panel_diagnosis": "偶合",
        },
        headers=EN,
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/cases/{case_id}", headers=EN).text
    assert 'id="classification-warning"' in page


def test_api_causality_classify_close(client, county, case_id):
    headers = api_token(client, "investigator")
    body = {
        "eligibility": {
            "vaccine_given_before_event": True,
            "valid_diagnosis": True,
            "clear_event": True,
        },
        "checklist": {"I.1": "no", "II.5": "yes", "III.1": "yes"},
    }
    r = client.post(f"/api/v1/cases/{case_id}/causality", headers={**headers, **EN}, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["assessment"]["category"] == "A3"
    bad = client.post(
        f"/api/v1/cases/{case_id}/causality",
        headers=headers,
        json={"checklist": {"IX.9": "yes"}},
    )
    assert bad.status_code == 422
    r = client.post(
        f"/api/v1/cases/{case_id}/classify",
        headers={**headers, **EN},
        json={"china_classification": "rare_reaction", "panel_diagnosis": "x"},
    )
    assert r.status_code == 200
    out = r.json()
    assert out["status"] == "classified" and out["who_category"] == "A3"
    assert "immunization error" in out["classification_warning"]
    # The form is empty: refused, each missing section named, until a reason is given.
    r = client.post(f"/api/v1/cases/{case_id}/close", headers={**headers, **EN}, json={})
    assert r.status_code == 422
    assert ["body", "missing.history"] in [d["loc"] for d in r.json()["detail"]]
    assert "History and clinical course" in [d["msg"] for d in r.json()["detail"]]
    body = {"reason": "refused_by_family"}
    r = client.post(f"/api/v1/cases/{case_id}/close", headers=headers, json=body)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert r.json()["close_reason"] == "refused_by_family"
    assert "history" in r.json()["close_missing"]
    r = client.post(f"/api/v1/cases/{case_id}/close", headers=headers, json=body)
    assert r.status_code == 409
    listing = client.get("/api/v1/cases?status=all", headers=headers).json()
    assert listing["total"] >= 1 and any(c["id"] == case_id for c in listing["items"])
    detail = client.get(f"/api/v1/cases/{case_id}", headers=headers).json()
    assert detail["assessments"][0]["category"] == "A3"
    assert "history.past_history" in detail["form_missing"]


def test_reporter_fragment_shows_only_the_classification(client, county, case_id):
    with Session(db.get_engine()) as session:
        report_id = session.get(CaseFile, case_id).report_id
    login(client, "reporter")
    r = client.get(f"/reports/{report_id}/classification", headers=EN)
    assert r.status_code == 200 and "The county CDC is investigating." in r.text
    headers = api_token(client, "investigator")
    client.post(
        f"/api/v1/cases/{case_id}/classify",
        headers=headers,
        json={"china_classification": "rare_reaction"},
    )
    r = client.get(f"/reports/{report_id}/classification", headers=ZH)
    assert "异常反应" in r.text and "WHO" not in r.text
    login(client, "reporter2")
    assert client.get(f"/reports/{report_id}/classification").status_code == 404


def test_pdf_in_chinese_and_english(client, county, case_id, tmp_path):
    login(client, "investigator")
    r = client.get(f"/cases/{case_id}/report.pdf", headers=ZH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    path = tmp_path / "zh.pdf"
    path.write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "疑似预防接种异常反应个案调查报告" in text
    assert "严重过敏反应" in text
    r = client.get(f"/cases/{case_id}/report.pdf", headers=EN)
    path.write_bytes(r.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "AEFI case investigation report" in text


def test_report_page_shows_the_investigation_block(client, county, case_id):
    with Session(db.get_engine()) as session:
        report_id = session.get(CaseFile, case_id).report_id
    login(client, "investigator")
    page = client.get(f"/reports/{report_id}", headers=EN)
    assert page.status_code == 200
    assert f'href="/cases/{case_id}"' in page.text and "Not started" in page.text
    login(client, "reporter")
    page = client.get(f"/reports/{report_id}", headers=EN)
    assert "The county CDC is investigating." in page.text
    assert f'href="/cases/{case_id}"' not in page.text


def test_investigator_opens_a_case_for_a_report_triage_did_not_send(client, county):
    with Session(db.get_engine(), expire_on_commit=False) as session:
        rep = county.actor(session, "reporter")
        dose = a_dose(session, county, at=clock.now() - timedelta(days=1))
        report = file_report(
            session,
            rep,
            dose,
            onset_at=dose.administered_at + timedelta(hours=6),
            symptoms=["REDNESS"],
            local_reaction_cm=2,
            outcome="recovered",
            diagnosis="局部红晕",
            diagnosis_clear=True,
        )
        existing = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    assert existing is None  # a clearly diagnosed common reaction needs no investigation
    login(client, "investigator")
    page = client.get(f"/reports/{report.id}", headers=EN).text
    assert "Open a case file" in page
    csrf = _csrf(page)
    r = client.post(
        f"/reports/{report.id}/case", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert r.status_code == 204 and r.headers["HX-Redirect"].startswith("/cases/")
    login(client, "bureau")
    r = client.post(f"/reports/{report.id}/case", data={"csrf_token": _csrf(client.get("/").text)})
    assert r.status_code == 403


def test_completing_the_form_names_what_is_missing(client, county, case_id):
    login(client, "investigator")
    csrf = _csrf(client.get(f"/cases/{case_id}").text)
    hx = {**EN, "HX-Request": "true", "X-CSRF-Token": csrf}
    r = client.post(f"/cases/{case_id}/form-complete", headers=hx)
    assert r.status_code == 422 and "required fields are empty" in r.text
    assert 'id="form-progress"' in r.text

    for key, values in complete_values().items():
        r = client.post(f"/cases/{case_id}/form/{key}", data=values, headers=hx)
        assert r.status_code == 200, (key, r.text[:300])
    r = client.post(f"/cases/{case_id}/form-complete", headers=hx)
    assert r.status_code == 200 and "Form completed" in r.text
    progress = client.get(f"/cases/{case_id}/form-progress", headers=hx)
    assert "Form completed" in progress.text


FRAGMENTS = [
    ("investigation/_section.html", "form", "history"),
    ("investigation/_section.html", "form", "others"),
    ("investigation/_form_progress.html", "form", ""),
    ("investigation/_deadlines.html", "deadlines", ""),
    ("investigation/_evidence.html", "evidence", ""),
    ("investigation/_brighton.html", "brighton", ""),
    ("investigation/_classify.html", "panel", ""),
]


@pytest.mark.parametrize(("template", "slice_", "key"), FRAGMENTS)
def test_each_fragment_renders_from_its_slice_as_from_the_whole_page(
    app, county, case_id, template, slice_, key
):
    """A fragment's view builds only its slice's part; the HTML must be what the whole case
    page's context gives, so nothing the fragment reads is missing from the part."""
    from aefi.investigation import sections
    from aefi.investigation.assessments import service as case_assessments
    from aefi.investigation.evidence import service as case_evidence
    from aefi.investigation.form import service as case_form
    from aefi.investigation.labels import page_ctx, part_ctx
    from aefi.investigation.overview import service as case_overview
    from aefi.investigation.panel import service as case_panel
    from aefi.investigation.schemas import BrightonIn
    from aefi.web import templates

    clock.freeze(clock.now())
    parts = {
        "form": lambda s, a: case_form.form_part(s, a, case_id, key=key),
        "deadlines": lambda s, a: case_files.deadlines_part(s, a, case_id),
        "evidence": lambda s, a: case_evidence.evidence_part(s, a, case_id),
        "brighton": lambda s, a: case_assessments.brighton_part(s, a, case_id),
        "panel": lambda s, a: case_panel.panel_part(s, a, case_id),
    }
    with Session(db.get_engine(), expire_on_commit=False) as session:
        inv = county.actor(session, "investigator")
        # Something in every part: a saved section, a note, Brighton criteria.
        case_form.save_section(session, inv, case_id, "history", {"past_history": "无过敏史"})
        case_evidence.add_note(session, inv, case_id, "Called the clinic.")
        case_assessments.record_brighton(
            session, inv, case_id, BrightonIn(criteria=["generalized_urticaria_or_erythema"])
        )
        whole = page_ctx(case_overview.case_page(session, inv, case_id))
        part = part_ctx(parts[slice_](session, inv))
        if key:
            whole["section"] = part["section"] = sections.BY_KEY[key]
        fragment = templates().env.get_template(template)
        html = fragment.render(part)
        assert html == fragment.render(whole)
        assert f"/cases/{case_id}" in html


def test_section_error_summary_links_each_field_and_keeps_values(client, county, case_id):
    """A bad save of a section leads to the fix: the shared error summary at the top of the
    section links each field in error, and those fields say so to a screen reader."""
    login(client, "investigator")
    csrf = _csrf(client.get(f"/cases/{case_id}").text)
    for headers in ({**EN, "HX-Request": "true", "X-CSRF-Token": csrf}, EN):
        r = client.post(
            f"/cases/{case_id}/form/examinations",
            data={
                "csrf_token": csrf,
                "version": "0",
                "pulse": "fast",
                "temperature_c": "99",
                "physical_exam": "全身荨麻疹，双肺哮鸣音",
            },
            headers=headers,
        )
        assert r.status_code == 422
        html = r.text
        assert html.count("data-error-summary") == 1
        summary = html[
            html.index("data-error-summary") : html.index(
                "</div>", html.index("data-error-summary")
            )
        ]
        assert 'href="#f-examinations-pulse"' in summary
        assert 'href="#f-examinations-temperature_c"' in summary
        assert "Enter a whole number." in summary and "Out of range: between 30 and 45." in summary
        assert re.search(
            r'id="f-examinations-pulse" name="pulse" value="fast" aria-invalid="true" '
            r'aria-describedby="err-f-examinations-pulse"',
            html,
        )
        assert 'id="err-f-examinations-pulse"' in html
        assert 'value="99"' in html and "全身荨麻疹，双肺哮鸣音" in html
        # A field without an error is not marked.
        assert 'aria-describedby="err-f-examinations-physical_exam"' not in html
