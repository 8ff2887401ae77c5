"""A new password and the user's API tokens: a password set by an admin (web) or on the server (CLI) revokes every
token of the user, and the CLI says how many; the user changing their own is offered "Also revoke my N API tokens",
checked at first, and keeps them only by unchecking it. Each revocation is in the password's account entry."""
from __future__ import annotations

import html

from sqlalchemy import select

from annotator.db import db
from annotator.db.models import AuditEntry
from annotator.domain import accounts

from .conftest import Browser, add_user

PASSWORD = "correct horse"
NEW = "a brand new secret"


def tokens_for(app, name: str, count: int) -> list[str]:
    with app.app_context():
        user = accounts.get_user(db.session, name)
        made = [accounts.issue_token(db.session, user) for _ in range(count)]
        db.session.commit()
        return made


def status_with(app, token: str) -> int:
    """What the API answers the token: 401 once it is revoked, else the 404 of an article nobody has."""
    return app.test_client().get("/api/articles/999999", headers={"Authorization": f"Bearer {token}"}).status_code


def last_entry(app, user_id: int) -> AuditEntry:
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "user", AuditEntry.entity_id == str(user_id))
                                   .order_by(AuditEntry.id.desc())).first()
        db.session.expunge(entry)
        return entry


def logged_in(app, name: str) -> Browser:
    browser = Browser(app.test_client())
    assert browser.login(name, PASSWORD).status_code == 302
    return browser


def test_own_change_offers_to_revoke_the_tokens_checked_and_revokes_them(app):
    ann = add_user(app, "ann")
    first, second = tokens_for(app, "ann", 2)
    assert status_with(app, first) == status_with(app, second) == 404  # they work before
    this = logged_in(app, "ann")
    form = this.get("/account").get_data(as_text=True)
    assert "Also revoke my 2 API tokens" in form
    assert 'id="revoke_tokens" name="revoke_tokens" type="checkbox" value="y"' in form and "checked" in form.split('id="revoke-tokens"')[1].split("</label>")[0]
    # the browser sends a checked box as its value
    response = this.post("/account/password", {"current": PASSWORD, "password": NEW, "confirm": NEW, "revoke_tokens": "y"})
    assert response.status_code == 302
    assert "Your 2 API tokens were revoked." in html.unescape(this.get("/account").get_data(as_text=True))
    assert status_with(app, first) == status_with(app, second) == 401
    entry = last_entry(app, ann)
    assert entry.action == "password" and entry.after["tokens_revoked"] == 2 and len(entry.after["token_ids"]) == 2
    assert "password set by themself; 2 API tokens revoked (web)" in html.unescape(this.get("/account").get_data(as_text=True))


def test_own_change_with_the_box_unchecked_keeps_the_tokens(app):
    ann = add_user(app, "ann")
    (token,) = tokens_for(app, "ann", 1)
    this = logged_in(app, "ann")
    assert "Also revoke my API token" in this.get("/account").get_data(as_text=True)
    assert 'name="revoke_offered" value="1"' in this.get("/account").get_data(as_text=True)
    response = this.post("/account/password", {"current": PASSWORD, "password": NEW, "confirm": NEW, "revoke_offered": "1"})  # unchecked: not sent
    assert response.status_code == 302
    assert status_with(app, token) == 404
    assert last_entry(app, ann).after == {"password": "set", "by": "self", "via": "web"}


def test_no_tokens_no_box(app):
    add_user(app, "ann")
    assert 'name="revoke_tokens"' not in logged_in(app, "ann").get("/account").get_data(as_text=True)


def test_a_token_made_after_the_page_opened_without_the_box_is_revoked(app):
    """Found by the tidy helper: with no token when the page opened there is no box, and a form without it read as
    unchecked, so a token issued meanwhile (or every token, for a script posting the form) outlived the new password."""
    add_user(app, "ann")
    this = logged_in(app, "ann")
    assert 'name="revoke_tokens"' not in this.get("/account").get_data(as_text=True)
    (token,) = tokens_for(app, "ann", 1)
    assert this.post("/account/password", {"current": PASSWORD, "password": NEW, "confirm": NEW}).status_code == 302
    assert status_with(app, token) == 401


def test_an_admin_setting_a_password_revokes_all_the_users_tokens(app):
    add_user(app, "root", "admin")
    ann = add_user(app, "ann")
    bob = add_user(app, "bob")
    mine, theirs = tokens_for(app, "ann", 3), tokens_for(app, "bob", 1)
    admin = logged_in(app, "root")
    assert "revokes their API tokens" in admin.get(f"/admin/users/{ann}").get_data(as_text=True)
    assert admin.post(f"/admin/users/{ann}/password", {"password": NEW}).status_code == 302
    assert "Their 3 API tokens were revoked." in html.unescape(admin.get(f"/admin/users/{ann}").get_data(as_text=True))
    assert [status_with(app, t) for t in mine] == [401] * 3
    assert status_with(app, theirs[0]) == 404  # another user's stay
    assert last_entry(app, ann).after["tokens_revoked"] == 3
    assert last_entry(app, bob).action == "token_issue"  # nothing on bob's trail since


def test_the_cli_password_revokes_the_tokens_and_says_how_many(app, runner):
    ann = add_user(app, "ann")
    (token,) = tokens_for(app, "ann", 1)
    result = runner.invoke(args=["users", "password", "ann", "--password-stdin"], input=NEW + "\n")
    assert result.exit_code == 0 and result.output == "password set for ann; 1 API token revoked\n"
    assert status_with(app, token) == 401
    entry = last_entry(app, ann)
    assert (entry.action, entry.user_id, entry.after["tokens_revoked"], entry.after["via"]) == ("password", None, 1, "cli")
    again = runner.invoke(args=["users", "password", "ann", "--password-stdin"], input=NEW + "\n")
    assert again.output == "password set for ann; no API tokens revoked\n"
