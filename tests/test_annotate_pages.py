"""The annotator's page and queue, server side: who may open what, progress that is one's own, Continue."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Annotation, Article, Assignment, Sentence
from annotator.domain import projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import Browser, add_user

GUIDELINES = "# Rules\n\nLabel **every** sentence.\n\n<script>alert('x')</script>\n"


@dataclass
class Queue:
    a1: int
    a2: int
    a3: int
    other: int


def _article(project, external_id: str, n: int) -> ArticleRecord:
    text = " ".join(f"Sentence number {i} of {external_id} is here." for i in range(1, n + 1))
    return ArticleRecord(external_id=external_id, title=f"Title {external_id}", text=text)


@pytest.fixture
def queue(app) -> Queue:
    for name in ("ann", "bob"):
        add_user(app, name)
    add_user(app, "rev", role="reviewer")
    add_user(app, "boss", role="admin")
    with app.app_context():
        project = projects.create_project(db.session, "P", guidelines=GUIDELINES)
        records = [_article(project, "a1", 3), _article(project, "a2", 2), _article(project, "a3", 4), _article(project, "zz", 1)]
        articles.store_articles(db.session, project, records, "test")
        ids = dict(db.session.execute(select(Article.external_id, Article.id)).all())
        from annotator.domain import accounts

        ann = accounts.get_user(db.session, "ann").id
        bob = accounts.get_user(db.session, "bob").id
        # ann: a1, a2, a3 in that order; bob: a1 and the article ann does not have
        for aid in (ids["a1"], ids["a2"], ids["a3"]):
            db.session.add(Assignment(user_id=ann, article_id=aid))
        for aid in (ids["a1"], ids["zz"]):
            db.session.add(Assignment(user_id=bob, article_id=aid))
        db.session.commit()
        return Queue(ids["a1"], ids["a2"], ids["a3"], ids["zz"])


def label_all(app, user_name: str, article_id: int, count: int | None = None) -> None:
    """Store labels directly (the API's own tests cover writing them)."""
    from annotator.domain import accounts

    with app.app_context():
        user = accounts.get_user(db.session, user_name)
        sentences = db.session.scalars(select(Sentence).where(Sentence.article_id == article_id).order_by(Sentence.index)).all()
        for s in sentences[: count if count is not None else len(sentences)]:
            db.session.add(Annotation(user_id=user.id, sentence_id=s.id, label="CFS", guidelines_version=1))
        db.session.commit()


def login(app, name: str) -> Browser:
    b = Browser(app.test_client())
    assert b.login(name, "correct horse").status_code == 302
    return b


def test_assigned_annotator_gets_the_page(app, queue):
    b = login(app, "ann")
    response = b.get(f"/annotate/{queue.a2}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f'data-article-id="{queue.a2}"' in html
    assert f'data-api-url="/api/articles/{queue.a2}"' in html
    assert "Title a2" in html
    assert '<script type="module" src="/static/js/annotate.js">' in html
    # the label buttons come from the project's schema, with their keys
    assert re.search(r'data-kind="sentence" data-label="CFS".*?<kbd>1</kbd>', html, re.S)
    assert re.search(r'data-kind="span" data-label="QUOTE".*?<kbd>q</kbd>', html, re.S)
    assert re.search(r'data-kind="relation" data-label="attributed_to".*?<kbd>l</kbd>', html, re.S)
    # guidelines: rendered Markdown, and the script in them is shown as text, never run
    assert "<h1>Rules</h1>" in html and "<strong>every</strong>" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    # CSP: no inline script or style anywhere in the page
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert " style=" not in html


def test_unassigned_annotator_gets_404_like_a_missing_article(app, queue):
    """Was 403 for both; now 404 for both, as the API answers (issue 13.14): nothing to tell either way."""
    b = login(app, "bob")
    assert b.get(f"/annotate/{queue.a2}").status_code == 404
    assert b.get(f"/annotate/{queue.other}").status_code == 200
    assert b.get("/annotate/999999").status_code == 404  # no such article: nothing to tell


@pytest.mark.parametrize("role_user", ["rev", "boss"])
def test_reviewers_and_admins_get_403_here(app, queue, role_user):
    b = login(app, role_user)
    assert b.get(f"/annotate/{queue.a1}").status_code == 403
    assert b.get("/continue").status_code == 403


def test_anonymous_is_sent_to_login(app, queue):
    client = app.test_client()
    response = client.get(f"/annotate/{queue.a1}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/continue").status_code == 302


def test_continue_opens_the_first_unfinished_article_then_home(app, queue):
    b = login(app, "ann")
    response = b.get("/continue")
    assert response.status_code == 302 and response.headers["Location"] == f"/annotate/{queue.a1}"
    label_all(app, "ann", queue.a1)
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a2}"
    label_all(app, "ann", queue.a2, count=1)  # started, not finished: still the one to continue
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a2}"
    label_all(app, "ann", queue.a3)
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a2}"
    with app.app_context():
        s = db.session.scalars(select(Sentence).where(Sentence.article_id == queue.a2, Sentence.index == 1)).one()
        from annotator.domain import accounts

        db.session.add(Annotation(user_id=accounts.get_user(db.session, "ann").id, sentence_id=s.id, label="NFS", guidelines_version=1))
        db.session.commit()
    response = b.get("/continue")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    home = b.get("/").get_data(as_text=True)
    assert "Everything assigned to you is labelled" in home
    assert 'id="all-done"' in home and 'id="continue"' not in home


