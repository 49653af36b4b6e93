"""The OpenAPI fuzz run shared by tests/web/test_fuzz_openapi.py (SQLite) and
tests/service/test_fuzz_openapi_postgres.py: Schemathesis over the app's own OpenAPI
document, in process, with a user's bearer token, session cookie and CSRF header; failures
collected over all operations (see the web module's docstring)."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable

import requests
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.conftest import api_token, login

# Per operation and generation mode, kept small for the suite (~160 operations, two users);
# FUZZ_EXAMPLES=50 (and FUZZ_PATHS=/api/ to keep to paths starting so) for a deeper local run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
PATHS = os.environ.get("FUZZ_PATHS", "/")

# Generous: a slow answer on a busy machine is not what this test is about (no timing here).
TIMEOUT_S = 300

# Requests that would end the fuzzer's own login, not exercise input handling.
SKIP = {("POST", "/logout"), ("POST", "/lang")}

API_CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
PAGE_CHECKS = [not_a_server_error]


def credentials(app, username: str) -> requests.Session:
    """A requests session carrying the user's bearer token, session cookie and CSRF token."""
    with TestClient(app) as client:
        bearer = api_token(client, username)
        csrf = login(client, username)
        cookie = client.cookies.get("aefi_session")
    creds = requests.Session()
    creds.headers.update(bearer)
    creds.headers["X-CSRF-Token"] = csrf
    creds.cookies.set("aefi_session", cookie)
    return creds


def fuzz(app, creds: requests.Session) -> dict[tuple[str, str], str]:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, timeout=TIMEOUT_S)
    failures: dict[tuple[str, str], str] = {}

    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        if not operation.path.startswith(PATHS):
            continue
        checks = API_CHECKS if operation.path.startswith("/api/") else PAGE_CHECKS
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            _run_operation(operation, mode, creds, checks, failures)
    return failures


def _run_operation(
    operation, mode, creds: requests.Session, checks: list[Callable], failures: dict
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        try:
            response = case.call(session=creds, timeout=TIMEOUT_S)
        except Exception as exc:  # an exception that escaped the app's handlers
            key = (label, type(exc).__name__)
            failures.setdefault(key, _describe(case, "".join(traceback.format_exception(exc))))
            return
        try:
            case.validate_response(response, checks=checks)
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
            key = (label, f"{response.status_code} {first_line}")
            failures.setdefault(key, _describe(case, f"{exc}\n{response.text[:600]}"))

    try:
        run()
    except Unsatisfiable:
        # Negative mode on an operation without inputs: nothing to make invalid.
        assert mode == schemathesis.GenerationMode.NEGATIVE, label


def _describe(case, detail: str) -> str:
    return (
        f"path={case.path_parameters} query={case.query} "
        f"body={str(case.body)[:300] if case.body is not None else None}\n{detail[-2500:]}"
    )


def report(failures: dict[tuple[str, str], str]) -> str:
    lines = [f"{len(failures)} distinct failures:"]
    for (label, kind), example in sorted(failures.items()):
        lines.append(f"\n== {label}: {kind}\n{example}")
    return "\n".join(lines)
