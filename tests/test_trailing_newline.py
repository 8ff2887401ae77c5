"""A name, id or colour checked by a `^...$` pattern with re.match took one trailing newline: `$` matches before a
final "\\n". Those checks (user names, label names and colours, span / relation / suggestion ids) must refuse it."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Article, Span
from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.annotations import AnnotationError
from annotator.domain.annotations.validation import check_uid
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

SCHEMA = {
    "sentence_labels": [{"name": "CFS"}, {"name": "NFS"}],
    "span_labels": [{"name": "QUOTE"}, {"name": "SOURCE"}],
    "relation_types": [{"name": "attributed_to", "from": ["QUOTE"], "to": ["SOURCE"]}],
}


def test_a_span_id_with_a_trailing_newline_is_refused():
    assert check_uid("quote-0001") == "quote-0001"
    with pytest.raises(AnnotationError) as caught:
        check_uid("quote-0001\n")
    assert caught.value.status == 400


def test_a_user_name_with_a_trailing_newline_is_refused():
    assert accounts.check_name("bob") == "bob"
    with pytest.raises(accounts.AccountError):
        accounts.check_name("bob\n")


@pytest.mark.parametrize(("section", "field", "value"), [
    ("sentence_labels", "name", "CFS\n"), ("span_labels", "name", "QUOTE\n"), ("relation_types", "name", "attributed_to\n"),
    ("span_labels", "color", "#1f77b4\n"),
])
def test_a_label_name_or_colour_with_a_trailing_newline_is_refused(section, field, value):
    labelschema.validate(SCHEMA)
    schema = {key: [dict(item) for item in items] for key, items in SCHEMA.items()}
    schema[section][0][field] = value
    if section == "span_labels" and field == "name":
        schema["relation_types"][0]["from"] = [value]
    with pytest.raises(labelschema.SchemaError):
        labelschema.validate(schema)


def test_the_api_refuses_a_span_id_with_a_trailing_newline_and_stores_nothing(app):
    text = "Prices rose. \u201cThey will fall,\u201d said the baker."
    with app.app_context():
        s = db.session
        ann = accounts.create_user(s, "ann", "annotator", "a long enough password")
        project = projects.create_project(s, "P", SCHEMA)
        articles.store_articles(s, project, [ArticleRecord("a", "T", text)], "test")
        assignment.assign_to_user(s, project.id, ann, ["a"])
        token = accounts.issue_token(s, ann)
        s.commit()
        article_id = s.scalar(select(Article.id))
    start = text.index("\u201c")
    client = app.test_client()
    answer = client.post(f"/api/articles/{article_id}/changes", headers={"Authorization": f"Bearer {token}"},
                         json={"operations": [{"op": "create_span", "label": "QUOTE", "start": start, "end": start + 16, "id": "quote-0001\n"}]})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Span)) == 0
