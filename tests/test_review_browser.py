"""A reviewer in a real browser (Debian's Chromium), on a real server and database: opens the
disagreement queue, adjudicates a disputed sentence with a reason, and finds the gold, its
provenance and its effect on the agreement figures."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Article, AuditEntry, GoldLabel, GoldSpan, Sentence
from annotator.db.transactions import begin_write
from annotator.domain import accounts, annotations, assignment, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import add_member, add_user, needs_chromium
from .test_project_agreement import add_spans, seed

PASSWORD = "correct horse"

pytestmark = needs_chromium



def reviewer_page(chromium, server: str, name: str = "rita", phone: bool = False):
    """A desktop browser page (`phone`: a phone's screen, touch) logged in as the reviewer, with the console errors
    and page errors it collects."""
    size = {"width": 390, "height": 844} if phone else {"width": 1300, "height": 900}
    context = chromium.new_context(viewport=size, has_touch=phone, is_mobile=phone)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "favicon" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(server + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    return context, page, problems

def test_reviewer_adjudicates_from_the_queue_and_sees_it_in_the_figures(app, server, chromium):
    ratings = [
        {"ann": "CFS", "ben": "NFS"},  # disputed: no agreement -> first in the queue
        {"ann": "UFS", "ben": "UFS"},
        {"ann": "CFS", "ben": "UFS", "cat": "UFS"},  # disputed: 1/3 -> next
        {"ann": "NFS", "ben": "NFS"},
    ]
    seeded = seed(app, ratings, [0, 0, 0, 1], annotators_per_article=2)
    s0, _ = seeded.offsets[0]
    add_spans(app, seeded, [("ann", 0, "QUOTE", s0, s0 + 8), ("ben", 0, "QUOTE", s0, s0 + 12)])
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")

    context, page, problems = reviewer_page(chromium, server)
    try:
        page.click("a.nav-review")
        page.click(f"a[href='/review/{seeded.project_id}/queue']")
        # a click returns once the navigation starts; count() does not wait, so wait for the queue's load
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/queue$"), wait_until="load")
        rows = page.locator("#queue tbody tr")
        assert rows.count() == 2
        assert rows.nth(0).get_attribute("data-sentence") == str(seeded.sentences[0])

        rows.nth(0).locator("td.sentence-text a").click()
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/sentences/{seeded.sentences[0]}$"))
        # each annotator's label and spans side by side, names visible to the reviewer
        assert page.locator("article.annotator[data-annotator=ann] .label-badge").inner_text() == "CFS"
        assert page.locator("article.annotator[data-annotator=ben] .label-badge").inner_text() == "NFS"
        assert page.locator("article.annotator[data-annotator=ben] mark.span-mark").count() == 1
        # the highlight colour comes from the schema through review-colours.js (no inline style in the HTML)
        colour = page.locator("article.annotator[data-annotator=ann] mark.span-mark").evaluate("e => getComputedStyle(e).borderBottomColor")
        assert colour == "rgb(31, 119, 180)"  # QUOTE #1f77b4

        page.check("input[name=label][value=CFS]")
        page.check(f"input[name=spans][value='QUOTE:{s0}:{s0 + 8}']")
        page.fill("#reason", "A cost figure: check-worthy. ben's quote runs into the verb.")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/sentences/{seeded.sentences[2]}$"))
        assert "Gold saved" in page.locator(".flash-success").inner_text()
        assert "1 span linked to nothing: QUOTE" in page.locator(".flash-warning").inner_text()  # a quote with no source: said, not refused

        with app.app_context():
            gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == seeded.sentences[0]))
            assert (gold.label, gold.provenance, gold.reviewer.name) == ("CFS", "adjudicated", "rita")
            assert gold.reason == "A cost figure: check-worthy. ben's quote runs into the verb." and gold.updated_at is not None
            spans = [(g.label, g.start, g.end, g.provenance) for g in db.session.scalars(select(GoldSpan))]
            assert spans == [("QUOTE", s0, s0 + 8, "adjudicated")]
            audited = db.session.execute(select(AuditEntry.entity, AuditEntry.action).where(AuditEntry.user_id == gold.reviewer_id)).all()
            assert sorted(audited) == [("gold_label", "create"), ("gold_span", "create")]

        # the queue no longer offers it; the adjudicated view does, with its provenance
        page.goto(f"{server}/review/{seeded.project_id}/queue")
        assert page.locator("#queue tbody tr").count() == 1
        page.select_option("select[name=status]", "adjudicated")
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"status=adjudicated"), wait_until="load")
        assert page.locator("#queue tbody tr").first.locator(".prov").inner_text() == "CFS (adjudicated)"

        # and the agreement figures count it: ann agreed with the adjudicated gold, ben did not
        page.click("nav.review-tabs a:has-text('Agreement')")
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/agreement"), wait_until="load")
        assert "1 adjudicated" in page.locator("#agreement-summary").inner_text()
        ann = page.locator("tr[data-annotator=ann]")
        ben = page.locator("tr[data-annotator=ben]")
        assert ann.locator("td.adjudicated-n").inner_text() == "1" and ann.locator("td.adjudicated-agree").inner_text() == "100.0\u00a0%"
        assert ben.locator("td.adjudicated-n").inner_text() == "1" and ben.locator("td.adjudicated-agree").inner_text() == "0.0\u00a0%"
        assert page.locator("svg.heatmap rect").count() >= 9
        assert problems == []  # no CSP violation, no script error
    finally:
        context.close()


SELECT_IN_SENTENCE = """([needle, nth]) => {
    // select the nth occurrence of needle in the sentence view, as a drag with the mouse would
    const view = document.getElementById('sentence-text');
    const at = (u16) => {  // the DOM point u16 units into the view's text
        const walk = document.createTreeWalker(view, NodeFilter.SHOW_TEXT);
        let node, seen = 0;
        while ((node = walk.nextNode())) {
            if (seen + node.data.length >= u16) return [node, u16 - seen];
            seen += node.data.length;
        }
    };
    let from = -1;
    for (let i = 0; i <= nth; i++) from = view.textContent.indexOf(needle, from + 1);
    const range = document.createRange();
    range.setStart(...at(from));
    range.setEnd(...at(from + needle.length));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
}"""


def _disputed_second_sentence(app, name: str, text: str) -> tuple[int, int]:
    """Project `name` with one article of `text`, whose second sentence ann and ben labelled differently, and rita, a
    member reviewer: (project id, that sentence's id), for the adjudication page."""
    from annotator.db.models import Annotation, Article, Sentence, User
    from annotator.db.transactions import begin_write
    from annotator.domain import projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, name)
        articles.store_articles(s, project, [ArticleRecord(f"{name}-1", name.title(), text)], "test")
        for user in ("ann", "ben"):
            s.add(User(name=user, role="annotator"))
        s.flush()
        sentence = s.scalar(select(Sentence).join(Article).where(Article.project_id == project.id, Sentence.index == 1))
        for user, label in (("ann", "CFS"), ("ben", "UFS")):
            uid = s.scalar(select(User.id).where(User.name == user))
            s.add(Annotation(user_id=uid, sentence_id=sentence.id, label=label, seconds=1.0, guidelines_version=1))
        s.commit()
        pid, sid, start, end = project.id, sentence.id, sentence.start, sentence.end
    assert text[start:end].startswith("The mayor")
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, pid, "rita")
    return pid, sid


