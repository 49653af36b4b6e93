"""Accounts, roles, CSRF, language and scope through pages and the API."""

from __future__ import annotations

import pytest
from sqlmodel import select

from aefi.registry.models import Dose, Lot, Person, Site
from tests.conftest import api_token, csrf_of, login

ROLES = ["admin", "reporter", "investigator", "bureau", "hospital"]


@pytest.mark.parametrize("username", ROLES)
def test_each_role_logs_in_and_sees_its_home(client, county, username):
    login(client, username)
    page = client.get("/", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Log out" in page.text
    expected = {
        "admin": "Keep users and reference data in order.",
        "reporter": "Watch vaccinees in observation",
        "investigator": "Investigate reports",
        "bureau": "decide emergency halts",
        "hospital": "Receive green-channel referrals",
    }[username]
    assert expected in page.text


def test_anonymous_is_sent_to_login(client, county):
    r = client.get("/doses", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_wrong_password_is_refused_and_repeated_failures_slow_down(client, county):
    token = csrf_of(client)
    codes = []
    for _ in range(7):
        r = client.post(
            "/login", data={"username": "bureau", "password": "wrong", "csrf_token": token}
        )
        codes.append(r.status_code)
    assert codes[:5] == [401] * 5
    assert codes[-1] == 429
    r = client.post(
        "/login",
        data={"username": "bureau", "password": "demo-bureau-1", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 429 and "Wait" in r.text
    r = client.post("/api/v1/auth/token", data={"username": "bureau", "password": "demo-bureau-1"})
    assert r.status_code == 429


def test_form_post_without_csrf_token_is_refused(client, county):
    login(client, "admin")
    r = client.post(
        "/registry/vaccines/new",
        data={"code": "NEW", "name": "新疫苗", "observation_minutes": "30"},
    )
    assert r.status_code == 403
    assert client.get("/registry/vaccines?q=NEW").text.count("新疫苗") == 0
    token = csrf_of(client)
    r = client.post(
        "/registry/vaccines/new",
        data={"code": "NEW", "name": "新疫苗", "observation_minutes": "30", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        "/registry/vaccines/new",
        headers={"X-CSRF-Token": token},
        data={"code": "NEW2", "name": "新疫苗2", "observation_minutes": "30"},
        follow_redirects=False,
    )
    assert r.status_code == 303


def test_admin_form_keeps_what_was_typed_on_error(client, county):
    token = login(client, "admin")
    r = client.post(
        "/registry/vaccines/new",
        data={
            "code": "HEPB",
            "name": "我输入的名字",
            "observation_minutes": "abc",
            "csrf_token": token,
        },
    )
    assert r.status_code == 422
    assert "我输入的名字" in r.text and "请输入整数" in r.text


def test_language_follows_browser_and_switch(client, county):
    login(client, "admin")
    assert "退出登录" in client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "Log out" in client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    token = csrf_of(client)
    client.post("/lang", data={"locale": "en", "next": "/", "csrf_token": token})
    assert "Log out" in client.get("/", headers={"Accept-Language": "zh-CN"}).text


def test_error_pages_in_both_languages(client, county):
    login(client, "reporter")
    zh = client.get("/no-such-page", headers={"Accept-Language": "zh-CN"})
    en = client.get("/no-such-page", headers={"Accept-Language": "en"})
    assert zh.status_code == en.status_code == 404
    assert "您访问的页面不存在" in zh.text and "does not exist" in en.text
    forbidden = client.get("/admin/audit", headers={"Accept-Language": "en"})
    assert forbidden.status_code == 403 and "may not do this" in forbidden.text


def _other_site_person(session, site_id):
    return session.exec(
        select(Person).where(~Person.id.in_(select(Dose.person_id).where(Dose.site_id == site_id)))
    ).first()


@pytest.mark.demo_county  # reads a person of another site of the demo county
def test_reporter_cannot_open_another_sites_person_page(client, county, session):
    login(client, "reporter")
    rep = county.actor(session, "reporter")
    other = _other_site_person(session, rep.site_id)
    assert client.get(f"/persons/{other.id}").status_code == 404
    own = session.exec(select(Dose).where(Dose.site_id == rep.site_id)).first()
    assert client.get(f"/persons/{own.person_id}").status_code == 200


def test_hospital_sees_no_registry_pages(client, county):
    login(client, "hospital")
    assert client.get("/registry/lots").status_code == 403
    assert client.get("/doses?q=a").status_code == 403


def test_api_auth_and_scope(client, county, session):
    assert client.get("/api/v1/lots/ANY").status_code == 401
    bad = client.post("/api/v1/auth/token", data={"username": "admin", "password": "nope"})
    assert bad.status_code == 401
    lot = session.exec(select(Lot)).first()
    hospital = api_token(client, "hospital")
    assert client.get(f"/api/v1/lots/{lot.lot_number}", headers=hospital).status_code == 404
    reporter = api_token(client, "reporter")
    r = client.post(
        "/api/v1/vaccines", headers=reporter, json={"code": "X1", "name": "X", "manufacturer": "Y"}
    )
    assert r.status_code == 403
    other_site = session.exec(select(Site).where(Site.id != county.site_ids[0])).first()
    r = client.post(
        "/api/v1/doses",
        headers=reporter,
        json={
            "person": {"name": "甲", "id_number": "330782201501010019", "sex": "male"},
            "lot_number": lot.lot_number,
            "site_code": other_site.code,
            "dose_number": 1,
            "administered_at": "2026-01-01T09:00:00+08:00",
        },
    )
    assert r.status_code == 404
    iis = api_token(client, "iis")
    r = client.get(f"/api/v1/lots/{lot.lot_number}", headers=iis)
    assert r.status_code == 200 and r.json()["status"] == "active"


def test_api_registry_round_trip_and_halt_409(client, county, session):
    admin = api_token(client, "admin")
    assert (
        client.post(
            "/api/v1/hospitals",
            headers=admin,
            json={"code": "H9", "name": "新医院", "level": "二级"},
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/vaccines",
            headers=admin,
            json={"code": "PCV", "name": "肺炎疫苗", "manufacturer": "某厂"},
        ).status_code
        == 201
    )
    assert (
        client.post(
            "/api/v1/lots",
            headers=admin,
            json={"lot_number": "PCV-1", "vaccine_code": "PCV", "expiry_date": "2030-01-01"},
        ).status_code
        == 201
    )
    r = client.post(
        "/api/v1/sites",
        headers=admin,
        json={"code": "S99", "name": "新站", "township": "城关镇", "primary_hospital_code": "H9"},
    )
    assert r.status_code == 201, r.text
    dose = {
        "person": {"name": "乙", "id_number": "330782201501010027", "sex": "female"},
        "lot_number": "PCV-1",
        "site_code": "S99",
        "dose_number": 1,
        "administered_at": "2026-01-01T09:00:00+08:00",
        "route": "im",
    }
    assert client.post("/api/v1/doses", headers=admin, json=dose).status_code == 201
    # The lot's status changes only by a decision: the bureau halts it.
    r = client.post(
        "/api/v1/halts",
        headers=api_token(client, "bureau"),
        json={"scope": "lot", "target": "PCV-1", "reason": "叫停决定 2026-007"},
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/doses", headers=admin, json=dose)
    assert r.status_code == 409 and "2026-007" in r.json()["detail"]
    bad = client.post("/api/v1/lots", headers=admin, json={"lot_number": "", "vaccine_code": 1})
    assert bad.status_code == 422
    assert {tuple(e["loc"])[-1] for e in bad.json()["detail"]} >= {"lot_number", "vaccine_code"}


def test_api_import_reports_rows(client, county, session):
    iis = api_token(client, "iis")
    lot = session.exec(select(Lot)).first()
    site = session.get(Site, county.site_ids[0])
    csv = (
        "id_number,name,lot_number,site_code,administered_at\n"
        f"330782201501010035,丙,{lot.lot_number},{site.code},2026-01-02T09:00:00+08:00\n"
        f"330782201501010043,丁,{lot.lot_number},{site.code},yesterday\n"
    )
    r = client.post("/api/v1/doses/import", headers=iis, files={"file": ("d.csv", csv, "text/csv")})
    assert r.status_code == 200
    body = r.json()
    assert body["imported"] == 1 and body["rejected"][0]["row"] == 3


def test_admin_searches_audit_trail(client, county):
    login(client, "admin")
    r = client.get("/admin/audit?action=login", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "系统管理员" in r.text


def test_home_lists_every_unusable_lot_recalled_too(client, county, session):
    """The county home page's "Lots not in use" names held, halted and recalled lots (the
    statuses of lot_states.UNUSABLE), not only the ones stopped in this county."""
    from aefi.registry import lot_states

    held, recalled = session.exec(select(Lot).order_by(Lot.id).limit(2)).all()
    from aefi.auth.permissions import Actor

    system = Actor.system(county.county_id, reason="test")
    lot_states.hold_lot(session, system, held, county.county_id, signal_id=None, note="复核中")
    lot_states.recall_lot(session, system, recalled, notice="召回通知 2026-1")
    session.commit()
    login(client, "admin")
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert "Lots not in use" in page
    assert f"{held.lot_number} · held" in page
    assert f"{recalled.lot_number} · recalled · 召回通知 2026-1" in page
