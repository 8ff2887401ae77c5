"""ANNOTATOR_TRUSTED_HOSTS: with it set, a request for another host is a 400 that says so, on every route; unset, any
Host is taken as before. The REST API's `next` link is absolute, built from the Host header, so a spoofed one
handed clients a link to another host."""
from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder

from annotator.cli.demo import trust_where_served
from annotator.db import db
from annotator.domain import accounts

from .conftest import make_app

SERVED_AS = "annotate.example.org"


def admin_token(app) -> str:
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.create_user(db.session, "boss", "admin", "correct horse"))
        db.session.commit()
        return token


def two_projects(app, token: str, host: str) -> None:
    client = app.test_client()
    for name in ("One", "Two"):
        response = client.post("/api/projects", json={"name": name}, headers={"Authorization": f"Bearer {token}", "Host": host})
        assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture
def guarded(database_uri, monkeypatch):
    monkeypatch.setenv("ANNOTATOR_TRUSTED_HOSTS", f" {SERVED_AS}, .example.net ")
    app = make_app(database_uri)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


ROUTES = [("GET", "/login"), ("POST", "/login"), ("GET", "/"), ("GET", "/api/projects"), ("POST", "/api/projects"),
          ("GET", "/static/css/app.css"), ("GET", "/no/such/page"), ("HEAD", "/login"), ("OPTIONS", "/api/projects")]


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_spoofed_host_is_a_400_that_says_so_on_every_route(guarded, method, path):
    """Flask's own check left the request without a URL adapter and the error page read request.host again: a 500."""
    client = guarded.test_client()
    for host in ("evil.example", "evil.example:8000", f"{SERVED_AS}.evil.example", "example.net.evil"):
        response = client.open(path, method=method, headers={"Host": host})
        assert response.status_code == 400, (host, response.status_code)
        if method != "HEAD":
            body = response.get_data(as_text=True)
            assert "not served under the host name" in body and "ANNOTATOR_TRUSTED_HOSTS" in body, body[:300]
            assert response.is_json == path.startswith("/api/"), response.content_type
    served = client.open(path, method=method, headers={"Host": f"{SERVED_AS}:8443"})  # the port is not part of the name
    assert served.status_code < 500 and "not served under the host name" not in served.get_data(as_text=True)


def test_a_forwarded_host_is_checked_too(database_uri, monkeypatch):
    """Behind a proxy (ANNOTATOR_PROXY_COUNT) the host is the proxy's X-Forwarded-Host: that is the one checked."""
    monkeypatch.setenv("ANNOTATOR_TRUSTED_HOSTS", SERVED_AS)
    monkeypatch.setenv("ANNOTATOR_PROXY_COUNT", "1")
    client = make_app(database_uri).test_client()
    assert client.get("/login", headers={"Host": "127.0.0.1:8000", "X-Forwarded-Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "127.0.0.1:8000", "X-Forwarded-Host": SERVED_AS}).status_code == 200


def test_the_next_link_names_the_host_the_app_is_served_under(guarded):
    token = admin_token(guarded)
    two_projects(guarded, token, SERVED_AS)
    client = guarded.test_client()
    for host in (SERVED_AS, "eu.example.net"):
        page = client.get("/api/projects?per_page=1", headers={"Authorization": f"Bearer {token}", "Host": host}).get_json()
        assert page["next"].startswith(f"http://{host}/api/projects?cursor="), page
    spoofed = client.get("/api/projects?per_page=1", headers={"Authorization": f"Bearer {token}", "Host": "evil.example"})
    assert spoofed.status_code == 400 and "evil.example" not in str(spoofed.get_json().get("next"))


def test_unset_any_host_is_taken_as_before(app):
    """The demo's and a developer's default: 127.0.0.1, localhost or any other name opens the app."""
    token = admin_token(app)
    two_projects(app, token, "localhost")
    client = app.test_client()
    for host in ("127.0.0.1:5000", "localhost", "anything.example"):
        assert client.get("/login", headers={"Host": host}).status_code == 200
        page = client.get("/api/projects?per_page=1", headers={"Authorization": f"Bearer {token}", "Host": host}).get_json()
        assert page["next"].startswith(f"http://{host}/api/projects?cursor=")


def test_an_address_in_brackets_lets_in_that_address_only(database_uri, monkeypatch):
    """An IPv6 address is a name the setting takes ([::1], a server's address for a health check). Werkzeug's check
    cut every host at its first colon, so [::1] stood for '[' and let in any address written from '::' ([::2],
    [::ffff:203.0.113.9], which a browser reaches over IPv4), and [2001:db8::1] any address in 2001:...: links
    handed out named them."""
    monkeypatch.setenv("ANNOTATOR_TRUSTED_HOSTS", f"{SERVED_AS},[::1],[2001:db8::1]")
    app = make_app(database_uri)
    token = admin_token(app)
    two_projects(app, token, SERVED_AS)
    client = app.test_client()
    for host in ("[::1]", "[::1]:8000", "[2001:db8::1]:8443", "[2001:DB8:0::1]", SERVED_AS):
        page = client.get("/api/projects?per_page=1", headers={"Authorization": f"Bearer {token}", "Host": host})
        assert page.status_code == 200, (host, page.get_json())
    for host in ("[::2]", "[::ffff:203.0.113.9]:80", "[::]", "[2001:db8::66]", "[2001:db9::1]", "[::1]x", "[fe80::1]"):
        page = client.get("/api/projects?per_page=1", headers={"Authorization": f"Bearer {token}", "Host": host})
        assert page.status_code == 400, (host, page.get_json())
        assert "not served under the host name" in page.get_json()["error"] and "next" not in page.get_json()
    # brackets that hold no address (werkzeug's pattern takes them; its test client cannot send them)
    environ = EnvironBuilder(path="/login").get_environ()
    environ["HTTP_HOST"] = "[::1.2.3.4.5]"
    status: list[str] = []
    b"".join(app(environ, lambda sent, headers, exc_info=None: status.append(sent)))
    assert status == ["400 BAD REQUEST"]


@pytest.mark.parametrize("value", ["https://annotate.example.org", "annotate.example.org/", "*.example.org",
                                   "annotate.example.org:443", "annotate example.org", "-bad.example"])
def test_a_name_no_host_header_could_match_is_refused_at_start_up(database_uri, monkeypatch, value):
    """A URL or a port there would match no request: every one a 400, everyone locked out. A start-up error instead."""
    monkeypatch.setenv("ANNOTATOR_TRUSTED_HOSTS", f"ok.example,{value}")
    with pytest.raises(ValueError, match="ANNOTATOR_TRUSTED_HOSTS must be the host names the app is served under"):
        make_app(database_uri)


def test_the_demo_answers_where_it_serves_with_the_setting_on(guarded):
    trust_where_served(guarded, "0.0.0.0")
    client = guarded.test_client()
    for host in ("127.0.0.1:5000", "localhost:5000", "0.0.0.0:5000", SERVED_AS):
        assert client.get("/login", headers={"Host": host}).status_code == 200, host
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
