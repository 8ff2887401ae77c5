"""The account trail: every account change is one audit entry naming its actor, nothing secret in it, shown to admins and
to the user themself (never to another non-admin), and printed by `annotator users history NAME`."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import ApiToken, AuditEntry, User
from annotator.domain import account_log, accounts

from .conftest import Browser, add_user, token_form

PASSWORD = "correct horse"
NEW_PASSWORD = "a brand new secret"


def page(response) -> str:
    return response.get_data(as_text=True)


def entries(app, user_id: int) -> list[AuditEntry]:
    with app.app_context():
        rows = list(db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "user", AuditEntry.entity_id == str(user_id))
                                       .order_by(AuditEntry.id)))
        db.session.expunge_all()
        return rows


def user_id(app, name: str) -> int:
    with app.app_context():
        return accounts.get_user(db.session, name).id


def secrets_of(app) -> list[str]:
    """Every password hash and token hash stored: none may appear in the log."""
    with app.app_context():
        hashes = [h for h in db.session.scalars(select(User.password_hash)) if h]
        return hashes + list(db.session.scalars(select(ApiToken.token_hash)))


def whole_log(app) -> str:
    with app.app_context():
        return json.dumps([[e.before, e.after] for e in db.session.scalars(select(AuditEntry))])


@pytest.fixture
def admin(app) -> Browser:
    add_user(app, "root", "admin")
    browser = Browser(app.test_client())
    assert browser.login("root", PASSWORD).status_code == 302
    return browser


def test_each_change_on_the_web_writes_exactly_one_entry_naming_the_admin(app, admin):
    root = user_id(app, "root")
    assert admin.post("/admin/users", {"name": "carol", "role": "annotator", "password": PASSWORD}).status_code == 302
    carol = user_id(app, "carol")
    base = f"/admin/users/{carol}"
    token_text = re.search(r'id="token">([^<]+)<', page(admin.post(base + "/token", token_form(expires_days="5")))).group(1)
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == carol))
    steps = [
        (lambda: admin.post(base + f"/tokens/{token_id}/revoke"), "token_revoke", None, {"token_ids": [token_id]}),
        (lambda: admin.post(base + "/token", token_form()), "token_issue", None, None),
        (lambda: admin.post(base + "/revoke"), "token_revoke", None, None),
        (lambda: admin.post(base + "/password", {"password": NEW_PASSWORD}), "password", None, {"password": "set", "by": "admin"}),
        (lambda: admin.post(base + "/role", {"role": "reviewer"}), "role", {"role": "annotator"}, {"role": "reviewer", "tokens_revoked": 0}),
        (lambda: admin.post(base + "/logout"), "logout", None, {}),
        (lambda: admin.post(base + "/deactivate"), "deactivate", {"active": True}, {"active": False, "tokens_revoked": 0}),
        (lambda: admin.post(base + "/activate"), "activate", {"active": False}, {"active": True}),
    ]
    first = entries(app, carol)
    assert [(e.action, e.user_id, e.after) for e in first] == [
        ("create", root, {"role": "annotator", "active": True, "password": "set", "via": "web"}),
        ("token_issue", root, {"token_id": token_id, "expires_at": first[1].after["expires_at"], "via": "web"}),
    ]
    assert first[1].after["expires_at"]  # an expiry, never the token
    for step, action, before, after in steps:
        seen = len(entries(app, carol))
        assert step().status_code in (200, 302), action  # a token is shown on its response (200)
        new = entries(app, carol)[seen:]
        assert [(e.action, e.user_id, e.entity) for e in new] == [(action, root, "user")], action
        if after is not None:
            assert new[0].after == {**after, "via": "web"}
        assert new[0].before == before
    log = whole_log(app)
    for secret in [PASSWORD, NEW_PASSWORD, token_text, *secrets_of(app)]:
        assert secret not in log


def test_a_change_that_changes_nothing_writes_nothing(app, admin):
    carol = add_user(app, "carol")
    seen = len(entries(app, carol))
    assert admin.post(f"/admin/users/{carol}/activate").status_code == 302  # already active
    assert admin.post(f"/admin/users/{carol}/role", {"role": "annotator"}).status_code == 302  # same role
    assert admin.post(f"/admin/users/{carol}/revoke").status_code == 302  # no token to revoke
    assert len(entries(app, carol)) == seen


def test_promotion_revoking_tokens_is_one_entry_saying_so(app, admin):
    carol = add_user(app, "carol")
    admin.post(f"/admin/users/{carol}/token", token_form())
    admin.post(f"/admin/users/{carol}/token", token_form())
    seen = len(entries(app, carol))
    assert admin.post(f"/admin/users/{carol}/role", {"role": "admin"}).status_code == 302
    new = entries(app, carol)[seen:]
    assert [(e.action, e.after) for e in new] == [("role", {"role": "admin", "tokens_revoked": 2, "via": "web"})]


def test_demote_set_password_promote_is_on_record_and_the_victim_sees_it(app, admin):
    """The gap: another admin demotes an admin, sets their password, promotes them back. Each step names them."""
    victim = add_user(app, "vic", "admin")
    root = user_id(app, "root")
    for path, data in (("/role", {"role": "reviewer"}), ("/password", {"password": NEW_PASSWORD}), ("/role", {"role": "admin"})):
        assert admin.post(f"/admin/users/{victim}{path}", data).status_code == 302
    trail = entries(app, victim)[-3:]
    assert [(e.action, e.user_id) for e in trail] == [("role", root), ("password", root), ("role", root)]
    assert trail[1].after == {"password": "set", "by": "admin", "via": "web"}
    # vic (an admin again) sees who did it on their own account page and on their user page
    vic = Browser(app.test_client())
    assert vic.login("vic", NEW_PASSWORD).status_code == 302
    mine = page(vic.get("/account"))
    assert re.search(r"Your password was last set by root on \d{4}-\d\d-\d\d \d\d:\d\d UTC", mine)
    assert "role reviewer → admin" in mine and "role admin → reviewer" in mine
    theirs = page(vic.get(f"/admin/users/{victim}"))
    assert 'id="account-history"' in theirs and "password set by an admin (web)" in theirs


def test_own_password_change_is_recorded_as_their_own(app, admin):
    root = user_id(app, "root")
    assert admin.post(f"/admin/users/{root}/password", {"password": NEW_PASSWORD}).status_code == 302
    last = entries(app, root)[-1]
    assert (last.action, last.user_id, last.after) == ("password", root, {"password": "set", "by": "self", "via": "web"})
    again = Browser(app.test_client())
    assert again.login("root", NEW_PASSWORD).status_code == 302
    assert "Your password was last set by root on" in page(again.get("/account"))


def test_the_admin_user_page_shows_the_last_20_escaped(app, admin):
    carol = add_user(app, "carol")
    with app.app_context():  # an actor whose name predates the name rules (legacy data): shown as text
        odd = User(name="<b>mallory</b>", role="admin", active=True)
        db.session.add(odd)
        db.session.flush()
        user = db.session.get(User, carol)
        for k in range(25):
            accounts.set_role(db.session, user, "reviewer" if k % 2 == 0 else "annotator", account_log.web(odd.id))
        db.session.commit()
    body = page(admin.get(f"/admin/users/{carol}"))
    table = body[body.index('id="account-history"'):]
    assert table.count("<tr data-action=") == 20
    assert "&lt;b&gt;mallory&lt;/b&gt;" in table and "<b>mallory</b>" not in body


def test_the_account_page_shows_only_your_own_history(app, admin):
    ann = add_user(app, "ann")
    bob = add_user(app, "bob")
    assert admin.post(f"/admin/users/{ann}/password", {"password": NEW_PASSWORD}).status_code == 302
    assert admin.post(f"/admin/users/{bob}/role", {"role": "reviewer"}).status_code == 302
    as_ann = Browser(app.test_client())
    as_ann.login("ann", NEW_PASSWORD)
    mine = page(as_ann.get("/account"))
    assert "Your password was last set by root" in mine and "password set by an admin" in mine
    assert "role annotator → reviewer" not in mine  # bob's change
    as_bob = Browser(app.test_client())
    as_bob.login("bob", PASSWORD)
    bobs = page(as_bob.get("/account"))
    assert "role annotator → reviewer" in bobs and "password set by an admin" not in bobs
    assert "Your password was last set by the server (cli)" in bobs  # add_user runs as the command line does
    # another non-admin's history is nowhere for them: the admin user page is 403
    assert as_bob.get(f"/admin/users/{ann}").status_code == 403


def test_rest_api_changes_name_the_admin_and_the_api(app):
    add_user(app, "root", "admin")
    root = user_id(app, "root")
    with app.app_context():
        token = accounts.issue_token(db.session, db.session.get(User, root))
        db.session.commit()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/users", json={"name": "dora", "role": "annotator", "password": PASSWORD}, headers=auth).status_code == 201
    issued = client.post("/api/users/dora/tokens", json={"expires_days": 3}, headers=auth)
    assert issued.status_code == 201
    trail = entries(app, user_id(app, "dora"))
    assert [(e.action, e.user_id, e.after["via"]) for e in trail] == [("create", root, "api"), ("token_issue", root, "api")]
    assert issued.get_json()["token"] not in whole_log(app)


def run(runner, *args: str, input: str | None = None):
    return runner.invoke(args=list(args), input=input)


def test_each_cli_change_is_one_entry_with_no_actor_via_cli(app, runner):
    assert run(runner, "users", "create", "erin", "--role", "annotator", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    erin = user_id(app, "erin")
    token = run(runner, "users", "token", "erin", "--expires-days", "2").output.strip()
    commands = [
        (("users", "token", "erin", "--revoke"), None, "token_revoke"),  # before the password, which would revoke it
        (("users", "password", "erin", "--password-stdin"), NEW_PASSWORD + "\n", "password"),
        (("users", "role", "erin", "reviewer"), None, "role"),
        (("users", "logout", "erin"), None, "logout"),
        (("users", "deactivate", "erin"), None, "deactivate"),
        (("users", "activate", "erin"), None, "activate"),
    ]
    for args, stdin, action in commands:
        seen = len(entries(app, erin))
        result = run(runner, *args, input=stdin)
        assert result.exit_code == 0, result.output
        new = entries(app, erin)[seen:]
        assert [(e.action, e.user_id, e.after["via"]) for e in new] == [(action, None, "cli")], action
    trail = entries(app, erin)
    assert [e.action for e in trail[:2]] == ["create", "token_issue"]
    assert trail[3].after == {"password": "set", "by": "cli", "via": "cli"}  # the token was revoked before
    log = whole_log(app)
    for secret in [PASSWORD, NEW_PASSWORD, token, *secrets_of(app)]:
        assert secret not in log


def test_users_history_prints_newest_first_and_refuses_an_unknown_name(app, runner, admin):
    carol = add_user(app, "carol")
    assert admin.post(f"/admin/users/{carol}/role", {"role": "reviewer"}).status_code == 302
    result = run(runner, "users", "history", "carol")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\troot\trole\trole annotator → reviewer \(web\)", lines[0])
    assert lines[1].split("\t")[1:] == ["the server (cli)", "create", "created as annotator, password set (cli)"]
    assert run(runner, "users", "history", "carol", "--limit", "1").output.count("\n") == 1
    missing = run(runner, "users", "history", "nobody")
    assert missing.exit_code == 1 and missing.output.strip() == "Error: no user named 'nobody'"
