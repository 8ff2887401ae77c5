"""Long sessions on the annotation page, in a real browser on a real server and database: undo and redo
(Ctrl+Z, Ctrl+Shift+Z / Ctrl+Y, the Undo button) through the save queue and the API, moving on to the next
unlabelled sentence after a label, and accepting a sentence's suggestions at once on a phone."""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from annotator.db import db
from annotator.db.models import Article, Project
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, projects, suggesters
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import add_user, needs_chromium
from .test_annotate_browser import (
    PASSWORD,
    QUOTE,
    SOURCE,
    TEXT,
    TITLE,
    chip_texts,
    click_text,
    db_labels,
    db_relations,
    db_spans,
    open_page,
    seed,
    select_with_mouse,
    wait_ready,
    wait_saved,
)
from .test_suggestions_browser import TEXT as FERRY
from .test_suggestions_browser import TITLE as FERRY_TITLE
from .test_suggestions_browser import SpeechClaims, current_sentence, ghosts, go_to

pytestmark = needs_chromium


def labels_of(app, article_id: int) -> dict[int, str]:
    return {i: label for i, (label, _) in db_labels(app, "ann", article_id).items()}


def hint(page) -> str:
    return page.locator("#hint").text_content()


# ------------------------------------------------------------------ 1. undo and redo


