"""Article-level labels (issue 18): the API that sets and clears them, blind reading, audit, and what a schema edit must keep."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import ArticleLabel, AuditEntry, Project
from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import Browser

TEXT = "The council raised fees. \u201cIt is fair,\u201d the mayor said \U0001f600. Shops disagree."


def schema_with_groups() -> dict:
    schema = labelschema.preset("claims")
    schema["article_labels"] = [
        {"name": "stance", "description": "The article's stance on the fees.", "values": ["support", "oppose", "neutral"]},
        {"name": "topics", "values": ["economy", "local-government", "culture"], "multiple": True},
    ]
    return schema


@dataclass
class World:
    article: int  # ann and bob
    unassigned: int
    project: int
    tokens: dict[str, str]


@pytest.fixture
def world(app) -> World:
    with app.app_context():
        s = db.session
        users = {name: accounts.create_user(s, name, role, "correct horse" if name == "ann" else None)
                 for name, role in [("ann", "annotator"), ("bob", "annotator"), ("rev", "reviewer")]}
        project = projects.create_project(s, "P", schema_with_groups())
        articles.store_articles(s, project, [ArticleRecord("a1", "Fees", TEXT), ArticleRecord("a2", "Other", "Nobody has this one.")], "test")
        assignment.assign_to_user(s, project.id, users["ann"], ["a1"])
        assignment.assign_to_user(s, project.id, users["bob"], ["a1"])
        projects.add_members(s, project.id, [users["rev"]])
        tokens = {name: accounts.issue_token(s, user) for name, user in users.items()}
        s.commit()
        ids = {a.external_id: a.id for a in project.articles}
        return World(ids["a1"], ids["a2"], project.id, tokens)


def call(app, world: World, who: str, method: str, path: str, body=None):
    headers = {"Authorization": f"Bearer {world.tokens[who]}"}
    return app.test_client().open(f"/api/articles/{world.article}{path}", method=method, json=body, headers=headers)


def test_set_read_change_and_clear_an_article_label(app, world):
    response = call(app, world, "ann", "PUT", "/article-labels/stance", {"values": ["oppose"]})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["values"] == ["oppose"] and response.get_json()["version"] == 1
    answer = call(app, world, "ann", "PUT", "/article-labels/topics", {"values": ["local-government", "economy"]}).get_json()
    assert answer["values"] == ["economy", "local-government"]  # stored sorted
    labels = call(app, world, "ann", "GET", "").get_json()["annotations"]["article_labels"]
    assert [(x["group"], x["values"], x["origin"]) for x in labels] == [("stance", ["oppose"], "manual"), ("topics", ["economy", "local-government"], "manual")]
    assert call(app, world, "ann", "PUT", "/article-labels/stance", {"values": "neutral", "version": 1}).get_json()["version"] == 2
    assert call(app, world, "ann", "DELETE", "/article-labels/topics").status_code == 204
    labels = call(app, world, "ann", "GET", "").get_json()["annotations"]["article_labels"]
    assert [(x["group"], x["values"]) for x in labels] == [("stance", ["neutral"])]
    with app.app_context():
        trail = db.session.execute(select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.action).where(AuditEntry.entity != "user").order_by(AuditEntry.id)).all()
        assert trail == [("article_label", "stance", "create"), ("article_label", "topics", "create"),
                         ("article_label", "stance", "update"), ("article_label", "topics", "delete")]
        assert db.session.scalar(select(Project.revision).where(Project.id == world.project)) == 4


def test_article_labels_are_blind(app, world):
    assert call(app, world, "ann", "PUT", "/article-labels/stance", {"values": ["oppose"]}).status_code == 200
    assert call(app, world, "bob", "GET", "").get_json()["annotations"]["article_labels"] == []
    assert call(app, world, "bob", "DELETE", "/article-labels/stance").status_code == 404  # not bob's to clear
    assert call(app, world, "bob", "PUT", "/article-labels/stance", {"values": ["support"]}).status_code == 200
    mine = call(app, world, "ann", "GET", "").get_json()["annotations"]["article_labels"]
    assert [x["values"] for x in mine] == [["oppose"]]


@pytest.mark.parametrize(
    "group, body, status, words",
    [
        ("stance", {"values": ["support", "oppose"]}, 422, ("takes one value, not 2",)),
        ("stance", {"values": ["maybe"]}, 422, ("has no value 'maybe'", "support, oppose, neutral")),
        ("tone", {"values": ["calm"]}, 422, ("unknown article label group 'tone'",)),
        ("topics", {"values": []}, 422, ("at least one value",)),
        ("topics", {"values": ["economy", "economy"]}, 422, ("must not repeat",)),
        ("topics", {"values": [1]}, 400, ("values must be a list of texts",)),
        ("topics", {"value": ["economy"]}, 400, ("unknown field",)),
        ("stance", {"values": ["oppose"], "version": 3}, 409, ("changed elsewhere",)),
    ],
)
def test_bad_article_label_writes_are_refused_and_write_nothing(app, world, group, body, status, words):
    response = call(app, world, "ann", "PUT", f"/article-labels/{group}", body)
    assert response.status_code == status, response.get_data(as_text=True)
    for word in words:
        assert word in response.get_json()["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ArticleLabel)) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity != "user")) == 0  # the users were audited as made


def test_a_stale_removal_is_a_409_and_clears_nothing(app, world):
    """A removal with the version a stale tab saw does not clear the answer another tab set since; without a version
    (an old client) it clears as before, and a batch's removal checks its version as the single endpoint does."""
    assert call(app, world, "ann", "PUT", "/article-labels/stance", {"values": ["oppose"]}).get_json()["version"] == 1
    assert call(app, world, "ann", "PUT", "/article-labels/stance", {"values": ["support"], "version": 1}).get_json()["version"] == 2  # another tab
    stale = call(app, world, "ann", "DELETE", "/article-labels/stance?version=1")
    assert stale.status_code == 409 and "changed elsewhere" in stale.get_json()["error"]
    assert (stale.get_json()["current"]["values"], stale.get_json()["current"]["version"]) == (["support"], 2)
    batch = call(app, world, "ann", "POST", "/changes", {"operations": [
        {"op": "put_article_label", "group": "topics", "values": ["economy"]},
        {"op": "delete_article_label", "group": "stance", "version": 1},
    ]})
    assert batch.status_code == 409 and (batch.get_json()["index"], batch.get_json()["op"]) == (1, "delete_article_label")
    assert batch.get_json()["current"]["values"] == ["support"]
    assert call(app, world, "ann", "DELETE", "/article-labels/stance?version=x").status_code == 400
    mine = call(app, world, "ann", "GET", "").get_json()["annotations"]["article_labels"]
    assert [(x["group"], x["values"], x["version"]) for x in mine] == [("stance", ["support"], 2)]  # neither the 409s nor the batch's put stored
    assert call(app, world, "ann", "POST", "/changes", {"operations": [{"op": "delete_article_label", "group": "stance", "version": 2}]}).status_code == 200
    assert call(app, world, "ann", "PUT", "/article-labels/stance", {"values": ["neutral"]}).status_code == 200
    assert call(app, world, "ann", "DELETE", "/article-labels/stance").status_code == 204  # no version: no check
    assert call(app, world, "ann", "GET", "").get_json()["annotations"]["article_labels"] == []
    with app.app_context():
        trail = db.session.execute(select(AuditEntry.action).where(AuditEntry.entity == "article_label").order_by(AuditEntry.id)).scalars().all()
        assert trail == ["create", "update", "delete", "create", "delete"]


