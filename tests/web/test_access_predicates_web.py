"""Pages offer what the service would allow, asking the domain's access predicates
(``can_follow_up``, ``can_create``, ``can_read_rules``) rather than repeating role sets."""

from __future__ import annotations

from tests.conftest import login
from tests.factories import a_report

EN = {"Accept-Language": "en"}


def _as(client, username: str) -> None:
    client.cookies.clear()
    login(client, username)


def test_the_report_page_offers_a_follow_up_to_whoever_may_add_one(client, session, county):
    report = a_report(session, county)
    offered = {}
    for username in ("reporter", "investigator", "bureau"):
        _as(client, username)
        page = client.get(f"/reports/{report.id}", headers=EN)
        assert page.status_code == 200
        offered[username] = 'id="follow-up"' in page.text
    assert offered == {"reporter": True, "investigator": True, "bureau": False}


def test_a_registry_list_offers_new_to_its_writers(client, session, county):
    offered = {}
    for username in ("admin", "investigator"):
        _as(client, username)
        page = client.get("/registry/sites", headers=EN)
        assert page.status_code == 200
        offered[username] = 'href="/registry/sites/new"' in page.text
    assert offered == {"admin": True, "investigator": False}


def test_an_old_rules_version_links_its_readers_to_the_rules_in_force(client, session, county):
    version = a_report(session, county).triage["ruleset_version"]
    _as(client, "investigator")
    page = client.get(f"/admin/triage-rules/{version}", headers=EN)
    assert page.status_code == 200 and 'href="/admin/triage-rules"' in page.text
