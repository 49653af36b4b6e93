"""A fresh living demo (small) shows every role a busy county: each role's home page and
main lists have rows, at 03:00 and at 21:00 in the county."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from tests.conftest import login
from tests.service.test_demo_living import build_small

# Per demo login: the pages of its menu that must list something, and what a row links to.
MAIN_LISTS: dict[str, tuple[tuple[str, str], ...]] = {
    "reporter": (
        ("/observation", r'href="/observation/\d+'),
        ("/reports", r'href="/reports/\d+'),
        ("/referrals", r'href="/referrals/\d+'),
    ),
    "reporter2": (
        ("/observation", r'href="/observation/\d+'),
        ("/reports", r'href="/reports/\d+'),
    ),
    "investigator": (
        ("/cases", r'href="/cases/\d+'),
        ("/reports", r'href="/reports/\d+'),
        ("/clusters", r'href="/clusters/\d+'),
        ("/signals", r'href="/signals/\d+'),
    ),
    "bureau": (
        ("/cases", r'href="/cases/\d+'),
        ("/halts", r'href="/halts/\d+'),
        ("/signals", r'href="/signals/\d+'),
        ("/referrals", r'href="/referrals/\d+'),
    ),
    "hospital": (("/referrals", r'href="/referrals/\d+'),),
    "hospital2": (("/referrals", r'href="/referrals/\d+'),),
    "admin": (
        ("/reports", r'href="/reports/\d+'),
        ("/referrals", r'href="/referrals/\d+'),
        ("/admin/users", r"physician03"),
    ),
}
# What each home page shows first: the board, the inbox, the dashboard's figures.
HOME = {
    "reporter": r'href="/observation/\d+',
    "reporter2": r'href="/observation/\d+',
    "hospital": r'href="/referrals/\d+',
    "hospital2": r'href="/referrals/\d+',
    "investigator": r"<strong>[1-9]",
    "bureau": r"<strong>[1-9]",
}


@pytest.mark.parametrize("hour", [3, 21])
def test_every_role_sees_a_busy_county(app, client, engine, hour):
    with Session(engine, expire_on_commit=False) as session:
        build_small(session, hour)
    for username, pages in MAIN_LISTS.items():
        client.cookies.clear()
        login(client, username)
        home = client.get("/")
        assert home.status_code == 200, (username, home.text[:500])
        if username in HOME:
            assert re.search(HOME[username], home.text), f"{username}: the home page is empty"
        for path, row in pages:
            page = client.get(path)
            assert page.status_code == 200, (username, path)
            assert re.search(row, page.text), f"{username}: {path} lists nothing"
