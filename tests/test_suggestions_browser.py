"""Suggestions on the annotation page, in a real browser (Debian's Chromium) on a real server and database.

An annotator opens an article whose suggestions domain.suggesters.run computed (the attribution
rules, and a small claim-label suggester of this test's own): suggested spans are dashed ghosts,
never drawn like the annotator's spans; one key accepts the current sentence's suggestions,
another rejects them, a single span is accepted from its menu and a single link rejected from
the Spans panel. After a reload, exactly the accepted items are the annotator's own, with their
origin kept (the article API and the database agree). Another annotator on the same article
still sees every suggestion, and none of the first one's work. With suggestions turned off for
the project, nobody sees any.
"""
from __future__ import annotations

from typing import Sequence

import pytest
from sqlalchemy import func, select, update

from annotator.db import db
from annotator.db.models import Annotation, Article, Project, Relation, Span, SuggestionDecision
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, projects, suggesters
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal

from .conftest import add_user, needs_chromium
from .test_annotate_browser import PASSWORD, open_page, wait_ready, wait_saved, wait_until_held

pytestmark = needs_chromium

# Our own article: an indirect quote, two quote-first attributions, a plural source, and no speech at the end.
TITLE = "Ferry timetable cut to four sailings a day"
TEXT = (
    f"{TITLE}\n"
    "The island ferry will run four sailings a day from March, down from seven, the operator said on Monday.\n"
    "\u201cWe simply do not have enough crew to keep the old timetable,\u201d said Tomas Lindqvist, the operator\u2019s chief executive.\n"
    "Residents said the change would cut them off from jobs on the mainland.\n"
    "\u201cHalf of my staff come over on the first boat,\u201d said Aino Virtanen, who runs a bakery near the pier.\n"
    "The regional council will discuss a subsidy next week."
)
LINDQVIST, RESIDENTS, VIRTANEN = 2, 3, 4  # sentence indices (0 is the title line)


class SpeechClaims:
    """A claim-label suggester of this test's own: a sentence that reports speech is CFS, any other NFS."""

    name = "test-speech-claims"
    version = "2"

    def propose(self, text: str, sentences: Sequence[tuple[int, int]]) -> Proposal:
        labels = [(i, "CFS" if " said " in text[a:b] else "NFS", 0.7) for i, (a, b) in enumerate(sentences)]
        return Proposal(self.name, self.version, labels=labels)


@pytest.fixture
def world(app):
    for name in ("ann", "bob"):
        add_user(app, name, password=PASSWORD)
    with app.app_context():
        s = db.session
        with transaction(s):
            project = projects.create_project(s, "Ferries")
            articles.store_articles(s, project, [ArticleRecord("ferry", TITLE, TEXT)], "test")
            for name in ("ann", "bob"):
                assignment.assign_to_user(s, project.id, accounts.get_user(s, name), ["ferry"])
            s.execute(update(Project).where(Project.id == project.id).values(suggestions_enabled=True))
        with transaction(s):
            counts = suggesters.run(s, project.id, suggesters=[suggesters.AttributionRules(), SpeechClaims()])
        assert counts["suggestions"] == 12 + 4 + 6  # spans, links, one label per sentence
        users = {name: accounts.get_user(s, name).id for name in ("ann", "bob")}
        return {"project": project.id, "article": s.scalar(select(Article.id)), "users": users}


def ghosts(page) -> dict:
    """What the page shows as suggestions, and as the annotator's own."""
    return page.evaluate("""() => ({
        spans: [...document.querySelectorAll('#text .gtag')].map((g) => g.dataset.text),
        labels: [...document.querySelectorAll('#text .gchip')].map((g) => g.dataset.text),
        own: [...document.querySelectorAll('#text .tag')].map((t) => t.dataset.text.replace(/[^A-Z]/g, '')),
        chips: [...document.querySelectorAll('#text .chip.labelled')].map((c) => c.dataset.text),
    })""")


def current_sentence(page) -> int:
    return int(page.evaluate("() => document.querySelector('#text .chip.cur').dataset.s"))


def go_to(page, index: int) -> None:
    """Move the current sentence with j / k, as an annotator does."""
    for _ in range(20):
        here = current_sentence(page)
        if here == index:
            return
        page.keyboard.press("j" if here < index else "k")
    raise AssertionError(f"could not reach sentence {index}")


def api(page, server: str, path: str) -> dict:
    response = page.request.get(f"{server}{path}")
    assert response.status == 200, response.text()
    return response.json()


