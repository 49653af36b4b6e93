"""A pool checkout that times out is a 503 with Retry-After, not a 500: JSON under /api/,
the error page elsewhere, in the user's language."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeout


def _raise_pool_timeout() -> None:
    raise PoolTimeout("QueuePool limit of size 1 overflow 0 reached")


def test_pool_timeout_is_a_503_with_retry_after(app, db_url):
    from fastapi.testclient import TestClient

    app.add_api_route("/api/v1/_pool_timeout", _raise_pool_timeout)
    app.add_api_route("/_pool_timeout", _raise_pool_timeout)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = client.get("/api/v1/_pool_timeout", headers={"Accept-Language": "en"})
        assert api.status_code == 503 and api.headers["Retry-After"] == "2"
        assert api.json()["detail"] == "The server is busy; try again in 2 seconds."
        page = client.get("/_pool_timeout", headers={"Accept-Language": "zh-CN"})
        assert page.status_code == 503 and page.headers["Retry-After"] == "2"
        assert "服务器繁忙" in page.text and "text/html" in page.headers["content-type"]
