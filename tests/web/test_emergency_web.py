"""The emergency path through pages and the API: the form's emergency block (there without
JS, open when a designated condition is ticked, each bad value named beside its input), the
API's optional block, the report page led by where the patient is going (its fragment
polls until the referral closes), the hand-over sheet's adrenaline, the desk alert switch."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.intake.models import Report
from aefi.referral.desk import service as desk
from aefi.web import iso_local
from tests.conftest import api_token, login
from tests.factories import REFERRAL_T0, a_dose, file_anaphylaxis, referral_of

EN = {"Accept-Language": "en"}
HTMX = {"HX-Request": "true", "Accept-Language": "en"}


def _dose(session, county):
    clock.freeze(REFERRAL_T0)
    actor = county.actor(session, "reporter")
    site = county.site_ids.index(actor.site_id)
    return a_dose(session, county, site=site, at=REFERRAL_T0 - timedelta(minutes=20))


def _form(csrf, dose, **extra):
    onset = dose.administered_at + timedelta(minutes=10)
    return {
        "csrf_token": csrf,
        "dose_ids": [str(dose.id)],
        "onset_at": iso_local(onset),
        "symptoms": ["ANAPH", "HYPOTEN"],
        "serious_life_threatening": "1",
        "outcome": "recovering",
        "reporter_name": "刘医生",
        "reporter_phone": "13800000000",
        **extra,
    }


def test_form_has_the_block_closed_and_marks_designated_conditions(client, session, county):
    login(client, "reporter")
    page = client.get("/reports/new", headers=EN).text
    assert 'id="section-emergency"' in page and 'name="em_adrenaline_mg"' in page
    block = page.split('id="section-emergency"')[0][-200:]
    assert "open" not in block.split("<details")[-1]
    # Anaphylaxis, seizures and HHE are the triage referral groups: their boxes open it.
    assert 'value="ANAPH" data-emergency' in page.replace(" >", ">").replace("  ", " ")
    assert 'value="HHE" data-emergency' in page.replace("  ", " ")
    assert 'value="FEVER" data-emergency' not in page
    assert "/static/js/emergency.js" in page


def test_out_of_range_values_come_back_beside_their_inputs(client, session, county):
    dose = _dose(session, county)
    csrf = login(client, "reporter")
    bad = client.post(
        "/reports/new",
        data=_form(csrf, dose, em_adrenaline_mg="15", em_adrenaline_at="09:30", em_spo2="130"),
        headers=EN,
    )
    assert bad.status_code == 422
    assert "Enter a value from 0 to 5 mg." in bad.text.split('id="msg-em_adrenaline_mg"')[1][:200]
    assert "Enter a value from 30 to 100 %." in bad.text.split('id="msg-em_spo2"')[1][:200]
    # Opened, with what was typed kept.
    assert 'id="section-emergency" open' in bad.text and 'value="130"' in bad.text
    assert session.exec(select(Report)).first() is None


def test_filed_block_leads_to_the_referral_and_the_handover(client, session, county):
    dose = _dose(session, county)
    csrf = login(client, "reporter")
    given = clock.to_local(dose.administered_at + timedelta(minutes=12)).strftime("%H:%M")
    repeat = clock.to_local(dose.administered_at + timedelta(minutes=22)).strftime("%H:%M")
    ok = client.post(
        "/reports/new",
        data=_form(
            csrf,
            dose,
            em_adrenaline_mg="0.15",
            em_adrenaline_at=given,
            em_repeat1_at=repeat,
            em_bp_systolic="70",
            em_bp_diastolic="40",
            em_heart_rate="170",
            em_spo2="90",
            em_weight_kg="15",
        ),
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text[:500]
    report = session.exec(select(Report)).one()
    ref = referral_of(session, report)
    assert ref.adrenaline_mg == 0.15 and ref.spo2 == 90 and ref.weight_kg == 15
    page = client.get(f"/reports/{report.id}", headers=EN).text
    # Where the patient is going comes first: before the triage outcome.
    assert page.index('id="referral-live"') < page.index('id="triage"')
    assert "The patient is going to" in page and 'href="tel:' in page
    # The reasons are one summary line in <details>.
    assert '<details class="triage-why">' in page and "more reasons" in page
    assert "0.15 mg" in page.split('id="report-adrenaline"')[1][:300]
    # The hospital's page has the emergency block at the top.
    login(client, "hospital")
    detail = client.get(f"/referrals/{ref.id}", headers=EN).text
    top = detail.split('id="em-summary"')[1][:1500]
    assert "0.15 mg" in top and "intramuscular" in top and f"{given}" in top
    assert "repeat doses (1)" in top and repeat in top and "SpO₂ 90%" in top and "15 kg" in top
    assert detail.index('id="em-summary"') < detail.index('id="ref-status"')
    inbox = client.get("/referrals", headers=HTMX).text
    assert "0.15 mg" in inbox and "BP 70/40 mmHg" in inbox
    assert f'data-newest-referral="{ref.id}"' in inbox


def test_api_accepts_the_optional_block_and_names_a_bad_value(client, session, county):
    dose = _dose(session, county)
    headers = api_token(client, "reporter")
    at = (dose.administered_at + timedelta(minutes=12)).isoformat()
    body = {
        "dose_ids": [dose.id],
        "onset_at": (dose.administered_at + timedelta(minutes=10)).isoformat(),
        "symptoms": ["ANAPH"],
        "serious": {"life_threatening": True},
        "outcome": "recovering",
        "emergency": {
            "adrenaline": {"dose_mg": 0.15, "route": "im", "at": at, "repeats": []},
            "vitals": {"spo2": 92, "heart_rate": 160},
            "weight_kg": 14,
        },
    }
    bad = client.post(
        "/api/v1/reports",
        json={**body, "emergency": {"vitals": {"spo2": 140}}},
        headers=headers,
    )
    assert bad.status_code == 422
    assert any(e["loc"][-1] == "spo2" for e in bad.json()["detail"])
    r = client.post("/api/v1/reports", json=body, headers=headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["emergency"]["adrenaline"]["dose_mg"] == 0.15
    assert out["emergency"]["vitals"]["spo2"] == 92
    # The old shape, without the block, still files.
    other = a_dose(session, county, site=0, at=dose.administered_at)
    plain = {k: v for k, v in body.items() if k != "emergency"}
    second = client.post("/api/v1/reports", json={**plain, "dose_ids": [other.id]}, headers=headers)
    assert second.status_code == 201 and second.json()["emergency"] is None
    report = session.get(Report, out["id"])
    ref = referral_of(session, report)
    assert ref.adrenaline_mg == 0.15 and ref.heart_rate == 160 and ref.weight_kg == 14


def test_status_fragment_polls_while_open_and_stops_when_closed(client, session, county):
    from aefi.referral.schemas import OutcomeIn
    from aefi.referral.steps import service as steps

    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    login(client, "reporter")
    live = client.get(f"/reports/{report.id}/referral-status", headers=HTMX).text
    assert "<html" not in live and 'hx-trigger="every 5s, referrals-changed from:body"' in live
    assert 'data-live="yes"' in live
    hospital = county.actor(session, "hospital")
    steps.acknowledge(session, hospital, ref.id)
    steps.record_arrival(session, hospital, ref.id)
    outcome = OutcomeIn(result="discharged", diagnosis="严重过敏反应", patient_outcome="recovered")
    steps.record_outcome(session, hospital, ref.id, outcome)
    done = client.get(f"/reports/{report.id}/referral-status", headers=HTMX).text
    assert 'data-live="no"' in done and "every 5s" not in done


def test_desk_alert_switch_on_the_inbox(client, session, county):
    csrf = login(client, "hospital")
    page = client.get("/referrals", headers=EN).text
    assert 'id="desk-alert"' in page and 'data-sound="off"' in page
    assert 'id="desk-arrival"' in page and "hidden" in page.split('id="desk-arrival"')[1][:120]
    r = client.post("/referrals/desk-alert", data={"csrf_token": csrf, "sound": "on"}, headers=HTMX)
    assert r.status_code == 200 and "<html" not in r.text and 'data-sound="on"' in r.text
    assert desk.sound_on(session, county.actor(session, "hospital"))
    assert 'data-sound="on"' in client.get("/referrals", headers=EN).text
    assert session.exec(select(AuditEvent).where(AuditEvent.entity_type == "desk_alert")).one()
    # Without JS: a plain post and back to the inbox.
    plain = client.post(
        "/referrals/desk-alert", data={"csrf_token": csrf, "sound": "off"}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/referrals"
    # Not a hospital user: refused, nothing stored.
    csrf = login(client, "reporter")
    refused = client.post("/referrals/desk-alert", data={"csrf_token": csrf, "sound": "on"})
    assert refused.status_code == 403
    assert not desk.sound_on(session, county.actor(session, "reporter"))


def test_referral_form_shows_and_edits_the_repeats_and_the_handover_prints_them(
    client, session, county
):
    """The repeats the emergency block recorded are on the referral form, each with its
    dose, route and time; edited there they change the report's block (audited), and the
    hand-over sheet prints each."""
    import subprocess

    dose = _dose(session, county)
    csrf = login(client, "reporter")
    given_at = dose.administered_at + timedelta(minutes=12)
    first_repeat = clock.to_local(dose.administered_at + timedelta(minutes=22))
    ok = client.post(
        "/reports/new",
        data=_form(
            csrf,
            dose,
            em_adrenaline_mg="0.15",
            em_adrenaline_at=clock.to_local(given_at).strftime("%H:%M"),
            em_repeat1_at=first_repeat.strftime("%H:%M"),
        ),
        follow_redirects=False,
    )
    assert ok.status_code == 303, ok.text[:500]
    report = session.exec(select(Report)).one()
    ref = referral_of(session, report)
    form = client.get(f"/reports/{report.id}/referral", headers=EN).text
    assert f'name="repeat_at_0" value="{iso_local(first_repeat)}"' in form
    assert 'name="repeat_dose_0"' in form and 'name="repeat_route_0"' in form
    assert 'name="repeat_at_1" value=""' in form  # one blank row adds the next

    second = clock.to_local(dose.administered_at + timedelta(minutes=30))
    data = {
        "csrf_token": csrf,
        "urgency": "emergency",
        "adrenaline_mg": "0.15",
        "adrenaline_at": iso_local(given_at),
        "adrenaline_route": "im",
        "repeat_at_0": iso_local(first_repeat),
        "repeat_dose_0": "",
        "repeat_route_0": "",
        "repeat_at_1": iso_local(second),
        "repeat_dose_1": "0.1",
        "repeat_route_1": "iv",
        "repeat_at_2": "",
    }
    # A bad row comes back beside its input, with what was typed.
    bad = client.post(
        f"/reports/{report.id}/referral", data={**data, "repeat_dose_1": "lots"}, headers=EN
    )
    assert bad.status_code == 422 and "Enter a number." in bad.text and 'value="lots"' in bad.text
    # A repeat before the first dose is refused.
    early = iso_local(given_at - timedelta(minutes=5))
    bad = client.post(
        f"/reports/{report.id}/referral", data={**data, "repeat_at_1": early}, headers=EN
    )
    assert bad.status_code == 422 and "Each repeat dose needs a time after the first" in bad.text

    saved = client.post(
        f"/reports/{report.id}/referral", data=data, headers=EN, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text[:800]
    session.expire_all()
    block = session.get(Report, report.id).emergency
    repeats = block["adrenaline"]["repeats"]
    assert len(repeats) == 2 and repeats[1]["dose_mg"] == 0.1 and repeats[1]["route"] == "iv"
    assert session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == "report",
            AuditEvent.entity_id == report.id,
            AuditEvent.action == "update",
        )
    ).first()
    form = client.get(f"/reports/{report.id}/referral", headers=EN).text
    assert 'name="repeat_dose_1" value="0.1"' in form
    assert '<option value="iv" selected>' in form

    login(client, "hospital")
    pdf = client.get(f"/referrals/{ref.id}/handover.pdf", headers=EN)
    assert pdf.status_code == 200
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf.content, capture_output=True, check=True
    ).stdout.decode()
    flat = " ".join(text.split())
    assert "repeat doses (2)" in flat
    assert f"{first_repeat:%H:%M} (0.15 mg, intramuscular)" in flat
    assert f"{second:%H:%M} (0.1 mg, intravenous)" in flat
