"""The report form, drafts across a lost session, duplicates, follow-ups, the list, the
PDF and the API, through HTTP."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlmodel import func, select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.intake.models import Draft, FollowUp, Report
from aefi.registry.models import Dose, Lot, Person
from aefi.web import iso_local
from tests.conftest import api_token, login
from tests.factories import a_held_lot, file_report, nth_dose_at

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def form_fields(dose: Dose, csrf: str, **extra) -> dict:
    """A complete report form as the browser posts it."""
    data = {
        "csrf_token": csrf,
        "dose_ids": [str(dose.id)],
        "onset_at": iso_local(dose.administered_at + timedelta(minutes=20)),
        "discovered_at": iso_local(dose.administered_at + timedelta(minutes=25)),
        "symptoms": ["URTIC", "ITCH"],
        "description": "注射后20分钟出现全身荨麻疹，伴瘙痒",
        "max_temperature_c": "37.2",
        "outcome": "recovering",
        "treatment": "口服氯雷他定",
        "reporter_unit": "城关镇卫生院",
        "reporter_name": "刘医生",
        "reporter_phone": "13800001111",
        "submission_key": "",
    }
    data.update(extra)
    return data


def page_tokens(html: str) -> dict[str, str]:
    return {
        name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
        for name in ("csrf_token", "device_token", "submission_key")
    }


def file_via_form(client, dose, csrf, **extra):
    return client.post(
        "/reports/new", data=form_fields(dose, csrf, **extra), follow_redirects=False
    )


def test_new_form_prefills_dose_and_reporter_and_sets_device_cookie(client, county, session):
    login(client, "reporter")
    rep = county.actor(session, "reporter")
    dose = nth_dose_at(session, rep.site_id)
    lot = session.get(Lot, dose.lot_id)
    page = client.get(f"/reports/new?dose_id={dose.id}", headers=ZH)
    assert page.status_code == 200
    assert lot.lot_number in page.text
    assert f'name="dose_ids" value="{dose.id}" checked' in page.text
    assert "刘医生（城关镇留观）" in page.text  # reporter name from the user
    assert "城关镇卫生院预防接种门诊" in page.text  # reporting unit from the site
    assert "严重过敏反应" in page.text and "荨麻疹" in page.text  # symptom groups in Chinese
    assert len(client.cookies.get("aefi_device", "")) >= 16
    en = client.get("/reports/new", headers=EN)
    assert "Urticaria" in en.text and "Submit report" in en.text


def test_dose_search_sees_only_own_site(client, county, session):
    login(client, "reporter")
    rep = county.actor(session, "reporter")
    mine = session.get(Person, nth_dose_at(session, rep.site_id).person_id)
    other_dose = nth_dose_at(session, county.site_ids[1])
    other = session.get(Person, other_dose.person_id)
    own_persons = session.exec(select(Dose.person_id).where(Dose.site_id == rep.site_id)).all()
    assert other.id not in own_persons
    r = client.get(f"/reports/doses?dose_q={mine.id_number}", headers={"HX-Request": "true"})
    assert mine.name in r.text and "/reports/linked" in r.text
    r = client.get(f"/reports/doses?dose_q={other.id_number}", headers=EN)
    assert other.name not in r.text and "No doses at this site match." in r.text
    # A dose id of another site typed into the request is not linked either.
    r = client.get(f"/reports/linked?add={other_dose.id}", headers=EN)
    assert "No dose linked yet" in r.text
    r = client.get(f"/reports/linked?add={nth_dose_at(session, rep.site_id).id}")
    assert 'name="dose_ids"' in r.text and "aefi:doses-changed" in r.headers["HX-Trigger"]


def test_lot_lookup_as_you_type_flags_a_held_lot(client, county, session):

    lot = a_held_lot(session, county)
    login(client, "reporter")
    r = client.get(f"/reports/lots?row=0&hand-0-lot_number={lot.lot_number[:6]}", headers=EN)
    assert f'<option value="{lot.lot_number}"' in r.text
    r = client.get(f"/reports/lots?row=0&hand-0-lot_number={lot.lot_number}", headers=EN)
    assert "This lot is held: 信号复核中" in r.text
    r = client.get("/reports/lots?row=2&hand-2-lot_number=NOPE999", headers=EN)
    assert "No lot numbered NOPE999." in r.text and 'id="lots-2"' in r.text


def test_field_check_names_onset_before_vaccination_only_where_visited(client, county, session):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    data = form_fields(
        dose,
        csrf,
        onset_at=iso_local(dose.administered_at - timedelta(hours=2)),
        reporter_phone="",
        _field="onset_at",
    )
    r = client.post("/reports/check", data=data, headers={**EN, "HX-Request": "true"})
    assert r.status_code == 200
    assert "before the vaccination" in r.text.split('id="msg-onset_at"')[1][:300]
    assert 'hx-swap-oob="true"' in r.text
    # Not visited yet: the missing phone is not shouted about before submit.
    assert "Enter a phone number" not in r.text
    assert re.search(r'id="touched" name="touched" value="onset_at"', r.text)
    # After a submit attempt every slot is checked.
    r = client.post("/reports/check", data={**data, "touched": "*", "_field": ""}, headers=EN)
    assert "Enter a phone number" in r.text


def test_form_error_keeps_every_value_and_puts_the_message_beside_the_field(
    client, county, session
):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    bad_onset = iso_local(dose.administered_at - timedelta(hours=1))
    r = file_via_form(
        client,
        dose,
        csrf,
        onset_at=bad_onset,
        max_temperature_c="99",
        serious_hospitalization="1",
        reporter_phone="",
    )
    assert r.status_code == 422
    html = r.text
    assert f'value="{bad_onset}"' in html
    assert "注射后20分钟出现全身荨麻疹，伴瘙痒" in html
    assert 'value="URTIC" checked' in html and 'value="ITCH" checked' in html
    assert 'name="serious_hospitalization" value="1" checked' in html
    assert 'value="recovering" checked' in html
    assert f'name="dose_ids" value="{dose.id}" checked' in html
    assert 'value="99"' in html  # the bad number stays as typed
    onset_slot = html.split('id="msg-onset_at"')[1][:300]
    assert "接种" in onset_slot  # 发病时间早于接种时间
    assert "34" in html.split('id="msg-max_temperature_c"')[1][:200]
    assert html.split('id="msg-reporter_phone"')[1][:200].count("field-error") == 1
    assert session.exec(select(func.count()).select_from(Report)).one() == 0


def test_late_onset_is_a_warning_to_confirm(client, county, session):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    late = dose.administered_at + timedelta(days=50)
    clock.freeze(late + timedelta(hours=3))
    fields = dict(onset_at=iso_local(late), discovered_at=iso_local(late + timedelta(hours=1)))
    r = file_via_form(client, dose, csrf, **fields)
    assert r.status_code == 422
    assert "field-warning" in r.text.split('id="msg-onset_at"')[1][:300]
    assert 'name="confirm_late_onset"' in r.text
    r = file_via_form(client, dose, csrf, confirm_late_onset="1", **fields)
    assert r.status_code == 303


def test_submit_files_and_lands_on_the_report_with_its_triage(client, county, session):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    r = file_via_form(client, dose, csrf, submission_key="k1")
    assert r.status_code == 303
    report = session.exec(select(Report)).one()
    assert r.headers["location"] == f"/reports/{report.id}?filed=1"
    assert report.symptoms == ["URTIC", "ITCH"] and report.reporter_phone == "13800001111"
    # A double click posts the same form again: still one report.
    again = file_via_form(client, dose, csrf, submission_key="k1")
    assert again.headers["location"] == r.headers["location"]
    assert session.exec(select(func.count()).select_from(Report)).one() == 1
    # Triage is another domain's; whatever it wrote is shown, in the reader's language.
    report.triage = {
        "serious": False,
        "escalated": False,
        "investigation_required": True,
        "referral_required": False,
        "reasons": [
            {
                "rule": "r1",
                "text": "x",
                "text_en": "Allergic rash: investigate",
                "text_zh": "过敏性皮疹：需调查",
            }
        ],
        "deadlines": {"investigation_start_due": "2030-01-02T03:04:00+00:00"},
    }
    session.add(report)
    session.commit()
    page = client.get(r.headers["location"], headers=ZH)
    assert report.number in page.text
    assert "过敏性皮疹：需调查" in page.text and 'id="referral-status"' in page.text
    assert "2030-01-02 11:04" in page.text  # shown in local time
    en = client.get(f"/reports/{report.id}?filed=1", headers=EN)
    assert f"Report {report.number} is filed." in en.text
    assert "Allergic rash: investigate" in en.text and "will investigate" in en.text


def test_report_page_without_triage_renders(client, county, session):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    file_via_form(client, dose, csrf)
    report = session.exec(select(Report)).one()
    report.triage = {}
    session.add(report)
    session.commit()
    page = client.get(f"/reports/{report.id}", headers=EN)
    assert page.status_code == 200 and "not available yet" in page.text


def test_duplicate_becomes_a_follow_up_or_a_confirmed_new_event(client, county, session):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    assert file_via_form(client, dose, csrf).status_code == 303
    first = session.exec(select(Report)).one()
    later = iso_local(dose.administered_at + timedelta(hours=3))
    again = {"onset_at": later, "discovered_at": later}
    dup = file_via_form(
        client, dose, csrf, **again, outcome="recovered", description="次日复诊已痊愈"
    )
    assert dup.status_code == 409
    assert first.number in dup.text and 'name="follow_up_of"' in dup.text
    assert 'name="confirm_new_event"' in dup.text and "次日复诊已痊愈" in dup.text
    fu = file_via_form(
        client,
        dose,
        csrf,
        **again,
        outcome="recovered",
        description="次日复诊已痊愈",
        follow_up_of=str(first.id),
    )
    assert fu.status_code == 303 and fu.headers["location"] == f"/reports/{first.id}#history"
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Report)).one() == 1
    history = session.exec(select(FollowUp).where(FollowUp.report_id == first.id)).all()
    assert history[0].changes["outcome"] == ["recovering", "recovered"]
    assert history[0].note == "次日复诊已痊愈"
    page = client.get(f"/reports/{first.id}")
    assert f"已作为报告 {first.number} 的随访添加" in page.text
    new = file_via_form(client, dose, csrf, **again, confirm_new_event="1")
    assert new.status_code == 303
    assert session.exec(select(func.count()).select_from(Report)).one() == 2


def test_follow_up_form_keeps_history_and_the_original_values(client, county, session):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    file_via_form(client, dose, csrf)
    report = session.exec(select(Report)).one()
    empty = client.post(
        f"/reports/{report.id}/follow-ups", data={"csrf_token": csrf, "note": ""}, headers=EN
    )
    assert empty.status_code == 422 and "nothing new" in empty.text
    r = client.post(
        f"/reports/{report.id}/follow-ups",
        data={
            "csrf_token": csrf,
            "outcome": "recovered",
            "hospitalization": "1",
            "hospital_name": "县人民医院",
            "symptoms_added": ["FEVER"],
            "note": "住院观察一天后出院",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/reports/{report.id}", headers=ZH)
    history = page.text.split('id="history"')[1]
    assert "好转" in history and "痊愈" in history and "→" in history
    assert "住院观察一天后出院" in history and "县人民医院" in history
    assert "As first filed" not in history and "最初填报" in history
    session.refresh(report)
    assert report.outcome == "recovered" and report.hospitalization


def test_reporter_of_another_site_gets_404_by_page_pdf_and_api(client, county, session):
    csrf = login(client, "reporter")
    file_via_form(client, nth_dose_at(session, county.actor(session, "reporter").site_id), csrf)
    report = session.exec(select(Report)).one()
    client.cookies.clear()
    login(client, "reporter2")
    assert client.get(f"/reports/{report.id}").status_code == 404
    assert client.get(f"/reports/{report.id}.pdf").status_code == 404
    assert report.number not in client.get("/reports").text
    headers = api_token(client, "reporter2")
    assert client.get(f"/api/v1/reports/{report.id}", headers=headers).status_code == 404
    listed = client.get("/api/v1/reports", headers=headers).json()
    assert listed["total"] == 0
    own = api_token(client, "reporter")
    assert client.get(f"/api/v1/reports/{report.id}", headers=own).status_code == 200
    hospital = api_token(client, "hospital")
    assert client.get(f"/api/v1/reports/{report.id}", headers=hospital).status_code == 403


def test_api_same_idempotency_key_gives_one_report(client, county, session):
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    headers = {**api_token(client, "reporter"), "Idempotency-Key": "iis-7f3a"}
    body = {
        "dose_ids": [dose.id],
        "onset_at": (dose.administered_at + timedelta(minutes=10)).isoformat(),
        "symptoms": ["ANAPH", "HYPOTEN"],
        "outcome": "recovering",
        "serious": {"life_threatening": True},
        "reporter_name": "刘医生",
        "reporter_phone": "13800001111",
    }
    a = client.post("/api/v1/reports", json=body, headers=headers)
    b = client.post("/api/v1/reports", json=body, headers=headers)
    assert a.status_code == 201 and b.status_code == 201
    assert a.json()["id"] == b.json()["id"] and a.json()["number"] == b.json()["number"]
    assert session.exec(select(func.count()).select_from(Report)).one() == 1
    c = client.post(
        "/api/v1/reports", json=body, headers={**headers, "Idempotency-Key": "iis-other"}
    )
    assert c.status_code == 409  # a likely duplicate, until confirmed
    body["confirm_new_event"] = True
    c = client.post("/api/v1/reports", json=body, headers={**headers, "Idempotency-Key": "x2"})
    assert c.status_code == 201 and c.json()["id"] != a.json()["id"]


def test_symptoms_endpoint_lists_codes_with_groups_in_both_languages(client, county):
    rows = client.get("/api/v1/symptoms").json()
    groups = {r["event_group"] for r in rows}
    api_groups = (
        "anaphylaxis", "allergic_rash", "angioedema", "fever", "local_reaction", "seizure",
        "syncope", "hhe", "thrombocytopenia", "gbs", "encephalitis", "myocarditis", "death",
    )  # fmt: skip
    for needed in api_groups:
        assert needed in groups
    urtic = next(r for r in rows if r["code"] == "URTIC")
    assert urtic["zh"] == "荨麻疹" and urtic["en"] == "Urticaria"
    assert urtic["event_group_zh"] == "过敏性皮疹"


# A fever, filed as a new event even where the person has a report already.
FEVER = dict(symptoms=["FEVER"], confirm_new_event=True)


def _file(session, county, username, nth, **kw):
    """File a fever on the ``nth`` dose at the user's site as that user: (report, dose)."""
    actor = county.actor(session, username)
    dose = nth_dose_at(session, actor.site_id, nth)
    return file_report(session, actor, dose, **{**FEVER, **kw}), dose


