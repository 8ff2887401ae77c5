"""The guidelines editor in a real browser (Debian's Chromium): one Preview control that shows the
rendered guidelines in the editor's place and toggles back to Edit, and a new project's first
saved guidelines are version 1."""
from __future__ import annotations

from sqlalchemy import select

from annotator.db import db
from annotator.db.models import GuidelineVersion
from annotator.db.transactions import begin_write
from annotator.domain import projects

from .conftest import add_user, needs_chromium
from .test_admin_browser import log_in

PASSWORD = "correct horse"

pytestmark = needs_chromium


def test_preview_takes_the_editors_place_and_the_first_save_is_version_1(app, server, chromium):
    add_user(app, "root", "admin", PASSWORD)
    with app.app_context():
        begin_write(db.session)
        pid = projects.create_project(db.session, "Harbour news").id
        db.session.commit()
    page = log_in(chromium, server, "root")
    try:
        page.goto(f"{server}/admin/projects/{pid}/guidelines")
        page.wait_for_load_state("load")
        controls = page.locator("button, [role=tab]")
        assert [t.strip() for t in controls.all_inner_texts() if t.strip() in ("Preview", "Edit", "Write")] == ["Preview"]
        page.fill("textarea#text", "# Ferry timetable claims\n\nA **number** about sailings is check-worthy.")

        page.click("#preview-guidelines")
        page.wait_for_selector("#live-preview h1:has-text('Ferry timetable claims')")
        assert page.is_hidden("textarea#text") and page.is_visible("#live-preview")
        assert page.inner_text("#preview-guidelines") == "Edit"
        assert page.locator("button:has-text('Preview')").count() == 0

        page.click("#preview-guidelines")
        assert page.is_visible("textarea#text") and page.is_hidden("#live-preview")
        assert page.inner_text("#preview-guidelines") == "Preview"

        page.click("#save-guidelines")
        # a click returns once the saved page's navigation commits, its HTML not yet parsed: count() does not wait
        page.wait_for_url(f"{server}/admin/projects/{pid}/guidelines", wait_until="load")
        page.wait_for_selector("text=Saved as version 1")
        assert page.locator("#versions tbody tr").count() == 1
        with app.app_context():
            saved = [(v, text.replace("\r\n", "\n")) for v, text in db.session.execute(select(GuidelineVersion.version, GuidelineVersion.text))]
            assert saved == [(1, "# Ferry timetable claims\n\nA **number** about sailings is check-worthy.")]  # a form sends CRLF
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_guidelines_of_200000_cyrillic_characters_with_newlines_preview_and_save_in_the_browser(app, server, chromium):
    """The walk's case in a real browser: 200,000 Cyrillic characters (a line break every 80, which the browser sends
    as CRLF, a character more each) preview through the page's script and save; before, the save was a 413."""
    add_user(app, "root", "admin", PASSWORD)
    with app.app_context():
        begin_write(db.session)
        pid = projects.create_project(db.session, "Новости").id
        db.session.commit()
    line = "ж" * 79 + "\n"
    text = line * (200_000 // len(line))
    assert len(text) == 200_000
    page = log_in(chromium, server, "root")
    try:
        page.goto(f"{server}/admin/projects/{pid}/guidelines")
        page.wait_for_load_state("load")
        # set as a paste would (page.fill types it in input events, past 30 s on a loaded machine)
        page.evaluate("t => { const box = document.getElementById('text'); box.value = t; box.dispatchEvent(new Event('input')); }", text)
        page.click("#preview-guidelines")
        page.wait_for_selector("#live-preview p")
        assert page.evaluate("document.getElementById('live-preview').textContent.split('ж').length - 1") == 200_000 - text.count("\n")
        page.click("#preview-guidelines")
        page.click("#save-guidelines")
        page.wait_for_url(f"{server}/admin/projects/{pid}/guidelines", wait_until="load")
        page.wait_for_selector("text=Saved as version 1")
        with app.app_context():
            saved = db.session.scalar(select(GuidelineVersion.text).where(GuidelineVersion.version == 1))
            assert saved.replace("\r\n", "\n") == text
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        page.context.close()
