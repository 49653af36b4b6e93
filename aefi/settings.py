"""Settings from the environment (prefix ``AEFI_``), one class for the whole app."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AEFI_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./var/aefi.db"
    # Signs API tokens and the browser-state cookie. No default: outside demo mode the app
    # refuses to start without a real one (aefi/auth/secrets.py); demo mode keeps a random
    # one in var/. Old keys (comma separated) still verify, never sign: key rotation.
    secret_key: str = ""
    secret_key_old: str = ""
    var_dir: Path = Path("./var")
    # The shared standards folder (E2B(R3) schemas, FHIR profiles): read in place, never
    # copied into the repository.
    standards_dir: Path = PROJECT_ROOT.parent / "shared" / "standards"
    # E2B(R3) exchange (aefi/interchange): who we are and whom we send to (N.1.3/N.1.4; the
    # sender defaults to CN-<county code>-CDC), how the patient is named in an ICSR
    # ("initials", "full" or "masked"), and the MedDRA release the county loaded.
    e2b_sender_id: str = ""
    e2b_receiver_id: str = "CN-NATIONAL-AEFI"
    e2b_country: str = "CN"
    e2b_patient_name: str = "initials"
    # Reporting upward: the province's aefi (its base URL; cases go to POST /api/v1/e2b)
    # or any E2B endpoint (the full URL of one ending in /e2b). Empty: nothing is sent.
    upstream_url: str = ""
    upstream_token: str | None = None  # a bearer token, or the account below
    upstream_username: str = ""
    upstream_password: str | None = None
    upstream_every_s: int = 30  # how often the outbox is looked at
    upstream_backoff_s: int = 30  # the first retry's wait, doubling
    upstream_max_attempts: int = 10
    meddra_version: str = ""
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh_CN"
    demo: bool = False
    # Web sessions (login_session rows): absolute lifetime and idle timeout.
    session_max_age_s: int = 8 * 3600
    session_idle_s: int = 30 * 60
    # Behind HTTPS: HSTS and Secure cookies.
    https: bool = False
    token_max_age_s: int = 12 * 3600
    upload_dir: Path = Path("./var/uploads")
    upload_max_bytes: int = 20 * 1024 * 1024
    # Login throttling: after this many failures the next attempt waits, doubling each time.
    login_free_failures: int = 5
    login_max_delay_s: int = 900
    # ... per client address (spraying over many user names), within a sliding window ...
    login_ip_free_failures: int = 20
    login_window_s: int = 900
    # ... and over all logins: past this many failures in the window, every login waits.
    login_global_free_failures: int = 500
    login_global_max_delay_s: int = 60
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
    # The durable job queue (aefi/jobs): each process's background loop (and `aefi worker`)
    # looks for due jobs every jobs_poll_s; a lot scan waits jobs_coalesce_s after a filing
    # so that the filings of those seconds share one scan. A claimed job's lease lasts
    # jobs_lease_s (a killed worker's job is claimed again after it); after
    # jobs_max_attempts runs that failed, the job is abandoned (audited). jobs_eager: run
    # new jobs right after the commit that recorded them, in that thread (tests only).
    jobs_poll_s: float = 2.0
    jobs_coalesce_s: float = 5.0
    jobs_lease_s: int = 300
    jobs_max_attempts: int = 5
    jobs_eager: bool = False
    # Green channel: a referral not acknowledged within this many minutes escalates.
    referral_ack_minutes: int = 10
    # Triage rules file (TOML); unset means the shipped aefi/triage/rules.toml.
    triage_rules: Path | None = None
    # Observation area (留观): minutes when a vaccine names none; doses of the last hours
    # that enter a site's board; how often the board refreshes itself.
    observation_default_minutes: int = 30
    observation_lookback_h: int = 4
    observation_refresh_s: int = 3
    # Daily report (日报): each site submits the day's report by this local time, on the
    # day itself or this many days later (1: by 17:00 the next day; the demo's policy).
    daily_report_deadline: str = "17:00"
    daily_report_deadline_days: int = 0
    # Expected AEFI reporting rate per 100,000 doses when no table gives one (China NIP
    # 2021-22, all AEFI: 32.52; DOMAIN.md).
    expected_aefi_rate_per_100k: float = 32.52
    # Concurrency (aefi/overload.py says why). Each process has a connection pool of
    # db_pool_size + db_max_overflow connections; a checkout waits at most
    # db_pool_timeout_s, then the request answers 503. At most max_inflight requests are
    # inside the app at once (0: pool connections - 2, so that a request that opens a
    # second session, e.g. for a banner, and the background loop always find one free);
    # beyond it a request waits up to overload_wait_s for a place, or (more than
    # overload_queue waiting) answers 503 with Retry-After: retry_after_s at once. The
    # worker-thread limit is max_inflight + 4 (0: derived), so an admitted request never
    # waits for a thread while it holds a connection. Writes have a smaller bound of their
    # own, max_inflight_writes (0: 4 on SQLite, whose one writer they share; else half of
    # max_inflight), so that reads keep flowing under a burst of writes.
    db_pool_size: int = 10
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 10.0
    max_inflight: int = 0
    max_inflight_writes: int = 0
    overload_wait_s: float = 2.0
    overload_queue: int = 1000
    retry_after_s: int = 2
    worker_threads: int = 0
    # After the vaccinee leaves (aefi/aftercare): the answers that are red flags (codes of
    # aftercare.questions; high_fever_infant: a high fever under one year), the number to
    # call in an emergency, and the public check-in pages' limit per client address and per
    # personal link (requests per minute).
    checkin_red_flags: str = "breathing,face_swelling,seizure,unresponsive,high_fever_infant"
    emergency_number: str = "120"
    checkin_rate_per_min: int = 20
    # The address the personal links (QR codes) point at; empty: the request's own.
    public_base_url: str = ""
    # SMS (check-in reminders) through an HTTP gateway speaking Twilio's Messages API
    # (POST {url}/2010-04-01/Accounts/{account}/Messages.json, basic auth). Empty url: no
    # text messages are queued. Failed sends wait sms_backoff_s, doubling.
    sms_gateway_url: str = ""
    sms_account: str = ""
    sms_auth_token: str | None = None
    sms_sender: str = ""
    sms_every_s: int = 30
    sms_backoff_s: int = 30
    sms_max_attempts: int = 10
    # Paths of the web layer, resolved from the source tree.
    templates_dir: Path = PROJECT_ROOT / "templates"
    static_dir: Path = PROJECT_ROOT / "static"

    @property
    def verification_keys(self) -> list[str]:
        """Keys that verify signatures, oldest first; the last (current) one signs."""
        old = [k.strip() for k in self.secret_key_old.replace(";", ",").split(",") if k.strip()]
        return [*old, self.secret_key]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def inflight_limit(self) -> int:
        """Requests admitted at once: see max_inflight."""
        if self.max_inflight > 0:
            return self.max_inflight
        return max(1, self.db_pool_size + self.db_max_overflow - 2)

    @property
    def write_limit(self) -> int:
        """Writes admitted at once: see max_inflight_writes."""
        if self.max_inflight_writes > 0:
            return self.max_inflight_writes
        return 4 if self.is_sqlite else max(1, self.inflight_limit // 2)

    @property
    def thread_limit(self) -> int:
        """Worker threads for sync endpoints and dependencies: see worker_threads."""
        return self.worker_threads if self.worker_threads > 0 else self.inflight_limit + 4


@lru_cache
def get_settings() -> Settings:
    return Settings()
