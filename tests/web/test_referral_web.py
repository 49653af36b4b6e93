"""The green channel through pages and the API: the hospital inbox (its home page), the
steps, the physician's form and status block, least data for another hospital."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from aefi import clock
from aefi.intake.models import FollowUp
from aefi.referral.models import Referral
from tests.conftest import api_token, login
from tests.factories import file_anaphylaxis, referral_of

EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true", "Accept-Language": "en"}


def test_hospital_home_is_the_inbox_and_it_refreshes_as_a_fragment(client, session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    csrf = login(client, "hospital")
    page = client.get("/", headers=EN)
    assert page.status_code == 200
    assert "Referral inbox" in page.text and "Receive green-channel referrals" in page.text
    assert f'id="ref-{ref.id}"' in page.text and "ref-new" in page.text
    assert "<title>(1) Referral inbox" in page.text
    assert 'hx-trigger="every 2s' in page.text
    # The poll: only the live block, with the count in a <title> htmx puts on the tab.
    live = client.get("/referrals", headers=HTMX)
    assert "<html" not in live.text and "<title>(1) Referral inbox" in live.text
    assert report.patient_name in live.text
    # Acknowledge from the row: 204 and a trigger that refreshes the list at once.
    r = client.post(f"/referrals/{ref.id}/acknowledge", headers={**HTMX, "X-CSRF-Token": csrf})
    assert r.status_code == 204 and r.headers["HX-Trigger"] == "referrals-changed"
    session.refresh(ref)
    assert ref.status == "acknowledged"
    live = client.get("/referrals", headers=HTMX)
    assert "ref-new" not in live.text and "<title>Referral inbox" in live.text
    # The other roles keep their home page.
    login(client, "reporter")
    assert "Referral inbox" not in client.get("/", headers=EN).text


def test_hospital_b_sees_nothing_of_hospital_a_by_page_or_api(client, session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    csrf = login(client, "hospital2")
    inbox = client.get("/referrals?show=all", headers=EN)
    assert inbox.status_code == 200 and report.patient_name not in inbox.text
    assert "No referrals." in inbox.text
    for path in (f"/referrals/{ref.id}", f"/referrals/{ref.id}/handover.pdf"):
        assert client.get(path, headers=EN).status_code == 404
    r = client.post(f"/referrals/{ref.id}/acknowledge", data={"csrf_token": csrf})
    assert r.status_code == 404
    assert client.get(f"/reports/{report.id}/referral-status").status_code == 403
    headers = api_token(client, "hospital2")
    assert client.get("/api/v1/referrals", headers=headers).json()["items"] == []
    assert client.get(f"/api/v1/referrals/{ref.id}", headers=headers).status_code == 404
    for step in ("acknowledge", "arrive"):
        assert client.post(f"/api/v1/referrals/{ref.id}/{step}", headers=headers).status_code == 404
    r = client.post(f"/api/v1/referrals/{ref.id}/decline", json={"reason": "x"}, headers=headers)
    assert r.status_code == 404
    assert client.get(f"/api/v1/reports/{report.id}", headers=headers).status_code == 403
    assert client.get("/api/v1/reports", headers=headers).status_code == 403
    session.refresh(ref)
    assert ref.status == "sent"


def test_api_steps_decline_reroutes_and_roles(client, session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    a = api_token(client, "hospital")
    listed = client.get("/api/v1/referrals", headers=a).json()
    assert [i["id"] for i in listed["items"]] == [ref.id]
    item = listed["items"][0]
    assert item["patient"]["name"] == report.patient_name and "*" in item["patient"]["id_number"]
    assert item["doses"][0]["lot_number"] and item["status"] == "sent"
    # A reporter may not take the hospital's steps: 403.
    rep = api_token(client, "reporter")
    assert client.post(f"/api/v1/referrals/{ref.id}/acknowledge", headers=rep).status_code == 403
    # The site sees its referrals; the bureau the county's.
    assert [i["id"] for i in client.get("/api/v1/referrals", headers=rep).json()["items"]] == [
        ref.id
    ]
    assert client.get("/api/v1/referrals", headers=api_token(client, "bureau")).json()["total"] == 1
    r = client.post(f"/api/v1/referrals/{ref.id}/decline", json={"reason": ""}, headers=a)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    clock.advance(timedelta(minutes=1))
    r = client.post(f"/api/v1/referrals/{ref.id}/decline", json={"reason": "CT故障"}, headers=a)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "declined" and body["rerouted"] is True
    assert body["decline_reason"] == "CT故障" and body["minutes_to_acknowledge"] is None
    # The new leg is hospital B's, at once.
    b = api_token(client, "hospital2")
    (leg,) = client.get("/api/v1/referrals", headers=b).json()["items"]
    assert leg["previous_id"] == ref.id and leg["leg"] == 2 and leg["status"] == "sent"
    assert leg["hospital"]["id"] == county.hospital_ids[1]
    # A does not get B's leg.
    assert client.get(f"/api/v1/referrals/{leg['id']}", headers=a).status_code == 404
    clock.advance(timedelta(minutes=2))
    r = client.post(
        f"/api/v1/referrals/{leg['id']}/acknowledge", json={"note": "已备床"}, headers=b
    )
    assert r.json()["minutes_to_acknowledge"] == 2.0
    clock.advance(timedelta(minutes=20))
    r = client.post(f"/api/v1/referrals/{leg['id']}/arrive", headers=b)
    assert r.json()["minutes_to_arrival"] == 22.0
    r = client.post(f"/api/v1/referrals/{leg['id']}/admit", json={"ward": "ICU"}, headers=b)
    assert r.json()["status"] == "admitted"
    r = client.post(
        f"/api/v1/referrals/{leg['id']}/discharge",
        json={"diagnosis": "严重过敏反应", "patient_outcome": "recovered"},
        headers=b,
    )
    assert r.status_code == 200 and r.json()["status"] == "discharged"
    # A step the status does not allow: 409.
    r = client.post(f"/api/v1/referrals/{leg['id']}/decline", json={"reason": "晚了"}, headers=b)
    assert r.status_code == 409
    sources = session.exec(select(FollowUp.source).where(FollowUp.report_id == report.id)).all()
    assert sources == ["hospital", "hospital"]
    # The report API shows the hospital's follow-ups to the site.
    shown = client.get(f"/api/v1/reports/{report.id}", headers=rep).json()
    assert shown["outcome"] == "recovered"


def test_reporter_status_block_and_referral_form(client, session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    csrf = login(client, "reporter")
    block = client.get(f"/reports/{report.id}/referral-status", headers=HTMX)
    assert block.status_code == 200 and "<html" not in block.text
    assert 'data-status="sent"' in block.text and 'hx-trigger="every 5s' in block.text
    assert "County People" in block.text  # the hospital, in English
    # The form keeps what was typed and names the bad field.
    form = {
        "csrf_token": csrf,
        "urgency": "emergency",
        "adrenaline_mg": "0.15",
        "adrenaline_at": "2026-11-25T10:05",
        "heart_rate": "abc",
        "spo2": "150",
        "transport": "ambulance_120",
        "contact_name": "刘医生",
    }
    r = client.post(f"/reports/{report.id}/referral", data=form, headers=EN)
    assert r.status_code == 422
    assert "Enter a number." in r.text and "Between 30 and 100." in r.text
    assert 'value="abc"' in r.text and 'value="0.15"' in r.text
    form.update(heart_rate="148", spo2="91", bp_systolic="76", bp_diastolic="44")
    r = client.post(f"/reports/{report.id}/referral", data=form, follow_redirects=False)
    assert r.status_code == 303
    session.refresh(ref)
    assert (ref.heart_rate, ref.spo2, ref.adrenaline_mg, ref.transport) == (
        148,
        91,
        0.15,
        "ambulance_120",
    )
    assert ref.adrenaline_at.isoformat() == "2026-11-25T02:05:00+00:00"  # typed in Shanghai time
    page = client.get(f"/reports/{report.id}/referral", headers=EN)
    assert 'value="148"' in page.text and "Save and tell the hospital" in page.text
    # Another site's physician: nothing.
    login(client, "reporter2")
    assert client.get(f"/reports/{report.id}/referral-status").status_code == 404
    assert client.get(f"/referrals/{ref.id}").status_code == 404


def test_hospital_pages_decline_with_reason_and_outcome(client, session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    csrf = login(client, "hospital")
    page = client.get(f"/referrals/{ref.id}", headers=EN)
    assert page.status_code == 200 and report.patient_name in page.text
    assert "Decline" in page.text and 'id="ref-status"' in page.text
    r = client.post(f"/referrals/{ref.id}/decline", data={"csrf_token": csrf}, headers=EN)
    assert r.status_code == 422 and "Give the reason for declining." in r.text
    # The same page serves its status block to the poll.
    block = client.get(f"/referrals/{ref.id}", headers=HTMX)
    assert block.text.lstrip().startswith('<section id="ref-status"')
    r = client.post(
        f"/referrals/{ref.id}/arrive", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/referrals/{ref.id}"
    r = client.post(
        f"/referrals/{ref.id}/outcome",
        data={"csrf_token": csrf, "result": "transferred", "diagnosis": "过敏性休克"},
        headers=EN,
    )
    assert r.status_code == 422 and "Name the hospital the patient was transferred to." in r.text
    assert 'value="过敏性休克"' in r.text
    r = client.post(
        f"/referrals/{ref.id}/outcome",
        data={
            "csrf_token": csrf,
            "result": "transferred",
            "diagnosis": "过敏性休克",
            "transferred_to": "市第一人民医院",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.refresh(ref)
    assert ref.status == "transferred" and ref.patient_outcome == "recovering"
    pdf = client.get(f"/referrals/{ref.id}/handover.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


def test_escalation_shows_to_the_site_with_the_backup_offer(client, session, county):
    from aefi.referral.steps import service as steps

    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    clock.advance(timedelta(minutes=10))
    steps.check_timers(session)
    csrf = login(client, "reporter")
    home = client.get("/", headers=EN)
    assert "Referrals not acknowledged in time: 1." in home.text
    block = client.get(f"/reports/{report.id}/referral-status", headers=EN)
    assert 'data-status="escalated"' in block.text and "Re-route to" in block.text
    r = client.post(
        f"/referrals/{ref.id}/reroute",
        data={"csrf_token": csrf, "next": f"/reports/{report.id}/referral"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{report.id}/referral"
    session.expire_all()
    legs = session.exec(select(Referral).where(Referral.report_id == report.id)).all()
    assert [leg.status for leg in legs] == ["rerouted", "sent"]
    assert legs[1].hospital_id == county.hospital_ids[1]