def test_accept_reject_and_reload_keep_exactly_the_accepted_items_with_their_origin(app, world, chromium, server):
    article = world["article"]
    page = open_page(chromium, server, "ann", article)
    try:
        shown = ghosts(page)
        assert len(shown["spans"]) == 12 and len(shown["labels"]) == 6 and shown["own"] == [] and shown["chips"] == []
        assert sorted(set(shown["spans"])) == ["CUE?", "QUOTE?", "SOURCE?"]
        # a ghost is never drawn like a span: dashed, no fill, no underline lane; its title says who proposed it and how sure
        look = page.evaluate("""() => {
            const piece = document.querySelector('#text .pc.gh');
            const tag = document.querySelector('#text .gtag');
            const s = getComputedStyle(piece), t = getComputedStyle(tag);
            return {pieceBorder: s.borderTopStyle, pieceImage: s.backgroundImage, pieceClasses: piece.className,
                    tagBorder: t.borderTopStyle, tagFill: t.backgroundColor, title: tag.title, role: tag.getAttribute('role')};
        }""")
        assert look["pieceBorder"] == "dashed" and look["pieceImage"] == "none" and " hl" not in f" {look['pieceClasses']} "
        assert look["tagBorder"] == "dashed" and look["tagFill"] in ("rgba(0, 0, 0, 0)", "transparent")
        assert "annotator-attribution-rules/1" in look["title"] and "score 0.80" in look["title"] and look["role"] == "button"
        assert "test-speech-claims/2, score 0.70" in page.get_attribute("#text .gchip", "title")
        page.keyboard.press("?")  # the help lists the keys
        assert "accept the current sentence's suggestions" in page.inner_text("#help")
        page.keyboard.press("Escape")

        # the key a accepts the current sentence's suggestions: its label, its three spans and their link
        go_to(page, LINDQVIST)
        assert "5 suggested" in page.inner_text("#current-info")  # its label, three spans and their link
        page.keyboard.press("a")
        shown = ghosts(page)
        assert sorted(shown["own"]) == ["CUE", "QUOTE", "SOURCE"] and shown["chips"] == ["CFS"]
        assert len(shown["spans"]) == 9 and len(shown["labels"]) == 5
        assert page.locator("#links li").count() == 1  # the link is the annotator's own, numbered in the Links panel
        assert "Tomas Lindqvist" in page.inner_text("#links")

        # the key x rejects another sentence's suggestions
        go_to(page, VIRTANEN)
        page.keyboard.press("x")
        wait_saved(page)  # the rejection's answer redraws the text: a ghost focused before it would be replaced
        shown = ghosts(page)
        assert len(shown["spans"]) == 6 and len(shown["labels"]) == 4 and sorted(shown["own"]) == ["CUE", "QUOTE", "SOURCE"]
        assert "Aino Virtanen" not in page.inner_text("#spans-panel")

        # Tab-style: focus a ghost and press Enter: its menu; Esc leaves it for later
        page.focus("#text .gtag[data-text='SOURCE?']")
        page.keyboard.press("Enter")
        page.locator(".ghost-menu").wait_for(state="visible")
        assert "the operator" in page.inner_text(".ghost-menu")
        page.keyboard.press("Escape")
        assert page.is_hidden(".ghost-menu") and len(ghosts(page)["spans"]) == 6

        # one span alone: click its ghost, then Accept
        ids = page.evaluate("""() => [...document.querySelectorAll('#text .gtag')].map((g) => [g.dataset.text, g.title])""")
        index = next(i for i, (label, title) in enumerate(ids) if label == "SOURCE?" and "Residents" in title)
        page.locator("#text .gtag").nth(index).click()
        page.click(".ghost-menu button[data-decision=accept]")
        shown = ghosts(page)
        assert sorted(shown["own"]) == ["CUE", "QUOTE", "SOURCE", "SOURCE"] and len(shown["spans"]) == 5
        assert current_sentence(page) == RESIDENTS

        # one link alone, from the Spans panel: the operator's (its spans stay suggestions)
        page.check("#spans-all")
        row = page.locator("#ghost-list li[data-kind=relation]", has_text="the operator")
        assert row.count() == 1
        row.locator("button.x").click()
        assert page.locator("#ghost-list li[data-kind=relation]", has_text="the operator").count() == 0
        assert page.locator("#ghost-list li[data-kind=relation]").count() == 1  # Residents' link: one end is already hers
        wait_saved(page)
        assert not page.errors, page.errors  # type: ignore[attr-defined]

        page.reload()
        wait_ready(page)
        shown = ghosts(page)
        assert sorted(shown["own"]) == ["CUE", "QUOTE", "SOURCE", "SOURCE"] and shown["chips"] == ["CFS"]
        assert len(shown["spans"]) == 5 and len(shown["labels"]) == 4  # what is left undecided
        page.check("#spans-all")
        assert page.locator("#ghost-list li[data-kind=relation]").count() == 1

        # the article API: exactly the accepted items, as her own, with their origin
        mine = api(page, server, f"/api/articles/{article}")["annotations"]
        assert [(x["sentence"], x["label"], x["origin"], x["suggester"], x["suggester_version"]) for x in mine["labels"]] == [
            (LINDQVIST, "CFS", "suggested", "test-speech-claims", "2")]
        assert sorted((x["label"], x["text"], x["origin"], x["suggester"]) for x in mine["spans"]) == [
            ("CUE", "said", "suggested", "annotator-attribution-rules"),
            ("QUOTE", "We simply do not have enough crew to keep the old timetable", "suggested", "annotator-attribution-rules"),
            ("SOURCE", "Residents", "suggested", "annotator-attribution-rules"),
            ("SOURCE", "Tomas Lindqvist", "suggested", "annotator-attribution-rules"),
        ]
        by_id = {x["id"]: x["text"] for x in mine["spans"]}
        assert [(by_id[r["from"]], by_id[r["to"]], r["origin"]) for r in mine["relations"]] == [
            ("We simply do not have enough crew to keep the old timetable", "Tomas Lindqvist", "suggested")]
        left = api(page, server, f"/api/articles/{article}/suggestions")
        assert left["enabled"] is True and len(left["spans"]) == 5 and [x["text"] for x in left["linked_spans"]] == ["Residents"]
        assert not page.errors, page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()

    # ...and the database
    ann = world["users"]["ann"]
    with app.app_context():
        s = db.session
        spans = s.execute(select(Span.label, Span.origin, Span.suggester, Span.suggester_version).where(Span.user_id == ann)).all()
        assert sorted(spans) == sorted([("CUE", "suggested", "annotator-attribution-rules", "1"), ("QUOTE", "suggested", "annotator-attribution-rules", "1"),
                                        ("SOURCE", "suggested", "annotator-attribution-rules", "1"), ("SOURCE", "suggested", "annotator-attribution-rules", "1")])
        assert s.execute(select(Relation.origin, Relation.suggester).where(Relation.user_id == ann)).all() == [("suggested", "annotator-attribution-rules")]
        assert s.execute(select(Annotation.label, Annotation.origin, Annotation.suggester).where(Annotation.user_id == ann)).all() == [
            ("CFS", "suggested", "test-speech-claims")]
        decisions = dict(s.execute(select(SuggestionDecision.decision, func.count()).where(SuggestionDecision.user_id == ann)
                                   .group_by(SuggestionDecision.decision)).all())
        # accepted: a label, three spans, a link, and Residents; rejected: a label, three spans, their link, and the operator's link
        assert decisions == {"accepted": 6, "rejected": 6}