def test_undo_and_redo_labels_through_the_save_queue_with_the_keyboard_and_the_button(app, server, chromium, tmp_path):
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    article = ids["bridge"]
    page = open_page(chromium, server, "ann", article, viewport=(1280, 800))
    undo_button = page.locator('#toolbar button[data-action="undo"]')
    assert undo_button.is_disabled() and page.locator('#toolbar button[data-action="redo"]').is_disabled()

    page.keyboard.press("1")  # sentence 1: CFS
    page.wait_for_timeout(1500)  # time spent on sentence 2, which undo and redo must neither lose nor count twice
    page.keyboard.press("2")  # sentence 2: UFS
    wait_saved(page)
    seconds = db_labels(app, "ann", article)[1][1]
    assert seconds >= 1.4
    assert labels_of(app, article) == {0: "CFS", 1: "UFS"}
    assert "UFS on sentence 2" in undo_button.get_attribute("title")

    page.keyboard.press("Control+z")  # the last label goes, saved as a removal; sentence 2 is current again
    assert hint(page) == "Undone: label UFS on sentence 2."
    assert page.locator("#hint").get_attribute("aria-live") == "polite"  # what was undone is announced
    assert current_sentence(page) == 1 and chip_texts(page)[:2] == ["CFS", "2"]
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS"}

    page.keyboard.press("Control+Shift+z")  # redo
    assert hint(page) == "Redone: label UFS on sentence 2."
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS", 1: "UFS"}
    assert db_labels(app, "ann", article)[1][1] == pytest.approx(seconds, abs=0.5)  # the label's time came back, once

    # A label replaced, then undone: the old one comes back (a PUT with the version the page saw).
    assert current_sentence(page) == 1  # the redo made sentence 2 current again
    page.keyboard.press("3")  # sentence 2: UFS -> NFS
    wait_saved(page)
    assert labels_of(app, article)[1] == "NFS"
    page.screenshot(path=str(tmp_path / "desktop-before-undo.png"))
    undo_button.click()  # the mouse's way
    assert hint(page) == "Undone: label NFS on sentence 2."
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS", 1: "UFS"}
    page.screenshot(path=str(tmp_path / "desktop-undone.png"))
    # Undo and Redo fit the one row of tools a 1280 px screen had, and the save status still holds its longest words
    assert page.evaluate("() => document.getElementById('toolbar').offsetHeight") <= 60
    status = page.evaluate(
        "() => { const s = document.getElementById('save-status'); const old = s.textContent; s.textContent = 'offline, retrying in 30 s';"
        " const fits = s.scrollWidth <= s.clientWidth; s.textContent = old; return fits; }"
    )
    assert status

    page.keyboard.press("Control+y")  # redo, the other key
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS", 1: "NFS"}
    assert page.errors == []  # type: ignore[attr-defined]

    # Nothing from before the page loaded is undone.
    page.reload()
    wait_ready(page)
    assert undo_button.is_disabled()
    page.keyboard.press("Control+z")
    assert hint(page).startswith("Nothing to undo")
    page.wait_for_timeout(300)
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS", 1: "NFS"}

    # A label removed (Shift+Delete) and the removal undone comes back with the time it had, counted once.
    seconds = db_labels(app, "ann", article)[1][1]
    go_to(page, 1)
    page.keyboard.press("Shift+Delete")
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS"}
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert labels_of(app, article) == {0: "CFS", 1: "NFS"}
    assert db_labels(app, "ann", article)[1][1] == pytest.approx(seconds, abs=0.5) and seconds >= 1.4

    # Nor does Ctrl+Z in a text field reach the annotations (the page has none today: a field is added here).
    page.keyboard.press("1")
    wait_saved(page)
    before = labels_of(app, article)
    page.evaluate("() => { const i = document.createElement('input'); i.id = 'scratch'; document.getElementById('side').prepend(i); }")
    page.locator("#scratch").fill("typing")
    page.locator("#scratch").press("Control+z")
    page.wait_for_timeout(300)
    wait_saved(page)  # an undo the key did queue reaches the database only with its answer: read before, it passed
    assert labels_of(app, article) == before and page.locator("#scratch").input_value() == ""  # the field's own undo
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_undoing_a_span_deletion_brings_back_the_span_and_its_links_under_their_ids(app, server, chromium):
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    article = ids["bridge"]
    page = open_page(chromium, server, "ann", article, viewport=(1280, 800))
    select_with_mouse(page, QUOTE)
    page.keyboard.press("q")
    select_with_mouse(page, SOURCE)
    page.keyboard.press("s")
    click_text(page, "underestimated")
    page.keyboard.press("l")
    click_text(page, "Amira")
    wait_saved(page)
    spans = db_spans(app, "ann", article)
    links = db_relations(app, "ann")
    assert len(spans) == 2 and len(links) == 1
    rel_id = page.evaluate("() => document.querySelector('#links li').dataset.rel")

    click_text(page, "underestimated")
    page.keyboard.press("Delete")  # the quote, and with it the link, which the hint names as the undo's does
    assert hint(page) == f"Deleted the QUOTE span \u201c{QUOTE[:39]}\u2026\u201d and its 1 link."
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", article)] == ["SOURCE"] and db_relations(app, "ann") == []

    page.keyboard.press("Control+z")
    assert hint(page) == f"Undone: deleting the QUOTE span \u201c{QUOTE[:39]}\u2026\u201d and its 1 link."
    wait_saved(page)
    assert db_spans(app, "ann", article) == spans  # same ids, labels and code-point offsets
    assert all(TEXT[s:e] in (QUOTE, SOURCE) for _, _, s, e in spans)
    assert db_relations(app, "ann") == links
    assert page.evaluate("() => document.querySelector('#links li').dataset.rel") == rel_id
    assert page.locator("#margin path[data-rel]").count() == 1

    page.keyboard.press("Control+z")  # the link, named as the hint that made it named it: its source too
    assert hint(page) == f"Undone: the link \u201c{QUOTE[:29]}\u2026\u201d \u2192 SOURCE \u201c{SOURCE}\u201d."
    page.keyboard.press("Control+z")  # the source span
    page.keyboard.press("Control+z")  # the quote span
    wait_saved(page)
    assert db_spans(app, "ann", article) == [] and db_relations(app, "ann") == []
    for _ in range(3):
        page.keyboard.press("Control+Shift+z")
    wait_saved(page)
    assert db_spans(app, "ann", article) == spans and db_relations(app, "ann") == links

    # A relabel that drops a link it no longer allows is one step: undone, the label and the link are back.
    click_text(page, "Amira")
    page.keyboard.press("c")  # SOURCE -> CUE: a quote cannot be attributed to a cue
    wait_saved(page)
    assert db_relations(app, "ann") == []
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert db_spans(app, "ann", article) == spans and db_relations(app, "ann") == links

    # A new change ends what could be redone.
    page.keyboard.press("Control+Shift+z")
    wait_saved(page)
    page.keyboard.press("Control+z")
    select_with_mouse(page, "the city council")
    page.keyboard.press("s")
    assert page.locator('#toolbar button[data-action="redo"]').is_disabled()
    page.keyboard.press("Control+Shift+z")
    assert hint(page) == "Nothing to redo."
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_an_undo_never_removes_a_label_another_tab_set_since(app, server, chromium):
    """Undoing the first label of a sentence removes it; a removal carries the version the page saw, so a label
    another tab set meanwhile is a visible conflict and stays, as it is for a label put back."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    article = ids["bridge"]
    first = open_page(chromium, server, "ann", article)
    first.keyboard.press("1")
    wait_saved(first)
    second = open_page(chromium, server, "ann", article)
    second.keyboard.press("k")
    second.keyboard.press("3")  # sentence 1: NFS, in the other tab
    wait_saved(second)
    first.keyboard.press("Control+z")  # this tab still shows its CFS, and means to remove it
    wait_saved(first)
    assert labels_of(app, article) == {0: "NFS"}
    assert "labelled NFS in another tab" in first.locator("#alert").text_content()
    assert hint(first) == "Not undone: label CFS on sentence 1 was changed in another tab or window meanwhile."  # as the alert says
    assert chip_texts(first)[0] == "NFS"  # it shows what is stored
    first.keyboard.press("Control+z")  # the step is spent: nothing more to undo
    assert first.locator("#hint").text_content().startswith("Nothing to undo")
    assert labels_of(app, article) == {0: "NFS"}
    first.context.close()
    second.context.close()


# ------------------------------------------------------------------ 2. on to the next unlabelled sentence


def test_a_label_moves_on_to_the_next_unlabelled_sentence_and_wraps_round_to_one_skipped(app, server, chromium):
    text = "First one. Second one. Third one. Fourth one. Fifth one."
    ids = seed(app, [ArticleRecord("short", "Short", text)], users=("ann",))
    with app.app_context():  # sentences 3 and 4 (index 2, 3) are labelled already
        from annotator.db.models import Annotation, Sentence

        uid = accounts.get_user(db.session, "ann").id
        for index in (2, 3):
            sid = db.session.scalar(select(Sentence.id).where(Sentence.article_id == ids["short"], Sentence.index == index))
            db.session.add(Annotation(user_id=uid, sentence_id=sid, label="NFS", seconds=1.0, guidelines_version=1))
        db.session.commit()
    page = open_page(chromium, server, "ann", ids["short"])
    assert current_sentence(page) == 0
    page.keyboard.press("j")  # sentence 1 is skipped for now; j still steps one by one
    assert current_sentence(page) == 1
    page.keyboard.press("j")
    assert current_sentence(page) == 2  # onto a labelled one too
    page.keyboard.press("k")
    page.keyboard.press("1")  # sentence 2 labelled: on past 3 and 4 (labelled) to 5
    assert current_sentence(page) == 4
    page.keyboard.press("1")  # the last: round to sentence 1, the one skipped, and the hint says so
    assert current_sentence(page) == 0
    assert hint(page) == "Back to sentence 1: the first still unlabelled (every sentence after 5 is labelled)."
    page.keyboard.press("2")  # the last one left: nothing to move to but the next sentence
    assert current_sentence(page) == 1
    assert hint(page) == "Every sentence is labelled. Enter opens the next article."
    page.keyboard.press("3")  # a checking pass: relabelling steps on one by one
    assert current_sentence(page) == 2
    wait_saved(page)
    assert labels_of(app, ids["short"]) == {0: "UFS", 1: "NFS", 2: "NFS", 3: "NFS", 4: "CFS"}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ 3. a sentence's suggestions at once on a phone


@pytest.fixture
def ferry(app):
    add_user(app, "ann", password=PASSWORD)
    with app.app_context():
        s = db.session
        with transaction(s):
            project = projects.create_project(s, "Ferries")
            articles.store_articles(s, project, [ArticleRecord("ferry", FERRY_TITLE, FERRY)], "test")
            assignment.assign_to_user(s, project.id, accounts.get_user(s, "ann"), ["ferry"])
            s.execute(update(Project).where(Project.id == project.id).values(suggestions_enabled=True))
        with transaction(s):
            suggesters.run(s, project.id, suggesters=[suggesters.AttributionRules(), SpeechClaims()])
        return s.scalar(select(Article.id))


def test_on_a_phone_a_thumb_accepts_all_of_a_sentences_suggestions(app, ferry, server, chromium, tmp_path):
    page = open_page(chromium, server, "ann", ferry, viewport=(390, 844), touch=True)
    go_to(page, 2)  # "We simply do not have enough crew ...", said Tomas Lindqvist: a label, spans and a link suggested
    bar = page.locator("#suggest-bar")
    assert bar.is_visible()
    box = bar.bounding_box()
    assert box and box["y"] + box["height"] <= 844 and box["y"] >= 844 - 120, box  # at the foot of the screen
    accept = bar.locator("button[data-decision=accept]")
    size = accept.bounding_box()
    assert size and size["height"] >= 44, size  # a thumb's target
    assert bar.locator("#suggest-bar-text").text_content().startswith("Sentence 3: ")
    page.screenshot(path=str(tmp_path / "phone-suggestions.png"))
    before = ghosts(page)
    accept.tap()
    wait_saved(page)
    after = ghosts(page)
    assert "CFS" in after["chips"] and set(after["own"]) >= {"QUOTE", "SOURCE"}
    assert len(after["spans"]) < len(before["spans"])
    assert bar.is_hidden()  # nothing left in this sentence
    assert "Accepted the suggestions of sentence 3" in hint(page)
    undo = page.locator('#toolbar button[data-action="undo"]')
    assert undo.is_visible() and undo.is_enabled()  # a thumb's undo, in the one row of tools
    undo.tap()
    # nothing was changed before the accept (the next undo in a tap's words: test_annotate_hints_browser.py)
    assert hint(page).endswith("cannot be undone here: delete or relabel what you do not want. Nothing before it was changed on this page.")
    payload = page.evaluate(f"async () => (await fetch('/api/articles/{ferry}')).json()")
    assert {x["label"] for x in payload["annotations"]["spans"]} >= {"QUOTE", "SOURCE"} and payload["annotations"]["relations"]
    for x in payload["annotations"]["spans"]:
        assert FERRY[x["start"]:x["end"]] == x["text"]
    page.locator('#toolbar button[data-kind="sentence"][data-label="NFS"]').tap()  # sentence 3 relabelled by touch
    wait_saved(page)
    undo.tap()
    wait_saved(page)
    assert {x["sentence"]: x["label"] for x in api_annotations(page, ferry)["labels"]}[2] == "CFS"
    page.screenshot(path=str(tmp_path / "phone-undone.png"))
    # the panels sheet covers the foot of the screen: the bar is not over it
    go_to(page, 4)
    assert bar.is_visible()
    page.locator("#panels-toggle").tap()
    assert bar.is_hidden()
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    laptop = open_page(chromium, server, "ann", ferry, viewport=(1280, 800))  # with a keyboard: a and x, no bar
    go_to(laptop, 4)
    assert laptop.locator("#suggest-bar").is_hidden()
    laptop.context.close()


def test_undo_stops_once_at_accepted_suggestions_and_then_goes_on_to_the_change_before(app, ferry, server, chromium):
    """The API cannot take a decided suggestion back: undo says so instead of undoing an older change unasked."""
    page = open_page(chromium, server, "ann", ferry, viewport=(1280, 800))
    go_to(page, 3)
    page.keyboard.press("3")  # sentence 4: NFS, on to sentence 5
    assert current_sentence(page) == 4
    page.keyboard.press("a")  # sentence 5's suggestions: a label, spans, a link
    wait_saved(page)
    accepted = api_annotations(page, ferry)
    assert accepted["labels"] and accepted["spans"] and accepted["relations"]
    assert "accepting suggestions cannot be undone" in page.locator('#toolbar button[data-action="undo"]').get_attribute("title")
    page.keyboard.press("Control+z")
    assert hint(page).startswith("The last change, accepting suggestions, cannot be undone here")
    page.keyboard.press("Control+z")  # the label before it
    assert hint(page) == "Undone: label NFS on sentence 4."
    wait_saved(page)
    after = api_annotations(page, ferry)
    assert [x["sentence"] for x in after["labels"]] == [4] and after["spans"] == accepted["spans"] and after["relations"] == accepted["relations"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def api_annotations(page, article: int) -> dict:
    return page.evaluate(f"async () => (await fetch('/api/articles/{article}')).json()")["annotations"]


def with_stance(app, article: int, values: list[str]) -> None:
    """Give the article's project an article label group `stance` with these values."""
    with app.app_context():
        project = db.session.scalar(select(Article).where(Article.id == article)).project
        schema = dict(project.label_schema)
        schema["article_labels"] = [{"name": "stance", "values": values}]
        projects.update_project(db.session, project, schema=schema)
        db.session.commit()


