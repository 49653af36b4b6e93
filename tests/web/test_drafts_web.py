"""Drafts of the report form: one per person and dose, offered only on that dose's form,
removed when a report is filed for the dose, listed on "my drafts" to resume or discard."""

from __future__ import annotations

import re

from sqlmodel import select

from aefi.audit import AuditEvent
from aefi.intake.models import Draft
from tests.conftest import login
from tests.factories import nth_dose_at
from tests.web.test_intake_web import EN, form_fields

HX = {"HX-Request": "true", **EN}


def autosave(client, data: dict) -> int:
    r = client.post("/reports/draft", data=data, headers=HX)
    assert r.status_code == 200, r.text
    return int(re.search(r'name="draft_id" value="(\d+)"', r.text).group(1))


def drafts_of(session, user_id: int) -> list[Draft]:
    session.expire_all()
    return list(session.exec(select(Draft).where(Draft.user_id == user_id)))


def test_one_draft_per_dose_and_saving_again_updates_it(client, county, session):
    csrf = login(client, "reporter")
    rep = county.actor(session, "reporter")
    dose, other = nth_dose_at(session, rep.site_id), nth_dose_at(session, rep.site_id, 1)
    first = autosave(client, form_fields(dose, csrf, description="第一次"))
    # A second form for the same dose (another tab, no draft id) keeps to the same draft.
    again = autosave(client, form_fields(dose, csrf, description="第二次"))
    assert again == first
    elsewhere = autosave(client, form_fields(other, csrf, description="另一剂"))
    assert elsewhere != first
    kept = {d.id: d for d in drafts_of(session, rep.user_id)}
    assert set(kept) == {first, elsewhere}
    assert kept[first].payload["description"] == "第二次"
    assert kept[first].subject_key == f"dose:{dose.id}"
    # A blank form started later, then linked to the dose, joins that draft too.
    blank = autosave(client, {"csrf_token": csrf, "description": "还没有剂次"})
    joined = autosave(client, form_fields(dose, csrf, draft_id=str(blank), description="第三次"))
    assert joined == first
    ids = {d.id for d in drafts_of(session, rep.user_id)}
    assert ids == {first, elsewhere}  # the blank one merged into the dose's draft


def test_a_draft_is_offered_only_on_its_own_doses_form(client, county, session):
    csrf = login(client, "reporter")
    rep = county.actor(session, "reporter")
    dose, other = nth_dose_at(session, rep.site_id), nth_dose_at(session, rep.site_id, 1)
    # A submit that fails (no outcome) while its draft was autosaved.
    draft_id = autosave(client, form_fields(dose, csrf, outcome=""))
    failed = client.post(
        "/reports/new", data=form_fields(dose, csrf, outcome="", draft_id=str(draft_id)),
        headers=EN,
    )  # fmt: skip
    assert failed.status_code == 422
    offer = "You have an unfinished report"
    assert offer not in client.get("/reports/new", headers=EN).text
    assert offer not in client.get(f"/reports/new?dose_id={other.id}", headers=EN).text
    own = client.get(f"/reports/new?dose_id={dose.id}", headers=EN).text
    assert offer in own and f"/reports/new?draft={draft_id}" in own


def test_filing_a_report_for_the_dose_removes_its_draft(client, county, session):
    csrf = login(client, "reporter")
    rep = county.actor(session, "reporter")
    dose, other = nth_dose_at(session, rep.site_id), nth_dose_at(session, rep.site_id, 1)
    stale = autosave(client, form_fields(dose, csrf, description="旧的草稿"))
    kept = autosave(client, form_fields(other, csrf))
    # Filed from a fresh form (not from the draft): the dose's draft goes all the same.
    filed = client.post("/reports/new", data=form_fields(dose, csrf), follow_redirects=False)
    assert filed.status_code == 303, filed.text
    assert {d.id for d in drafts_of(session, rep.user_id)} == {kept}
    gone = client.get(f"/reports/new?draft={stale}", headers=EN)
    assert "That draft is no longer kept" in gone.text and gone.url.path == "/reports/drafts"


def test_my_drafts_page_resume_and_discard(client, county, session):
    csrf = login(client, "reporter")
    rep = county.actor(session, "reporter")
    dose = nth_dose_at(session, rep.site_id)
    home = client.get("/", headers=EN).text
    assert 'href="/reports/drafts"' in home and "My drafts" in home  # in the reporter's nav
    assert "No drafts" in client.get("/reports/drafts", headers=EN).text
    draft_id = autosave(client, form_fields(dose, csrf, description="待续"))
    page = client.get("/reports/drafts", headers=EN).text
    assert f"/reports/new?draft={draft_id}" in page
    assert f'action="/reports/drafts/{draft_id}/discard"' in page
    zh = client.get("/reports/drafts", headers={"Accept-Language": "zh-CN"}).text
    assert "我的草稿" in zh
    r = client.post(f"/reports/drafts/{draft_id}/discard", data={"csrf_token": csrf})
    assert r.status_code == 200 and r.url.path == "/reports/drafts"
    assert drafts_of(session, rep.user_id) == []
    event = session.exec(select(AuditEvent).where(AuditEvent.entity_type == "draft")).one()
    assert (event.action, event.entity_id, event.actor_id) == ("discard", draft_id, rep.user_id)
