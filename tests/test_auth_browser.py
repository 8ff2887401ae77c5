"""Sessions end when they should, in a real browser (Debian's Chromium) against a real server.

Each user logs in with "Keep me logged in"; a second browser context holding a
copy of the cookies (another device, or a thief) is logged in too. Then: the
user logs out, or an admin sets a new password, changes the role, or presses
"Log out everywhere". Afterwards the second context and a third one replaying
the old cookies (session and remember-me cookie, or the remember-me cookie
alone) get the login page, while the admin and other users stay logged in.
"""
from __future__ import annotations

from .conftest import add_user, needs_chromium

PASSWORD = "correct horse"

pytestmark = needs_chromium


def new_context(chromium, cookies=None):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    if cookies:
        context.add_cookies(cookies)
    return context


def log_in(chromium, server: str, name: str, password: str = PASSWORD, remember: bool = True):
    context = new_context(chromium)
    page = context.new_page()
    page.goto(f"{server}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    if remember:
        page.check("input[name=remember]")
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    return context, page


def logged_in(context, server: str) -> bool:
    page = context.pages[0] if context.pages else context.new_page()
    page.goto(f"{server}/")
    return page.url == f"{server}/" and page.locator("form[action='/logout']").count() == 1


def replay(chromium, cookies, opened: list):
    context = new_context(chromium, cookies)
    opened.append(context)
    return context


def test_logout_password_role_and_log_out_everywhere_end_the_sessions_they_should(app, server, chromium):
    ids = {name: add_user(app, name) for name in ("ann", "bob", "cat", "dan")}
    add_user(app, "boss", "admin")
    admin_context, admin = log_in(chromium, server, "boss", remember=False)
    opened: list = [admin_context]
    try:
        # one user per way of ending sessions
        for name, action in (("ann", "logout"), ("bob", "password"), ("cat", "role"), ("dan", "everywhere")):
            context, page = log_in(chromium, server, name)
            opened.append(context)
            cookies = context.cookies()
            assert {c["name"] for c in cookies} >= {"session", "remember_token"}
            remember_only = [c for c in cookies if c["name"] == "remember_token"]
            other_device = replay(chromium, cookies, opened)
            assert logged_in(other_device, server), f"{name}: a copy of the cookies should log in before"
            assert logged_in(replay(chromium, remember_only, opened), server), f"{name}: the remember-me cookie alone should log in before"

            if action == "logout":
                page.goto(f"{server}/")
                page.click("form[action='/logout'] button")
                page.wait_for_url(f"{server}/login")
            else:
                admin.goto(f"{server}/admin/users/{ids[name]}")
                if action == "password":
                    admin.fill("#password-form input[name=password]", "a brand new password")
                    admin.click("#password-form button[type=submit]")
                    admin.wait_for_selector(f"text=New password set for {name}")
                elif action == "role":
                    admin.select_option("#role-form select[name=role]", "reviewer")
                    admin.click("#role-form button[type=submit]")
                    admin.wait_for_selector(f"text={name} is now reviewer")
                else:
                    admin.click("#logout-everywhere-form button[type=submit]")
                    admin.wait_for_selector(f"text={name} is logged out everywhere")
                assert not logged_in(context, server), f"{name}: the browser's own session survived the {action}"

            assert not logged_in(other_device, server), f"{name}: the other device is still logged in after the {action}"
            assert not logged_in(replay(chromium, cookies, opened), server), f"{name}: replayed old cookies log in after the {action}"
            assert not logged_in(replay(chromium, remember_only, opened), server), f"{name}: a replayed remember-me cookie logs in after the {action}"
            assert logged_in(admin_context, server), f"the admin was logged out by {name}'s {action}"
            # the user can log in again (with the new password after a change)
            again, _ = log_in(chromium, server, name, "a brand new password" if action == "password" else PASSWORD)
            opened.append(again)
            assert logged_in(again, server)
    finally:
        for context in opened:
            context.close()
