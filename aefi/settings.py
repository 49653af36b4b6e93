"""Settings from the environment (prefix ``AEFI_``), one class for the whole app."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AEFI_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/aefi.db"
    secret_key: str = "dev-only-change-me"
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    demo: bool = False
    session_max_age_s: int = 8 * 3600
    token_max_age_s: int = 12 * 3600
    upload_dir: Path = Path("./var/uploads")
    upload_max_bytes: int = 20 * 1024 * 1024
    # Login throttling: after this many failures the next attempt waits, doubling each time.
    login_free_failures: int = 5
    login_max_delay_s: int = 900
    # Outbound mail: unset host means in-app notifications only.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_sender: str = "aefi@localhost"
    smtp_starttls: bool = False
    # Background work (signal scans, deadline checks, outbox) in-process on a timer.
    background_interval_s: int = 60
    background_enabled: bool = True
    # Paths of the web layer, resolved from the source tree.
    templates_dir: Path = PROJECT_ROOT / "templates"
    static_dir: Path = PROJECT_ROOT / "static"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