def test_reviewer_marks_gold_spans_by_selecting_text_with_code_point_offsets(app, server, chromium):
    """An emoji (two UTF-16 units, one code point) before the spans: the stored offsets are code points."""
    text = ("Harbour fees 🚢 rise again. The mayor 🙂 said “fees will 📈 double by May” at noon on Friday. "
            "Ferries still run daily.")
    pid, sid = _disputed_second_sentence(app, "harbour", text)

    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{pid}/sentences/{sid}")
        page.wait_for_selector("#gold-marker:not([hidden])")

        quote = "fees will 📈 double by May"
        page.evaluate(SELECT_IN_SENTENCE, [quote, 0])
        page.keyboard.press("q")  # the QUOTE key, as on the annotation page
        page.wait_for_selector("#sentence-text mark.gold[data-label=QUOTE]")
        assert page.inner_text("#sentence-text mark.gold[data-label=QUOTE]") == quote
        page.evaluate(SELECT_IN_SENTENCE, ["The mayor", 0])
        page.click("#gold-marker button.mark-span[data-label=SOURCE]")
        page.evaluate(SELECT_IN_SENTENCE, [" said ", 0])  # the spaces around are left out
        page.click("#gold-marker button.mark-span[data-label=CUE]")
        assert page.locator("#gold-spans label.new-span input:checked").count() == 3
        assert page.locator("#sentence-text mark.gold").count() == 3

        # a mark can be dropped again before saving
        page.evaluate(SELECT_IN_SENTENCE, ["noon", 0])
        page.keyboard.press("c")
        cue = page.locator("#gold-spans label.new-span", has_text="noon").locator("input")
        cue.uncheck()
        assert page.locator("#sentence-text mark.gold").count() == 3

        page.check("input[name=label][value=CFS]")
        page.click("#save-gold")
        page.wait_for_url(re.compile(rf"/review/{pid}/queue"))
        with app.app_context():
            stored = sorted((g.label, g.start, g.end) for g in db.session.scalars(select(GoldSpan)))
        def cp(needle):
            start = text.index(needle)
            return start, start + len(needle)
        assert stored == sorted([("QUOTE", *cp(quote)), ("SOURCE", *cp("The mayor")), ("CUE", *cp("said"))])
        assert [text[a:b] for _, a, b in sorted(stored, key=lambda x: x[1])] == ["The mayor", "said", quote]
        assert problems == []
    finally:
        context.close()


