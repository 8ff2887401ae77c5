"""Error pages: 403, 404 and 500 come in the app's frame (the base layout with its navigation) and
say what the person can do next; JSON clients (/api/…, or asking for JSON) get JSON errors."""
from __future__ import annotations

import re

import pytest

from annotator.db import db

from .conftest import Browser, add_user, make_app

PASSWORD = "correct horse"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def links(html: str) -> dict[str, str]:
    """Link text -> href of the error card's 'what next' links."""
    card = html[html.index('id="error-page"'):]
    return {re.sub(r"\s+", " ", t).strip(): href for href, t in re.findall(r'<a[^>]*href="([^"]*)"[^>]*>(.*?)</a>', card, re.S)}


@pytest.fixture
def failing_app(database_uri):
    """The app with one route that fails, as production runs it (exceptions are not propagated)."""
    app = make_app(database_uri, PROPAGATE_EXCEPTIONS=False)

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internal detail 0xdeadbeef")

    @app.route("/api/boom")
    def api_boom():
        raise RuntimeError("secret internal detail 0xdeadbeef")

    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_500_is_a_page_in_the_app_frame_that_says_what_to_do(failing_app):
    add_user(failing_app, "ann", "annotator", PASSWORD)
    browser = Browser(failing_app.test_client())
    browser.login("ann", PASSWORD)
    response = browser.get("/boom", headers={"Referer": "http://localhost/"})
    assert response.status_code == 500 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<header class="topbar">' in html and "ann" in html  # the frame, with who is logged in
    words = text_of(html)
    assert "Something went wrong on our side" in words
    assert "Try again" in words and "tell an admin" in words
    assert "secret internal detail" not in html and "RuntimeError" not in html and "Traceback" not in html
    assert links(html).get("Your projects") == "/"


def test_a_500_for_a_json_client_stays_json(failing_app):
    response = failing_app.test_client().get("/api/boom")
    assert response.status_code == 500 and response.is_json
    assert response.json["status"] == 500 and "secret" not in response.get_data(as_text=True)


def test_a_404_says_where_to_go(app, browser):
    html = browser.get("/no/such/page").get_data(as_text=True)
    assert '<header class="topbar">' in html
    words = text_of(html)
    assert "There is no page at this address" in words
    assert links(html) == {"Log in": "/login", "Go to the start page": "/"}  # not logged in: log in first

    add_user(app, "ann", "annotator", PASSWORD)
    browser.login("ann", PASSWORD)
    response = browser.get("/no/such/page", headers={"Referer": "http://localhost/"})
    assert response.status_code == 404
    assert links(response.get_data(as_text=True)) == {"Go back": "http://localhost/", "Your projects": "/"}


def test_a_404_with_a_reason_shows_it(app, browser):
    # an admin: a reviewer gets 403 for a project they are not a member of, existing or not (test_review_pages)
    add_user(app, "root", "admin", PASSWORD)
    browser.login("root", PASSWORD)
    response = browser.get("/review/424242/agreement")
    assert response.status_code == 404
    assert "There is no project 424242." in text_of(response.get_data(as_text=True))


def test_a_403_names_the_account_and_the_way_out(app, browser):
    add_user(app, "ann", "annotator", PASSWORD)
    browser.login("ann", PASSWORD)
    response = browser.get("/review/")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert '<header class="topbar">' in html
    words = text_of(html)
    assert "You are logged in as ann (annotator)" in words and "ask an admin" in words
    assert links(html)["Your projects"] == "/"
    assert 'action="/logout"' in html[html.index('id="error-page"'):]  # log in as someone else


def test_another_host_in_the_referer_is_not_offered_as_back(app, browser):
    add_user(app, "ann", "annotator", PASSWORD)
    browser.login("ann", PASSWORD)
    html = browser.get("/no/such/page", headers={"Referer": "https://evil.example/"}).get_data(as_text=True)
    assert "evil.example" not in html and "Go back" not in links(html)


def test_json_clients_keep_json_errors(app, browser):
    add_user(app, "ann", "annotator", PASSWORD)
    browser.login("ann", PASSWORD)
    response = browser.get("/api/no/such/thing")
    assert response.status_code == 404 and response.is_json and response.json["status"] == 404
    response = browser.get("/review/", headers={"Accept": "application/json"})
    assert response.status_code == 403 and response.is_json


@pytest.mark.browser
@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium is absent")
def test_404_and_403_in_a_browser_show_the_frame_and_the_way_on(app, server, chromium):
    add_user(app, "ann", "annotator", PASSWORD)
    context = chromium.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "favicon" not in m.text
            and "404" not in m.text and "403" not in m.text else None)  # the statuses themselves are logged
    try:
        response = page.goto(f"{server}/no/such/page")
        assert response.status == 404
        assert page.is_visible("header.topbar a.brand")
        assert page.inner_text("#error-page h1") == "There is no page at this address"
        page.click("#error-page a:has-text('Log in')")
        page.fill("input[name=name]", "ann")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")

        page.evaluate("location.assign('/no/such/page')")  # as a link would: the start page is the referrer
        page.wait_for_url(f"{server}/no/such/page")
        assert page.inner_text("header.topbar .user").startswith("ann")  # the frame knows who is here
        page.click("#error-page a:has-text('Go back')")
        page.wait_for_url(f"{server}/")

        response = page.goto(f"{server}/review/")
        assert response.status == 403
        assert page.is_visible("header.topbar a.brand")
        assert page.inner_text("#error-page h1") == "You may not open this page"
        assert "You are logged in as ann (annotator)." in page.inner_text("#error-page")
        # the card's buttons share the app's button style (not bare links)
        assert page.locator("#error-page a.button").first.evaluate("e => getComputedStyle(e).display") == "inline-block"
        page.click("#error-page a:has-text('Your projects')")
        page.wait_for_url(f"{server}/")
        page.goto(f"{server}/review/")
        page.click("#error-page button:has-text('Log in as someone else')")
        page.wait_for_url(f"{server}/login*")
        assert problems == []
    finally:
        context.close()
