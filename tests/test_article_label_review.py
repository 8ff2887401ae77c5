"""Article labels in review: the small-sample note on their agreement, their disputes in the disagreement queue, a
reviewer's gold decision on them (stored, audited, in the gold export), and its round trip through the article unit."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import ArticleLabel, AuditEntry, GoldArticleLabel, Project
from annotator.domain import accounts, agreement, assignment, projects
from annotator.domain.agreement.article_label_figures import MIN_ARTICLES
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import Browser
from .test_article_labels import schema_with_groups
from .test_export import validate

PASSWORD = "correct horse"


@dataclass
class World:
    project: int
    articles: list[int]  # a0, a1, ...: ann, bob and cat on each


def make_world(app, answers: list[dict[str, dict[str, list[str]]]], title: str = "Article {k}",
               text: str = "Fees rose in town {k}. The mayor said so.") -> World:
    """One article per item of `answers` ({annotator: {group: values}}), ann, bob and cat assigned to each, and rev, a
    reviewer of the project. `title` and `text` are formatted with the article's number k."""
    with app.app_context():
        s = db.session
        users = {name: accounts.create_user(s, name, role, PASSWORD) for name, role in
                 [("ann", "annotator"), ("bob", "annotator"), ("cat", "annotator"), ("rev", "reviewer")]}
        project = projects.create_project(s, "P", schema_with_groups(), annotators_per_article=3)
        records = [ArticleRecord(f"a{k}", title.format(k=k), text.format(k=k)) for k in range(len(answers))]
        articles.store_articles(s, project, records, "test")
        for name in ("ann", "bob", "cat"):
            assignment.assign_to_user(s, project.id, users[name], [r.external_id for r in records])
        projects.add_members(s, project.id, [users["rev"]])
        s.commit()
        ids = {a.external_id: a.id for a in project.articles}
        article_ids = [ids[f"a{k}"] for k in range(len(answers))]
        for article_id, given in zip(article_ids, answers, strict=True):
            for name, groups in given.items():
                for group, values in groups.items():
                    annotations.write(s, lambda a=article_id, n=name, g=group, v=values: annotations.put_article_label(s, users[n].id, a, g, v))
        return World(project.id, article_ids)


SPLIT = {"ann": {"stance": ["oppose"], "topics": ["economy"]}, "bob": {"stance": ["oppose"], "topics": ["economy"]},
         "cat": {"stance": ["support"], "topics": ["economy"]}}  # stance disputed (2 of 3: no gold unless the majority rule is on), topics agreed


def reviewer(app) -> Browser:
    browser = Browser(app.test_client())
    response = browser.login("rev", PASSWORD)
    assert response.status_code == 302
    return browser


# ----------------------------------------------------------------- agreement: the small-sample note
def test_article_label_agreement_says_when_too_few_articles_back_it(app):
    world = make_world(app, [SPLIT, SPLIT])
    html = reviewer(app).get(f"/review/{world.project}/agreement").get_data(as_text=True)
    row = html.split('id="article-group-stance"')[1].split("</tr>")[0]
    assert f"2 articles with answers from two or more annotators: fewer than {MIN_ARTICLES}, too few for these figures to mean much" in row
    printed = app.test_cli_runner().invoke(args=["agreement", "P"])
    assert f"  stance: 2 articles with answers from two or more annotators: fewer than {MIN_ARTICLES}" in printed.output
    with app.app_context():
        groups = agreement.document(db.session, world.project)["article_labels"]
        assert [g["small_sample"] is not None for g in groups] == [True, True]


def test_enough_articles_carry_no_note(app):
    world = make_world(app, [SPLIT] * MIN_ARTICLES)
    html = reviewer(app).get(f"/review/{world.project}/agreement").get_data(as_text=True)
    assert 'class="small-sample"' not in html.split('id="article-labels"')[1].split("</table>")[0]


# ----------------------------------------------------------------- the queue
def test_article_label_disputes_are_in_the_queue(app):
    agreed = {name: {"stance": ["support"]} for name in ("ann", "bob", "cat")}
    world = make_world(app, [SPLIT, agreed])
    html = reviewer(app).get(f"/review/{world.project}/queue").get_data(as_text=True)
    queue = html.split('id="article-queue"')[1].split("</table>")[0]
    assert queue.count("<tr data-article") == 1  # the stance of a0; a0's topics and a1 are agreed
    assert f'data-article="{world.articles[0]}" data-group="stance"' in queue
    assert "oppose × 2" in queue and "support × 1" in queue
    assert f'href="/review/{world.project}/articles/{world.articles[0]}/labels"' in queue


