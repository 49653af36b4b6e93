"""axe-core (axe-playwright-python, which ships axe-core) over every page of each role's
menu and the main detail pages, in Chinese and English: no serious or critical
violation. The phone's open menu is checked as well.

axe is injected with ``page.evaluate`` (what axe-playwright-python does), which runs in
the page through the DevTools protocol and so is not refused by the page's
Content-Security-Policy: the test context keeps the CSP on (no ``bypass_csp``), and the
``new_page`` fixture still fails the test on any CSP refusal."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session

from tests.browser.conftest import log_in
from tests.browser.scene import Scene, build_scene, pages_of
from tests.factories import a_county

pytestmark = pytest.mark.browser

BLOCKING = ("serious", "critical")


@pytest.fixture
def county(session: Session):
    """The small county instead of the demo county the browser tests default to."""
    return a_county(session)


@pytest.fixture
def scene(session: Session, county) -> Scene:
    return build_scene(session, county)


@pytest.fixture(scope="module")
def axe() -> Axe:
    return Axe()


def blocking(axe: Axe, page) -> list[str]:
    """The serious and critical violations on the page, one line per rule and element."""
    results = axe.run(page, options={"resultTypes": ["violations"]})
    out = []
    for v in results.response["violations"]:
        if v["impact"] not in BLOCKING:
            continue
        for node in v["nodes"][:5]:
            out.append(f"{v['impact']} {v['id']}: {node['target']} ({v['help']})")
    return out


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("role", ["reporter", "investigator", "bureau", "hospital", "admin"])
def test_no_serious_accessibility_violations(live_url, new_page, scene, axe, role, locale):
    page = new_page(locale=locale, viewport=(1366, 768))
    page.set_default_navigation_timeout(30000)  # two cores shared by many runs
    found: list[str] = []
    page.goto(f"{live_url}/login")
    found += [f"/login: {v}" for v in blocking(axe, page)]
    log_in(page, live_url, role)
    for path in pages_of(role, scene):
        assert page.goto(f"{live_url}{path}").status == 200, path
        found += [f"{path}: {v}" for v in blocking(axe, page)]
    # The phone's header with its menu open.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_url}/")
    page.locator("button.menu-toggle").click()
    found += [f"/ (phone, menu open): {v}" for v in blocking(axe, page)]
    assert page.evaluate("typeof axe.version") == "string"  # axe ran in the page
    assert not found, "\n".join(found)
