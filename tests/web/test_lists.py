"""Every list page through HTTP: the whole page, its results block for htmx, the whole page
again for htmx's history restore, ``Vary: HX-Request``; bad filters are a 422 that names
the filter, bad page numbers are read as a page that exists."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from aefi import listing
from aefi.registry.models import Lot
from aefi.web import templates
from tests.conftest import login

EN = {"Accept-Language": "en"}
HX = {**EN, "HX-Request": "true"}
RESTORE = {**HX, "HX-History-Restore-Request": "true"}

# (who, list url, the element the list swaps)
LISTS = [
    ("investigator", "/reports?status=closed", "results"),
    ("investigator", "/cases?assignee=none", "results"),
    ("investigator", "/referrals?show=all", "results"),
    ("investigator", "/signals?open_only=false", "results"),
    ("investigator", "/halts", "results"),
    ("investigator", "/escalations?show=all", "results"),
    ("investigator", "/clusters?status=all", "results"),
    ("investigator", "/notifications", "results"),
    ("investigator", "/trace?q=a", "results"),
    ("admin", "/registry/lots?q=a", "results"),
    ("admin", "/doses?q=a", "results"),
    ("admin", "/admin/audit?action=create", "results"),
    ("admin", "/admin/terminology?unmapped=1", "results"),
    ("admin", "/lots/{lot}/persons", "persons"),
]


def _ids(html: str, name: str) -> int:
    return len(re.findall(rf'id="{name}"', html))


def _lot_number(session) -> str:
    return session.exec(select(Lot.lot_number).order_by(Lot.id)).first()


def test_every_list_is_a_page_a_block_and_a_page_on_history_restore(client, county, session):
    lot = _lot_number(session)
    who = ""
    for user, url, block in LISTS:
        if user != who:
            client.cookies.clear()
            login(client, user)
            who = user
        url = url.format(lot=lot)
        page = client.get(url, headers=EN)
        assert page.status_code == 200, (url, page.status_code)
        assert "<html" in page.text and "<nav" in page.text, url
        assert _ids(page.text, block) == 1, url
        assert "HX-Request" in page.headers.get("vary", ""), url

        part = client.get(url, headers=HX)
        assert part.status_code == 200, url
        assert "<html" not in part.text, url
        # The block is the swapped element itself, once: no #results inside #results (a
        # <title> before it is htmx's way to update the tab's title).
        body = re.sub(r"^\s*<title>[^<]*</title>", "", part.text).lstrip()
        assert body.startswith(f'<div id="{block}"'), (url, part.text[:80])
        assert _ids(part.text, block) == 1, url
        assert "HX-Request" in part.headers.get("vary", ""), url

        restored = client.get(url, headers=RESTORE)
        assert restored.status_code == 200, url
        assert "<html" in restored.text and _ids(restored.text, block) == 1, url


def test_list_filters_swap_the_block_and_push_the_url(client, county):
    login(client, "investigator")
    for url in ("/reports", "/cases", "/signals", "/escalations", "/clusters", "/trace"):
        html = client.get(url, headers=EN).text
        for form in re.findall(r"<(?:form|input)[^>]*hx-target=\"#results\"[^>]*>", html):
            assert 'hx-swap="outerHTML"' in form, (url, form)
            assert 'hx-push-url="true"' in form, (url, form)


@pytest.mark.parametrize(
    "url,label",
    [
        ("/reports?since=yesterday", "Reported from"),
        ("/reports?until=2026-13-01", "Reported until"),
        ("/reports?site=%C2%B2", "Site"),
        ("/reports?status=lost", "Status"),
        ("/reports?serious=maybe", "Seriousness"),
        ("/reports?q=" + "x" * 201, "Search"),
        ("/cases?kind=other", "Kind"),
        ("/cases?overdue=perhaps", "Overdue only"),
        ("/referrals?show=mine", "Show"),
        ("/signals?event_group=none", "Event group"),
        ("/escalations?show=closed", "Show"),
        ("/clusters?status=gone", "Status"),
    ],
)
def test_a_bad_filter_is_a_422_naming_it(client, county, url, label) -> None:
    login(client, "investigator")
    r = client.get(url, headers=EN)
    assert r.status_code == 422, (url, r.status_code)
    assert f"“{label}”" in r.text, r.text[-2000:]


def test_bad_audit_and_term_filters_are_a_422(client, county) -> None:
    login(client, "admin")
    for url, label in [
        ("/admin/audit?since=m", "From"),
        ("/admin/terminology?system=icd", "Coding system"),
    ]:
        r = client.get(url, headers=EN)
        assert r.status_code == 422 and f"“{label}”" in r.text, url


@pytest.mark.parametrize("page", ["%C2%B2", "%D9%A1", str(2**63), "-5", "x", "0"])
def test_a_bad_page_number_is_the_first_page(client, county, page) -> None:
    login(client, "admin")
    for url in ("/reports", "/registry/lots", "/admin/audit", "/referrals", "/admin/terminology"):
        r = client.get(f"{url}?page={page}", headers=EN)
        assert r.status_code == 200, (url, page, r.status_code)
        assert 'rel="prev"' not in r.text, (url, page)


@pytest.mark.demo_county  # needs more than one page of lots
def test_a_page_past_the_end_is_the_last_page(client, county) -> None:
    login(client, "admin")
    first = client.get("/registry/lots", headers=HX).text
    last_no = int(re.search(r"page 1 of (\d+)", first).group(1))
    assert last_no > 1
    last = client.get(f"/registry/lots?page={last_no}", headers=HX).text
    past = client.get("/registry/lots?page=999999", headers=HX).text
    assert f"page {last_no} of {last_no}" in past
    assert past == last


@pytest.mark.demo_county  # needs more than one page of lots
def test_the_pager_keeps_the_filters(client, county) -> None:
    login(client, "admin")
    first = client.get("/registry/lots?q=2026", headers=HX).text
    (nxt,) = re.findall(r'<a href="([^"]+)"[^>]*rel="next"', first)
    assert nxt == "/registry/lots?q=2026&amp;page=2"
    second = client.get("/registry/lots?q=2026&page=2", headers=HX).text
    (prev,) = re.findall(r'<a href="([^"]+)"[^>]*rel="prev"', second)
    assert prev == "/registry/lots?q=2026&amp;page=1"
    # The refreshing lists poll the url they show, page and filters included.
    login(client, "investigator")
    cases = client.get("/cases?assignee=none&kind=report", headers=HX).text
    assert 'hx-get="/cases?assignee=none&amp;kind=report"' in cases


def test_the_lot_persons_pager_swaps_its_own_block() -> None:
    """The persons of a lot are part of the lot page: their pager swaps #persons and does
    not push the url of the fragment."""
    html = (
        templates()
        .env.get_template("reporting/_persons.html")
        .render(page=listing.Page([], 120, 1, 50), base="/lots/X1/persons?", identity=False)
    )
    (nxt,) = re.findall(r'<a href="/lots/X1/persons\?page=2"[^>]*rel="next"', html)
    assert 'hx-target="#persons"' in nxt and "hx-push-url" not in nxt