def test_another_annotator_sees_only_their_own_suggestions_and_work(app, world, chromium, server):
    article, ann = world["article"], world["users"]["ann"]
    with app.app_context():  # ann decides a few things first, through the same API the page uses
        from annotator.domain import suggestion_review

        s = db.session
        pending = suggestion_review.pending(s, ann, article)
        link = next(r["id"] for r in pending["relations"])
        with transaction(s):
            suggestion_review.decide(s, ann, article, "accept", [link])
        with transaction(s):
            suggestion_review.decide(s, ann, article, "reject", [x["id"] for x in pending["labels"]])
    page = open_page(chromium, server, "bob", article)
    try:
        shown = ghosts(page)
        assert len(shown["spans"]) == 12 and len(shown["labels"]) == 6 and shown["own"] == [] and shown["chips"] == []
        mine = api(page, server, f"/api/articles/{article}")["annotations"]
        assert mine == {"labels": [], "spans": [], "relations": []}
        theirs = api(page, server, f"/api/articles/{article}/suggestions")
        assert (len(theirs["spans"]), len(theirs["relations"]), len(theirs["labels"])) == (12, 4, 6)
        assert not page.errors, page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()


def test_with_suggestions_turned_off_nobody_sees_any(app, world, chromium, server):
    article = world["article"]
    with app.app_context():  # ann accepted a sentence's suggestions while they were on
        from annotator.domain import suggestion_review

        s = db.session
        link = suggestion_review.pending(s, world["users"]["ann"], article)["relations"][1]["id"]
        with transaction(s):
            suggestion_review.decide(s, world["users"]["ann"], article, "accept", [link])
        with transaction(s):
            s.execute(update(Project).where(Project.id == world["project"]).values(suggestions_enabled=False))
    for name, own in (("ann", ["QUOTE", "SOURCE"]), ("bob", [])):
        page = open_page(chromium, server, name, article)
        try:
            shown = ghosts(page)
            assert shown["spans"] == [] and shown["labels"] == [] and sorted(shown["own"]) == own
            assert page.is_hidden("#ghosts") and page.locator(".pc.gh").count() == 0
            page.keyboard.press("?")
            assert "Suggestions" not in page.inner_text("#help-keys")  # no keys for what is not there
            page.keyboard.press("Escape")
            page.keyboard.press("a")  # the key does nothing but say so
            assert "no suggestions" in page.inner_text("#hint")
            assert sorted(ghosts(page)["own"]) == own
            off = api(page, server, f"/api/articles/{article}/suggestions")
            assert off == {"enabled": False, "labels": [], "spans": [], "relations": [], "linked_spans": []}
            assert not page.errors, page.errors  # type: ignore[attr-defined]
        finally:
            page.context.close()


