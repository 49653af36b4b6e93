"""``aefi serve --workers N`` refuses SQLite with a message that says why and what to do."""

from __future__ import annotations

from typer.testing import CliRunner

from aefi.cli import app
from aefi.settings import get_settings


def test_several_workers_on_sqlite_are_refused_before_anything_starts(monkeypatch, tmp_path):
    db = tmp_path / "never.db"
    monkeypatch.setenv("AEFI_DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output and "one process on SQLite" in result.output
    assert not db.exists()
