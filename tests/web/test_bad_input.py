"""Malformed input to the pages and the API is a 4xx with a message, never a 500.

The HTML forms are found on the pages themselves (every ``<form method=post>`` on a set of
pages each role uses), then posted with every field set to one malformed value at a time:
huge integers, a NUL character, unicode digits, an overlong string, nothing at all."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.conftest import api_token, login
from tests.factories import County, a_case, a_dose, file_report

BAD_VALUES = {
    "huge int": "9" * 30,
    "2**63": str(2**63),
    "NUL": "a\x00b",
    "superscript two": "²",
    "arabic-indic digits": "١٢",
    "negative": "-1",
    "overlong": "x" * 20_000,
    "date-like junk": "2026-13-45T99:99",
}


class _Forms(HTMLParser):
    """Every post form on a page: its action and the names of its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, list[str]]] = []
        self._current: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._current = (a.get("action") or "", [])
            self.forms.append(self._current)
        elif (
            tag in ("input", "select", "textarea")
            and self._current
            and a.get("name")
            and a.get("type") != "file"
        ):
            self._current[1].append(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def _forms_on(client, path: str) -> list[tuple[str, list[str]]]:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    parser = _Forms()
    parser.feed(page.text)
    return [(action or path, names) for action, names in parser.forms]


def _post_everything_bad(client, csrf: str, pages: list[str]) -> list[str]:
    problems = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for path in pages:
        for action, names in _forms_on(client, path):
            fields = tuple(sorted(set(names) - {"csrf_token"}))
            if (action, fields) in seen or action in ("/logout", "/lang"):
                continue
            seen.add((action, fields))
            attempts = {"missing fields": {}}
            attempts.update({label: dict.fromkeys(fields, v) for label, v in BAD_VALUES.items()})
            for label, data in attempts.items():
                r = client.post(
                    action,
                    data={**data, "csrf_token": csrf},
                    headers={"X-CSRF-Token": csrf},
                    follow_redirects=False,
                )
                if r.status_code >= 500:
                    problems.append(f"{action} ({path}) with {label}: {r.status_code}")
    return problems


def _case_and_report(session, county: County) -> tuple[int, int]:
    """A report of a new dose at the reporter's site, with an open case file."""
    rep = county.actor(session, "reporter")
    report = file_report(
        session,
        rep,
        a_dose(session, county, site=county.site_ids.index(rep.site_id)),
        symptoms=["ANAPH", "URTIC"],
        diagnosis="严重过敏反应",
    )
    return a_case(session, report).id, report.id


@pytest.fixture
def lenient(app):
    """A client that shows a crash as the 500 page a browser would get, not an exception."""
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(
    "username,pages",
    [
        (
            "admin",
            [
                "/admin/users",
                "/registry/regions/new",
                "/registry/sites/new",
                "/registry/hospitals/new",
                "/registry/vaccines/new",
                "/registry/lots/new",
                "/imports/doses",
                "/signals/rates/new",
            ],
        ),
        ("reporter", ["/reports/new", "/observation", "/daily", "/observation/check-in?q=a"]),
        ("investigator", ["/cases/{case}", "/reports/{report}"]),
        ("bureau", ["/halts/new", "/signals"]),
    ],
)
def test_malformed_form_posts_never_500(lenient, county, session, username, pages) -> None:
    case_id, report_id = _case_and_report(session, county)
    csrf = login(lenient, username)
    pages = [p.format(case=case_id, report=report_id) for p in pages]
    problems = _post_everything_bad(lenient, csrf, pages)
    assert not problems, "\n".join(problems)


def test_login_form_with_malformed_values(client, county) -> None:
    page = client.get("/login")
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    for value in BAD_VALUES.values():
        r = client.post(
            "/login",
            data={"username": value, "password": value, "csrf_token": csrf, "next": value},
            follow_redirects=False,
        )
        assert r.status_code < 500, (value[:20], r.status_code)
    r = client.post("/login", data={}, follow_redirects=False)
    assert r.status_code < 500


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/reports/{2**63}",
        f"/api/v1/reports/{2**31}",
        "/api/v1/reports/0",
        f"/api/v1/reports?page={2**63}",
        "/api/v1/reports?page=%C2%B2",
        f"/api/v1/cases/{10**30}",
        f"/api/v1/signals?page={10**20}",
    ],
)
def test_api_refuses_out_of_range_ids_and_pages(client, county, path) -> None:
    headers = api_token(client, "admin")
    r = client.get(path, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][0] in ("path", "query")


@pytest.mark.parametrize(
    "path",
    [
        f"/cases/{2**63}",
        f"/reports/{10**25}",
        "/admin/audit?since=m",
        f"/observation?site_id={2**63}",
        "/lots/X/follow-up?days=%C2%B2",
    ],
)
def test_pages_refuse_out_of_range_values(client, county, path) -> None:
    login(client, "admin")
    r = client.get(path, follow_redirects=False)
    assert 400 <= r.status_code < 500, (path, r.status_code)


@pytest.mark.parametrize("page", ["%C2%B2", "%D9%A1", str(2**63), "-5", "x"])
def test_report_list_reads_a_bad_page_number_as_the_first_page(client, county, page) -> None:
    login(client, "admin")
    r = client.get(f"/reports?page={page}")
    assert r.status_code == 200


def test_api_body_ids_are_bounded(client, county) -> None:
    headers = api_token(client, "reporter")
    r = client.post(
        "/api/v1/reports",
        headers=headers,
        json={"dose_ids": [2**63], "onset_at": "2026-11-30T09:00:00+08:00"},
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][:2] == ["body", "dose_ids"]


def test_error_page_renders_after_the_session_is_gone(client, county, session) -> None:
    """A reporter's forbidden post on a case: the 403 page is drawn after the request's
    database session was rolled back and closed, and still shows who is logged in."""
    case_id, _ = _case_and_report(session, county)
    csrf = login(client, "reporter")
    r = client.post(
        f"/cases/{case_id}/classify",
        data={"csrf_token": csrf, "china_classification": "x"},
        follow_redirects=False,
    )
    assert r.status_code in (403, 404)
    assert "留观医师" in r.text or "Observation physician" in r.text
