"""The upload page's "Compute suggestions for these articles": what `annotator import --suggest` does, from the browser's form."""
from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Article, Project, Suggestion
from annotator.stats import attribution
from tests.conftest import add_user

TEXT = "Bridge to reopen\n\u201cWe are nearly there,\u201d the engineer said.\n"


def upload(admin, project_id: int, rows: list[dict], name: str = "a.jsonl", **fields):
    content = "".join(json.dumps(r) + "\n" for r in rows).encode()
    data = {"files": [(io.BytesIO(content), name)], "on_duplicate": "error", **fields}
    return admin.post(f"/admin/projects/{project_id}/upload", data, content_type="multipart/form-data")


def suggested_articles(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(
            select(Article.external_id, func.count(Suggestion.id)).join(Suggestion, Suggestion.article_id == Article.id).group_by(Article.external_id)
        ).all())


def project_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Project.id))


def make_project(admin, app) -> int:
    add_user(app, "root", "admin")
    assert admin.login("root", "correct horse").status_code == 302
    data = {"name": "news", "schema_source": "preset", "preset": "claims", "annotators_per_article": "2", "majority_threshold": "1"}
    assert admin.post("/admin/projects/new", data, content_type="multipart/form-data").status_code == 302
    return project_id(app)


def test_the_upload_form_offers_the_checkbox_and_computes_suggestions_when_ticked(app, browser):
    pid = make_project(browser, app)
    form = browser.get(f"/admin/projects/{pid}/upload").get_data(as_text=True)
    assert 'type="checkbox"' in form and "Compute suggestions for these articles" in form
    plain = upload(browser, pid, [{"id": "first", "text": TEXT}])
    assert plain.status_code == 200 and "upload-suggestions" not in plain.get_data(as_text=True)
    assert suggested_articles(app) == {}  # not ticked: no suggestions
    ticked = upload(browser, pid, [{"id": "second", "text": TEXT}], name="b.jsonl", suggest="y")
    html = ticked.get_data(as_text=True)
    n = len(attribution.suggest(TEXT).spans) + len(attribution.suggest(TEXT).relations)
    assert ticked.status_code == 200
    assert f"Suggestions: {n} for 1 article, {n} new." in html
    assert "Suggestions are off for this project: annotators see none until an admin turns them on." in html
    assert suggested_articles(app) == {"second": n}


def test_a_rejected_file_gets_no_suggestions_and_the_other_files_do(app, browser):
    pid = make_project(browser, app)
    content = {"files": [(io.BytesIO(b'{"id": "x", "text": \n'), "bad.jsonl"),
                         (io.BytesIO((json.dumps({"id": "good", "text": TEXT}) + "\n").encode()), "good.jsonl")],
               "on_duplicate": "error", "suggest": "y"}
    response = browser.post(f"/admin/projects/{pid}/upload", content, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert "bad.jsonl:1: invalid JSON" in html and "for 1 article" in html
    assert set(suggested_articles(app)) == {"good"}
