"""The observation board through HTTP: home page, htmx fragment, actions, check-in."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import select

from aefi import clock
from aefi.observation.models import ObservationEntry
from tests.conftest import dose_via_api, login
from tests.factories import DAY0


def test_board_is_the_reporters_home_and_refreshes_as_a_fragment(client, session, county):
    clock.freeze(DAY0)
    dose_id = dose_via_api(client, session, county, 1)
    login(client, "reporter")
    home = client.get("/", headers={"Accept-Language": "zh-CN"})
    assert home.status_code == 200
    assert "留观" in home.text and f'data-dose-id="{dose_id}"' in home.text
    assert "30:00" in home.text and f"/reports/new?dose_id={dose_id}" in home.text
    frag = client.get("/observation", headers={"HX-Request": "true"})
    assert frag.text.lstrip().startswith('<section id="board"')
    assert 'hx-trigger="every 3s"' in frag.text and "<html" not in frag.text
    clock.advance(timedelta(minutes=30))
    frag = client.get("/observation", headers={"HX-Request": "true", "Accept-Language": "en"})
    assert 'data-state="ready"' in frag.text and "Ready to leave" in frag.text


def test_actions_through_htmx_and_forms(client, session, county):
    clock.freeze(DAY0)
    ids = [dose_via_api(client, session, county, i) for i in range(1, 4)]
    token = login(client, "reporter")
    client.get("/observation")
    entries = {
        e.dose_id: e.id for e in session.exec(select(ObservationEntry)).all() if e.dose_id in ids
    }
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    r = client.post(f"/observation/{entries[ids[0]]}/release", headers=hx)
    assert r.status_code == 200 and f'data-dose-id="{ids[0]}" data-state="released"' in r.text
    r = client.post(
        f"/observation/{entries[ids[1]]}/left-early", data={"csrf_token": token, "note": ""}
    )
    assert r.status_code == 200  # followed the redirect back to the board
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)<', r.text))
    assert counts == {
        "open": "1",
        "ready": "0",
        "observed": "3",
        "released": "1",
        "left_early": "1",
        "handed_over": "0",
        "reactions": "0",
    }
    # Without the token nothing happens.
    r = client.post(f"/observation/{entries[ids[2]]}/release")
    assert r.status_code == 403


def test_hand_check_in_and_roles(client, session, county):
    clock.freeze(DAY0)
    old = dose_via_api(client, session, county, 7, at=DAY0 - timedelta(hours=6))
    token = login(client, "reporter")
    r = client.get("/observation/check-in?q=李小7", headers={"HX-Request": "true"})
    assert f'name="dose_id" value="{old}"' in r.text
    r = client.post("/observation/check-in", data={"csrf_token": token, "dose_id": old})
    assert r.status_code == 200 and f'data-dose-id="{old}"' in r.text
    client.post("/logout", data={"csrf_token": token})
    login(client, "bureau")
    overview = client.get("/observation", headers={"Accept-Language": "en"})
    assert "Observation areas" in overview.text
    board = client.get(f"/observation?site_id={county.site_ids[0]}")
    assert f'data-dose-id="{old}"' in board.text and "/release" not in board.text
    token = login(client, "hospital")
    assert client.get(f"/observation?site_id={county.site_ids[0]}").status_code == 403


def test_a_reported_child_has_no_release_and_is_closed_by_a_decision(client, session, county):
    from aefi.registry.models import Dose
    from tests.factories import ANAPHYLAXIS, file_report

    clock.freeze(DAY0)
    sick, calm = (dose_via_api(client, session, county, i) for i in (1, 2))
    token = login(client, "reporter")
    client.get("/observation")
    rep = county.actor(session, "reporter")
    clock.advance(timedelta(minutes=6))
    report = file_report(
        session, rep, session.get(Dose, sick), onset_at=DAY0 + timedelta(minutes=5), **ANAPHYLAXIS
    )
    clock.advance(timedelta(minutes=30))
    entries = {e.dose_id: e.id for e in session.exec(select(ObservationEntry)).all()}
    zh = {"Accept-Language": "zh-CN"}
    board = client.get("/observation", headers=zh).text
    row = re.search(rf'<tr[^>]*data-dose-id="{sick}".*?</tr>', board, re.S).group(0)
    assert 'data-state="referred"' in row and report.number in row
    assert "转诊至" in row and "已发送" in row  # the referral's live status
    assert f"/observation/{entries[sick]}/release" not in row
    assert f"/observation/{entries[sick]}/close" in row
    assert "李小1" in row  # the site's physician sees the full name
    assert "放行全部可离开者（1）" in board  # the calm child only
    # A release posted anyway (a stale board) is refused, and the board says why.
    hx = {"HX-Request": "true", "X-CSRF-Token": token, **zh}
    r = client.post(f"/observation/{entries[sick]}/release", headers=hx)
    assert r.status_code == 200 and 'role="alert"' in r.text and report.number in r.text
    # "Release all ready" leaves the referred child on the board.
    r = client.post("/observation/release-ready", headers=hx, data={"site_id": county.site_ids[0]})
    assert f'data-dose-id="{calm}" data-state="released"' in r.text
    assert f'data-dose-id="{sick}" data-entry-id="{entries[sick]}" data-state="referred"' in r.text
    # The decision needs a reason: the form says so at the field.
    page = client.get(f"/observation/{entries[sick]}/close", headers=zh)
    assert page.status_code == 200 and "您的决定和理由" in page.text
    r = client.post(
        f"/observation/{entries[sick]}/close", data={"csrf_token": token, "reason": " "}, headers=zh
    )
    assert r.status_code == 422 and 'aria-invalid="true"' in r.text and "请填写" in r.text
    r = client.post(
        f"/observation/{entries[sick]}/close",
        data={"csrf_token": token, "reason": "家长自行送医"},
        headers=zh,
    )
    assert r.status_code == 200 and "理由：家长自行送医" in r.text
    assert f'data-dose-id="{sick}" data-state="decided"' in r.text


def test_other_roles_see_masked_names_and_check_in_offers_today_only(client, session, county):
    clock.freeze(DAY0)
    today = dose_via_api(client, session, county, 3, at=DAY0 - timedelta(hours=6))
    old = dose_via_api(client, session, county, 4, at=DAY0 - timedelta(days=1))
    login(client, "reporter")
    r = client.get("/observation/check-in?q=李小", headers={"HX-Request": "true"})
    assert f'value="{today}"' in r.text and f'value="{old}"' not in r.text
    assert "李小3" in r.text
    login(client, "bureau")
    client.get(f"/observation?site_id={county.site_ids[0]}")  # nobody on the board yet
    token = login(client, "reporter")
    client.post("/observation/check-in", data={"csrf_token": token, "dose_id": today})
    login(client, "bureau")
    board = client.get(f"/observation?site_id={county.site_ids[0]}").text
    assert "李*3" in board and "李小3" not in board
