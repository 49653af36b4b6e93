"""After the vaccinee leaves, through HTTP: the certificate and its QR code, the public
check-in page (well, unwell, red flag), the self-report queue, the token rules and the
rate limit; scope per role."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.aftercare.models import CheckIn, SelfReport
from aefi.aftercare.tokens import sign
from aefi.auth.models import User
from aefi.intake.models import Report
from aefi.notifications.models import Notification
from aefi.registry.models import Lot, Person
from aefi.settings import get_settings
from tests.conftest import api_token, login
from tests.factories import DAY0, a_dose, a_person

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _dose(session, county, **kw):
    clock.freeze(DAY0)
    person = a_person(session, county.county_id, phone="13800000000", **kw)
    return a_dose(session, county, person=person, at=DAY0 - timedelta(minutes=40))


def _link(client, session, dose) -> str:
    page = client.get(f"/persons/{dose.person_id}/certificate?dose={dose.id}")
    assert page.status_code == 200, page.text
    return re.search(r'class="link-text">([^<]+)<', page.text).group(1)


def _post(client, url: str, data: dict, lang: str = "zh-CN"):
    page = client.get(url, headers={"Accept-Language": lang})
    token = CSRF.search(page.text).group(1)
    return client.post(url, data={**data, "csrf_token": token}, headers={"Accept-Language": lang})


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils missing")
def test_the_certificate_pdf_carries_a_qr_code_of_the_personal_link(
    client, session, county, tmp_path
):
    import zxingcpp
    from PIL import Image

    dose = _dose(session, county)
    login(client, "reporter")
    url = _link(client, session, dose)
    assert "/c/" in url
    pdf = client.get(
        f"/persons/{dose.person_id}/certificate.pdf?dose={dose.id}",
        headers={"Accept-Language": "zh-CN"},
    )
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    (tmp_path / "c.pdf").write_bytes(pdf.content)
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "150",
            "-f",
            "1",
            "-l",
            "1",
            str(tmp_path / "c.pdf"),
            str(tmp_path / "c"),
        ],
        check=True,
    )
    png = next(tmp_path.glob("c*.png"))
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(png))]
    assert found == [url]
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "预防接种凭证" in text and "120" in text and "0571-8801" in text
    # The issue is audited (it prints a full name).
    from aefi.audit import AuditEvent

    assert session.exec(select(AuditEvent).where(AuditEvent.action == "certificate_issued")).first()


def test_only_those_who_see_the_person_get_a_certificate(client, session, county):
    dose = _dose(session, county)
    for user, status in (("reporter2", 404), ("hospital", 404), ("investigator", 200)):
        client.cookies.clear()
        login(client, user)
        assert client.get(f"/persons/{dose.person_id}/certificate").status_code == status, user


def test_well_then_a_symptom_then_the_physician_files_it(client, session, county):
    dose = _dose(session, county)
    login(client, "reporter")
    url = _link(client, session, dose).replace("http://testserver", "")
    client.cookies.clear()
    clock.advance(timedelta(days=1))
    page = client.get(url, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "今天情况怎么样" in page.text
    person = session.get(Person, dose.person_id)
    assert person.name not in page.text and person.id_number not in page.text  # no identity
    well = _post(client, url, {"answer": "well"})
    assert well.status_code == 200 and "谢谢" in well.text
    # Not well without saying what: the answer is kept and the field named.
    clock.advance(timedelta(days=2))
    bad = _post(client, url, {"answer": "unwell", "note": "一直哭"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text and "一直哭" in bad.text
    ok = _post(
        client,
        url,
        {
            "answer": "unwell",
            "symptoms": ["injection_site", "fever"],
            "onset_on": (clock.local_today() - timedelta(days=1)).isoformat(),
            "severity": "mild",
            "seen_doctor": "no",
        },
    )
    assert ok.status_code == 200 and "接种单位" in ok.text
    answers = session.exec(
        select(CheckIn).where(CheckIn.dose_id == dose.id).order_by(CheckIn.id)
    ).all()
    assert [(a.day, a.answer) for a in answers] == [(1, "well"), (3, "unwell")]
    sr = session.exec(select(SelfReport).where(SelfReport.dose_id == dose.id)).one()
    assert not sr.urgent and sr.status == "pending"
    # The site's physician sees it in the queue and files it; triage handles it as any report.
    login(client, "reporter")
    queue = client.get("/aftercare/self-reports", headers={"Accept-Language": "zh-CN"})
    assert f"/aftercare/self-reports/{sr.id}" in queue.text
    detail = client.get(f"/aftercare/self-reports/{sr.id}")
    token = CSRF.search(detail.text).group(1)
    onset = re.search(r'name="onset_at" value="([^"]+)"', detail.text).group(1)
    filed = client.post(
        f"/aftercare/self-reports/{sr.id}/confirm",
        data={
            "csrf_token": token,
            "onset_at": onset,
            "symptoms": ["SWELL", "FEVER"],
            "description": "自报",
        },
        follow_redirects=False,
    )
    assert filed.status_code == 303, filed.text
    session.expire_all()
    sr = session.get(SelfReport, sr.id)
    report = session.get(Report, sr.report_id)
    assert sr.status == "confirmed" and report.source == "self_report"
    assert report.triage is not None or report.serious is not None
    # Another site's physician sees nothing of it.
    client.cookies.clear()
    login(client, "reporter2")
    assert client.get(f"/aftercare/self-reports/{sr.id}").status_code == 404
    assert (
        f"/aftercare/self-reports/{sr.id}"
        not in client.get("/aftercare/self-reports?status=confirmed").text
    )


def test_a_red_flag_shows_the_hospital_and_alerts_the_site_and_the_hospital(
    client, session, county
):
    from datetime import date

    dose = _dose(session, county, birth_on=date(2026, 6, 1))  # an infant
    login(client, "reporter")
    url = _link(client, session, dose).replace("http://testserver", "")
    client.cookies.clear()
    clock.advance(timedelta(days=3))
    r = _post(
        client,
        url,
        {
            "answer": "unwell",
            "symptoms": ["high_fever"],
            "onset_on": clock.local_today().isoformat(),
            "severity": "severe",
        },
        lang="en",
    )
    assert r.status_code == 200 and "Get help now" in r.text and 'href="tel:120"' in r.text
    assert "0571" in r.text or "Hospital" in r.text
    sr = session.exec(select(SelfReport).where(SelfReport.dose_id == dose.id)).one()
    assert sr.urgent
    alerted = {
        session.get(User, n.user_id).username
        for n in session.exec(
            select(Notification).where(Notification.kind == "checkin_red_flag")
        ).all()
        if n.urgent
    }
    assert (
        {"reporter", "hospital"} <= alerted
        and "reporter2" not in alerted
        and "hospital2" not in alerted
    )
    # The hospital desk may read the red flag it was told about; not a non-urgent one.
    login(client, "hospital")
    assert client.get(f"/aftercare/self-reports/{sr.id}").status_code == 200


def test_dismissing_needs_a_reason(client, session, county):
    dose = _dose(session, county)
    login(client, "reporter")
    url = _link(client, session, dose).replace("http://testserver", "")
    clock.advance(timedelta(days=1))
    client.cookies.clear()
    _post(
        client,
        url,
        {
            "answer": "unwell",
            "symptoms": ["rash"],
            "onset_on": clock.local_today().isoformat(),
            "severity": "mild",
        },
    )
    sr = session.exec(select(SelfReport).where(SelfReport.dose_id == dose.id)).one()
    login(client, "reporter")
    token = CSRF.search(client.get(f"/aftercare/self-reports/{sr.id}").text).group(1)
    r = client.post(
        f"/aftercare/self-reports/{sr.id}/dismiss", data={"csrf_token": token, "reason": "蚊虫"}
    )
    assert r.status_code == 422
    # The shared error summary links the field, which says so; what was typed stays.
    summary = re.search(r'<div class="error-summary".*?</div>', r.text, re.S).group(0)
    assert "data-error-summary" in summary and 'href="#f-reason"' in summary
    assert "请说明排除此自报的原因" in summary
    # The button says what it does (not the desk banner's 知道了).
    assert re.search(r'<button type="submit">排除</button>', r.text)
    field = re.search(r'<input id="f-reason"[^>]*>', r.text).group(0)
    assert 'value="蚊虫"' in field
    assert 'aria-invalid="true"' in field and 'aria-describedby="err-reason"' in field
    assert 'id="err-reason"' in r.text
    r = client.post(
        f"/aftercare/self-reports/{sr.id}/dismiss",
        data={"csrf_token": token, "reason": "回访：蚊虫叮咬"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    session.expire_all()
    assert session.get(SelfReport, sr.id).status == "dismissed"


def test_token_rules_on_the_page_and_the_api(client, session, county):
    dose = _dose(session, county)
    other = _dose(session, county)
    key = get_settings().secret_key
    today = clock.local_today()
    good = sign(dose.id, today + timedelta(days=5), key)
    expired = sign(dose.id, today - timedelta(days=1), key)
    tampered = good[:-3] + ("abc" if not good.endswith("abc") else "xyz")
    assert client.get(f"/c/{good}").status_code == 200
    assert client.get(f"/c/{expired}").status_code == 410
    assert client.get(f"/c/{tampered}").status_code == 404
    assert client.get(f"/c/{sign(999999, today, key)}").status_code == 404
    # The answer lands on the token's dose, never on another.
    r = client.post(f"/api/v1/checkin/{good}", json={"answer": "well"})
    assert r.status_code == 201
    assert session.exec(select(CheckIn).where(CheckIn.dose_id == other.id)).first() is None
    assert client.post(f"/api/v1/checkin/{tampered}", json={"answer": "well"}).status_code == 404
    bad = client.post(f"/api/v1/checkin/{good}", json={"answer": "unwell", "symptoms": ["nope"]})
    assert bad.status_code == 422


def test_the_public_pages_are_rate_limited(client, session, county, monkeypatch):
    from aefi.aftercare.checkin import views

    monkeypatch.setattr(get_settings(), "checkin_rate_per_min", 5)
    monkeypatch.setattr(views, "_limiter", None)
    dose = _dose(session, county)
    good = sign(dose.id, clock.local_today() + timedelta(days=5), get_settings().secret_key)
    codes = [client.get(f"/c/{good}").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    api = client.get(f"/api/v1/checkin/{good}")
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 0


def test_the_self_report_api(client, session, county):
    dose = _dose(session, county)
    good = sign(dose.id, clock.local_today() + timedelta(days=5), get_settings().secret_key)
    clock.advance(timedelta(days=1))
    r = client.post(
        f"/api/v1/checkin/{good}",
        json={
            "answer": "unwell",
            "symptoms": ["rash"],
            "onset_on": clock.local_today().isoformat(),
            "severity": "mild",
        },
    )
    assert r.status_code == 201 and r.json()["red_flags"] == []
    sr_id = r.json()["self_report_id"]
    headers = api_token(client, "reporter")
    listed = client.get("/api/v1/self-reports", headers=headers).json()
    assert [x["id"] for x in listed] == [sr_id]
    assert client.get("/api/v1/self-reports", headers=api_token(client, "reporter2")).json() == []
    filed = client.post(f"/api/v1/self-reports/{sr_id}/confirm", headers=headers)
    assert filed.status_code == 201, filed.text
    again = client.post(f"/api/v1/self-reports/{sr_id}/confirm", headers=headers)
    assert again.status_code == 409


def test_the_lot_page_shows_check_in_figures_with_exact_intervals(client, session, county):
    doses = [_dose(session, county) for _ in range(4)]
    login(client, "investigator")
    for d in doses:
        client.get(f"/persons/{d.person_id}/certificate?dose={d.id}")  # invited
    client.cookies.clear()
    clock.advance(timedelta(days=1))
    today = clock.local_today().isoformat()
    for d, answer in zip(doses[:3], ("well", "unwell", "unwell"), strict=True):
        good = sign(d.id, clock.local_today() + timedelta(days=5), get_settings().secret_key)
        body = {"answer": answer}
        if answer == "unwell":
            body |= {"symptoms": ["fever"], "onset_on": today, "severity": "mild"}
        assert client.post(f"/api/v1/checkin/{good}", json=body).status_code == 201
    login(client, "investigator")
    lot = session.get(Lot, doses[0].lot_id)
    page = client.get(f"/lots/{lot.lot_number}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    section = page.text[page.text.index('id="checkin-figures"') :]
    assert "3/4" not in section and "2/3" in section  # fever among the 3 responders
    assert "66.7%（9.4–99.2%）" in section  # 2 of 3, Clopper–Pearson (0.094–0.992)
    assert "75.0%" in section  # day 1: 3 of 4 invited answered


def test_the_follow_up_list_shows_who_answered_a_check_in(client, session, county):
    answered = _dose(session, county)
    silent = _dose(session, county)
    good = sign(answered.id, clock.local_today() + timedelta(days=5), get_settings().secret_key)
    assert client.post(f"/api/v1/checkin/{good}", json={"answer": "well"}).status_code == 201
    from aefi.signals.halts import service as halts

    lot = session.get(Lot, answered.lot_id)
    halts.issue_halt(
        session,
        county.actor(session, "bureau"),
        scope="lot",
        target=lot.lot_number,
        reason="聚集性发热",
        confirmed=True,
    )
    session.commit()
    login(client, "investigator")
    page = client.get(f"/lots/{lot.lot_number}/follow-up", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200, page.text
    rows = dict(re.findall(r'data-person-id="(\d+)".*?data-checkin="(\w*)"', page.text, flags=re.S))
    assert rows[str(answered.person_id)] == "well" and rows[str(silent.person_id)] == ""


def test_admin_sets_a_vaccines_check_in_days_on_its_page_and_over_the_api(client, session, county):
    from aefi.registry.models import Vaccine

    token = login(client, "admin")
    hepb = session.exec(select(Vaccine).where(Vaccine.code == "HEPB")).one()
    page = client.get(f"/registry/vaccines/{hepb.id}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and 'name="checkin_days"' in page.text
    assert "接种后随访日" in page.text
    base = {
        "csrf_token": token,
        "code": "HEPB",
        "name": hepb.name,
        "name_en": hepb.name_en,
        "manufacturer": hepb.manufacturer,
        "observation_minutes": "30",
    }
    bad = client.post(
        f"/registry/vaccines/{hepb.id}",
        data={**base, "checkin_days": "7,3,100"},
        headers={"Accept-Language": "en"},
    )
    assert bad.status_code == 422
    assert "Enter whole days from 1 to 60, in ascending order" in bad.text
    assert 'value="7,3,100"' in bad.text
    ok = client.post(
        f"/registry/vaccines/{hepb.id}",
        data={**base, "checkin_days": "1，3，7，28"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    session.expire_all()
    assert session.get(Vaccine, hepb.id).checkin_days == "1,3,7,28"
    history = client.get(f"/registry/vaccines/{hepb.id}", headers={"Accept-Language": "en"}).text
    assert "checkin_days" in history and "1,3,7,28" in history  # the change, audited

    headers = api_token(client, "admin")
    r = client.patch("/api/v1/vaccines/HEPB", json={"checkin_days": "2,14"}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["checkin_days"] == "2,14" and r.json()["checkin_schedule"] == [2, 14]
    r = client.patch("/api/v1/vaccines/HEPB", json={"checkin_days": "14,2"}, headers=headers)
    assert r.status_code == 422 and "从小到大" in r.text
    assert r.json()["detail"][0]["loc"] == ["body", "checkin_days"]
    r = client.patch("/api/v1/vaccines/HEPB", json={"halted": True}, headers=headers)
    assert r.status_code == 422
    r = client.patch("/api/v1/vaccines/NOPE", json={"checkin_days": "1"}, headers=headers)
    assert r.status_code == 404
    r = client.post(
        "/api/v1/vaccines",
        json={"code": "MMR2", "name": "麻腮风", "manufacturer": "", "checkin_days": "0,3"},
        headers=headers,
    )
    assert r.status_code == 422
    r = client.post(
        "/api/v1/vaccines",
        json={"code": "MMR2", "name": "麻腮风", "manufacturer": "", "checkin_days": "1,5,12"},
        headers=headers,
    )
    assert r.status_code == 201
    assert (
        session.exec(select(Vaccine).where(Vaccine.code == "MMR2")).one().checkin_days == "1,5,12"
    )
    r = client.patch(
        "/api/v1/vaccines/HEPB",
        json={"checkin_days": "1"},
        headers=api_token(client, "investigator"),
    )
    assert r.status_code == 403


def test_the_indicators_show_check_in_figures_per_vaccine_in_page_and_api(client, session, county):
    doses = [_dose(session, county) for _ in range(4)]
    login(client, "investigator")
    for d in doses:
        client.get(f"/persons/{d.person_id}/certificate?dose={d.id}")  # invited
    client.cookies.clear()
    clock.advance(timedelta(days=1))
    today = clock.local_today().isoformat()
    for d, answer in zip(doses[:3], ("well", "unwell", "unwell"), strict=True):
        good = sign(d.id, clock.local_today() + timedelta(days=5), get_settings().secret_key)
        body = {"answer": answer}
        if answer == "unwell":
            body |= {"symptoms": ["fever"], "onset_on": today, "severity": "mild"}
        assert client.post(f"/api/v1/checkin/{good}", json=body).status_code == 201
    lot = session.get(Lot, doses[0].lot_id)
    from aefi.registry.models import Vaccine

    vaccine = session.get(Vaccine, lot.vaccine_id)
    login(client, "investigator")
    page = client.get("/indicators", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    section = page.text[page.text.index('id="checkin-indicators"') :]
    mine = section[section.index(f'id="checkins-{vaccine.code}"') :]
    assert "已邀请 4 人；3 人至少回答一次。" in mine
    assert "75.0%" in mine  # day 1: 3 of 4 invited answered
    assert "2/3" in mine and "66.7%（9.4–99.2%）" in mine  # fever: exact interval
    r = client.get("/api/v1/indicators", headers=api_token(client, "investigator"))
    assert r.status_code == 200
    (line,) = [x for x in r.json()["active_surveillance"] if x["vaccine_code"] == vaccine.code]
    assert line["invited"] == 4 and line["responders"] == 3
    assert line["days"] == [
        {
            "day": 1,
            "answered": {
                "k": 3,
                "n": 4,
                "share": 0.75,
                "low": pytest.approx(0.194, abs=1e-3),
                "high": pytest.approx(0.994, abs=1e-3),
            },
        }
    ]
    (fever,) = [g for g in line["event_groups"] if g["event_group"] == "fever"]
    assert fever["reporting"]["k"] == 2 and fever["reporting"]["n"] == 3
    assert fever["reporting"]["low"] == pytest.approx(0.0943, abs=1e-3)
    assert fever["reporting"]["high"] == pytest.approx(0.9916, abs=1e-3)
    # A period before the doses has none of them.
    old = client.get(
        "/api/v1/indicators",
        params={"since": "2020-01-01", "until": "2020-01-31"},
        headers=api_token(client, "investigator"),
    )
    assert old.json()["active_surveillance"] == []
