"""The admin's page of reported terms: list with counts, unmapped filter, row edit (htmx)."""

from __future__ import annotations

from sqlmodel import select

from aefi.intake.models import Report
from aefi.signals import vaers
from aefi.terminology.models import ReportedTerm
from tests.conftest import login
from tests.factories import a_small_vaers_year

HX = {"HX-Request": "true"}


def _gaze(session) -> ReportedTerm:
    return session.exec(select(ReportedTerm).where(ReportedTerm.normalised == "gaze palsy")).one()


def test_admin_lists_filters_and_maps_a_term(client, session, county, tmp_path):
    a_small_vaers_year(tmp_path)
    vaers.import_dir(session, tmp_path)
    gaze = _gaze(session)
    token = login(client, "admin")
    page = client.get("/admin/terminology")
    assert page.status_code == 200
    assert "报告术语" in page.text and 'href="/admin/terminology"' in page.text
    assert "Gaze palsy" in page.text and "Pyrexia" in page.text
    only = client.get("/admin/terminology?unmapped=1", headers=HX)
    assert only.status_code == 200 and "<html" not in only.text
    assert "Gaze palsy" in only.text and "Pyrexia" not in only.text and "未映射" in only.text
    en = client.get("/admin/terminology?q=gaze", cookies={"aefi_lang": "en"})
    assert "Reported terms" in en.text and "Edit mapping" in en.text and "Pyrexia" not in en.text

    form = client.get(f"/admin/terminology/{gaze.id}/edit", headers=HX)
    assert form.status_code == 200 and f'id="term-{gaze.id}"' in form.text
    assert 'name="symptom_code"' in form.text and 'name="body_system"' in form.text
    # A code of another group than the one picked: 422, the row stays in edit with messages.
    bad = client.post(
        f"/admin/terminology/{gaze.id}",
        data={"symptom_code": "SEIZ", "event_group": "fever", "body_system": "nervous",
              "csrf_token": token},
        headers=HX,
    )  # fmt: skip
    assert bad.status_code == 422
    assert "该症状代码属于另一个事件组" in bad.text and 'value="nervous" selected' in bad.text
    ok = client.post(
        f"/admin/terminology/{gaze.id}",
        data={"symptom_code": "SEIZ", "event_group": "", "body_system": "nervous",
              "csrf_token": token},
        headers=HX,
    )  # fmt: skip
    assert ok.status_code == 200 and "<code>SEIZ</code>" in ok.text and "神经系统" in ok.text
    session.expire_all()
    rep = session.exec(select(Report).where(Report.external_id == "000001")).one()
    assert "seizure" in rep.event_groups
    assert "Gaze palsy" not in client.get("/admin/terminology?unmapped=1", headers=HX).text
    # Without JavaScript: the edit page and a redirect after saving.
    plain = client.get(f"/admin/terminology/{gaze.id}/edit")
    assert (
        plain.status_code == 200 and "<html" in plain.text and 'name="symptom_code"' in plain.text
    )
    r = client.post(
        f"/admin/terminology/{gaze.id}",
        data={"symptom_code": "", "event_group": "", "body_system": "eye", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert (_gaze(session).symptom_code, _gaze(session).body_system) == (None, "eye")


def test_others_may_read_but_not_edit(client, session, county, tmp_path):
    a_small_vaers_year(tmp_path)
    vaers.import_dir(session, tmp_path)
    gaze = _gaze(session)
    token = login(client, "bureau")
    page = client.get("/admin/terminology")
    assert page.status_code == 200 and "Gaze palsy" in page.text and "编辑映射" not in page.text
    r = client.post(
        f"/admin/terminology/{gaze.id}",
        data={"symptom_code": "SEIZ", "csrf_token": token},
        headers=HX,
    )
    assert r.status_code == 403
    assert client.get("/admin/terminology/999999/edit").status_code == 404
    client.post("/logout", data={"csrf_token": token})
    login(client, "reporter")
    assert client.get("/admin/terminology").status_code == 403
