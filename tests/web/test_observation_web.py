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
