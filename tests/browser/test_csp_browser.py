"""htmx works under the Content-Security-Policy, and no page breaks it."""

import pytest

from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(
    e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber
  );
});
"""


def test_htmx_pages_work_under_the_csp_without_violations(live_url, new_page):
    page = new_page(locale="en-US")
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if m.type in ("error", "warning") and "Content Security Policy" in m.text
            else None
        ),
    )
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, live_url, "admin")
    response = page.goto(f"{live_url}/registry/vaccines")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    # An htmx-driven search: typing swaps the results table in place.
    page.fill("main input[name=q]", "MMR")
    page.wait_for_selector("#results tbody tr:nth-child(1) >> text=MMR")
    assert page.locator("#results tbody tr").count() == 1
    # The notification badge loads itself by htmx (hx-trigger="load delay:1s").
    page.goto(f"{live_url}/admin/audit")
    page.wait_for_selector("#notif-badge")
    # An htmx GET with the filter form: the login just made shows up as the only action.
    page.fill("input[name=action]", "login")
    page.locator("main").get_by_role("button", name="Search").click()
    page.wait_for_url("**action=login**")
    page.locator("#results tbody tr td:nth-child(3)").first.wait_for()
    actions = set(page.locator("#results tbody tr td:nth-child(3)").all_inner_texts())
    assert actions == {"login"}, actions
    page.goto(f"{live_url}/account/password")
    page.fill("input[name=old_password]", "demo-admin-1")
    page.fill("input[name=new_password]", "a-new-admin-pass-1")
    page.fill("input[name=new_password2]", "a-new-admin-pass-1")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Password changed.").wait_for()
    shot(page, "auth-password-changed-en")
    violations = page.evaluate("window.__csp")
    assert not violations, violations
    assert not console, console
    assert not errors, errors
    # htmx did not inject its indicator <style> (it is in aefi.css instead).
    assert page.evaluate("document.querySelectorAll('style').length") == 0
