"""Log in, switch language, find the page in Chinese and in English."""

import pytest

from tests.browser.conftest import log_in, shot

pytestmark = pytest.mark.browser


def test_login_and_language_switch(live_url, new_page):
    page = new_page(locale="zh-CN")
    log_in(page, live_url, "admin")
    assert page.locator("header").get_by_text("退出登录").is_visible()
    assert page.get_by_text("维护用户和基础数据").is_visible()
    page.goto(f"{live_url}/registry/vaccines")
    assert page.locator("h1").inner_text() == "疫苗"
    shot(page, "foundation-vaccines-zh")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Vaccines"
    assert page.get_by_text("Log out").is_visible()
    shot(page, "foundation-vaccines-en")
    page.fill("main input[name=q]", "MMR")
    page.wait_for_selector("#results tbody tr:nth-child(1) >> text=MMR")
    assert page.locator("#results tbody tr").count() == 1
    page.get_by_role("button", name="中文").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "疫苗"