@pytest.mark.demo_county  # pages through the reports on 29 persons' doses already given
def test_list_filters_and_pages_with_htmx(client, county, session):
    serious, d1 = _file(session, county, "reporter", 0, serious={"hospitalization": True})
    mild, d2 = _file(session, county, "reporter", 1, patient_phone="")
    other, d3 = _file(session, county, "reporter2", 0)
    login(client, "investigator")
    everything = client.get("/reports", headers=EN).text
    assert all(r.number in everything for r in (serious, mild, other))
    only = client.get("/reports?serious=yes", headers={**EN, "HX-Request": "true"}).text
    assert serious.number in only and mild.number not in only and "<html" not in only
    lot = session.get(Lot, d2.lot_id).lot_number
    by_lot = client.get(f"/reports?lot={lot}").text.split('id="results"')[1]
    assert mild.number in by_lot
    for r, d in ((serious, d1), (other, d3)):
        assert (r.number in by_lot) == (d.lot_id == d2.lot_id)
    by_site = client.get(f"/reports?site={county.site_ids[1]}").text.split('id="results"')[1]
    assert other.number in by_site and serious.number not in by_site
    by_text = client.get(f"/reports?q={serious.number}").text.split('id="results"')[1]
    assert serious.number in by_text and mild.number not in by_text
    today = clock.local_today().isoformat()  # the list's days are local
    assert serious.number in client.get(f"/reports?since={today}&until={today}").text
    past = (clock.now() - timedelta(days=400)).date().isoformat()
    assert "No reports match." in client.get(f"/reports?until={past}", headers=EN).text
    by_status = client.get("/reports?status=closed", headers=EN).text
    assert "No reports match." in by_status
    from aefi.registry.models import Vaccine

    code = session.get(Vaccine, session.get(Lot, d1.lot_id).vaccine_id).code
    assert serious.number in client.get(f"/reports?vaccine={code}").text.split('id="results"')[1]
    # Paging: 26 more, of other persons anywhere in the county, filed by the investigator.
    used = {d1.person_id, d2.person_id, d3.person_id}
    more = []
    for d in session.exec(select(Dose).order_by(Dose.id.desc())):
        if d.person_id not in used and len(more) < 26:
            used.add(d.person_id)
            more.append(d)
    inv = county.actor(session, "investigator")
    for d in more:
        file_report(session, inv, d, **FEVER)
    first = client.get("/reports", headers=EN).text
    assert "page 1 of 2" in first
    second = client.get("/reports?page=2", headers={**EN, "HX-Request": "true"}).text
    assert "page 2 of 2" in second
    # A reporter sees only their site.
    client.cookies.clear()
    login(client, "reporter2")
    mine = client.get("/reports").text
    assert other.number in mine and serious.number not in mine


