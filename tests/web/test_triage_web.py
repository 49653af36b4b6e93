"""Triage through HTTP: the escalation queue (htmx refresh, acknowledge, overdue in red,
county scope), cluster pages, the rules page, and the triage object in the report JSON."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from aefi import clock
from aefi.registry.models import Region
from aefi.triage.models import Escalation
from tests.conftest import api_token, login
from tests.factories import T0, file, lots, new_dose

EN = {"Accept-Language": "en"}


def escalated_report(session, county, *, minutes: int = 330, symptoms=("ANAPH",)):
    dose = new_dose(session, county, site_index=0, lot=lots(session)[0], minutes=minutes)
    return file(session, county, "reporter", dose, symptoms=list(symptoms))


def test_queue_shows_refreshes_and_acknowledges(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    report = escalated_report(session, county)
    csrf = login(client, "bureau")
    page = client.get("/escalations", headers=EN)
    assert page.status_code == 200
    assert report.number in page.text and "<html" in page.text
    assert 'hx-trigger="every 5s, queue-changed from:body"' in page.text
    assert "Life-threatening or designated condition" in page.text
    # The htmx refresh gets only the queue.
    part = client.get("/escalations", headers={**EN, "HX-Request": "true"})
    assert "<html" not in part.text and report.number in part.text
    # Acknowledge (htmx): 204 and an event that reloads the queue.
    esc = session.exec(select(Escalation).where(Escalation.report_id == report.id)).one()
    r = client.post(
        f"/escalations/{esc.id}/acknowledge",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert r.status_code == 204 and r.headers["HX-Trigger"] == "queue-changed"
    assert report.number not in client.get("/escalations", headers=EN).text
    everything = client.get("/escalations?show=all", headers=EN).text
    assert report.number in everything and "Health bureau" in everything
    # The CDC side has not acknowledged it yet: still in the investigator's queue.
    client.post("/logout", data={"csrf_token": csrf})
    login(client, "investigator")
    assert report.number in client.get("/escalations", headers=EN).text


def test_overdue_items_are_red(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    report = escalated_report(session, county, symptoms=("URTIC",))
    # Serious: the 2 h fast report is due.
    from aefi.intake.follow_up import service as intake_follow_up
    from aefi.intake.schemas import FollowUpIn

    intake_follow_up.add_follow_up(
        session, county.actor(session, "reporter"), report.id, FollowUpIn(hospitalization=True)
    )
    login(client, "bureau")
    page = client.get("/escalations", headers=EN).text
    assert 'class="urgency-3"' in page and "Overdue" not in page
    clock.advance(timedelta(hours=2, minutes=1))
    page = client.get("/escalations", headers=EN).text
    assert 'class="urgency-3 overdue"' in page and "Overdue" in page


def test_queue_is_for_county_roles_and_county_scope(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    report = escalated_report(session, county)
    esc = session.exec(select(Escalation).where(Escalation.report_id == report.id)).one()
    login(client, "reporter")
    assert client.get("/escalations").status_code == 403
    headers = api_token(client, "bureau")
    assert [e["report_id"] for e in client.get("/api/v1/escalations", headers=headers).json()] == [
        report.id
    ]
    # An item of another county does not exist for this bureau.
    other = session.exec(select(Region).where(Region.id != county.county_id)).first()
    esc.county_id = other.id
    session.add(esc)
    session.commit()
    assert client.get("/api/v1/escalations", headers=headers).json() == []
    r = client.post(f"/api/v1/escalations/{esc.id}/acknowledge", headers=headers, json={})
    assert r.status_code == 404


def test_api_acknowledge_records_who_and_when(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    report = escalated_report(session, county)
    headers = api_token(client, "investigator")
    (item,) = client.get("/api/v1/escalations", headers=headers).json()
    assert item["kind"] == "report" and item["urgency_name"] == "life_threatening"
    r = client.post(
        f"/api/v1/escalations/{item['id']}/acknowledge", headers=headers, json={"note": "已受理"}
    )
    assert r.status_code == 201
    assert r.json()["role"] == "investigator" and r.json()["note"] == "已受理"
    assert client.get("/api/v1/escalations", headers=headers).json() == []
    (again,) = client.get("/api/v1/escalations?show=all", headers=headers).json()
    assert again["acknowledged"] and again["acknowledgements"][0]["at"].startswith("2026-11-20")
    assert report.id == again["report_id"]


def test_report_json_carries_the_triage_object(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    report = escalated_report(session, county)
    headers = api_token(client, "bureau")
    body = client.get(f"/api/v1/reports/{report.id}", headers=headers).json()
    t = body["triage"]
    assert t["serious"] is False and t["escalated"] is True
    assert t["investigation_required"] is True and t["referral_required"] is True
    assert t["cluster_id"] is None and t["ruleset_version"]
    assert {"report_due", "investigation_start_due"} <= set(t["deadlines"])
    rules = {r["rule"]: r for r in t["reasons"]}
    assert "designated.anaphylaxis" in rules and "referral.anaphylaxis" in rules
    assert rules["designated.anaphylaxis"]["text_zh"].startswith("严重过敏反应")
    assert rules["designated.anaphylaxis"]["text_en"].startswith("Anaphylaxis")


def test_cluster_pages(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    lot = lots(session)[0]
    reports = [
        file(
            session,
            county,
            "reporter",
            new_dose(session, county, site_index=0, lot=lot, minutes=m),
        )
        for m in (0, 30)
    ]
    cluster_id = reports[-1].triage["cluster_id"]
    assert cluster_id
    csrf = login(client, "investigator")
    listing = client.get("/clusters", headers=EN).text
    assert f"/clusters/{cluster_id}" in listing
    page = client.get(f"/clusters/{cluster_id}", headers=EN)
    assert page.status_code == 200
    assert lot.lot_number in page.text and reports[0].number in page.text
    # Signals was asked to evaluate the lot (and may already have done so).
    assert "Evaluation requested" in page.text
    assert "awaiting signal evaluation" in page.text or "evaluated" in page.text
    zh = client.get(f"/clusters/{cluster_id}", headers={"Accept-Language": "zh-CN"}).text
    assert "疑似群体性AEFI" in zh
    # Closing needs a reason, shown next to the field.
    r = client.post(f"/clusters/{cluster_id}/close", data={"csrf_token": csrf, "note": ""})
    assert r.status_code == 422 and "field-error" in r.text
    r = client.post(
        f"/clusters/{cluster_id}/close",
        data={"csrf_token": csrf, "note": "同批次已送检"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "/clusters/" not in client.get("/escalations?show=all", headers=EN).text
    api = client.get(f"/api/v1/clusters/{cluster_id}", headers=api_token(client, "bureau")).json()
    assert api["status"] == "closed" and api["evaluation_lot_ids"][0] == lot.id
    assert sorted(api["report_ids"]) == sorted(r.id for r in reports)


def test_rules_page_shows_the_file_in_force_and_old_versions(client, session, county):
    clock.freeze(T0 + timedelta(hours=6))
    report = escalated_report(session, county)
    version = report.triage["ruleset_version"]
    login(client, "admin")
    page = client.get("/admin/triage-rules", headers=EN)
    assert page.status_code == 200
    assert version in page.text and "designated_conditions" in page.text
    assert "/admin/triage-rules" in client.get("/", headers=EN).text  # in the navigation
    old = client.get(f"/admin/triage-rules/{version}", headers=EN)
    assert old.status_code == 200 and "[clusters]" in old.text
    assert client.get("/admin/triage-rules/nope", headers=EN).status_code == 404
    client.post("/logout", data={"csrf_token": login(client, "admin")})
    login(client, "reporter")
    assert client.get("/admin/triage-rules").status_code == 403
