"""Changing one's own password on /account in a real browser (tests/test_own_password.py has the rules)."""
from __future__ import annotations

from .conftest import add_user, needs_chromium
from .test_own_password import NEW, PASSWORD

pytestmark = needs_chromium


def test_in_a_browser_the_form_says_what_is_wrong_and_the_change_keeps_the_page(app, server, chromium):
    """The page as a person sees it: the refusals next to their fields, then the change, still logged in, the trail
    saying so. The history table keeps its columns under the header at a desktop's width (the admin pages' grid of
    `.cards` took the table marked `cards` apart: headers in one cell, rows beside them)."""
    add_user(app, "ann")
    page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=name]", "ann")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/account")
    page.fill("#current", PASSWORD)
    page.fill("#password", NEW)
    page.fill("#confirm", NEW + "!")
    page.click("#own-password-form button[type=submit]")
    page.wait_for_url(f"{server}/account/password", wait_until="load")  # the refusal's page parsed, not just its navigation begun
    assert page.locator("#confirm-errors").inner_text() == "The two new passwords differ."
    page.fill("#current", PASSWORD)
    page.fill("#password", NEW)
    page.fill("#confirm", NEW)
    page.click("#own-password-form button[type=submit]")
    page.wait_for_url(f"{server}/account")
    assert "Your password is changed." in page.locator(".flash").first.inner_text()
    assert page.locator("#account-history tr[data-action=password] td").nth(2).inner_text() == "password set by themself (web)"
    columns = page.evaluate("""() => [...document.querySelectorAll('#account-history tr')].map(
        (row) => [...row.children].map((cell) => Math.round(cell.getBoundingClientRect().left)))""")
    assert len(columns) == 3 and all(row == columns[0] for row in columns), columns  # the header and both rows, aligned
    page.goto(f"{server}/")
    assert page.url == f"{server}/"  # still logged in
    page.context.close()
