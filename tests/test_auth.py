"""Logging in: hashed passwords, throttling kept in the database, CSRF, headers, cookies."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import AuditEntry, LoginFailure, User

from .conftest import Browser, add_user, token_form


def test_login_and_logout(app, browser):
    add_user(app, "ann")
    response = browser.login("ann", "correct horse")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "My articles" in browser.get("/").get_data(as_text=True)
    browser.post("/logout")
    assert browser.get("/").status_code == 302


def test_wrong_password_is_401_and_says_so(app, browser):
    add_user(app, "ann")
    response = browser.login("ann", "wrong password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)


def test_login_is_throttled_after_repeated_failures(app, browser):
    add_user(app, "ann")
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert browser.login("ann", "nope nope").status_code == 401
    response = browser.login("ann", "correct horse")  # right password, but locked
    assert response.status_code == 429
    assert "Too many failed logins" in response.get_data(as_text=True)
    # the counter lives in the database: a second client (another worker) sees it too
    other = Browser(app.test_client())
    assert other.login("ann", "correct horse").status_code == 429
    with app.app_context():
        assert db.session.get(LoginFailure, "pair:127.0.0.1|ann").failures == limit


def test_inactive_user_cannot_log_in(app, browser):
    add_user(app, "gone")
    from annotator.domain import accounts

    with app.app_context():
        accounts.get_user(db.session, "gone").active = False
        db.session.commit()
    assert browser.login("gone", "correct horse").status_code == 403


def test_login_post_without_csrf_token_is_refused(app):
    add_user(app, "ann")
    client = app.test_client()
    response = client.post("/login", data={"name": "ann", "password": "correct horse"})
    assert response.status_code == 400


def test_logout_needs_csrf(app, browser):
    add_user(app, "ann")
    browser.login("ann", "correct horse")
    assert browser.client.post("/logout").status_code == 400
    assert browser.get("/").status_code == 200


def test_next_parameter_cannot_leave_the_site(app, browser):
    add_user(app, "ann")
    browser.get("/login")
    response = browser.post("/login?next=//evil.example/x", {"name": "ann", "password": "correct horse"})
    assert response.headers["Location"] == "/"


def test_anonymous_is_sent_to_login(app):
    response = app.test_client().get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_security_headers_and_cookie_flags(app, browser):
    add_user(app, "ann")
    response = browser.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    response = browser.post("/login", {"name": "ann", "password": "correct horse"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_secure_cookie_when_https_is_configured(monkeypatch, database_uri):
    from .conftest import make_app

    monkeypatch.setenv("ANNOTATOR_HTTPS", "1")
    app = make_app(database_uri)
    add_user(app, "ann")
    browser = Browser(app.test_client())
    https = {"base_url": "https://localhost"}  # a Secure cookie only travels over https, as in a browser
    browser.get("/login", **https)
    response = browser.post("/login", {"name": "ann", "password": "correct horse"}, headers={"Referer": "https://localhost/login"}, **https)
    assert response.status_code == 302  # really logged in (over http the CSRF cookie would not come back)
    session_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in session_cookie
    assert "Strict-Transport-Security" in response.headers
    with app.app_context():
        db.engine.dispose()


def test_healthz_is_public(app):
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_proxy_count_trusts_forwarded_client_address(database_uri):
    """Behind one proxy, throttling counts the real client, not the proxy."""
    from .conftest import make_app

    app = make_app(database_uri, PROXY_COUNT=1)
    add_user(app, "ann")
    browser = Browser(app.test_client())
    browser.get("/login")
    browser.post("/login", {"name": "ann", "password": "bad password"}, headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        assert db.session.get(LoginFailure, "ip:203.0.113.9") is not None
        db.engine.dispose()


def test_user_names_are_one_person_whatever_their_case(app, browser):
    """'Alice' logs in alice; an admin cannot create 'Alice' beside alice (nobody could tell them apart)."""
    from annotator.domain import accounts

    add_user(app, "alice")
    assert browser.login("Alice", "correct horse").status_code == 302
    with app.app_context():
        with pytest.raises(accounts.AccountError, match="differ only in case"):
            accounts.create_user(db.session, "ALICE", "annotator", "another password")
        db.session.rollback()


@pytest.mark.parametrize(
    "target",
    ["/x%0d%0aSet-Cookie:%20a=b", "/x%0aLocation:%20http://evil.example/", "/%0d/evil.example", "/\\evil.example"],
)
def test_next_parameter_with_control_characters_is_a_safe_redirect_not_a_500(app, browser, target):
    add_user(app, "ann")
    browser.get("/login")
    response = browser.post(f"/login?next={target}", {"name": "ann", "password": "correct horse"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_nul_in_next_is_refused_at_the_boundary_like_any_nul_in_a_query(app, browser):
    """NUL is refused in every query string (textcheck) before the login view reads `next`: a 400, not a 500, and no login."""
    add_user(app, "ann")
    browser.get("/login")
    response = browser.post("/login?next=/x%00y", {"name": "ann", "password": "correct horse"})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_next_parameter_keeps_a_local_path_with_its_query(app, browser):
    add_user(app, "ann")
    browser.get("/login")
    response = browser.post("/login?next=/review/%3Fpage%3D2", {"name": "ann", "password": "correct horse"})
    assert response.headers["Location"] == "/review/?page=2"


@pytest.mark.parametrize("who", ["unknown", "no password", "inactive", "existing"])
def test_every_login_checks_one_password_hash_of_the_same_method(app, browser, monkeypatch, who):
    """Unknown names (and users who cannot log in) cost the same hash check as a real one: the login's
    time does not tell which names exist (bench/bench_login_timing.py measures it on real scrypt)."""
    from annotator.db import models
    from annotator.domain import accounts

    add_user(app, "ann")
    with app.app_context():
        accounts.create_user(db.session, "imported", "annotator", None)
        accounts.get_user(db.session, "ann").active = who != "inactive"
        db.session.commit()
    checked: list[str] = []
    real = models.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(models, "check_password_hash", counting)
    name = {"unknown": "nobody", "no password": "imported", "inactive": "ann", "existing": "ann"}[who]
    response = browser.login(name, "a wrong password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True)
    assert checked == [models.PASSWORD_METHOD]


def _stored_hash(app, name: str) -> tuple[str, int, int]:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == name))
        entries = db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "user"))
        found = (user.password_hash, user.session_generation, entries)
        db.session.remove()
        return found


@pytest.mark.parametrize(("old", "current"), [("pbkdf2:sha256:600", None),
                                              pytest.param("scrypt:16384:8:1", "scrypt", marks=pytest.mark.real_password_hashing)])
def test_a_login_rehashes_a_password_hashed_with_an_older_method(app, browser, monkeypatch, old, current):
    """A hash of an older method or cost (werkzeug's defaults move on: pbkdf2 260,000 rounds, scrypt N=2**14) costs
    another time to check than the current method's, which the dummy hash of unknown names has: a failed login told
    that such a name exists. A successful login now stores the password hashed the current way (the same password:
    no session ends, no account history entry); a failed one changes nothing, and a current hash is never redone."""
    from werkzeug.security import generate_password_hash

    from annotator.db import models

    if current is not None:
        assert models.PASSWORD_METHOD == current
    add_user(app, "ann")
    with app.app_context():
        from annotator.domain import accounts

        accounts.get_user(db.session, "ann").password_hash = generate_password_hash("correct horse", method=old)
        db.session.commit()
    before, generation, entries = _stored_hash(app, "ann")
    assert before.startswith(old + "$")
    assert browser.login("ann", "a wrong password").status_code == 401
    assert _stored_hash(app, "ann") == (before, generation, entries)  # a failed login changes nothing
    assert browser.login("ann", "correct horse").status_code == 302
    after, generation_after, entries_after = _stored_hash(app, "ann")
    current_prefix = generate_password_hash("x", method=models.PASSWORD_METHOD).split("$", 1)[0]
    assert after.split("$", 1)[0] == current_prefix != old, after
    assert (generation_after, entries_after) == (generation, entries)
    assert browser.get("/").status_code == 200  # the session the login made goes on
    other = Browser(app.test_client())
    assert other.login("ann", "correct horse").status_code == 302  # the same password, now under the new hash
    assert _stored_hash(app, "ann")[0] == after  # current: not hashed again


# ----------------------------------------------------------------- sessions end when they should
def _cookies(browser: Browser) -> dict[str, str]:
    return {name: browser.client.get_cookie(name).value for name in ("session", "remember_token") if browser.client.get_cookie(name)}


def _replay(app, cookies: dict[str, str]) -> Browser:
    """Another client (an attacker, another device) holding a copy of these cookies."""
    other = Browser(app.test_client())
    for name, value in cookies.items():
        other.client.set_cookie(name, value)
    return other


def _logged_in(browser: Browser) -> bool:
    return browser.client.get("/").status_code == 200


def _remembered_login(app, name: str = "ann", password: str = "correct horse") -> Browser:
    browser = Browser(app.test_client())
    browser.get("/login")
    assert browser.post("/login", {"name": name, "password": password, "remember": "y"}).status_code == 302
    assert browser.client.get_cookie("remember_token") is not None
    return browser


def test_logout_ends_the_session_and_its_copies_for_good(app):
    add_user(app, "ann")
    browser = _remembered_login(app)
    copied = _cookies(browser)
    assert _logged_in(_replay(app, copied)) and _logged_in(_replay(app, {"remember_token": copied["remember_token"]}))
    browser.get("/")
    browser.post("/logout")
    assert not _logged_in(browser)
    assert not _logged_in(_replay(app, copied)), "the session cookie from before the logout still logs in"
    assert not _logged_in(_replay(app, {"remember_token": copied["remember_token"]})), "the remember-me cookie outlived the logout"
    assert _logged_in(_remembered_login(app))  # logging in again works


def _clears_remember_cookie(response) -> bool:
    return any(h.startswith("remember_token=;") for h in response.headers.getlist("Set-Cookie"))


def test_the_login_page_clears_no_remember_cookie_the_browser_never_had(app):
    """Every anonymous GET /login answered with a Set-Cookie deleting `remember_token` (session protection
    "strong" took the form's CSRF token for a tampered session); a logout still clears the one it carried."""
    add_user(app, "ann")
    fresh = Browser(app.test_client())
    response = fresh.get("/login")
    assert response.status_code == 200 and not _clears_remember_cookie(response)
    assert not _clears_remember_cookie(fresh.get("/login"))  # again, now with a session cookie (the CSRF token)
    browser = _remembered_login(app)
    copied = _cookies(browser)
    browser.get("/")
    logout = browser.post("/logout")
    assert logout.status_code == 302 and _clears_remember_cookie(logout)
    assert not _logged_in(_replay(app, {"remember_token": copied["remember_token"]}))


@pytest.mark.parametrize("how", ["cli password", "admin password", "admin role", "admin logout everywhere", "cli logout", "deactivate"])
def test_password_role_and_log_out_everywhere_end_every_session_of_the_user(app, how):
    from annotator.domain import accounts

    ann = add_user(app, "ann")
    add_user(app, "other")
    add_user(app, "boss", "admin")
    sessions = [_remembered_login(app), _remembered_login(app)]
    bystander = _remembered_login(app, "other")
    copies = [_cookies(b) for b in sessions]
    remember_only = _replay(app, {"remember_token": copies[0]["remember_token"]})
    assert all(_logged_in(b) for b in sessions) and _logged_in(remember_only)
    admin = Browser(app.test_client())
    admin.login("boss", "correct horse")
    runner = app.test_cli_runner()
    if how == "cli password":
        result = runner.invoke(args=["users", "password", "ann", "--password-stdin"], input="a brand new one\n")
        assert result.exit_code == 0, result.output
    elif how == "admin password":
        assert admin.post(f"/admin/users/{ann}/password", {"password": "a brand new one"}).status_code == 302
    elif how == "admin role":
        assert admin.post(f"/admin/users/{ann}/role", {"role": "reviewer"}).status_code == 302
    elif how == "admin logout everywhere":
        response = admin.post(f"/admin/users/{ann}/logout")
        assert response.status_code == 302
        assert "logged out everywhere" in admin.get(response.headers["Location"]).get_data(as_text=True)
    elif how == "cli logout":
        result = runner.invoke(args=["users", "logout", "ann"])
        assert result.exit_code == 0 and "ann" in result.output, result.output
    else:
        assert admin.post(f"/admin/users/{ann}/deactivate").status_code == 302
    assert not any(_logged_in(b) for b in sessions)
    assert not any(_logged_in(_replay(app, c)) for c in copies)
    assert not _logged_in(_replay(app, {"remember_token": copies[0]["remember_token"]}))
    assert _logged_in(bystander) and _logged_in(admin), "another user's session ended too"
    if how != "deactivate":
        password = "a brand new one" if "password" in how else "correct horse"
        assert _logged_in(_remembered_login(app, "ann", password))
    with app.app_context():
        assert accounts.get_user(db.session, "ann").session_generation == 1


def test_a_failed_role_change_or_password_leaves_sessions_alone(app):
    add_user(app, "boss", "admin")
    ann = add_user(app, "ann")
    session = _remembered_login(app)
    admin = Browser(app.test_client())
    admin.login("boss", "correct horse")
    assert admin.post(f"/admin/users/{ann}/password", {"password": "short"}).status_code == 400
    assert admin.post(f"/admin/users/{ann}/role", {"role": "annotator"}).status_code == 302  # the same role: nothing changes
    assert _logged_in(session)


def test_remember_me_lasts_30_days_by_default_and_is_checked_on_the_server(app, monkeypatch):
    from datetime import timedelta

    from annotator.web import auth

    add_user(app, "ann")
    browser = _remembered_login(app)
    cookie = browser.client.get_cookie("remember_token")
    assert cookie.expires is not None
    from annotator.db.models import utcnow

    days = (cookie.expires - utcnow()).total_seconds() / 86400
    assert 29.9 < days <= 30.0
    remembered = {"remember_token": cookie.value}
    assert _logged_in(_replay(app, remembered))
    # a month on, a copy of the cookie kept past its expiry (or a clock-skewed browser) no longer logs in
    later = utcnow() + timedelta(days=30, minutes=1)
    monkeypatch.setattr(auth, "utcnow", lambda: later)
    assert not _logged_in(_replay(app, remembered))
    assert not _logged_in(browser), "the session opened by that login outlived the remember-me lifetime"


def test_remember_me_lifetime_is_set_by_annotator_remember_days(monkeypatch, database_uri):
    from annotator.db.models import utcnow

    from .conftest import make_app

    monkeypatch.setenv("ANNOTATOR_REMEMBER_DAYS", "7")
    app = make_app(database_uri)
    add_user(app, "ann")
    cookie = _remembered_login(app).client.get_cookie("remember_token")
    assert 6.9 < (cookie.expires - utcnow()).total_seconds() / 86400 <= 7.0
    with app.app_context():
        db.engine.dispose()


def test_a_session_cookie_from_before_the_upgrade_logs_nobody_in(app):
    """Cookies that carry only the user id (no generation) were made before sessions could be ended."""
    from flask.sessions import SecureCookieSessionInterface

    ann = add_user(app, "ann")
    with app.test_request_context():
        serializer = SecureCookieSessionInterface().get_signing_serializer(app)
        old = serializer.dumps({"_user_id": str(ann), "_fresh": True})
    assert not _logged_in(_replay(app, {"session": old}))


def test_a_request_without_a_session_cookie_builds_no_cookie_signer(app, browser):
    """Scripts with a token send no cookie: the session is empty, and building its signer (an itsdangerous
    serializer per request, as Flask does) to read nothing was ~6 us of every API request (issue 17).
    A browser's cookie is still read and checked, and a login still writes one."""
    from annotator.domain import accounts

    add_user(app, "bot")
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.get_user(db.session, "bot"))
        db.session.commit()
    interface, built = app.session_interface, []
    original = interface.get_signing_serializer
    interface.get_signing_serializer = lambda a: built.append(1) or original(a)
    try:
        response = app.test_client().get("/healthz", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        assert built == []
        add_user(app, "ann")
        browser.login("ann", "correct horse")
        assert browser.get("/").status_code == 200 and built
    finally:
        del interface.get_signing_serializer


# ----------------------------------------------------------------- throttling: (name, address) pairs, backoff
def _from(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def _login_from(app, name: str, password: str, address: str):
    browser = Browser(app.test_client())
    browser.get("/login", **_from(address))
    return browser.post("/login", {"name": name, "password": password}, **_from(address))


def _message(response) -> str:
    import re

    return " ".join(re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)).strip()


def test_failures_from_another_address_do_not_lock_the_user_out(app):
    add_user(app, "ann")
    for _ in range(app.config["LOGIN_MAX_FAILURES"] * 3):
        assert _login_from(app, "ann", "guess guess", "198.51.100.7").status_code in (401, 429)
    assert _login_from(app, "ann", "guess guess", "198.51.100.7").status_code == 429
    assert _login_from(app, "ann", "correct horse", "203.0.113.5").status_code == 302


def test_a_pair_backs_off_exponentially_and_its_wait_is_not_a_password_check(app, monkeypatch):
    from datetime import timedelta

    from annotator.db import models
    from annotator.domain import throttle

    add_user(app, "ann")
    clock = [models.utcnow()]
    monkeypatch.setattr(throttle, "utcnow", lambda: clock[0])
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert _login_from(app, "ann", "guess guess", "198.51.100.7").status_code == 401
    waits = []
    for _ in range(4):
        response = _login_from(app, "ann", "correct horse", "198.51.100.7")  # even the right password waits
        assert response.status_code == 429
        with app.app_context():
            row = db.session.get(LoginFailure, "pair:198.51.100.7|ann")
            waits.append(round((row.locked_until - clock[0]).total_seconds()))
        clock[0] = row.locked_until - timedelta(seconds=0.5)
        assert _login_from(app, "ann", "guess guess", "198.51.100.7").status_code == 429  # not yet: not counted
        clock[0] = row.locked_until + timedelta(seconds=0.1)
        assert _login_from(app, "ann", "guess guess", "198.51.100.7").status_code == 401
    assert waits == [1, 2, 4, 8]
    with app.app_context():
        assert db.session.get(LoginFailure, "pair:198.51.100.7|ann").failures == limit + 4
    clock[0] += timedelta(seconds=16.5)
    assert _login_from(app, "ann", "correct horse", "198.51.100.7").status_code == 302
    with app.app_context():
        assert db.session.get(LoginFailure, "pair:198.51.100.7|ann") is None  # a success forgives the pair


def test_the_longest_wait_is_capped(app, monkeypatch):
    from datetime import timedelta

    from annotator.db import models
    from annotator.domain import throttle

    clock = [models.utcnow()]
    monkeypatch.setattr(throttle, "utcnow", lambda: clock[0])
    longest = app.config["LOGIN_LOCKOUT_SECONDS"]
    for _ in range(40):
        _login_from(app, "nobody", "guess guess", "198.51.100.7")
        clock[0] += timedelta(seconds=longest + 1)
    with app.app_context():
        row = db.session.get(LoginFailure, "pair:198.51.100.7|nobody")
        assert row.failures > 20 and (row.locked_until - row.last_at).total_seconds() == longest


def test_the_address_ceiling_slows_failures_but_lets_colleagues_with_their_password_in(database_uri):
    from .conftest import make_app

    app = make_app(database_uri, LOGIN_MAX_FAILURES_PER_ADDRESS=10)
    for name in ("ann", "bob", "cat"):
        add_user(app, name)
    newsroom = "192.0.2.1"
    for i in range(10):  # someone behind the newsroom's NAT tries ten names once each
        assert _login_from(app, f"guess{i}", "guess guess", newsroom).status_code == 401
    # colleagues with the right password still log in from the same address
    assert _login_from(app, "ann", "correct horse", newsroom).status_code == 302
    assert _login_from(app, "bob", "correct horse", newsroom).status_code == 302
    # but a failure from it now waits at once, not after LOGIN_MAX_FAILURES
    assert _login_from(app, "cat", "a typo here", newsroom).status_code == 401
    assert _login_from(app, "cat", "correct horse", newsroom).status_code == 429
    assert _login_from(app, "guess0", "guess guess", newsroom).status_code == 401  # its first failure was free
    assert _login_from(app, "guess0", "guess guess", newsroom).status_code == 429
    # the same name elsewhere is not slowed
    assert _login_from(app, "cat", "correct horse", "203.0.113.5").status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_the_wait_says_nothing_about_whether_the_name_exists(app):
    add_user(app, "ann")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login_from(app, "ann", "guess guess", "198.51.100.7").status_code == 401
        assert _login_from(app, "nobody", "guess guess", "198.51.100.7").status_code == 401
    existing = _login_from(app, "ann", "guess guess", "198.51.100.7")
    unknown = _login_from(app, "nobody", "guess guess", "198.51.100.7")
    assert existing.status_code == unknown.status_code == 429
    assert _message(existing) == _message(unknown) and "Too many failed logins" in _message(existing)
    wrong = _login_from(app, "ann", "guess guess", "203.0.113.5")
    assert _message(wrong) == _message(_login_from(app, "nobody", "guess guess", "203.0.113.5"))


# ----------------------------------------------------------------- API tokens: ceiling, expiry, last use, revoke one
def _token_works(app, token: str) -> bool:
    response = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


def test_at_most_ten_active_tokens_per_user_with_a_clear_error(app):
    from annotator.domain import accounts

    add_user(app, "bot")
    with app.app_context():
        bot = accounts.get_user(db.session, "bot")
        tokens = [accounts.issue_token(db.session, bot) for _ in range(accounts.MAX_ACTIVE_TOKENS)]
        db.session.commit()
        assert accounts.MAX_ACTIVE_TOKENS == 10
        with pytest.raises(accounts.AccountError, match="already has 10 active API tokens; revoke one first"):
            accounts.issue_token(db.session, bot)
        db.session.rollback()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "token", "bot"])
    assert result.exit_code == 1 and "10 active API tokens" in result.output and "Traceback" not in result.output
    assert all(_token_works(app, t) for t in tokens)
    # a revoked or an expired token no longer counts
    with app.app_context():
        first = db.session.scalars(select_tokens_of(db.session, "bot")).first()
        accounts.revoke_token(db.session, first, accounts.get_user(db.session, "bot"))
        db.session.commit()
    assert runner.invoke(args=["users", "token", "bot"]).exit_code == 0