def test_on_a_touch_phone_the_suggestion_hints_say_what_to_tap_not_which_keys(app, world, chromium, server):
    """On a phone a tapped suggestion said "a accepts, x rejects, Esc leaves it for later", its menu showed the keys a, x
    and Esc, and the current sentence's note "a accepts, x rejects": keys a phone has not got. They now say what to tap
    (the span hints already did), and what they name is there to tap."""
    article = world["article"]
    page = open_page(chromium, server, "ann", article, viewport=(390, 844), touch=True)
    try:
        tags = page.locator("#text .gtag")
        source = next(i for i, title in enumerate(tags.evaluate_all("(ts) => ts.map((t) => t.title)")) if "Tomas Lindqvist" in title)
        tags.nth(source).tap()
        assert page.is_visible(".ghost-menu")
        text = page.locator("#hint").text_content()
        assert text.startswith("Tap Accept or Reject, or Later") and "Tomas Lindqvist" in text, text
        assert not any(key in text for key in ("a accepts", "x rejects", "Esc")), text
        assert page.locator(".ghost-menu kbd").count() == 0  # the buttons: words to tap, no keys
        assert [b.strip() for b in page.locator(".ghost-menu button").all_text_contents()] == ["Accept", "Reject", "Later"]
        note = page.locator("#current-info .ghost-note").text_content()  # the tap made sentence LINDQVIST current
        assert "suggested: tap" in note and "a accepts" not in note, note
        page.locator(".ghost-menu button[data-decision=accept]").tap()
        wait_saved(page)
        assert [label for label in ghosts(page)["own"]] == ["SOURCE"]
        assert not page.errors, page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
    laptop = open_page(chromium, server, "bob", article)  # with a keyboard: the keys, as before
    try:
        laptop.locator("#text .gtag").first.click()
        assert "a accepts, x rejects" in laptop.locator("#hint").text_content()
        assert laptop.locator(".ghost-menu kbd").all_text_contents() == ["a", "x", "Esc"]
    finally:
        laptop.context.close()


def test_a_key_pressed_while_the_suggestions_load_is_never_shown_unsaved(app, world, chromium, server):
    """Found walking the page: pressing Enter on a finished article and labelling at once, a key could land while the
    page still waited for the suggestions, after it had read the article: the label key went through (the page had
    the text) but the save queue did not exist yet, so the page threw (Cannot read properties of null), and the label,
    drawn with the rest once the page was ready, was never sent. A key before the page is ready does nothing."""
    article = world["article"]
    calls = []
    held = []  # the suggestions of the second load, answered once a key was pressed

    def hold_the_second_load(route):
        calls.append(route)
        if len(calls) == 2:
            held.append(route)
        else:
            route.continue_()

    page = open_page(chromium, server, "ann", article, routes={"**/api/articles/*/suggestions": hold_the_second_load})
    with page.expect_response(lambda r: r.url.endswith(f"/api/articles/{article}")):
        page.goto(f"{server}/annotate/{article}")
    wait_until_held(page, held)
    page.wait_for_timeout(500)  # the article's answer is read
    page.keyboard.press("1")
    page.wait_for_timeout(200)
    held[0].continue_()
    wait_ready(page)
    wait_saved(page)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Annotation))
        db.session.remove()
    assert ghosts(page)["chips"] == ["CFS"] * stored  # what the page shows is what was saved
    assert page.errors == [], page.errors
    page.reload()
    wait_ready(page)
    assert ghosts(page)["chips"] == ["CFS"] * stored
    page.context.close()
