"""CSRF on every state-changing rule of the URL map (generated, like the route x role matrix).

In a browser session, a POST / PUT / PATCH / DELETE without a valid CSRF token
is refused (400) and writes nothing. A request with a valid
`Authorization: Bearer` token is an API client: no CSRF token needed. An
invalid or revoked token is a 401, even when the same request also carries a
perfectly good session and CSRF token: it never falls back to the session. A
valid token decides whatever cookies come with it (a script that keeps cookies).
"""
from __future__ import annotations

import pytest

from annotator.db import db
from annotator.db.models import User
from annotator.domain import accounts

from .conftest import Browser
from .test_route_matrix import WRITE_CASES, Case, World, access_of, body_for, caller, find_rule, fingerprint, seed, url_for_rule

# What the global check (security.py) and a form's own CSRF field say when they refuse.
CSRF_REFUSALS = ("CSRF check failed", "The CSRF token is missing", "The CSRF token is invalid", "CSRF token")


def acting_role(app, endpoint: str) -> str:
    """A role the view lets in (public views: an annotator, who has a token to send)."""
    public, roles = access_of(app, endpoint)
    if public or not roles:
        return "annotator"
    return next(role for role in ("annotator", "reviewer", "admin") if role in roles)


def request(client, method: str, path: str, body, headers: dict[str, str]):
    if path.startswith("/api/"):
        return client.open(path, method=method, json=body, headers=headers)
    return client.open(path, method=method, data={}, headers=headers)


def refused_for_csrf(response) -> bool:
    text = response.get_data(as_text=True)
    return response.status_code == 400 and any(phrase in text for phrase in CSRF_REFUSALS)


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda c: c.id)
def test_state_changing_requests_need_csrf_or_a_valid_token(app, case: Case):
    world: World = seed(app)
    rule = find_rule(app, case)
    path = url_for_rule(rule, world)
    role = acting_role(app, case.endpoint)
    body = body_for(case.endpoint, path, world)
    problems: list[str] = []

    # 1. browser session, no CSRF token at all / a token from another session: 400, nothing written
    session = caller(app, world, role)
    stranger = caller(app, world, "reviewer")
    for label, headers in (("no CSRF token", {}), ("another session's CSRF token", {"X-CSRFToken": stranger.csrf()})):
        before = fingerprint(app)
        response = request(session.client, case.method, path, body, headers)
        if not refused_for_csrf(response):
            problems.append(f"session with {label}: {response.status_code}, expected a 400 CSRF refusal")
        elif path.startswith("/api/") and not (response.is_json and response.get_json()["status"] == 400):
            problems.append(f"session with {label}: the 400 is not a JSON error under /api")
        if fingerprint(app) != before:
            problems.append(f"session with {label}: refused, but the database changed")
    if session.client.get("/").status_code != 200:
        problems.append("the refused request logged the session out")

    # 2. an invalid / revoked / another user's token, on top of a valid session and CSRF token: 401, nothing written
    with app.app_context():
        revoked_user = db.session.get(User, world.users["other_annotator"])
        revoked = accounts.issue_token(db.session, revoked_user)
        accounts.revoke_tokens(db.session, revoked_user)
        db.session.commit()
    for label, token in (("an unknown token", "ann_" + "x" * 43), ("a malformed token", "not-a-token"),
                         ("a revoked token", revoked)):
        before = fingerprint(app)
        headers = {"Authorization": f"Bearer {token}", "X-CSRFToken": session.csrf()}
        form_data = {"csrf_token": session.csrf()}
        if path.startswith("/api/"):
            response = session.client.open(path, method=case.method, json=body, headers=headers)
        else:
            response = session.client.open(path, method=case.method, data=form_data, headers=headers)
        if response.status_code != 401 or not response.is_json or response.get_json().get("status") != 401:
            problems.append(f"session + CSRF + {label}: {response.status_code}, expected a 401 JSON error")
        if fingerprint(app) != before:
            problems.append(f"session + CSRF + {label}: refused, but the database changed")

    # 2b. a valid token of another user whose role the view refuses, beside the session of one it allows:
    # the token decides (issue 13 item 6), so a 403 and nothing written, never the session user's write
    _, allowed = access_of(app, case.endpoint)
    refused_role = next((r for r in ("annotator", "reviewer", "admin") if allowed and r not in allowed), None)
    if refused_role is not None:
        # one use first: its last use is then noted, and not again within the minute (accounts.user_for_token)
        assert app.test_client().get("/", headers={"Authorization": f"Bearer {world.tokens[refused_role]}"}).status_code == 200
        before = fingerprint(app)
        headers = {"Authorization": f"Bearer {world.tokens[refused_role]}", "X-CSRFToken": session.csrf()}
        if path.startswith("/api/"):
            response = session.client.open(path, method=case.method, json=body, headers=headers)
        else:
            response = session.client.open(path, method=case.method, data={"csrf_token": session.csrf()}, headers=headers)
        if response.status_code != 403:
            problems.append(f"session of {role} + a valid token of {refused_role}: {response.status_code}, expected 403 (the token decides)")
        if fingerprint(app) != before:
            problems.append(f"session of {role} + a valid token of {refused_role}: refused, but the database changed")

    # 3. a valid token, no session and no CSRF token: the request goes through to the view (last: it may write)
    client = app.test_client()
    response = request(client, case.method, path, body, {"Authorization": f"Bearer {world.tokens[role]}"})
    if refused_for_csrf(response) or response.status_code in (401, 403) or response.status_code >= 500:
        problems.append(f"valid token of {role}, no CSRF token: {response.status_code} {response.get_data(as_text=True)[:150]!r}")

    assert not problems, f"{case.method} {path}:\n  " + "\n  ".join(problems)


def test_the_csrf_check_can_fail(app):
    """Sanity check of the helpers above: a token-less login form POST is a CSRF refusal, a token-carrying one is not."""
    browser = Browser(app.test_client())
    assert refused_for_csrf(browser.client.post("/login", data={"name": "x", "password": "y"}))
    assert not refused_for_csrf(browser.post("/login", {"name": "x", "password": "y"}))


def test_a_deactivated_users_token_is_401(app):
    world = seed(app)
    with app.app_context():
        accounts.set_active(db.session, db.session.get(User, world.users["annotator"]), False)
        db.session.commit()
    # set_active revokes the tokens; a token that escaped revocation would still name an inactive user
    response = app.test_client().put(
        f"/api/articles/{world.article_a}/labels/0", json={"label": "UFS"}, headers={"Authorization": f"Bearer {world.tokens['annotator']}"}
    )
    assert response.status_code == 401 and response.get_json()["status"] == 401


def test_token_reads_need_no_session_and_a_bad_token_alone_reads_nothing(app):
    world = seed(app)
    client = app.test_client()
    ok = client.get(f"/api/articles/{world.article_a}", headers={"Authorization": f"Bearer {world.tokens['annotator']}"})
    assert ok.status_code == 200
    bad = client.get(f"/api/articles/{world.article_a}", headers={"Authorization": "Bearer ann_nonsense"})
    assert bad.status_code == 401 and bad.get_json()["status"] == 401
