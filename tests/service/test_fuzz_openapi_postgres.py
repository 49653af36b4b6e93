"""The OpenAPI fuzz run (tests/web/test_fuzz_openapi.py) once more on PostgreSQL, as admin:
PostgreSQL refuses what SQLite keeps (NUL characters, over-long text, 32-bit overflow), so
its 500s differ. The SQLite run stays in tests/web."""

from __future__ import annotations

import pytest

from tests.fuzzing import credentials, fuzz, report


def test_openapi_fuzz_finds_no_server_error_on_postgres(db_url, county, app) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the SQLite run is tests/web/test_fuzz_openapi.py")
    failures = fuzz(app, credentials(app, "admin"))
    assert not failures, report(failures)