@pytest.mark.parametrize("width", [390, 768])
def test_review_and_admin_pages_fit_a_phone_without_sideways_scrolling(app, server, chromium, width):
    """At 390 px the top bar wraps (Log out stays on screen, on the dark bar) and wide tables
    scroll inside themselves: the page itself never scrolls sideways. Nor at a tablet's 768 px, where the agreement
    page's per-annotator table (eleven columns) made the page 943 px wide."""
    ratings = [{"ann": "CFS", "ben": "NFS"}, {"ann": "UFS", "ben": "UFS"}, {"ann": "CFS", "ben": "UFS"}, {"ann": "NFS", "ben": "NFS"}]
    seeded = seed(app, ratings, [0, 0, 1, 1], annotators_per_article=2, assign=True)
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    add_user(app, "root", "admin", PASSWORD)
    pid = seeded.project_id
    pages = {
        "rita": ["/review/", f"/review/{pid}/agreement", f"/review/{pid}/queue", f"/review/{pid}/sentences/{seeded.sentences[0]}"],
        "root": ["/admin/", f"/admin/projects/{pid}", f"/admin/projects/{pid}/members", f"/admin/projects/{pid}/assignments",
                 f"/admin/projects/{pid}/progress", f"/admin/projects/{pid}/guidelines", "/admin/users"],
    }
    for name, urls in pages.items():
        context = chromium.new_context(viewport={"width": width, "height": 844})
        page = context.new_page()
        try:
            page.goto(server + "/login")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/")
            for url in urls:
                assert page.goto(server + url).ok, url
                wide = page.evaluate("() => document.documentElement.scrollWidth")
                assert wide <= width, (url, wide)
                bar = page.locator("header.topbar").bounding_box()
                logout = page.locator("header.topbar .who button").bounding_box()
                assert logout["x"] >= 0 and logout["x"] + logout["width"] <= width, (url, logout)
                assert bar["y"] <= logout["y"] and logout["y"] + logout["height"] <= bar["y"] + bar["height"], (url, logout, bar)
        finally:
            context.close()