def _queue_rows(html: str) -> dict[int, tuple[int, int]]:
    rows = {}
    for m in re.finditer(r'data-article-id="(\d+)".*?<span class="done">(\d+)</span> / <span class="total">(\d+)</span>', html, re.S):
        rows[int(m.group(1))] = (int(m.group(2)), int(m.group(3)))
    return rows


def test_home_shows_own_progress_only(app, queue):
    label_all(app, "bob", queue.a1)  # bob finished a1: ann must not see that
    label_all(app, "ann", queue.a3, count=1)
    b = login(app, "ann")
    html = b.get("/").get_data(as_text=True)
    assert _queue_rows(html) == {queue.a1: (0, 3), queue.a2: (0, 2), queue.a3: (1, 4)}
    # in assignment order, each a link to its page, with a progress bar
    order = [int(x) for x in re.findall(r'<li class="queue-item[^"]*" data-article-id="(\d+)"', html)]
    assert order == [queue.a1, queue.a2, queue.a3]
    for aid in order:
        assert f'href="/annotate/{aid}"' in html
    assert f'href="/annotate/{queue.other}"' not in html
    assert re.search(r'<progress class="bar" max="4" value="1"', html)
    # overall: 1 of 9 sentences, and the Continue button
    assert re.search(r"<strong>1</strong> of 9 sentences labelled", html)
    assert re.search(r'<progress class="bar big" max="9" value="1"', html)
    assert 'id="continue" href="/continue"' in html

    bob_html = login(app, "bob").get("/").get_data(as_text=True)
    assert _queue_rows(bob_html) == {queue.a1: (3, 3), queue.other: (0, 1)}
    assert "finished" in bob_html


def test_an_article_with_spans_but_no_labels_is_in_progress_not_not_started(app, queue):
    from annotator.domain import annotations

    with app.app_context():
        ann = db.session.scalar(select(Assignment.user_id).where(Assignment.article_id == queue.a2).order_by(Assignment.id))
        annotations.write(db.session, lambda: annotations.create_span(db.session, ann, queue.a2, "QUOTE", 0, 8))
    html = login(app, "ann").get("/").get_data(as_text=True)
    state = {int(aid): st for aid, st in re.findall(r'data-article-id="(\d+)".*?<span class="state">([^<]+)</span>', html, re.S)}
    assert state[queue.a2] == "in progress" and state[queue.a1] == "not started"


def test_queue_function_counts_only_the_users_labels(app, queue):
    from annotator.domain import accounts
    from annotator.domain.progress import annotator_queue

    label_all(app, "bob", queue.a1, count=2)
    label_all(app, "ann", queue.a1, count=1)
    with app.test_request_context():
        ann = accounts.get_user(db.session, "ann").id
        rows = annotator_queue(db.session, ann)
    assert [(r["article_id"], r["done"], r["total"]) for r in rows] == [(queue.a1, 1, 3), (queue.a2, 0, 2), (queue.a3, 0, 4)]
    assert rows[0]["title"] == "Title a1" and rows[0]["project"] == "P"