def test_a_reviewer_adjudicates_an_article_label_into_gold(app, runner, tmp_path):
    world = make_world(app, [SPLIT, SPLIT])
    browser = reviewer(app)
    url = f"/review/{world.project}/articles/{world.articles[0]}/labels"
    page = browser.get(url).get_data(as_text=True)
    assert 'data-annotator="cat">cat: support</span>' in page
    assert 'name="gold-stance" value="oppose" checked' in page  # the answer most gave, preselected
    assert 'name="gold-topics" value="economy" checked' not in page  # agreed: undecided, its automatic gold stays
    response = browser.post(url, {"gold-stance": "support", "reason": "the last paragraph backs the fees"})
    assert response.status_code == 302  # on to the other disputed article
    assert response.headers["Location"].endswith(f"/review/{world.project}/articles/{world.articles[1]}/labels")
    with app.app_context():
        (row,) = db.session.scalars(select(GoldArticleLabel)).all()  # the stance only
        assert (row.article_id, row.group, row.values, row.provenance, row.reason) == (
            world.articles[0], "stance", ["support"], "adjudicated", "the last paragraph backs the fees")
        assert db.session.get(accounts.User, row.reviewer_id).name == "rev"
        trail = db.session.execute(select(AuditEntry.entity, AuditEntry.entity_id, AuditEntry.action)
                                   .where(AuditEntry.entity == "gold_article_label")).all()
        assert trail == [("gold_article_label", f"{world.articles[0]}:stance", "create")]
    # out of the open queue, in the adjudicated one
    queue = browser.get(f"/review/{world.project}/queue").get_data(as_text=True).split('id="article-label-queue"')[1]
    assert f'data-article="{world.articles[0]}"' not in queue and f'data-article="{world.articles[1]}"' in queue
    done = browser.get(f"/review/{world.project}/queue?status=adjudicated").get_data(as_text=True).split('id="article-label-queue"')[1]
    assert f'data-article="{world.articles[0]}" data-group="stance"' in done and "support (adjudicated)" in done
    # the decision is the gold of the export, over the automatic rule's majority (oppose)
    out = tmp_path / "gold.jsonl"
    assert runner.invoke(args=["export", "P", "--unit", "article", "-o", str(out)]).exit_code == 0
    records = validate([json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()], "article")
    assert records[0]["gold"]["article_labels"]["stance"] == {
        "value": "support", "provenance": "adjudicated", "reviewer": "rev", "reason": "the last paragraph backs the fees",
        "updated_at": records[0]["gold"]["article_labels"]["stance"]["updated_at"]}
    assert records[0]["gold"]["article_labels"]["topics"] == {"value": ["economy"], "provenance": "unanimous"}
    assert "stance" not in records[1]["gold"]["article_labels"]  # 2 of 3: no automatic gold under the default rule
    # the gold-only export carries the article, which has no gold sentence: its article labels' gold is gold too
    gold_only = tmp_path / "gold-only.jsonl"
    assert runner.invoke(args=["export", "P", "--unit", "article", "--gold-only", "-o", str(gold_only)]).exit_code == 0
    kept = [json.loads(line) for line in gold_only.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in kept] == ["a0", "a1"] and kept[0]["gold"]["labels"] == []


def test_the_gold_decision_survives_an_export_import_export_round_trip(app, runner, tmp_path):
    world = make_world(app, [SPLIT])
    with app.app_context():
        rev = accounts.get_user(db.session, "rev")
        from annotator.db.transactions import transaction
        from annotator.domain import gold

        with transaction(db.session):
            gold.adjudicate_article_labels(db.session, rev.id, world.project, world.articles[0], {"stance": ["neutral"]}, "none of them")
    first = tmp_path / "first.jsonl"
    assert runner.invoke(args=["export", "P", "--unit", "article", "-o", str(first)]).exit_code == 0
    (tmp_path / "schema.json").write_text(json.dumps(schema_with_groups()), encoding="utf-8")
    assert runner.invoke(args=["projects", "create", "copy", "--schema", str(tmp_path / "schema.json"), "--annotators-per-article", "3"]).exit_code == 0
    result = runner.invoke(args=["import-annotations", "copy", str(first)])
    assert result.exit_code == 0, result.output
    assert "gold: 0 labels, 0 spans, 0 relations, 1 article label;" in result.output
    second = tmp_path / "second.jsonl"
    assert runner.invoke(args=["export", "copy", "--unit", "article", "-o", str(second)]).exit_code == 0
    assert second.read_bytes() == first.read_bytes()
    assert json.loads(first.read_text(encoding="utf-8"))["gold"]["article_labels"]["stance"]["value"] == "neutral"