def test_on_a_phone_each_disputed_sentence_opens_without_sideways_scrolling(app, server, chromium):
    """Found by a newcomer at 390 px: the queue's only link into adjudication, the sentence's text, was the sixth of seven
    columns, off the screen until the table was swiped sideways. On a phone each row is now a card: the sentence's
    text (the link) first, its figures below, nothing to scroll sideways."""
    ratings = [{"ann": "CFS", "ben": "NFS"}, {"ann": "UFS", "ben": "UFS"}, {"ann": "CFS", "ben": "UFS", "cat": "UFS"}]
    seeded = seed(app, ratings, [0, 0, 1], annotators_per_article=2)
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(server + "/login")
        page.fill("input[name=name]", "rita")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        page.goto(f"{server}/review/{seeded.project_id}/queue")
        rows = page.locator("#queue tbody tr")
        assert rows.count() == 2
        for i in range(2):
            link = rows.nth(i).locator("td.sentence-text a").bounding_box()
            assert link and 0 <= link["x"] and link["x"] + link["width"] <= 390, link  # on the screen as it opens
            cells = rows.nth(i).locator("td").evaluate_all("(tds) => tds.map((td) => td.getBoundingClientRect().right)")
            assert max(cells) <= 390, cells  # and the rest of the row too
        sideways = page.evaluate("() => { const t = document.getElementById('queue'); return [t.scrollWidth, t.clientWidth, document.documentElement.scrollWidth]; }")
        assert sideways[0] <= sideways[1] and sideways[2] <= 390, sideways
        captions = rows.nth(0).locator("td").evaluate_all("(tds) => tds.map((td) => getComputedStyle(td, '::before').content)")
        assert '"Label agreement: "' in captions and '"Gold: "' in captions, captions  # each figure still says what it is
        rows.nth(1).locator("td.sentence-text a").tap()
        page.wait_for_url(re.compile(rf"/review/{seeded.project_id}/sentences/{seeded.sentences[2]}$"))
    finally:
        context.close()


def test_the_label_keys_choose_the_gold_label(app, server, chromium):
    """Found walking the adjudication page with the keyboard: the span keys (q, s, c) and the link key (l) worked as
    on the annotation page, but the sentence label keys (1, 2, 3) did nothing, so the gold label took Tab to its
    radios. Each radio now shows its key, the key chooses it, and typing in the reason still types."""
    seeded = seed(app, [{"ann": "CFS", "ben": "NFS"}, {"ann": "UFS", "ben": "UFS"}], [0, 0], annotators_per_article=2)
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.wait_for_url(re.compile(r"/$"))
        page.goto(f"{server}/review/{seeded.project_id}/sentences/{seeded.sentences[0]}")
        checked = "() => document.querySelector('input[name=label]:checked')?.value ?? null"
        assert page.evaluate(checked) is None  # one each: nothing chosen for the reviewer
        assert page.locator("#adjudicate fieldset:first-of-type kbd").all_inner_texts() == ["1", "2", "3"]
        page.keyboard.press("3")
        assert page.evaluate(checked) == "NFS"
        page.keyboard.press("1")
        assert page.evaluate(checked) == "CFS"
        page.click("#reason")
        page.keyboard.type("2 of us")
        assert page.evaluate(checked) == "CFS" and page.input_value("#reason") == "2 of us"
        page.click("#save-gold")
        page.wait_for_selector(".flash-success")
        with app.app_context():
            gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == seeded.sentences[0]))
            assert (gold.label, gold.provenance, gold.reason) == ("CFS", "adjudicated", "2 of us")
        assert problems == []
    finally:
        context.close()


def test_a_span_key_with_no_text_selected_says_so(app, server, chromium):
    """Found walking the adjudication page with the keyboard: q, s or c with no text of the sentence selected did
    nothing and said nothing (the QUOTE button said to select text first). The key now says it too, and still marks
    selected text."""
    pid, sid = _disputed_second_sentence(app, "harbour", "Harbour fees rise again. The mayor said fees will double. Ferries run.")
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{pid}/sentences/{sid}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.keyboard.press("q")
        assert page.text_content("#mark-status") == "Select some text of the sentence first."
        page.evaluate(SELECT_IN_SENTENCE, ["The mayor", 0])
        page.keyboard.press("s")
        assert page.inner_text("#sentence-text mark.gold[data-label=SOURCE]") == "The mayor"
        assert problems == []
    finally:
        context.close()