def test_the_token_user_is_the_stored_user_with_nothing_to_write(app):
    """user_for_token builds the user from its row, outside the session: every column as stored, no change pending
    (a commit of the request's session must write nothing of it), and Flask-Login's view of it works."""
    from sqlalchemy import inspect

    from annotator.db.models import User
    from annotator.domain import accounts

    add_user(app, "bot")
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.get_user(db.session, "bot"))
        db.session.commit()
        user = accounts.user_for_token(db.session, token)
        stored = db.session.get(User, user.id)
        assert user is not stored and user not in db.session
        for column in User.__table__.columns:
            assert getattr(user, column.key) == getattr(stored, column.key), column.key
        state = inspect(user)
        assert state.transient and not state.modified and all(not state.attrs[key].history.has_changes() for key in state.attrs.keys())
        assert user.is_authenticated and user.is_active and user.get_id().startswith(f"{stored.id}:{stored.session_generation}:")
        db.session.rollback()


def select_tokens_of(session, name: str):
    from sqlalchemy import select

    from annotator.db.models import ApiToken
    from annotator.domain import accounts

    return select(ApiToken).where(ApiToken.user_id == accounts.get_user(session, name).id).order_by(ApiToken.id)


def test_a_token_with_an_expiry_stops_working_then_with_401(app, monkeypatch):
    from datetime import timedelta

    from annotator.db.models import utcnow
    from annotator.domain import accounts

    add_user(app, "bot")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "token", "bot", "--expires-days", "2"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[0]
    forever = runner.invoke(args=["users", "token", "bot"]).output.strip().splitlines()[0]
    assert _token_works(app, token) and _token_works(app, forever)
    with app.app_context():
        expires = db.session.scalars(select_tokens_of(db.session, "bot")).first().expires_at
    assert timedelta(days=2) - timedelta(minutes=1) < expires - utcnow() <= timedelta(days=2)
    later = utcnow() + timedelta(days=2, seconds=1)
    monkeypatch.setattr(accounts, "utcnow", lambda: later)
    response = app.test_client().get("/api/articles/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "expired" in response.get_json()["error"]
    assert _token_works(app, forever)
    for bad in ("0", "-1", "x", "100000"):
        result = runner.invoke(args=["users", "token", "bot", "--expires-days", bad])
        assert result.exit_code != 0 and "Traceback" not in result.output


def test_last_use_is_written_at_most_once_a_minute_per_token(app, monkeypatch):
    from datetime import timedelta

    from sqlalchemy import event

    from annotator.db.models import utcnow
    from annotator.domain import accounts

    add_user(app, "bot")
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.get_user(db.session, "bot"))
        db.session.commit()
        engine = db.engine
    writes: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert _token_works(app, token)
        assert len(writes) == 1
        with app.app_context():
            first_use = db.session.scalars(select_tokens_of(db.session, "bot")).one().last_used_at
        assert first_use is not None and abs((utcnow() - first_use).total_seconds()) < 60
        later = utcnow() + timedelta(seconds=61)
        monkeypatch.setattr(accounts, "utcnow", lambda: later)
        for _ in range(3):
            assert _token_works(app, token)
        assert len(writes) == 2
        with app.app_context():
            assert db.session.scalars(select_tokens_of(db.session, "bot")).one().last_used_at == later
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_token_used_while_another_writer_holds_the_database_is_still_let_in(app, monkeypatch):
    """A token's last use is bookkeeping, written at most once a minute: while a command held SQLite's write lock past
    the busy timeout, that write failed, and the request with the token failed with it. Its error page then read
    current_user, which tried the write again: a 500 and a traceback, for a read as for a save. The request now goes
    on without noting the use, and the next request notes it."""
    import sqlite3

    import annotator.db as database
    from annotator.domain import accounts

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite: one writer holds the whole database")
    add_user(app, "bot")
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.get_user(db.session, "bot"))
        db.session.commit()
        db.engine.dispose()  # the next connections take the short busy timeout below
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 100)
    holder = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a command's write transaction (an import's chunk, a rebuild)
    try:
        for path in ("/", "/api/articles/1"):
            response = app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (200, 404), (path, response.status_code, response.get_data(as_text=True)[:300])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with app.app_context():
        assert db.session.scalars(select_tokens_of(db.session, "bot")).one().last_used_at is None
    assert _token_works(app, token)
    with app.app_context():
        assert db.session.scalars(select_tokens_of(db.session, "bot")).one().last_used_at is not None


