"""A user changing their own password on /account (every role): the current password first, throttled as logins
are; the new one under the admin path's rules; the user's other sessions end, this one goes on; audited as their own."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import AuditEntry, LoginFailure, User

from .conftest import Browser, add_user
from .test_auth import _cookies, _logged_in, _remembered_login, _replay

PASSWORD = "correct horse"
NEW = "a brand new secret"


def change(browser: Browser, current: str, new: str, again: str | None = None, **kw):
    return browser.post("/account/password", {"current": current, "password": new, "confirm": new if again is None else again}, **kw)


def state(app, name: str) -> tuple:
    """What a refused change must leave as it was: the password hash, the session generation, the account trail."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == name))
        trail = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "user"))
        return user.password_hash, user.session_generation, trail


@pytest.mark.parametrize("role", ["annotator", "reviewer", "admin"])
def test_a_user_changes_their_own_password_and_only_this_session_goes_on(app, role):
    ann = add_user(app, "ann", role)
    add_user(app, "other")
    this, elsewhere = _remembered_login(app), _remembered_login(app)
    copied = _cookies(this)
    bystander = _remembered_login(app, "other")
    response = change(this, PASSWORD, NEW)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = html.unescape(this.get("/account").get_data(as_text=True))
    assert "Your password is changed. Your other sessions (other browsers and devices) have ended; this one goes on." in page
    assert "Your password was last set by ann on" in page and "password set by themself (web)" in page
    assert _logged_in(this), "the session that changed the password ended"
    renewed = this.client.get_cookie("remember_token").value
    assert renewed != copied["remember_token"] and _logged_in(_replay(app, {"remember_token": renewed}))  # still remembered here
    assert not _logged_in(elsewhere) and not _logged_in(_replay(app, copied))  # the other sessions and the copies are over
    assert not _logged_in(_replay(app, {"remember_token": copied["remember_token"]}))
    assert _logged_in(bystander)
    assert Browser(app.test_client()).login("ann", PASSWORD).status_code == 401
    assert Browser(app.test_client()).login("ann", NEW).status_code == 302
    with app.app_context():
        last = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "user", AuditEntry.entity_id == str(ann))
                                  .order_by(AuditEntry.id.desc())).first()
        assert (last.action, last.user_id, last.after) == ("password", ann, {"password": "set", "by": "self", "via": "web"})
        assert db.session.get(User, ann).session_generation == 1


@pytest.mark.parametrize(
    "current, new, again, words",
    [
        ("a wrong one", NEW, None, "This is not your current password."),
        (PASSWORD, "short", None, "A password needs at least 8 characters."),  # the admin form's rule, in the app's words
        (PASSWORD, "x" * 1025, None, "A password may have at most 1,024 characters."),
        (PASSWORD, NEW, NEW + "!", "The two new passwords differ."),
        ("", NEW, None, "This field is required."),
    ],
)
def test_a_bad_change_is_a_400_that_changes_nothing(app, current, new, again, words):
    add_user(app, "ann")
    this = _remembered_login(app)
    before = state(app, "ann")
    response = change(this, current, new, again)
    assert response.status_code == 400 and words in html.unescape(response.get_data(as_text=True))
    assert 'id="own-password-form"' in response.get_data(as_text=True)
    assert state(app, "ann") == before and _logged_in(this)


def test_the_forms_address_opened_in_the_browser_leads_back_to_the_form(app):
    """Found walking the app: after a refused change the address bar shows /account/password, and opening that
    address again (Enter in the address bar, a bookmark) answered 405 "That cannot be done at this address". It
    leads to /account, where the form is, and writes nothing; someone logged out is sent to log in first."""
    add_user(app, "ann")
    this = _remembered_login(app)
    refused = change(this, "not it at all", NEW)
    assert refused.status_code == 400
    before = state(app, "ann")
    response = this.client.get("/account/password")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert 'id="own-password-form"' in this.client.get("/account").get_data(as_text=True)
    assert state(app, "ann") == before and _logged_in(this)
    anonymous = Browser(app.test_client()).client.get("/account/password")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")


def test_without_its_csrf_token_a_change_is_refused(app):
    add_user(app, "ann")
    this = _remembered_login(app)
    before = state(app, "ann")
    response = this.client.post("/account/password", data={"current": PASSWORD, "password": NEW, "confirm": NEW})
    assert response.status_code == 400
    assert state(app, "ann") == before


def test_wrong_current_passwords_are_throttled_with_the_logins_of_that_name(app):
    """A stolen session guesses the password no faster than a login could: the same counters (name and address)."""
    add_user(app, "ann")
    this = _remembered_login(app)
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert change(this, "a wrong guess", NEW).status_code == 400
    before = state(app, "ann")
    response = change(this, PASSWORD, NEW)  # right, but waiting
    assert response.status_code == 429 and "Too many failed password changes. Try again in" in response.get_data(as_text=True)
    assert Browser(app.test_client()).login("ann", PASSWORD).status_code == 429  # the login of that name waits too
    assert state(app, "ann") == before and _logged_in(this)
    with app.app_context():
        assert db.session.get(LoginFailure, "pair:127.0.0.1|ann").failures == limit