def test_a_gold_span_that_takes_its_quote_marks_in_is_quoted_once(app, server, chromium):
    """The adjudication page put its own curly quotes around every span text, so a quote's span that took in its
    marks read ““Nobody wants to pay more”” in the status line, the new span's row and the link's message; it quotes
    through static/js/quotes.js now, as the annotation page does."""
    text = "Rents rose again. The mayor said \u201cNobody wants to pay more\u201d at noon. Ferries still run daily."
    pid, sid = _disputed_second_sentence(app, "rents", text)

    quote = "\u201cNobody wants to pay more\u201d"
    once = f"QUOTE marked: {quote}."
    context, page, problems = reviewer_page(chromium, server)
    try:
        page.goto(f"{server}/review/{pid}/sentences/{sid}")
        page.wait_for_selector("#gold-marker:not([hidden])")
        page.evaluate(SELECT_IN_SENTENCE, ["The mayor", 0])
        page.keyboard.press("s")
        page.evaluate(SELECT_IN_SENTENCE, [quote, 0])
        page.keyboard.press("q")
        page.wait_for_selector("#sentence-text mark.gold[data-label=QUOTE]")
        assert page.text_content("#mark-status").startswith(once), page.text_content("#mark-status")
        row = page.locator("#gold-spans label.new-span", has_text="Nobody").text_content()
        assert f" {quote} " in row and "\u201c\u201c" not in row and "\u201d\u201d" not in row, row
        page.keyboard.press("l")  # link the quote just marked to its source
        page.keyboard.press("n")
        page.keyboard.press("Enter")
        linked = f"Linked {quote} \u2192 SOURCE \u201cThe mayor\u201d."
        assert page.text_content("#mark-status").startswith(linked), page.text_content("#mark-status")
        link = page.locator("#gold-links label.new-link").text_content()
        assert f" {quote} " in link and "\u201c\u201c" not in link, link
        assert problems == []
    finally:
        context.close()


# where an element's first and last characters are drawn, left to right
CHARACTER_ENDS = """(el) => {
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walk.nextNode(); n; n = walk.nextNode()) if (n.data.trim()) nodes.push(n);
  const at = (node, i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect().left; };
  const first = nodes[0], last = nodes[nodes.length - 1];
  return [at(first, first.data.search(/\\S/)), at(last, last.data.trimEnd().length - 1)];
}"""


def two_disputed_sentences(app, text: str) -> tuple[int, int, int, int]:
    """A project whose one article (`text`, two sentences) ann and ben labelled, agreeing on neither sentence's label
    (CFS/UFS, CFS/NFS), with rita its reviewer: (project id, article id, first sentence id, second sentence id)."""
    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "news")
        people = [accounts.create_user(s, n, "annotator", PASSWORD) for n in ("ann", "ben")]
        rita = accounts.create_user(s, "rita", "reviewer", PASSWORD)
        articles.store_articles(s, project, [ArticleRecord("r1", "", text)], "x")
        projects.add_members(s, project.id, [*people, rita])
        assignment.assign_balanced(s, project.id, 2)
        s.commit()
        article = s.scalar(select(Article).where(Article.external_id == "r1"))
        for person, labels in zip(people, (("CFS", "CFS"), ("UFS", "NFS")), strict=True):
            for index, label in enumerate(labels):
                annotations.write(s, lambda u=person.id, i=index, v=label: annotations.put_label(s, u, article.id, i, v))
        first, second = s.scalars(select(Sentence.id).where(Sentence.article_id == article.id).order_by(Sentence.index)).all()
        return project.id, article.id, first, second