@pytest.mark.parametrize(
    "form, status, words",
    [
        ({"gold-stance": "maybe"}, 422, "has no value &#39;maybe&#39;"),
        ({"gold-stance": ["oppose", "support"]}, 422, "takes one value, not 2"),
        ({}, 422, "choose the gold value of at least one group"),
        ({"gold-stance": "oppose", "csrf_token": "forged"}, 400, "CSRF"),
    ],
)
def test_bad_article_label_decisions_are_refused_and_store_nothing(app, form, status, words):
    world = make_world(app, [SPLIT])
    browser = reviewer(app)
    url = f"/review/{world.project}/articles/{world.articles[0]}/labels"
    browser.get(url)
    response = browser.post(url, form)
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(GoldArticleLabel)) == 0
        assert db.session.scalar(select(Project.revision).where(Project.id == world.project)) == 6  # the six answers' saves only


def test_annotators_may_not_adjudicate_and_another_projects_article_is_404(app):
    world = make_world(app, [SPLIT])
    annotator = Browser(app.test_client())
    annotator.login("ann", PASSWORD)
    assert annotator.get(f"/review/{world.project}/articles/{world.articles[0]}/labels").status_code == 403
    assert reviewer(app).get(f"/review/{world.project}/articles/{world.articles[0] + 99}/labels").status_code == 404



def test_a_schema_edit_keeps_the_values_a_gold_decision_holds(app):
    """A reviewer's decision holds a value nobody answers any more: the schema must keep it, or the gold export would carry
    a value the schema lacks (which its import would refuse)."""
    world = make_world(app, [SPLIT])
    with app.app_context():
        s = db.session
        from annotator.db.transactions import transaction
        from annotator.domain import gold

        with transaction(s):
            gold.adjudicate_article_labels(s, accounts.get_user(s, "rev").id, world.project, world.articles[0], {"stance": ["neutral"]})
        fewer = schema_with_groups()
        fewer["article_labels"][0]["values"] = ["support", "oppose"]
        with pytest.raises(projects.ProjectError, match="group 'stance': value 'neutral' already used in stored work"):
            projects.update_project(s, s.get(Project, world.project), schema=fewer)
        s.rollback()
        with transaction(s):  # the annotators clear their stance: the gold decision alone still uses the group
            s.execute(delete(ArticleLabel).where(ArticleLabel.group == "stance"))
        without = schema_with_groups()
        without["article_labels"] = without["article_labels"][1:]
        with pytest.raises(projects.ProjectError, match="article_labels: 'stance' already used in stored work"):
            projects.update_project(s, s.get(Project, world.project), schema=without)


def test_the_same_answer_spelled_two_ways_is_no_dispute(app):
    """The queue compares answers as values: one stored as '[ "oppose" ]' (another writer's JSON) agrees with '["oppose"]'."""
    world = make_world(app, [{name: {"stance": ["oppose"]} for name in ("ann", "bob")}])
    with app.app_context():
        from sqlalchemy import text

        from annotator.db.transactions import transaction
        from annotator.domain import gold

        with transaction(db.session):
            bob = accounts.get_user(db.session, "bob").id
            db.session.execute(text('UPDATE article_labels SET "values" = \'[ "oppose" ]\' WHERE user_id = :u'), {"u": bob})
        schema = db.session.get(Project, world.project).label_schema
        assert gold.article_label_disputes(db.session, world.project, schema) == []
        with transaction(db.session):
            db.session.execute(text('UPDATE article_labels SET "values" = \'[ "support" ]\' WHERE user_id = :u'), {"u": bob})
        (row,) = gold.article_label_disputes(db.session, world.project, schema)
        assert row["answers"] == {"oppose": 1, "support": 1} and row["label_agreement"] == 0.0


