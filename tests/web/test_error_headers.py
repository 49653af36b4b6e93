"""The 500 page is answered outside every middleware: it must carry the headers itself."""

from fastapi.testclient import TestClient


def test_an_unexpected_error_still_carries_the_security_headers(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("unexpected")

    @app.get("/api/v1/boom")
    def api_boom():
        raise RuntimeError("unexpected")

    with TestClient(app, raise_server_exceptions=False) as c:
        for path in ("/boom", "/api/v1/boom"):
            r = c.get(path)
            assert r.status_code == 500
            assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["X-Frame-Options"] == "DENY"