def test_a_right_to_left_sentence_reads_right_to_left_on_the_review_pages(app, server, chromium):
    """Found walking the review pages with a Hebrew article: the queue, the adjudication page and the segmentation page
    drew a sentence in a left-to-right paragraph, so its closing quote mark and full stop stood at its right, before its
    first word ('"השופט אמר: "זה יום חשוב.' for 'השופט אמר: "זה יום חשוב".'). Each sentence takes its direction from its
    own text: a Hebrew one ends at the left, an English one beside it is as before."""
    hebrew = 'השופט אמר: "זה יום חשוב".'
    pid, aid, first, second = two_disputed_sentences(app, f"{hebrew} The court sat on Monday.")
    with app.app_context():
        start, end = db.session.execute(select(Sentence.start, Sentence.end).where(Sentence.id == first)).one()
        assert db.session.get(Article, aid).text[start:end] == hebrew

    context, page, problems = reviewer_page(chromium, server)
    try:
        shown = {
            f"/review/{pid}/queue": [(f"#queue tr[data-sentence='{first}'] td.sentence-text a", "rtl"),
                                    (f"#queue tr[data-sentence='{second}'] td.sentence-text a", "ltr")],
            f"/review/{pid}/sentences/{first}": [("#sentence-text", "rtl"), (".annotator .marked", "rtl")],
            f"/review/{pid}/sentences/{second}": [("#sentence-text", "ltr"), (".context .around", "rtl")],
            f"/segmentation/articles/{aid}": [(f".seg-text[data-sentence-id='{first}']", "rtl"), (f".seg-text[data-sentence-id='{second}']", "ltr")],
        }
        for url, elements in shown.items():
            assert page.goto(server + url).ok, url
            for selector, direction in elements:
                start, end = page.locator(selector).first.evaluate(CHARACTER_ENDS)
                assert (end < start) == (direction == "rtl"), (url, selector, start, end)
        assert problems == []
    finally:
        context.close()


def test_a_right_to_left_article_reads_right_to_left_on_the_article_label_page(app, server, chromium):
    """Found in the last walk: the article-label adjudication page drew a Hebrew article's title and text left to
    right (no direction at all), so their full stops stood at the right, before the first word."""
    from .test_article_label_review import SPLIT, make_world

    world = make_world(app, [SPLIT], title="הכותרת של הכתבה {k}.", text='השופט אמר: "זה יום חשוב". הדיון נמשך.')
    context, page, problems = reviewer_page(chromium, server, name="rev")
    try:
        assert page.goto(f"{server}/review/{world.project}/articles/{world.articles[0]}/labels").ok
        page.click("#context summary")
        for selector in ("h1 .article-title", "#context .article-text"):
            start, end = page.locator(selector).first.evaluate(CHARACTER_ENDS)
            assert end < start, (selector, start, end)
        assert problems == []
    finally:
        context.close()


# The right edge of a text as laid out (of its rightmost character), and the right edge of the content box it is laid
# out in (its block's, or its table cell's for an inline link).
TEXT_RIGHT_AND_BOX_RIGHT = """(el) => {
  const r = document.createRange(); r.selectNodeContents(el);
  const box = getComputedStyle(el).display === 'inline' ? el.parentElement : el;
  const style = getComputedStyle(box);
  return [Math.max(...[...r.getClientRects()].map((x) => x.right)),
          box.getBoundingClientRect().right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth)];
}"""


def test_a_sentence_on_the_review_pages_reads_the_way_most_of_its_letters_do(app, server, chromium):
    """A Hebrew sentence opening with "CNN" was drawn left to right on the queue and the adjudication page (dir="auto"
    goes by the first strong letter), and an English one opening with a Hebrew name right to left. Each now takes the
    direction most of its letters take, as the annotation page's sentences do; a right-to-left one starts at the right
    of its line in the queue (its cell aligned its text left), and the adjudication page's bar beside the sentence is at
    its start, the right, in a right-to-left one."""
    hebrew = "CNN דיווחה כי השופט אמר שזה יום חשוב."
    english = "דוד Levi, the court's clerk, said the court sat on Monday and would sit again on Friday to hear the appeal."
    pid, aid, first, second = two_disputed_sentences(app, f"{hebrew} {english}")

    context, page, problems = reviewer_page(chromium, server)
    try:
        shown = {
            f"/review/{pid}/queue": [(f"#queue tr[data-sentence='{first}'] td.sentence-text a", "rtl"),
                                    (f"#queue tr[data-sentence='{second}'] td.sentence-text a", "ltr")],
            f"/review/{pid}/sentences/{first}": [("#sentence-text", "rtl"), (".annotator .marked", "rtl"), (".context .around", "ltr")],
            f"/review/{pid}/sentences/{second}": [("#sentence-text", "ltr"), (".context .around", "rtl")],
            f"/segmentation/articles/{aid}": [(f".seg-text[data-sentence-id='{first}']", "rtl"), (f".seg-text[data-sentence-id='{second}']", "ltr")],
        }
        for url, elements in shown.items():
            assert page.goto(server + url).ok, url
            page.wait_for_load_state("load")
            for selector, direction in elements:
                element = page.locator(selector).first
                assert element.evaluate("(el) => getComputedStyle(el).direction") == direction, (url, selector)
                if direction == "rtl":  # its line starts at the right
                    start, box = element.evaluate(TEXT_RIGHT_AND_BOX_RIGHT)
                    assert abs(start - box) < 3, (url, selector, start, box)
        for sentence, bar in ((first, "Right"), (second, "Left")):
            page.goto(f"{server}/review/{pid}/sentences/{sentence}")
            widths = page.locator("#sentence-text").evaluate("(el) => [getComputedStyle(el).borderLeftWidth, getComputedStyle(el).borderRightWidth]")
            assert widths == (["0px", "3px"] if bar == "Right" else ["3px", "0px"]), (sentence, widths)
        assert problems == []
    finally:
        context.close()