def test_a_save_goes_on_to_the_next_open_article_after_it_and_a_passed_one_comes_after_the_last(app):
    """As for sentences: a reviewer who passed over the first disputed article was sent back to it after every save."""
    world = make_world(app, [SPLIT] * 4)  # the queue: a0, a1, a2, a3 (equal agreement, article order)
    browser = reviewer(app)
    a = world.articles

    def save(article_id):
        url = f"/review/{world.project}/articles/{article_id}/labels"
        browser.get(url)
        response = browser.post(url, {"gold-stance": "oppose"})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return response.headers["Location"]

    assert save(a[1]).endswith(f"/articles/{a[2]}/labels")  # a0 passed over: not back to it
    assert save(a[3]).endswith(f"/articles/{a[0]}/labels")  # the last: round to the top, to the one passed over
    assert save(a[0]).endswith(f"/articles/{a[2]}/labels")
    assert save(a[2]).endswith("#article-label-queue")  # none left open


def test_a_long_article_label_queue_lists_its_first_page(app, monkeypatch):
    from annotator.web import review

    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    world = make_world(app, [SPLIT] * 3)
    html = reviewer(app).get(f"/review/{world.project}/queue").get_data(as_text=True)
    assert html.split('id="article-queue"')[1].split("</table>")[0].count("<tr data-article") == 2
    assert "3 article label groups shown of 3" in html and "The first 2 are listed" in html


def test_a_decision_made_since_the_page_opened_is_not_overwritten(app):
    """Two reviewers on the same article: the second save is a 409 that shows the first one's decision and stores nothing;
    saved again from that page (it has seen the decision) it replaces it."""
    world = make_world(app, [SPLIT])
    with app.app_context():
        other = accounts.create_user(db.session, "rex", "reviewer", PASSWORD)
        projects.add_members(db.session, world.project, [other])
        db.session.commit()
    first, second = reviewer(app), Browser(app.test_client())
    assert second.login("rex", PASSWORD).status_code == 302
    url = f"/review/{world.project}/articles/{world.articles[0]}/labels"
    seen = re.compile(r'name="seen" id="seen" value="([^"]*)"')
    first_seen = seen.search(first.get(url).get_data(as_text=True)).group(1)
    second_seen = seen.search(second.get(url).get_data(as_text=True)).group(1)
    assert first_seen == second_seen == "none"
    assert first.post(url, {"gold-stance": "support", "reason": "rev's", "seen": first_seen}).status_code == 302
    refused = second.post(url, {"gold-stance": "oppose", "reason": "rex's", "seen": second_seen})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "Another reviewer saved a decision here" in html
    assert '<strong class="current-gold">support</strong> (adjudicated by rev)' in html
    assert 'name="gold-stance" value="oppose" checked' in html  # rex's choice kept
    with app.app_context():
        assert [(r.values, r.reason) for r in db.session.scalars(select(GoldArticleLabel))] == [(["support"], "rev's")]
    again = second.post(url, {"gold-stance": "oppose", "reason": "rex's", "seen": seen.search(html).group(1)})
    assert again.status_code == 302
    with app.app_context():
        assert [(r.values, r.reason) for r in db.session.scalars(select(GoldArticleLabel))] == [(["oppose"], "rex's")]


@pytest.mark.parametrize("sent", [{}, {"seen": ""}, {"seen": "f" * 16}])
def test_a_save_without_the_stamp_of_the_decision_it_replaces_is_refused(app, sent):
    """No stamp (or a made-up one) over a stored decision: a 409, nothing stored (without one it replaced it silently)."""
    world = make_world(app, [SPLIT])
    first = reviewer(app)
    url = f"/review/{world.project}/articles/{world.articles[0]}/labels"
    seen = re.search(r'name="seen" id="seen" value="([^"]*)"', first.get(url).get_data(as_text=True)).group(1)
    assert first.post(url, {"gold-stance": "support", "reason": "rev's", "seen": seen}).status_code == 302
    refused = first.post(url, {"gold-stance": "oppose", "reason": "again", **sent})
    assert refused.status_code == 409 and "Another reviewer saved a decision here" in refused.get_data(as_text=True)
    with app.app_context():
        assert [(r.values, r.reason) for r in db.session.scalars(select(GoldArticleLabel))] == [(["support"], "rev's")]
