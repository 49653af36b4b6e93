"""Browser tests: the real app served by uvicorn in a thread, Debian's Chromium driven by
Playwright. Screenshots go to test-artifacts/ so a person can look at them."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class LiveServer:
    def __init__(self, app) -> None:
        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                break
            time.sleep(0.05)
        sock = self.server.servers[0].sockets[0]
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_url(app, county):
    server = LiveServer(app)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    contexts = []
    # Every browser test also checks that nothing it did broke the Content-Security-Policy
    # (Chromium reports each refusal on the console).
    csp_refusals: list[str] = []

    def _console(msg) -> None:
        if "Content Security Policy" in msg.text:
            csp_refusals.append(
                f"{msg.text} at {msg.location} on {msg.page.url if msg.page else None}"
            )

    def make(locale: str = "zh-CN", viewport=(1280, 900)):
        ctx = browser.new_context(
            locale=locale, viewport={"width": viewport[0], "height": viewport[1]}
        )
        ctx.set_default_timeout(10000)
        contexts.append(ctx)
        ctx.on("console", _console)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()
    assert not csp_refusals, csp_refusals


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page, base: str, username: str) -> None:
    from aefi.demo import DEMO_PASSWORDS

    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORDS[username][1])
    page.click("button[type=submit].primary")
    page.wait_for_url(f"{base}/")


def api_client(base: str, username: str) -> httpx.Client:
    """An HTTP client of the live server carrying the demo user's bearer token."""
    from aefi.demo import DEMO_PASSWORDS

    c = httpx.Client(base_url=base, timeout=10)
    r = c.post(
        "/api/v1/auth/token",
        data={"username": username, "password": DEMO_PASSWORDS[username][1]},
    )
    c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return c