def test_a_token_used_on_a_full_disk_is_let_in_and_the_full_disk_is_logged(app, monkeypatch, caplog):
    """The same bookkeeping on a full disk (SQLITE_FULL, PostgreSQL's 53100): the request goes on (it was a 507, then
    a 500 from the error page loading the user again), and the log says, at error level, that the disk is full."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from annotator.domain import accounts

    add_user(app, "bot")
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.get_user(db.session, "bot"))
        db.session.commit()
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL

    def no_room(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("UPDATE api_tokens", None, full)

    monkeypatch.setattr(accounts, "transaction", no_room)
    with caplog.at_level("ERROR"):
        assert _token_works(app, token)
    assert "disk is full" in caplog.text and "token's last use" in caplog.text


def test_the_admin_page_lists_tokens_and_revokes_one(app):
    import re

    from annotator.domain import accounts

    uid = add_user(app, "bot")
    add_user(app, "boss", "admin")
    admin = Browser(app.test_client())
    admin.login("boss", "correct horse")
    page = admin.post(f"/admin/users/{uid}/token", token_form(expires_days="30"))
    assert page.status_code == 200
    kept = re.search(r'<pre class="token" id="token">([^<]+)</pre>', page.get_data(as_text=True)).group(1)
    page = admin.post(f"/admin/users/{uid}/token", token_form(expires_days=""))
    gone = re.search(r'<pre class="token" id="token">([^<]+)</pre>', page.get_data(as_text=True)).group(1)
    assert _token_works(app, gone)  # a first use, shown on the page
    listing = admin.get(f"/admin/users/{uid}").get_data(as_text=True)
    table = listing[listing.index('id="tokens"'):]
    for heading in ("Issued", "Last used", "Expires", "State"):
        assert heading in table
    assert "never" in table and "valid" in table
    with app.app_context():
        rows = db.session.scalars(select_tokens_of(db.session, "bot")).all()
        assert rows[0].expires_at is not None and rows[1].expires_at is None and rows[1].last_used_at is not None
        gone_id = rows[1].id
    assert f'action="/admin/users/{uid}/tokens/{gone_id}/revoke"' in listing
    response = admin.post(f"/admin/users/{uid}/tokens/{gone_id}/revoke")
    assert response.status_code == 302
    assert not _token_works(app, gone) and _token_works(app, kept)
    # a token of another user, or none at all: 404, nothing changed
    other = add_user(app, "other")
    assert admin.post(f"/admin/users/{other}/tokens/{rows[0].id}/revoke").status_code == 404
    assert admin.post(f"/admin/users/{uid}/tokens/99999/revoke").status_code == 404
    assert _token_works(app, kept)
    # bad expiry: 400 with a message, no token issued
    for bad in ("0", "-3", "abc", "99999999999999999999"):
        response = admin.post(f"/admin/users/{uid}/token", token_form(expires_days=bad))
        assert response.status_code == 400, bad
    with app.app_context():
        assert len(db.session.scalars(select_tokens_of(db.session, "bot")).all()) == 2
    # beyond the ceiling: 409 with the message
    with app.app_context():
        bot = accounts.get_user(db.session, "bot")
        for _ in range(accounts.MAX_ACTIVE_TOKENS - 1):
            accounts.issue_token(db.session, bot)
        db.session.commit()
    response = admin.post(f"/admin/users/{uid}/token", token_form(expires_days=""))
    assert response.status_code == 409 and "10 active API tokens" in response.get_data(as_text=True)


@pytest.mark.parametrize("days, error", [
    ("\u0661", "must be a whole number written with the digits 0-9"),  # ARABIC-INDIC DIGIT ONE: int() read it as 1
    ("1_0", "must be a whole number written with the digits 0-9"),  # int() read it as 10
    ("99999999999999999999", "Number must be between 1 and 3650."),  # was two lines: no column holds it, and the range
    ("3651", "Number must be between 1 and 3650."),
])
def test_token_expiry_takes_ascii_digits_in_range_with_one_error_line(app, days, error):
    import re

    uid = add_user(app, "bot")
    add_user(app, "boss", "admin")
    admin = Browser(app.test_client())
    admin.login("boss", "correct horse")
    response = admin.post(f"/admin/users/{uid}/token", token_form(expires_days=days))
    assert response.status_code == 400
    errors = re.search(r'<ul class="field-errors" id="expires_days-errors">(.*?)</ul>', response.get_data(as_text=True), re.S).group(1)
    assert re.findall(r"<li>(.*?)</li>", errors) == [error]
    with app.app_context():
        assert db.session.scalars(select_tokens_of(db.session, "bot")).all() == []
    assert admin.post(f"/admin/users/{uid}/token", token_form(expires_days=" 7 ")).status_code == 200  # ASCII digits still do


@pytest.mark.parametrize("days", ["10000000", "1" + "0" * 30, "thirty", "\u0663\u0660 days", ""])
def test_a_remember_days_no_cookie_can_hold_is_refused_at_start_up_not_a_500_at_login(monkeypatch, database_uri, days):
    """ANNOTATOR_REMEMBER_DAYS=10000000 started the app, then every "keep me logged in" was a 500 (the cookie's
    expiry overflows a datetime); 10**30 or a word was a traceback. Each is a start-up error naming the variable."""
    from .conftest import make_app

    monkeypatch.setenv("ANNOTATOR_REMEMBER_DAYS", days)
    with pytest.raises(ValueError, match="ANNOTATOR_REMEMBER_DAYS must be a whole number of days from 1 to 3650"):
        make_app(database_uri)


def test_the_longest_remember_days_logs_in(monkeypatch, database_uri):
    from .conftest import make_app

    monkeypatch.setenv("ANNOTATOR_REMEMBER_DAYS", "3650")
    app = make_app(database_uri)
    add_user(app, "ann")
    assert _logged_in(_remembered_login(app))
    with app.app_context():
        db.engine.dispose()


def probing_write_lock(path, real, seen: list):
    """`real` wrapped so that each call first tries to take SQLite's write lock from another connection,
    appending True (free) or the error (held) to `seen`: a slow hash must run with no write lock held."""
    import sqlite3

    def wrapper(*args, **kwargs):
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            seen.append(True)
        except sqlite3.OperationalError as exc:
            seen.append(str(exc))
        finally:
            other.close()
        return real(*args, **kwargs)

    return wrapper



@pytest.mark.parametrize("name, password, status", [("ann", "correct horse", 302), ("ann", "guess guess", 401), ("nobody", "guess guess", 401)])
def test_the_password_is_checked_without_holding_the_database_write_lock(tmp_path, monkeypatch, name, password, status):
    """A login held SQLite's write lock while it hashed the password (~0.1 s with scrypt): one client spraying
    failed logins with random names took everyone's saves from a p99 of 11 ms to 7 s (gunicorn, 5 workers).
    While the hash is checked, another connection must be able to write at once."""
    from annotator.db import models

    from .conftest import make_app

    path = tmp_path / "lock.sqlite3"
    app = make_app(f"sqlite:///{path}")
    add_user(app, "ann")
    writable = []
    monkeypatch.setattr(models, "check_password_hash", probing_write_lock(path, models.check_password_hash, writable))
    assert _login_from(app, name, password, "198.51.100.7").status_code == status
    assert writable == [True]
    with app.app_context():
        failures = db.session.get(LoginFailure, "pair:198.51.100.7|" + name)
        assert (failures is None) == (status == 302)  # a failure is counted, a success forgives the pair
        address = db.session.get(LoginFailure, "ip:198.51.100.7")
        assert (address.failures if address else 0) == (0 if status == 302 else 1)
        db.engine.dispose()


@pytest.mark.parametrize("how", ["admin page: new password", "admin page: new user", "cli: users password", "cli: users create", "account page: own password"])
def test_a_new_password_is_hashed_without_holding_the_database_write_lock(tmp_path, monkeypatch, how):
    """Setting a password (admin page or CLI) hashed it inside the write transaction: on SQLite the ~0.1 s
    scrypt hash held the one write lock, so every annotator's save waited. While it hashes, another
    connection must be able to write at once."""
    from annotator.db import models

    from .conftest import make_app

    path = tmp_path / "lock.sqlite3"
    app = make_app(f"sqlite:///{path}")
    target = add_user(app, "ann")
    add_user(app, "root", role="admin")
    writable = []
    browser = Browser(app.test_client())
    assert browser.login("root", "correct horse").status_code == 302
    monkeypatch.setattr(models, "generate_password_hash", probing_write_lock(path, models.generate_password_hash, writable))
    if how == "admin page: new password":
        response = browser.post(f"/admin/users/{target}/password", {"password": "a brand new one"})
    elif how == "admin page: new user":
        response = browser.post("/admin/users", {"name": "newbie", "role": "annotator", "password": "a brand new one"})
    elif how == "account page: own password":
        response = browser.post("/account/password", {"current": "correct horse", "password": "a brand new one", "confirm": "a brand new one"})
    else:
        args = ["users", "password", "ann", "--password-stdin"] if how == "cli: users password" else ["users", "create", "newbie", "--password-stdin"]
        response = app.test_cli_runner().invoke(args=args, input="a brand new one\n")
    assert getattr(response, "status_code", None) in (302, None) and getattr(response, "exit_code", 0) == 0, response
    assert writable == [True]
    name = "ann" if "new password" in how or how == "cli: users password" else "root" if "own" in how else "newbie"
    assert Browser(app.test_client()).login(name, "a brand new one").status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_the_token_ceiling_holds_when_tokens_are_issued_at_the_same_moment(app):
    """Twelve issues at once (an admin's double click, two admins, a script): on PostgreSQL each counted the
    active tokens before any other had stored its own, and all twelve were issued."""
    import threading

    from sqlalchemy import func, select

    from annotator.db.models import ApiToken, User
    from annotator.db.transactions import begin_write
    from annotator.domain import accounts

    user_id = add_user(app, "ann")
    start = threading.Barrier(12)
    outcomes = []

    def issue() -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            start.wait()
            try:
                begin_write(db.session)
                accounts.issue_token(db.session, user)
                db.session.commit()
                outcomes.append("issued")
            except accounts.AccountError:
                db.session.rollback()
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issue) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["issued"] * 10 + ["refused"] * 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == accounts.MAX_ACTIVE_TOKENS


@pytest.mark.parametrize("variable", ["ANNOTATOR_LOGIN_LOCKOUT_SECONDS", "ANNOTATOR_LOGIN_WINDOW_SECONDS", "ANNOTATOR_LOGIN_MAX_FAILURES",
                                      "ANNOTATOR_LOGIN_MAX_FAILURES_PER_ADDRESS", "ANNOTATOR_MAX_UPLOAD_MB", "ANNOTATOR_PROXY_COUNT"])
@pytest.mark.parametrize("value", ["100000000000000", "ten", "-1"])
def test_every_numeric_setting_out_of_its_bounds_is_refused_at_start_up(monkeypatch, database_uri, variable, value):
    """ANNOTATOR_LOGIN_LOCKOUT_SECONDS (or the window) of 10**14 started the app, then every failed login was a 500
    (the backoff overflowed a date); a word was a bare int() traceback. Each is one start-up error naming the variable."""
    from .conftest import make_app

    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=f"{variable} must be a whole number of .* from "):
        make_app(database_uri)


def test_the_largest_lockout_and_window_still_answer_a_failed_login(monkeypatch, database_uri):
    from .conftest import make_app

    monkeypatch.setenv("ANNOTATOR_LOGIN_LOCKOUT_SECONDS", "31536000")
    monkeypatch.setenv("ANNOTATOR_LOGIN_WINDOW_SECONDS", "31536000")
    monkeypatch.setenv("ANNOTATOR_LOGIN_MAX_FAILURES", "1")
    app = make_app(database_uri)
    add_user(app, "ann")
    browser = Browser(app.test_client())
    browser.get("/login")
    statuses = [browser.post("/login", {"name": "ann", "password": "wrong guess"}).status_code for _ in range(3)]
    assert 500 not in statuses and all(400 <= s < 500 for s in statuses), statuses
    with app.app_context():
        db.engine.dispose()