def test_only_assigned_annotators_write_article_labels(app, world):
    headers = {"Authorization": f"Bearer {world.tokens['ann']}"}
    response = app.test_client().put(f"/api/articles/{world.unassigned}/article-labels/stance", json={"values": ["oppose"]}, headers=headers)
    assert response.status_code == 404 and "among the ones assigned to you" in response.get_json()["error"]
    assert call(app, world, "rev", "PUT", "/article-labels/stance", {"values": ["oppose"]}).status_code == 403


def test_the_browser_session_needs_its_csrf_token(app, world):
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    url = f"/api/articles/{world.article}/article-labels/stance"
    assert browser.client.put(url, json={"values": ["oppose"]}).status_code == 400
    assert browser.send_json("PUT", url, {"values": ["oppose"]}).status_code == 200


def test_the_annotation_page_shows_the_groups_once_at_the_top(app, world):
    browser = Browser(app.test_client())
    browser.login("ann", "correct horse")
    html = browser.get(f"/annotate/{world.article}").get_data(as_text=True)
    assert html.count('id="article-labels"') == 1
    assert html.index('id="article-labels"') < html.index('id="article-title"')
    assert 'type="radio" name="article-stance" value="oppose"' in html
    assert 'type="checkbox" name="article-topics" value="culture"' in html


def test_a_schema_edit_must_keep_article_label_groups_in_use(app, world):
    assert call(app, world, "ann", "PUT", "/article-labels/stance", {"values": ["oppose"]}).status_code == 200
    with app.app_context():
        project = db.session.get(Project, world.project)
        schema = schema_with_groups()
        schema["article_labels"] = schema["article_labels"][1:]
        with pytest.raises(projects.ProjectError, match="article_labels: 'stance' already used in stored work"):
            projects.update_project(db.session, project, schema=schema)