def checked_stance(page) -> str:
    return page.evaluate("() => document.querySelector('#article-labels input:checked').value")


def test_an_article_label_change_is_undone_and_the_form_shows_it(app, server, chromium):
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    with_stance(app, ids["bridge"], ["support", "oppose"])
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.check("#article-labels input[value=support]")
    page.check("#article-labels input[value=oppose]")
    wait_saved(page)
    page.keyboard.press("Control+z")  # the focus is on the radio: the keys still work there
    assert hint(page) == "Undone: the article label stance."
    assert page.evaluate("() => document.querySelector('#article-labels input:checked').value") == "support"
    wait_saved(page)
    assert api_annotations(page, ids["bridge"])["article_labels"][0]["values"] == ["support"]
    page.keyboard.press("Control+z")
    wait_saved(page)
    assert page.evaluate("() => document.querySelector('#article-labels input:checked').value") == ""  # "none"
    assert api_annotations(page, ids["bridge"])["article_labels"] == []
    page.context.close()


def test_a_stale_tab_never_overwrites_or_clears_an_article_label_set_since(app, server, chromium):
    """Article label changes carry the version the page saw, as sentence labels do: a stale tab's answer, its
    "none" and its undo are each a visible conflict, and the answer set in the other tab stays."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    article = ids["bridge"]
    with_stance(app, article, ["support", "oppose", "neutral"])
    first = open_page(chromium, server, "ann", article)
    first.check("#article-labels input[value=support]")
    wait_saved(first)
    second = open_page(chromium, server, "ann", article)
    second.check("#article-labels input[value=oppose]")
    wait_saved(second)
    first.keyboard.press("Control+z")  # this tab still shows its support and means to clear it
    wait_saved(first)
    assert api_annotations(second, article)["article_labels"][0]["values"] == ["oppose"]
    assert "was set to oppose in another tab or window meanwhile, so it was not cleared" in first.locator("#alert").text_content()
    assert hint(first) == "Not undone: the article label stance was changed in another tab or window meanwhile."
    assert checked_stance(first) == "oppose"  # it shows what is stored
    first.check("#article-labels input[value=neutral]")  # seen now: this one is saved
    wait_saved(first)
    assert api_annotations(first, article)["article_labels"][0]["values"] == ["neutral"]
    second.click("#article-labels input[value=support]")  # this tab still shows oppose (a click: the 409 may uncheck it at once)
    wait_saved(second)
    assert api_annotations(second, article)["article_labels"][0]["values"] == ["neutral"]
    assert "changed in another tab or window to neutral; your support was not saved" in second.locator("#alert").text_content()
    assert checked_stance(second) == "neutral"
    second.keyboard.press("Control+z")  # its support never landed: undoing it would undo the other tab's answer
    assert hint(second) == "Not undone: the article label stance was changed since (in another tab?)."
    second.check("#article-labels input[value='']")  # "none", over the answer it now shows: cleared
    wait_saved(second)
    assert api_annotations(second, article)["article_labels"] == []
    for page in (first, second):  # no script error (the 409s are logged as failed loads)
        assert [e for e in page.errors if "409 (CONFLICT)" not in e] == []  # type: ignore[attr-defined]
    first.context.close()
    second.context.close()


def test_a_label_that_lost_a_conflict_is_not_undone_over_the_other_tabs(app, server, chromium):
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    article = ids["bridge"]
    stale = open_page(chromium, server, "ann", article)  # saw no label on sentence 1
    other = open_page(chromium, server, "ann", article)
    other.keyboard.press("3")
    wait_saved(other)
    stale.keyboard.press("1")  # a 409: the other tab's NFS stays, and this tab shows it
    wait_saved(stale)
    assert chip_texts(stale)[0] == "NFS"
    stale.keyboard.press("Control+z")  # its CFS never landed: undoing it would remove the other tab's label
    assert hint(stale) == "Not undone: label CFS on sentence 1 was changed since (in another tab?)."
    stale.wait_for_timeout(300)
    wait_saved(stale)
    assert labels_of(app, article) == {0: "NFS"}
    stale.context.close()
    other.context.close()


def test_each_key_press_is_its_own_step_even_when_sent_in_one_go(app, server, chromium):
    """Steps were first cut at the end of a task: key events a script (or an assistive tool) sends in one go then
    made one step, and one undo took back all of them."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.evaluate("() => { for (const key of ['1', '2', '3']) document.dispatchEvent(new KeyboardEvent('keydown', {key, bubbles: true})); }")
    assert chip_texts(page)[:3] == ["CFS", "UFS", "NFS"]
    page.keyboard.press("Control+z")
    assert chip_texts(page)[:3] == ["CFS", "UFS", "3"]
    wait_saved(page)
    assert labels_of(app, ids["bridge"]) == {0: "CFS", 1: "UFS"}
    page.context.close()
