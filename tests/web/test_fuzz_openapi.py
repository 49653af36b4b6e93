"""Schemathesis over the app's own OpenAPI document, in process, on the small demo county.

Every operation the schema lists (the JSON API and the HTML pages FastAPI documents) gets a
bounded number of generated requests, half fitting the schema and half not, sent with an
admin's or a reporter's credentials: a bearer token for the API, a logged-in session cookie
and its CSRF header for the pages. No request may end in a 5xx or an exception escaping the
app, and every API answer whose status the schema documents must match its schema.

Generation is derandomized (a fixed seed derived from each test), so a run is repeatable;
failures are collected over all operations and reported together, one example each, rather
than stopping (and shrinking) at the first.
"""

from __future__ import annotations

import re

import pytest
import schemathesis

from tests.fuzzing import credentials, fuzz, report


@pytest.mark.parametrize("username", ["admin", "reporter"])
def test_openapi_fuzz_finds_no_server_error(county, app, username) -> None:
    creds = credentials(app, username)
    failures = fuzz(app, creds)
    assert not failures, report(failures)


def test_fuzz_session_is_really_logged_in(county, app) -> None:
    """The fuzzer's credentials reach pages and the API as the user, not a login redirect."""
    creds = credentials(app, "admin")
    with schemathesis.python.asgi.get_client(app) as client:
        client.headers.update(creds.headers)
        client.cookies.update(creds.cookies)
        page = client.get("/admin/users", allow_redirects=False)
        assert page.status_code == 200
        assert re.search(r"admin", page.text)
        api = client.get("/api/v1/reports")
        assert api.status_code == 200
