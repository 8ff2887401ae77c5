"""Security headers on every response, session cookies, login throttling, password hashing.

The header checks run over every GET route of the URL map as every role (the
route x role matrix's list: pages, 403 and login redirects, JSON, static files),
so a new page cannot ship without them. HTML pages must also need no inline
script or style (CSP forbids both): no <script> without src, no <style>, no
style="" attribute, no on* handler.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest

from annotator.db import db, models
from annotator.db.models import LoginFailure, User
from annotator.domain import accounts, throttle

from .conftest import Browser, add_user, make_app
from .test_route_matrix import BACKENDS, GET_CASES, ROLES, Case, caller, find_rule, seeded_app, url_for_rule

PASSWORD = "correct horse"


def csp_directives(header: str) -> dict[str, list[str]]:
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def header_problems(response) -> list[str]:
    """What is missing or too weak in a response's security headers."""
    problems = []
    headers = response.headers
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin", "strict-origin-when-cross-origin"):
        problems.append(f"Referrer-Policy is {headers.get('Referrer-Policy')!r}")
    csp = headers.get("Content-Security-Policy")
    if not csp:
        return problems + ["no Content-Security-Policy"]
    d = csp_directives(csp)
    if d.get("frame-ancestors") != ["'none'"]:
        problems.append(f"frame-ancestors is {d.get('frame-ancestors')}, not 'none'")
    scripts = d.get("script-src", d.get("default-src"))
    if not scripts or any(v in scripts for v in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:")):
        problems.append(f"script-src allows too much: {scripts}")
    styles = d.get("style-src", d.get("default-src"))
    if not styles or "'unsafe-inline'" in styles:
        problems.append(f"style-src allows inline styles: {styles}")
    if d.get("object-src") != ["'none'"]:
        problems.append("object-src is not 'none'")
    if "base-uri" not in d:
        problems.append("no base-uri")
    if response.mimetype == "text/html" and headers.get("X-Frame-Options") != "DENY":
        problems.append("no X-Frame-Options: DENY (for browsers without frame-ancestors)")
    return problems


class InlineCode(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names and not any(n == "type" and "json" in (v or "") for n, v in attrs):
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{n} handler on <{tag}>" for n in names if n.startswith("on")]

    handle_startendtag = handle_starttag


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.problems


@pytest.fixture(scope="module", params=BACKENDS)
def world_and_callers(request, tmp_path_factory):
    with seeded_app(request.param, tmp_path_factory.mktemp("headers")) as (app, world):
        yield app, world, {role: caller(app, world, role) for role in ROLES}


@pytest.mark.parametrize("case", GET_CASES, ids=lambda c: c.id)
def test_every_get_response_has_the_security_headers(world_and_callers, case: Case):
    app, world, callers = world_and_callers
    path = url_for_rule(find_rule(app, case), world)
    problems = []
    for role in ROLES:
        response = callers[role].client.get(path)
        body = response.get_data(as_text=True)
        found = header_problems(response)
        if response.mimetype == "text/html":
            found += inline_code(body)
        if role != "anonymous" and response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "") \
                and case.endpoint != "static":
            found.append("a logged-in page without Cache-Control: no-store")
        problems += [f"{role} ({response.status_code}): {p}" for p in found]
    assert not problems, f"GET {path}:\n  " + "\n  ".join(problems)


def test_error_pages_have_the_headers_too(world_and_callers):
    app, world, callers = world_and_callers
    for role in ROLES:
        for path in ("/no/such/page", "/api/no/such/thing", f"/api/articles/{2**40}"):
            response = callers[role].client.get(path)
            assert response.status_code in (302, 401, 404), (role, path, response.status_code)
            problems = header_problems(response) + (inline_code(response.get_data(as_text=True)) if response.mimetype == "text/html" else [])
            assert not problems, (role, path, problems)


def test_the_header_check_can_fail():
    from werkzeug.wrappers import Response

    weak = Response("<p style='x'>hi</p><script>alert(1)</script>", mimetype="text/html")
    weak.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'self' 'unsafe-inline'"
    problems = header_problems(weak) + inline_code(weak.get_data(as_text=True))
    assert len(problems) >= 6, problems


# ----------------------------------------------------------------- cookies and sessions
def test_session_and_remember_cookies_are_httponly_and_samesite(app, browser):
    add_user(app, "ann")
    browser.get("/login")
    response = browser.post("/login", {"name": "ann", "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert {"session", "remember_token"} <= cookies.keys(), cookies
    for name in ("session", "remember_token"):
        flags = [f.strip().lower() for f in cookies[name].split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and "secure" not in flags, cookies[name]


def test_cookies_are_secure_behind_https(monkeypatch, database_uri):
    monkeypatch.setenv("ANNOTATOR_HTTPS", "1")
    app = make_app(database_uri)
    try:
        add_user(app, "ann")
        browser = Browser(app.test_client())
        browser.get("/login", base_url="https://localhost")  # a Secure cookie only comes back over https
        response = browser.post("/login", {"name": "ann", "password": PASSWORD, "remember": "y"}, base_url="https://localhost",
                                headers={"Referer": "https://localhost/login"})  # Flask-WTF checks the referrer over https
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        cookies = response.headers.getlist("Set-Cookie")
        assert len(cookies) >= 2 and all("Secure" in c and "HttpOnly" in c for c in cookies), cookies
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_tampered_session_cookie_is_ignored(app, browser):
    add_user(app, "ann")
    browser.login("ann", PASSWORD)
    assert browser.get("/").status_code == 200
    cookie = browser.client.get_cookie("session")
    value = cookie.value
    forged = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    browser.client.set_cookie("session", forged, domain=cookie.domain)
    response = browser.client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_logout_ends_the_session(app, browser):
    add_user(app, "ann")
    browser.login("ann", PASSWORD)
    old = browser.client.get_cookie("session").value
    assert browser.post("/logout").status_code == 302
    assert browser.get("/").status_code == 302
    assert browser.client.get_cookie("session") is None or browser.client.get_cookie("session").value != old
    # the old cookie, replayed, is logged out too: logout moved the user's session generation on
    replayed = app.test_client()
    replayed.set_cookie("session", old)
    assert replayed.get("/").status_code == 302


# ----------------------------------------------------------------- login throttling
class Clock:
    """An injected clock for the throttle: time moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(throttle, "utcnow", clock)
    return clock


def login_from(app, address: str, name: str, password: str) -> int:
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser.login(name, password).status_code


def test_one_address_trying_many_names_is_slowed_but_correct_passwords_pass(app, clock):
    """Guessing across user names from one client address counts against that address: past its ceiling
    every name from it waits after its first failure, while a colleague's correct password still logs in
    (issue 13 item 9: the address used to lock everyone behind it)."""
    add_user(app, "victim")
    limit = app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
    assert limit > app.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):
        assert login_from(app, "198.51.100.7", f"guess{i}", "wrong password") == 401
    # the right password for a real user, from the same address: in
    assert login_from(app, "198.51.100.7", "victim", PASSWORD) == 302
    # a new name from it waits after its first failure
    assert login_from(app, "198.51.100.7", f"guess{limit}", "wrong password") == 401
    assert login_from(app, "198.51.100.7", f"guess{limit}", "wrong password") == 429
    with app.app_context():
        assert db.session.get(LoginFailure, "ip:198.51.100.7").failures == limit + 1
        assert all(db.session.get(LoginFailure, f"pair:198.51.100.7|guess{i}").failures == 1 for i in range(limit))


def test_colleagues_behind_one_address_are_not_locked_out_by_each_others_typos(app, clock):
    """A newsroom behind one NAT address: several people mistyping their own passwords (fewer times each than
    locks a name) add up past the per-name limit without locking out the next colleague."""
    add_user(app, "colleague")
    typos = app.config["LOGIN_MAX_FAILURES"] * 2
    for i in range(typos):
        assert login_from(app, "198.51.100.20", f"person{i % 4}", "wrong password") == 401
    assert login_from(app, "198.51.100.20", "colleague", PASSWORD) == 302
    with app.app_context():
        assert db.session.get(LoginFailure, "ip:198.51.100.20").locked_until is None


def test_one_name_tried_from_many_addresses_does_not_lock_the_user_out(app, clock):
    """Waits are per (name, address) pair: failures elsewhere never keep the user out (issue 13 item 9)."""
    add_user(app, "victim")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for i in range(limit):
        assert login_from(app, f"203.0.113.{i + 1}", "victim", "wrong password") == 401
    assert login_from(app, "203.0.113.200", "victim", PASSWORD) == 302


def test_a_wait_opens_after_it_and_the_waits_grow(app, clock):
    add_user(app, "ann")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert login_from(app, "192.0.2.1", "ann", "wrong password") == 401
    assert login_from(app, "192.0.2.1", "ann", PASSWORD) == 429
    clock.advance(0.5)
    assert login_from(app, "192.0.2.1", "ann", PASSWORD) == 429  # not yet
    clock.advance(1)
    assert login_from(app, "192.0.2.1", "ann", "wrong password") == 401  # a try after the wait: counted, 2 s now
    clock.advance(1.5)
    assert login_from(app, "192.0.2.1", "ann", PASSWORD) == 429
    clock.advance(1)
    assert login_from(app, "192.0.2.1", "ann", PASSWORD) == 302  # the wait has passed
    # and after a success, counting starts afresh: one more failure does not make the pair wait
    assert login_from(app, "192.0.2.1", "ann", "wrong password") == 401
    assert login_from(app, "192.0.2.1", "ann", PASSWORD) == 302


def test_failures_spread_over_longer_than_the_window_do_not_lock(app, clock):
    add_user(app, "ann")
    limit, window = app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_LOCKOUT_SECONDS"]
    for _ in range(limit * 2):
        assert login_from(app, "192.0.2.9", "ann", "wrong password") == 401
        clock.advance(window / (limit - 1) + 1)
    assert login_from(app, "192.0.2.9", "ann", PASSWORD) == 302


def test_the_wait_message_says_how_long(app, clock):
    add_user(app, "ann")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):
        login_from(app, "192.0.2.3", "ann", "nope nope")
        clock.advance(1.5)
    clock.advance(-1.5)
    browser = Browser(app.test_client())
    browser.client.environ_base["REMOTE_ADDR"] = "192.0.2.3"
    response = browser.login("ann", PASSWORD)
    assert response.status_code == 429
    assert "Try again in 2 seconds" in response.get_data(as_text=True)


# ----------------------------------------------------------------- password hashing
@pytest.mark.real_password_hashing
def test_passwords_are_hashed_with_scrypt(app):
    assert models.PASSWORD_METHOD == "scrypt"
    with app.app_context():
        user = accounts.create_user(db.session, "ann", "annotator", PASSWORD)
        db.session.commit()
        stored = db.session.get(User, user.id).password_hash
    method, salt, digest = stored.split("$")
    assert method.startswith("scrypt:") and int(method.split(":")[1]) >= 2**14, method  # werkzeug: scrypt:N:r:p
    assert len(salt) >= 16 and PASSWORD not in stored
    browser = Browser(app.test_client())
    assert browser.login("ann", PASSWORD).status_code == 302
    assert Browser(app.test_client()).login("ann", PASSWORD + "x").status_code == 401


@pytest.mark.real_password_hashing
def test_two_users_with_one_password_get_different_hashes(app):
    with app.app_context():
        a = accounts.create_user(db.session, "a1", "annotator", PASSWORD)
        b = accounts.create_user(db.session, "b1", "annotator", PASSWORD)
        db.session.flush()
        assert a.password_hash != b.password_hash
        db.session.rollback()