def test_draft_survives_a_lost_session_and_resumes_after_login(client, county, session):
    login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    page = client.get("/reports/new", headers=EN)
    tokens = page_tokens(page.text)
    first = client.post(
        "/reports/draft",
        data={**form_fields(dose, tokens["csrf_token"]), "device_token": tokens["device_token"]},
        headers={"HX-Request": "true", "X-CSRF-Token": tokens["csrf_token"], **EN},
    )
    assert first.status_code == 200 and "Draft saved at" in first.text
    draft_id = re.search(r'name="draft_id" value="(\d+)"', first.text).group(1)
    # The session is gone (expired, cookie dropped); the physician types on.
    client.cookies.delete("aefi_session")
    more = form_fields(dose, "stale-token", description="抽搐一次，约1分钟", guardian_name="张母")
    r = client.post(
        "/reports/draft",
        data={**more, "draft_id": draft_id, "device_token": tokens["device_token"]},
        headers={"HX-Request": "true", "X-CSRF-Token": "stale-token", **EN},
    )
    assert r.status_code == 200 and "Your session has expired." in r.text
    kept_id = int(re.search(r'name="draft_id" value="(\d+)"', r.text).group(1))
    kept = session.get(Draft, kept_id)
    assert kept.user_id is None and kept.payload["description"] == "抽搐一次，约1分钟"
    # Without the device's token (another site posting into the browser) nothing is kept.
    forged = client.post("/reports/draft", data={**more, "device_token": "0" * 64})
    assert forged.status_code == 403
    # The field check and the lookups do not bounce the page to the login form.
    assert client.post("/reports/check", data=more).status_code == 204
    assert "expired" in client.get("/reports/doses?dose_q=x", headers=EN).text
    # Submitting without a session also keeps everything and goes through the login.
    sub = client.post(
        "/reports/new",
        data={**more, "draft_id": str(kept_id), "device_token": tokens["device_token"]},
        follow_redirects=False,
    )
    assert sub.status_code == 303
    assert sub.headers["location"] == f"/login?next=%2Freports%2Fnew%3Fdraft%3D{kept_id}"
    assert session.exec(select(func.count()).select_from(Draft)).one() == 2
    assert kept.payload["_continues"] == int(draft_id)
    # Log in again: the draft is the user's, listed, and resumes with every value.
    csrf = login(client, "reporter")
    session.expire_all()
    assert session.get(Draft, kept_id).user_id == county.actor(session, "reporter").user_id
    # The copy kept while logged out replaces the draft it carried on: one draft, not two.
    assert session.get(Draft, int(draft_id)) is None
    assert "_continues" not in session.get(Draft, kept_id).payload
    # The form for the same dose offers it first; a form for no dose offers nothing.
    offer = client.get(f"/reports/new?dose_id={dose.id}", headers=EN).text
    assert "You have an unfinished report" in offer and f"/reports/new?draft={kept_id}" in offer
    assert "You have an unfinished report" not in client.get("/reports/new", headers=EN).text
    listing = client.get("/reports", headers=EN).text
    assert f"/reports/new?draft={kept_id}" in listing and "Your drafts" in listing
    resumed = client.get(f"/reports/new?draft={kept_id}", headers=EN).text
    assert "抽搐一次，约1分钟" in resumed and 'value="张母"' in resumed
    assert 'value="URTIC" checked' in resumed and f'value="{dose.id}" checked' in resumed
    assert 'value="13800001111"' in resumed and f'name="draft_id" value="{kept_id}"' in resumed
    filed = client.post(
        "/reports/new", data={**more, "csrf_token": csrf, "draft_id": str(kept_id)},
        follow_redirects=False,
    )  # fmt: skip
    assert filed.status_code == 303
    session.expire_all()
    assert session.get(Draft, kept_id) is None  # filing the report removed its draft
    assert f"draft={kept_id}" not in client.get("/reports").text


