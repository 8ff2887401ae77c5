"""An admin renames a label in a real browser (Debian's Chromium): the Settings page's form, its answer and the list
of renames, on a desktop window and on a 390 px phone (nothing scrolls sideways); any console error fails."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Annotation

from .conftest import add_user, needs_chromium
from .test_admin_browser import log_in
from .test_export import build_project

pytestmark = needs_chromium


@pytest.mark.parametrize("width", [1280, 390])
def test_an_admin_renames_a_label_in_the_browser(app, chromium, server, width):
    info = build_project(app)
    add_user(app, "root", "admin")
    page = log_in(chromium, server, "root", width=width, height=900, touch=width < 500)
    try:
        page.goto(f"{server}/admin/projects/{info['project_id']}/edit")
        page.select_option("#label", "span_labels/SOURCE")
        page.fill("#new_name", "Speaker")
        page.click("#rename-label button[type=submit]")
        # a click returns once the answer's navigation commits, its HTML not yet parsed: count() and evaluate() do not wait
        page.wait_for_url(f"{server}/admin/projects/{info['project_id']}/edit", wait_until="load")
        page.wait_for_selector(".flash-success")
        assert page.inner_text(".flash-success") == "Span label 'SOURCE' renamed to 'Speaker' (spans: 2, gold spans: 1)."
        assert "span label SOURCE → Speaker" in page.inner_text("#renames")
        assert page.locator("#label option[value='span_labels/Speaker']").count() == 1
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert not page.errors, page.errors
        page.select_option("#label", "sentence_labels/CFS")
        page.fill("#new_name", "UFS")
        page.click("#rename-label button[type=submit]")
        page.wait_for_url(f"{server}/admin/projects/{info['project_id']}/rename-label", wait_until="load")  # the refusal's page
        assert "the name 'UFS' is taken" in page.inner_text("#new_name-errors")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert page.errors == ["Failed to load resource: the server responded with a status of 400 (BAD REQUEST)"]  # the refused form's page
    finally:
        page.context.close()
    with app.app_context():
        assert "CFS" in db.session.scalars(select(Annotation.label)).all()