def test_empty_queue(app):
    add_user(app, "new")
    html = login(app, "new").get("/").get_data(as_text=True)
    assert "Nothing is assigned to you yet" in html
    assert 'id="continue"' not in html
    response = login(app, "new").get("/continue")
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_page_shows_its_place_in_the_queue_and_next_goes_through_continue(app, queue):
    b = login(app, "ann")
    html = b.get(f"/annotate/{queue.a2}").get_data(as_text=True)
    assert 'data-next-url="/continue"' in html  # decided when clicked, after the last labels are saved
    assert "article 2 of 3 in your queue" in html
    label_all(app, "ann", queue.a1)
    label_all(app, "ann", queue.a2)
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a3}"


def test_title_line_is_not_repeated_when_the_text_opens_with_it(app, queue):
    b = login(app, "ann")
    html = b.get(f"/annotate/{queue.a1}").get_data(as_text=True)
    assert '<h1 class="article-title" id="article-title">Title a1</h1>' in html  # the text does not start with it
    with app.app_context():
        article = db.session.get(Article, queue.a1)
        article.title = "Sentence number 1 of a1"
        db.session.commit()
    html = b.get(f"/annotate/{queue.a1}").get_data(as_text=True)
    assert '<h1 class="article-title" id="article-title" hidden>Sentence number 1 of a1</h1>' in html


def test_guidelines_notice_after_a_new_version_until_labelling_under_it(app, queue):
    b = login(app, "ann")
    assert 'id="guidelines-notice"' not in b.get(f"/annotate/{queue.a1}").get_data(as_text=True)  # nothing labelled yet
    label_all(app, "ann", queue.a1, count=1)  # under version 1
    assert 'id="guidelines-notice"' not in b.get(f"/annotate/{queue.a1}").get_data(as_text=True)
    with app.app_context():
        projects.set_guidelines(db.session, projects.get_project(db.session, "P"), "# Rules\n\nNew rule.")
        db.session.commit()
    html = b.get(f"/annotate/{queue.a2}").get_data(as_text=True)
    assert "you labelled under version 1, they are now version 2" in html
    with app.app_context():  # a label under version 2 ends the notice
        from annotator.domain import accounts

        sentence = db.session.scalar(select(Sentence).where(Sentence.article_id == queue.a2))
        db.session.add(Annotation(user_id=accounts.get_user(db.session, "ann").id, sentence_id=sentence.id, label="CFS", guidelines_version=2))
        db.session.commit()
    assert 'id="guidelines-notice"' not in b.get(f"/annotate/{queue.a2}").get_data(as_text=True)


def test_a_label_put_back_for_rechecking_reopens_its_article(app, queue):
    """After a reviewer splits or merges a labelled sentence, the annotator is sent back to it."""
    from sqlalchemy import update

    b = login(app, "ann")
    for article in (queue.a1, queue.a2, queue.a3):
        label_all(app, "ann", article)
    assert b.get("/continue").headers["Location"] == "/"
    with app.app_context():
        sentence = db.session.scalar(select(Sentence.id).where(Sentence.article_id == queue.a2, Sentence.index == 0))
        db.session.execute(update(Annotation).where(Annotation.sentence_id == sentence).values(needs_review=True))
        db.session.commit()
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a2}"
    assert _queue_rows(b.get("/").get_data(as_text=True))[queue.a2] == (1, 2)


def test_continue_opens_the_article_in_progress_before_an_earlier_unstarted_one(app, queue):
    """alice had the third article in progress while the second was not started: Continue opened the second
    (the first unfinished in assignment order). It now opens the one in progress, the latest worked on if several."""
    b = login(app, "ann")
    label_all(app, "ann", queue.a1)
    label_all(app, "ann", queue.a3, count=1)  # a2 comes first in the queue, not started
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a3}"
    with app.app_context():  # a1 gets a label put back for re-checking, later than a3's: the latest work is a1
        label = db.session.scalars(select(Annotation).join(Sentence).where(Sentence.article_id == queue.a1, Sentence.index == 0)).one()
        label.needs_review = True
        label.updated_at = label.updated_at.replace(year=label.updated_at.year + 1)
        db.session.commit()
    assert b.get("/continue").headers["Location"] == f"/annotate/{queue.a1}"