def test_discarding_a_draft(client, county, session):
    csrf = login(client, "reporter")
    r = client.post(
        "/reports/draft",
        data={"csrf_token": csrf, "description": "未完成"},
        headers={"HX-Request": "true"},
    )
    draft_id = int(re.search(r'name="draft_id" value="(\d+)"', r.text).group(1))
    assert (
        client.post(f"/reports/drafts/{draft_id}/discard", data={"csrf_token": csrf}).status_code
        == 200
    )
    assert session.get(Draft, draft_id) is None
    discarded = session.exec(
        select(AuditEvent).where(AuditEvent.entity_type == "draft", AuditEvent.action == "discard")
    ).one()
    assert discarded.entity_id == draft_id
    # Another user cannot resume or discard someone else's draft.
    r = client.post("/reports/draft", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    other_id = int(re.search(r'name="draft_id" value="(\d+)"', r.text).group(1))
    client.cookies.clear()
    csrf2 = login(client, "reporter2")
    # (a draft not theirs reads as one no longer kept: back to their own drafts)
    foreign = client.get(f"/reports/new?draft={other_id}", follow_redirects=False)
    assert foreign.status_code == 303 and foreign.headers["location"] == "/reports/drafts"
    assert (
        client.post(f"/reports/drafts/{other_id}/discard", data={"csrf_token": csrf2}).status_code
        == 404
    )


def test_dose_given_elsewhere_is_linked_by_hand(client, county, session):
    csrf = login(client, "reporter")
    lot = session.exec(select(Lot).order_by(Lot.id.desc())).first()
    at = clock.now() - timedelta(hours=5)
    base = {
        "csrf_token": csrf,
        "hand-0-lot_number": lot.lot_number,
        "hand-0-administered_at": iso_local(at),
        "hand-0-dose_number": "2",
        "hand-0-vaccinating_unit": "邻县接种门诊",
        "onset_at": iso_local(at + timedelta(hours=1)),
        "symptoms": ["FEVER"],
        "max_temperature_c": "38.9",
        "outcome": "recovered",
        "reporter_name": "刘医生",
        "reporter_phone": "138",
    }
    missing_patient = client.post("/reports/new", data=base, headers=EN)
    assert missing_patient.status_code == 422
    assert "Enter the patient" in missing_patient.text.split('id="msg-patient"')[1][:300]
    unknown = client.post(
        "/reports/new",
        data={**base, "hand-0-lot_number": "NOPE1", "patient_name": "外来儿",
              "patient_id_number": "330782202001010015"},
        headers=EN,
    )  # fmt: skip
    assert unknown.status_code == 422
    assert "No lot numbered NOPE1." in unknown.text.split('id="msg-hand-0-lot_number"')[1][:300]
    ok = client.post(
        "/reports/new",
        data={**base, "patient_name": "外来儿", "patient_id_number": "330782202001010015",
              "patient_sex": "female"},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303
    report = session.exec(select(Report)).one()
    assert report.linked_by_hand and report.patient_name == "外来儿"
    page = client.get(f"/reports/{report.id}", headers=EN).text
    assert "linked by hand" in page and "邻县接种门诊" in page


def test_held_lot_is_flagged_on_the_form_and_the_report(client, county, session):
    from aefi.signals.halts import service as halts

    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    lot = session.get(Lot, dose.lot_id)
    halts.issue_halt(
        session,
        county.actor(session, "bureau"),
        scope="lot",
        target=lot.lot_number,
        reason="县卫健局叫停决定 2026-3号",
        confirmed=True,
    )
    session.commit()
    form = client.get(f"/reports/new?dose_id={dose.id}", headers=EN).text
    assert "This lot is halted: 叫停〔" in form and "县卫健局叫停决定 2026-3号" in form
    assert file_via_form(client, dose, csrf).status_code == 303
    report = session.exec(select(Report)).one()
    assert "halted" in report.lot_flag
    page = client.get(f"/reports/{report.id}", headers=EN).text
    assert "was not in normal use" in page and "县卫健局叫停决定" in page


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")
def test_pdf_card_in_chinese_and_english(client, county, session, tmp_path):
    csrf = login(client, "reporter")
    dose = nth_dose_at(session, county.actor(session, "reporter").site_id)
    file_via_form(client, dose, csrf)
    report = session.exec(select(Report)).one()
    person = session.get(Person, dose.person_id)
    lot = session.get(Lot, dose.lot_id)
    r = client.get(f"/reports/{report.id}.pdf", headers=ZH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    (tmp_path / "zh.pdf").write_bytes(r.content)
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "zh.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert person.name in text and lot.lot_number in text
    assert "荨麻疹" in text and "全身瘙痒" in text
    assert "疑似预防接种异常反应个案报告卡" in text and report.number in text
    en = client.get(f"/reports/{report.id}.pdf", headers=EN)
    (tmp_path / "en.pdf").write_bytes(en.content)
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "en.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Urticaria" in text and "Suspected AEFI case report card" in text
