"""Signals and halts through HTTP: API.md's endpoints and fields, the 409 on a halted lot,
the pages in both languages, the chart, the notice PDF, the rate editor."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

from sqlmodel import Session, select

from aefi import clock, db
from aefi.auth.permissions import Actor
from aefi.intake.schemas import SeriousIn
from aefi.registry.models import Lot, Site
from tests.conftest import api_token, login
from tests.factories import County, a_dose, data_row, file_report, write_year

API_FIELDS = {
    "id",
    "lot_number",
    "vaccine_code",
    "event_group",
    "observed",
    "expected",
    "method",
    "statistic",
    "p_value",
    "threshold",
    "level",
    "status",
}


def _session() -> Session:
    return Session(db.get_engine(), expire_on_commit=False)


def file_two_anaphylaxis(county: County) -> tuple[str, list[int]]:
    """Two life-threatening anaphylaxis reports on new doses of one lot, filed by the
    investigator: (the lot's number, the reports' ids)."""
    with _session() as s:
        lot = county.lot(s, "DTAP")
        inv = county.actor(s, "investigator")
        reports = [
            file_report(
                s,
                inv,
                a_dose(s, county, lot=lot),
                symptoms=["ANAPH", "URTIC"],
                serious=SeriousIn(life_threatening=True),
            )
            for _ in range(2)
        ]
        return lot.lot_number, [r.id for r in reports]


def test_signals_api_scan_list_and_halt_cycle(client, county):
    inv = api_token(client, "investigator")
    bureau = api_token(client, "bureau")
    iis = api_token(client, "iis")
    lot_number, report_ids = file_two_anaphylaxis(county)

    r = client.get("/api/v1/signals", headers=bureau, params={"lot_number": lot_number})
    assert r.status_code == 200
    items = r.json()
    assert items and set(items[0]) >= API_FIELDS
    halt_rec = [x for x in items if x["level"] == "halt_recommended"]
    ana = next(x for x in halt_rec if x["event_group"] == "anaphylaxis")
    assert ana["lot_number"] == lot_number and ana["observed"] == 2
    assert ana["method"] == "maxsprt"
    assert ana["status"] == "new" and ana["p_value"] < 1e-6
    assert client.get(f"/api/v1/lots/{lot_number}", headers=iis).json()["status"] == "held"
    dismissed = client.get("/api/v1/signals", headers=bureau, params={"status": "dismissed"})
    assert dismissed.json() == []

    r = client.post("/api/v1/signals/scan", headers=bureau)
    assert r.status_code == 200
    body = r.json()
    assert body["cells"] > 0 and any(s["id"] == ana["id"] for s in body["open_signals"])
    # Only the bureau halts.
    payload = {
        "scope": "lot",
        "target": lot_number,
        "reason": "两例严重过敏反应，MaxSPRT 超过临界值",
        "signal_ids": [ana["id"]],
        "report_ids": report_ids,
    }
    assert client.post("/api/v1/halts", headers=inv, json=payload).status_code == 403
    assert client.post("/api/v1/halts", headers=iis, json=payload).status_code == 403
    r = client.post("/api/v1/halts", headers=bureau, json=payload)
    assert r.status_code == 201, r.text
    halt = r.json()
    assert halt["number"].startswith("叫停〔") and halt["in_force"] and halt["scope"] == "lot"
    assert client.get(f"/api/v1/lots/{lot_number}", headers=iis).json()["status"] == "halted"
    # The signal is escalated; the IIS pulls the active halts.
    sig = client.get(f"/api/v1/signals/{ana['id']}", headers=bureau).json()
    assert sig["status"] == "escalated"
    active = client.get("/api/v1/halts", headers=iis, params={"active": "true"}).json()
    assert [h["id"] for h in active] == [halt["id"]]
    # A new dose of the lot: 409 naming the decision.
    with _session() as s:
        site_code = s.get(Site, county.site_ids[0]).code
    dose = {
        "person": {
            "name": "李四",
            "id_number": "330782201501010012",
            "sex": "male",
            "birth_date": "2015-01-01",
        },
        "lot_number": lot_number,
        "site_code": site_code,
        "dose_number": 1,
        "administered_at": (clock.now() - timedelta(minutes=3)).isoformat(),
    }
    r = client.post("/api/v1/doses", headers=iis, json=dose)
    assert r.status_code == 409 and halt["number"] in r.json()["detail"]
    # The notice.
    r = client.get(halt["notice_pdf"], headers=bureau)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    # Lifted by a later decision.
    assert (
        client.post(f"/api/v1/halts/{halt['id']}/lift", headers=bureau, json={"reason": ""})
    ).status_code == 422
    r = client.post(f"/api/v1/halts/{halt['id']}/lift", headers=bureau, json={"reason": "检验合格"})
    assert r.status_code == 200 and r.json()["state"] == "lifted"
    assert r.json()["lift_number"].startswith("解除叫停〔")
    assert client.get("/api/v1/halts", headers=iis, params={"active": "true"}).json() == []
    assert client.post("/api/v1/doses", headers=iis, json=dose).status_code == 201
    assert client.get("/api/v1/halts/999", headers=bureau).status_code == 404
    assert client.get("/api/v1/signals", headers=api_token(client, "reporter")).status_code == 403


def test_pages_for_the_bureau_in_both_languages(client, county):
    lot_number, _ = file_two_anaphylaxis(county)
    login(client, "bureau")
    page = client.get("/signals", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert lot_number in page.text and "建议叫停" in page.text and "严重过敏反应" in page.text
    # The banner on every page: recommendations await the bureau.
    assert "banner-warning" in page.text
    sid = int(re.search(r'href="/signals/(\d+)"', page.text).group(1))
    detail = client.get(f"/signals/{sid}", headers={"Accept-Language": "zh-CN"})
    assert detail.status_code == 200 and "<svg" in detail.text and "累计报告数" in detail.text
    assert "发现了什么" in detail.text and "偶然出现这么多的可能：不到" in detail.text
    assert "e+" not in _text(detail.text) and "e-0" not in _text(detail.text)
    client.cookies.set("aefi_lang", "en")
    detail_en = client.get(f"/signals/{sid}")
    assert "Reports so far" in detail_en.text and "Issue a halt decision" in detail_en.text
    assert "a count this high by chance: less than 1 in" in detail_en.text
    assert "Family error" in detail_en.text and "Fixed plan" in detail_en.text
    # The lot page shows both views: against the expected rate and against the siblings.
    lot_en = client.get(f"/lots/{lot_number}")
    assert lot_en.status_code == 200 and 'id="lot-views"' in lot_en.text
    assert "Against sibling lots (binomial MaxSPRT)" in lot_en.text
    lot_zh = client.get(
        f"/lots/{lot_number}", headers={"Accept-Language": "zh-CN"}, cookies={"aefi_lang": "zh"}
    )
    assert lot_zh.status_code == 200 and "同胞批次" in lot_zh.text
    svg = client.get(f"/signals/{sid}/chart.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "Count at which a halt is recommended" in svg.text
    # The halt form keeps what was typed and names the bad field.
    form = client.get("/halts/new", params={"scope": "lot", "target": lot_number})
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post(
        "/halts/new",
        data={"csrf_token": token, "scope": "lot", "target": lot_number, "reason": ""},
    )
    assert r.status_code == 422 and lot_number in r.text and "field-error" in r.text
    r = client.post(
        "/halts/new",
        data={
            "csrf_token": token,
            "scope": "lot",
            "target": lot_number,
            "reason": "Two anaphylaxis cases",
            "signal_ids": str(sid),
        },
        follow_redirects=False,
    )
    # The first submit asks for confirmation, naming the lot, its product and the sites.
    assert r.status_code == 200 and 'id="confirm-step"' in r.text
    assert lot_number in r.text and "1 site" in r.text
    confirm = re.search(r'name="confirm" value="([^"]+)"', r.text).group(1)
    wrong = client.post(
        "/halts/new",
        data={
            "csrf_token": token,
            "scope": "lot",
            "target": lot_number,
            "reason": "x",
            "confirm": "forged",
        },
    )
    assert wrong.status_code == 200 and 'id="confirm-step"' in wrong.text
    r = client.post(
        "/halts/new",
        data={
            "csrf_token": token,
            "scope": "lot",
            "target": lot_number,
            "reason": "Two anaphylaxis cases",
            "signal_ids": str(sid),
            "confirm": confirm,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    hid = int(r.headers["location"].rsplit("/", 1)[1])
    page = client.get(f"/halts/{hid}")
    assert "Halt in force" in page.text and "Lift the halt" in page.text
    pdf = client.get(f"/halts/{hid}/notice.pdf")
    assert pdf.status_code == 200
    text = _pdftotext(pdf.content)
    assert "Emergency halt decision" in text and lot_number in text
    client.cookies.set("aefi_lang", "zh_CN")
    text_zh = _pdftotext(client.get(f"/halts/{hid}/notice.pdf").content)
    assert "紧急叫停决定书" in text_zh and "叫停〔" in text_zh and lot_number in text_zh
    r = client.post(f"/halts/{hid}/lift", data={"csrf_token": token, "reason": ""})
    assert r.status_code == 422
    r = client.post(f"/halts/{hid}/lift", data={"csrf_token": token, "reason": "复检合格"})
    assert r.status_code == 200 and 'id="confirm-step"' in r.text and lot_number in r.text
    confirm = re.search(r'name="confirm" value="([^"]+)"', r.text).group(1)
    assert "已解除" not in client.get(f"/halts/{hid}").text
    r = client.post(
        f"/halts/{hid}/lift",
        data={"csrf_token": token, "reason": "复检合格", "confirm": confirm},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "已解除" in client.get(f"/halts/{hid}").text


def _text(html: str) -> str:
    """The page's words without markup, the SVG and the history (the audit's own lines)."""
    html = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    html = html.rsplit('<section class="card"><h2>', 1)[0]
    return re.sub(r"<[^>]+>", " ", html)


def _pdftotext(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def test_reporter_sees_the_banner_of_a_halt_of_a_lot_at_the_site(client, county):
    with _session() as s:
        lot_number = s.get(Lot, a_dose(s, county, site=0).lot_id).lot_number
    bureau = api_token(client, "bureau")
    r = client.post(
        "/api/v1/halts",
        headers=bureau,
        json={"scope": "lot", "target": lot_number, "reason": "冷链温度超标"},
    )
    assert r.status_code == 201
    login(client, "reporter")
    home = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert "banner-danger" in home.text and lot_number in home.text
    halts = client.get("/halts")
    assert r.json()["number"] in halts.text
    assert client.get("/signals").status_code == 403


def test_admin_edits_rates(client, county):
    login(client, "admin")
    page = client.get("/signals/rates", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "1.31e-06" in page.text
    assert "Vaccine Safety Datalink" in page.text
    form = client.get("/signals/rates/new")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    bad = {
        "csrf_token": token,
        "vaccine_code": "MMR",
        "event_group": "fever",
        "rate_per_dose": "lots",
        "window_start_days": "5",
        "window_end_days": "12",
        "source": "county 2025",
    }
    r = client.post("/signals/rates/new", data=bad)
    assert r.status_code == 422 and 'value="lots"' in r.text and "county 2025" in r.text
    r = client.post(
        "/signals/rates/new", data={**bad, "rate_per_dose": "2.5e-4"}, follow_redirects=False
    )
    assert r.status_code == 303
    edit = client.get(r.headers["location"])
    assert "2.5e-04" in edit.text or "0.00025" in edit.text
    login(client, "bureau")
    assert client.get("/signals/rates/new").status_code == 403


def test_admin_sets_a_products_planned_doses(client, county):
    login(client, "admin")
    page = client.get("/signals/rates", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Doses planned per product" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    with _session() as s:
        from aefi.registry.models import Vaccine

        vac = s.exec(select(Vaccine).order_by(Vaccine.id)).first()
    url = f"/signals/rates/planned/{vac.id}"
    for bad in ("lots", "0", "²", "99999999999", "9" * 20_000, "1\x00"):
        r = client.post(url, data={"csrf_token": token, "planned_doses": bad})
        assert r.status_code == 200  # back to the page, with the message
        with _session() as s:
            assert s.get(Vaccine, vac.id).planned_doses is None
    good = {"csrf_token": token, "planned_doses": "20000"}
    r = client.post(url, data=good, follow_redirects=False)
    assert r.status_code == 303
    with _session() as s:
        assert s.get(Vaccine, vac.id).planned_doses == 20000
    assert "20,000" in client.get("/signals/rates").text
    login(client, "bureau")
    page = client.get("/signals/rates")
    assert page.status_code == 200 and f'action="{url}"' not in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(url, data={"csrf_token": token, "planned_doses": "5"})
    assert r.status_code == 403


def test_signals_page_shows_disproportionality_at_every_level(client, county, tmp_path):
    from aefi.signals import vaers
    from aefi.signals.scans import service as scans

    data, vax, sym = [], [], []
    for k in range(1, 41):
        vid = f"{k:06d}"
        data.append(data_row(vid, "02/11/1996"))
        vtype = "MMR" if k <= 10 else ["DTP", "OPV", "HEP"][k % 3]
        vax.append(f"{vid},{vtype},M,,1,SC,LA,{vtype} (BRAND)\n")
        term = "Febrile convulsion" if k <= 8 else "Pyrexia"
        sym.append(f"{vid},{term},8.1,,,,,,,,\n")
    write_year(tmp_path, 1996, data, vax, sym)
    with _session() as s:
        vaers.import_dir(s, tmp_path)
        scans.run_scan(s, Actor.system(county.county_id, reason="test"), trigger="cli")
        s.commit()
    login(client, "bureau")
    page = client.get("/signals", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'id="disproportionality"' in page.text
    assert "Febrile convulsion" in page.text and "US-MMR" in page.text
    assert "Yates-corrected" in page.text


def test_planned_doses_over_the_api(client, county):
    admin = api_token(client, "admin")
    with _session() as s:
        from aefi.registry.models import Vaccine

        vac = s.exec(select(Vaccine).order_by(Vaccine.id)).first()
    url = f"/api/v1/vaccines/{vac.id}/planned-doses"
    r = client.put(url, headers=admin, json={"planned_doses": 30000})
    assert r.status_code == 200 and r.json()["planned_doses"] == 30000
    assert client.put(url, headers=admin, json={"planned_doses": 0}).status_code == 422
    assert (
        client.put(url, headers=admin, json={"planned_doses": None}).json()["planned_doses"] is None
    )
    assert (
        client.put("/api/v1/vaccines/999999/planned-doses", headers=admin, json={}).status_code
        == 404
    )
    bureau = api_token(client, "bureau")
    assert client.put(url, headers=bureau, json={"planned_doses": 5}).status_code == 403


def test_api_halt_and_lift_take_a_confirmation(client, county):
    """``confirm: false`` is refused with 422 naming the lot and the sites; ``true`` goes
    through; omitted is API.md's documented v1 call and keeps working."""
    with _session() as s:
        lot_number = s.get(Lot, a_dose(s, county, site=0).lot_id).lot_number
    bureau = api_token(client, "bureau")
    body = {"scope": "lot", "target": lot_number, "reason": "冷链温度超标"}
    r = client.post(
        "/api/v1/halts",
        headers={**bureau, "Accept-Language": "en"},
        json={**body, "confirm": False},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "confirm"]
    message = r.json()["message"]
    assert lot_number in message and "1 site" in message and "confirm" in message.lower()
    assert client.get("/api/v1/halts", headers=bureau).json() == []
    r = client.post("/api/v1/halts", headers=bureau, json={**body, "confirm": True})
    assert r.status_code == 201
    hid = r.json()["id"]
    r = client.post(
        f"/api/v1/halts/{hid}/lift", headers=bureau, json={"reason": "已修复", "confirm": False}
    )
    assert (
        r.status_code == 422
        and client.get(f"/api/v1/halts/{hid}", headers=bureau).json()["state"] == "in force"
    )
    r = client.post(f"/api/v1/halts/{hid}/lift", headers=bureau, json={"reason": "已修复"})
    assert r.status_code == 200 and r.json()["state"] == "lifted"
    # The documented call without the field still issues the halt.
    r = client.post("/api/v1/halts", headers=bureau, json=body)
    assert r.status_code == 201