HE_QUOTED = 'הגשר ייסגר לשיפוצים. ראש העירייה אמר: "העבודות יימשכו שנה". המועצה תצביע מחר.'

# Each list item of an annotator's card: the right edge of its span's text (the quoted words) and the left edge of the
# offsets after it.
_WORDS_THEN_OFFSETS = """(card) => [...card.querySelectorAll('ul.spans li')].map((li) => {
  const offsets = li.querySelector('.muted');
  const words = document.createRange();
  words.setStartAfter(li.querySelector('.span-label')); words.setEndBefore(offsets);
  return [li.textContent.trim(), Math.max(...[...words.getClientRects()].map((r) => r.right)), offsets.getBoundingClientRect().left];
})"""


@pytest.mark.parametrize("phone", [False, True])
def test_hebrew_span_text_in_an_annotators_card_keeps_its_offsets_after_it(app, server, chromium, phone):
    """Walking the adjudication page with a Hebrew article: each annotator's card listed a span as 'SOURCE ”31–20 ”ראש
    העירייה' – the offsets after Hebrew words were drawn into their right-to-left run, reversed and left of them, the
    closing quote mark with them. The span's quoted words are isolated: the offsets stand after them, 20–31."""
    from annotator.db.models import Span

    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "news")
        people = [accounts.create_user(s, n, "annotator", PASSWORD) for n in ("ann", "ben")]
        rita = accounts.create_user(s, "rita", "reviewer", PASSWORD)
        articles.store_articles(s, project, [ArticleRecord("r1", "", HE_QUOTED)], "x")
        projects.add_members(s, project.id, [*people, rita])
        assignment.assign_balanced(s, project.id, 2)
        s.commit()
        article = s.scalar(select(Article).where(Article.external_id == "r1"))
        for person, label in zip(people, ("CFS", "UFS"), strict=True):
            annotations.write(s, lambda u=person.id, v=label: annotations.put_label(s, u, article.id, 1, v))
        begin_write(s)
        for needle, name in (("ראש העירייה", "SOURCE"), ("העבודות יימשכו שנה", "QUOTE")):
            start = HE_QUOTED.index(needle)
            s.add(Span(article_id=article.id, user_id=people[0].id, label=name, start=start, end=start + len(needle)))
        s.commit()
        sentence = s.scalar(select(Sentence.id).where(Sentence.article_id == article.id, Sentence.index == 1))
        pid = project.id

    context, page, problems = reviewer_page(chromium, server, phone=phone)
    try:
        page.goto(f"{server}/review/{pid}/sentences/{sentence}")
        rows = page.locator(".annotator[data-annotator=ann]").evaluate(_WORDS_THEN_OFFSETS)
        assert len(rows) == 2
        for text, words_right, offsets_left in rows:
            assert words_right <= offsets_left, (text, words_right, offsets_left)
        assert problems == []
    finally:
        context.close()
