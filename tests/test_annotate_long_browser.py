"""The annotation page on long articles, in Chromium: a synthetic one of 360 sentences (CRLF line ends, emoji,
combining accents, right-to-left text), and the project's own long news article (tests/data/long/port_strike.txt).

What only a long page shows: a span chosen far from the current sentence (n / p, the Links panel) must make its
sentence current, or a label key labels a sentence off the screen and the page jumps back to it; keyboard focus
must stay in a panel whose list is redrawn; offsets must hold thousands of characters in.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select, update

from annotator.db import db
from annotator.db.models import Project, Relation, Span
from annotator.db.transactions import transaction
from annotator.domain import accounts, suggesters
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import needs_chromium
from .test_annotate_browser import db_labels, db_relations, db_spans, open_page, seed, settled, wait_saved
from .test_annotate_page_edges_browser import current_text, drag_select

pytestmark = needs_chromium

PORT_STRIKE = Path(__file__).resolve().parent / "data" / "long" / "port_strike.txt"

PEOPLE = ("Dr. L\u00e9a Moreau", "Sen. Ana Castillo", "Maj.-Gen. Tomas Berg", "Noa Ben-David", "Zo\u00eb Kowalczyk", "Rene\u0301e Dupont")
PLACES = ("Kyiv", "S\u00e3o Paulo", "\u0141\u00f3d\u017a", "Reykjav\u00edk", "Tel Aviv", "Beirut")
RTL = ("\u05d4\u05de\u05d7\u05d9\u05e8 \u05e2\u05dc\u05d4", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0643\u0645")
EMOJI = ("\U0001f44d\U0001f3fd", "\U0001f1fa\U0001f1e6", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\u2764\ufe0f", "\U0001f309")
SENTENCES = (
    "Prices in {place} rose by {i}% in report {i}, the statistics office said.",
    "\u201cWe will not back down in case {i},\u201d {person} told reporters in {place}.",
    "{person} said the cafe\u0301 owners of block {i} had waited weeks for the money {emoji}.",
    "Residents of street {i} held signs reading \u201c{rtl}\u201d outside the town hall.",
    "The ministry said {i} families had moved since March {emoji}.",
)


def with_suggestions(app) -> None:
    """Suggestions on, and the attribution rules' quotes, sources and cues suggested all over the article."""
    with app.app_context():
        s = db.session
        with transaction(s):
            s.execute(update(Project).values(suggestions_enabled=True))
        with transaction(s):
            suggesters.run(s, s.scalar(select(Project.id)), suggesters=[suggesters.AttributionRules()])
        s.remove()


def long_article(count: int = 360) -> str:
    """`count` sentences (a title, then sentence i names the number i), one to four a line, lines ending in CRLF."""
    lines, line = ["A long year in twelve cities\r\n"], []
    for i in range(1, count):
        line.append(SENTENCES[i % len(SENTENCES)].format(
            i=i, place=PLACES[i % len(PLACES)], person=PEOPLE[i % len(PEOPLE)], rtl=RTL[i % len(RTL)], emoji=EMOJI[i % len(EMOJI)]))
        if len(line) == 1 + i % 4:
            lines.append(" ".join(line) + "\r\n")
            line = []
    lines.append(" ".join(line))
    return "".join(lines).rstrip("\r\n")


LONG = long_article()


def click_sentence(page, index: int) -> None:
    """Make a sentence current the way an annotator does: scroll to it and click its text."""
    piece = page.locator(f"#text .pc[data-s='{index}']").first
    piece.scroll_into_view_if_needed()
    piece.click()
    assert page.evaluate("() => document.querySelector('#text .pc.cur').dataset.s") == str(index)


def focused(page) -> str:
    """The focused element, as a test can name it."""
    return page.evaluate(
        """() => { const a = document.activeElement; const row = a.closest('li');
                   return `${a.tagName.toLowerCase()}.${a.className}${row ? ' in ' + (row.dataset.span || row.dataset.rel) : ''}`; }""")


def add_quotes_with_sources(app, user: str, article_id: int, reports: bool = False) -> int:
    """Every quote of LONG (72) marked and linked to its source, as an annotator far into the article has them; with
    `reports`, each report's figures too, attributed to the statistics office (71 more)."""
    quotes = list(re.finditer(r"\u201c(We will not back down in case \d+),\u201d (.+?) told", LONG))
    if reports:
        quotes += list(re.finditer(r"(Prices in .+? rose by \d+% in report \d+), (the statistics office) said", LONG))
    with app.app_context():
        uid = accounts.get_user(db.session, user).id
        for m in quotes:
            quote = Span(article_id=article_id, user_id=uid, label="QUOTE", start=m.start(1), end=m.end(1))
            source = Span(article_id=article_id, user_id=uid, label="SOURCE", start=m.start(2), end=m.end(2))
            db.session.add_all([quote, source])
            db.session.flush()
            db.session.add(Relation(article_id=article_id, user_id=uid, type="attributed_to", from_span_id=quote.id, to_span_id=source.id))
        db.session.commit()
        db.session.remove()
    return len(quotes)


# ------------------------------------------------------------------ a span chosen far away makes its sentence current


def test_a_span_chosen_with_n_or_in_the_links_panel_makes_its_sentence_the_one_a_label_key_labels(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    assert page.locator("#text .pc[data-s='359']").count() == 1  # 360 sentences, as the segmenter split them

    # A quote and its source in sentence 300, linked, far below the top of the page.
    drag_select(page, "rose by 300% in report 300")
    page.keyboard.press("q")
    drag_select(page, "the statistics office", LONG[:LONG.index("report 300,")].count("the statistics office"))
    page.keyboard.press("s")
    page.locator("#text .tag").first.click()  # the quote
    page.keyboard.press("l")
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    wait_saved(page)
    assert len(db_relations(app, "ann")) == 1
    page.keyboard.press("Escape")

    # Back at the top, sentence 3 current; n selects the first span after it, the quote in sentence 300, and scrolls
    # there: a label key now labels sentence 300, not sentence 3 off the screen (which the page jumped back to).
    click_sentence(page, 3)
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    assert "report 300" in current_text(page)
    settled(page)  # n scrolls there smoothly: read where it ends, not a point on the way
    scrolled = page.evaluate("() => window.scrollY")
    page.keyboard.press("2")
    wait_saved(page)
    assert {i: label for i, (label, _) in db_labels(app, "ann", ids["long"]).items()} == {300: "UFS"}
    assert abs(page.evaluate("() => window.scrollY") - scrolled) < 300

    # The Links panel's quote, clicked from sentence 3: the same.
    click_sentence(page, 3)
    page.keyboard.press("Escape")
    page.locator("#links button.link-text.quote").click()
    assert "report 300" in current_text(page)
    page.keyboard.press("3")
    wait_saved(page)
    assert {i: label for i, (label, _) in db_labels(app, "ann", ids["long"]).items()} == {300: "NFS"}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ focus stays in a panel whose list is redrawn


def test_deleting_from_the_spans_or_links_panel_by_keyboard_keeps_the_focus_in_the_panel(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    before = LONG[:LONG.index("report 300,")]  # which occurrence of each is sentence 300's
    for needle, key in [("rose by 300% in report 300", "q"), ("the statistics office", "s"), ("said", "c")]:
        drag_select(page, needle, before.count(needle))
        page.keyboard.press(key)
    page.locator("#text .tag").first.click()  # the quote: link it to its source
    page.keyboard.press("l")
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    wait_saved(page)
    spans = {text: uid for uid, _, start, end in db_spans(app, "ann", ids["long"]) for text in [LONG[start:end]]}
    assert sorted(spans) == ["rose by 300% in report 300", "said", "the statistics office"]

    # The link's ✕, pressed from the keyboard: the link goes, and the focus, with no link left, goes to the text
    # (it fell to the page's body, and a screen reader's place with it).
    page.locator("#links button.x").focus()
    page.keyboard.press("Enter")
    wait_saved(page)
    assert db_relations(app, "ann") == []
    assert focused(page) == "div.text"

    # A span's ✕: the focus goes to the ✕ of the span that takes its row.
    page.locator(f"#spans li[data-span='{spans['rose by 300% in report 300']}'] button.x").focus()
    page.keyboard.press("Enter")
    wait_saved(page)
    assert focused(page) == f"button.x in {spans['the statistics office']}"

    # A span chosen in the panel (Enter on its text), then Delete: the focus goes to the next span's text.
    page.locator(f"#spans li[data-span='{spans['the statistics office']}'] button.span-text").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Delete")
    wait_saved(page)
    assert focused(page) == f"button.span-text in {spans['said']}"
    page.keyboard.press("Delete")  # the focused row's span is selected no more: Delete deletes nothing
    wait_saved(page)  # a delete it did queue would reach the database only with its answer: read before, it passed
    assert [text for _, _, start, end in db_spans(app, "ann", ids["long"]) for text in [LONG[start:end]]] == ["said"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ changes kept in the browser, sent after a reload


def test_the_hint_says_the_changes_kept_before_a_reload_were_sent_once_they_are(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    cut_off = {"on": True}

    def network(route):
        if route.request.method != "GET" and cut_off["on"]:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page = open_page(chromium, server, "ann", ids["long"], routes={"**/api/articles/**": network})
    page.keyboard.press("1")
    page.keyboard.press("2")
    page.wait_for_function("() => document.getElementById('save-status').dataset.state === 'retrying'")
    cut_off["on"] = False
    page.reload()
    page.wait_for_selector("#annotate[data-ready=true]")
    wait_saved(page)
    assert {i: label for i, (label, _) in db_labels(app, "ann", ids["long"]).items()} == {0: "CFS", 1: "UFS"}
    # It said "Sending 2 changes saved in this browser before the last reload…" beside "✓ saved" for good.
    assert page.inner_text("#hint") == "Sent the 2 changes left unsent when this article was last open in this browser."
    assert page.errors == [] or all("ERR_INTERNET_DISCONNECTED" in e for e in page.errors)  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ the place kept over a reload is in sight at once


def test_a_reload_far_down_a_long_article_opens_at_the_kept_sentence_at_once(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"])
    click_sentence(page, 300)
    page.reload()
    # In the same task as the page says it is ready: the sentence is in the window, not 15,000 px below a smooth
    # scroll that starts at the top of the article (a key pressed meanwhile acted on a sentence not yet in sight).
    inside = page.evaluate(
        """() => new Promise((resolve) => {
             const check = () => {
               if (document.getElementById('annotate').dataset.ready !== 'true') { requestAnimationFrame(check); return; }
               const cur = document.querySelector('#text .pc.cur').getBoundingClientRect();
               resolve({s: document.querySelector('#text .pc.cur').dataset.s, inside: cur.top >= 0 && cur.bottom <= window.innerHeight});
             };
             check();
           })""")
    assert inside == {"s": "300", "inside": True}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ moving between sentences redraws only what moves


def test_moving_between_sentences_redraws_the_current_bar_not_every_link_in_the_margin(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    quotes = add_quotes_with_sources(app, "ann", ids["long"])
    page = open_page(chromium, server, "ann", ids["long"])
    assert page.locator("#margin path[data-rel]").count() == quotes == 72
    page.evaluate(
        """() => { window.marginChanges = 0;
                   new MutationObserver((records) => { for (const r of records) window.marginChanges += r.addedNodes.length + r.removedNodes.length; })
                     .observe(document.getElementById('margin'), {childList: true, subtree: true}); }""")
    bar = page.evaluate("() => document.querySelector('#margin .current-bar').getAttribute('y')")
    for _ in range(5):
        page.keyboard.press("j")
    settled(page)  # the moves' smooth scroll over and frames after it: a redraw a scroll set off would be counted too
    # Each j moved the bar (one node out, one in): it redrew the 72 links' 288 shapes, and read their places, every time.
    assert page.evaluate("() => window.marginChanges") <= 10
    assert page.evaluate("() => document.querySelector('#margin .current-bar').getAttribute('y')") != bar
    assert page.locator("#margin .current-bar").count() == 1
    assert page.locator("#margin path[data-rel]").count() == 72
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ Tab reaches the panels past hundreds of suggestions


def test_tab_from_the_text_visits_the_current_sentences_suggestions_then_the_panels(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    with_suggestions(app)
    page = open_page(chromium, server, "ann", ids["long"])
    ghosts = page.locator("#text .gtag").count()
    assert ghosts > 200

    def tabs_to(selector: str, at_most: int) -> list[str]:
        """Tab from the text until the selector's element has the focus; the ghosts passed on the way."""
        page.focus("#text")
        passed = []
        for _ in range(at_most):
            page.keyboard.press("Tab")
            if page.evaluate("(sel) => document.activeElement.matches(sel)", selector):
                return passed
            passed.append(page.evaluate("() => document.activeElement.getAttribute('aria-label') || document.activeElement.id"))
        raise AssertionError(f"{selector} not reached in {at_most} Tabs: {passed[:5]}…")

    # Sentence 1 (a quote of case 1, its source and cue): its three suggestions, then the Spans panel's toggle;
    # every ghost of the article was a Tab stop, and the panels hundreds of Tabs away.
    click_sentence(page, 1)
    passed = tabs_to("#spans-all", 10)
    assert len(passed) == 3 and all("case 1”" in label or "Sen. Ana" in label or "told" in label for label in passed), passed
    # j to another sentence: its suggestions are the Tab stops now, and Enter on one opens its menu.
    page.focus("#text")
    for _ in range(5):
        page.keyboard.press("j")  # to sentence 6, a quote of case 6
    passed = tabs_to("#spans-all", 10)
    assert passed and all("case 6”" in label or "Dr. L" in label or "told" in label for label in passed), passed
    page.focus("#text")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.locator(".ghost-menu").wait_for(state="visible")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ the long news article: offsets as selected, in the export


def test_spans_marked_across_sentences_of_the_long_news_article_export_as_selected(app, server, chromium, runner, tmp_path):
    text = PORT_STRIKE.read_text(encoding="utf-8")
    ids = seed(app, [ArticleRecord("port", "Dock workers end nine-day strike at Marenport after pay deal", text)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["port"])
    quote = ("Nobody wanted this strike to last as long as it did,\u201d said Tomasz Wierzba, the union's regional secretary. "
             "\u201cBut our members could not go on losing ground every year.")
    said = text[:text.index(quote)].count("said")  # the cue inside the quote's span, not the union's "said" before it
    marks = [(quote, 0, "q"), ("Tomasz Wierzba", 0, "s"), ("said", said, "c"), ("Prof. Elin Sandvik", 0, "s"),
             ("\u20ac4m and \u20ac6m \u2026 a figure", 0, "q")]
    for needle, nth, key in marks:
        drag_select(page, needle, nth)
        page.keyboard.press(key)
        if needle == quote:
            assert "(across sentences 5\u20136) selected" in page.inner_text("#hint")
    wait_saved(page)
    page.keyboard.press("Escape")
    out = tmp_path / "port.jsonl"
    assert runner.invoke(args=["export", "Bridge", "--unit", "article", "-o", str(out)]).exit_code == 0
    [record] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert record["text"] == text
    [mine] = record["annotations"]
    assert sorted((s["label"], record["text"][s["start"]:s["end"]]) for s in mine["spans"]) == sorted(
        [("QUOTE", quote), ("SOURCE", "Tomasz Wierzba"), ("CUE", "said"), ("SOURCE", "Prof. Elin Sandvik"),
         ("QUOTE", "\u20ac4m and \u20ac6m \u2026 a figure")])
    assert all(s["text"] == record["text"][s["start"]:s["end"]] for s in mine["spans"])
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ the panels at the foot of a long article


def test_at_the_foot_of_a_long_article_the_panels_start_below_the_toolbar(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    add_quotes_with_sources(app, "ann", ids["long"])  # the Links panel lists 72: the panels are as tall as they may be
    page = open_page(chromium, server, "ann", ids["long"])
    page.keyboard.press("End")
    page.wait_for_function("() => window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 1")
    settled(page)  # the hint that the keys act above is drawn a frame after the scroll: read after it
    places = page.evaluate(
        """() => ({head: document.getElementById('sticky-head').getBoundingClientRect().bottom,
                   side: document.getElementById('side').getBoundingClientRect().top})""")
    # The sticky panels stop at the foot of the article's column: they were pushed up under the toolbar, which hid
    # the Current sentence panel's heading at the end of every article long enough to scroll.
    assert places["side"] >= places["head"], places
    assert page.locator("#current-panel h2").is_visible()
    page.context.close()


# ------------------------------------------------------------------ link numbers past 99


def test_link_numbers_of_three_digits_fit_their_badges_in_the_margin(app, server, chromium):
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    assert add_quotes_with_sources(app, "ann", ids["long"], reports=True) == 143
    page = open_page(chromium, server, "ann", ids["long"])
    page.keyboard.press("End")  # the 100th link on in sight, as an annotator sees them
    settled(page)  # read once the scroll and what it set off (the hint that the keys act above) are over
    # Each number's text inside the badge drawn under it: from 100 on, the digits ran over a circle made for two.
    overflows = page.evaluate(
        """() => [...document.querySelectorAll('#margin text')].map((t) => {
             const badge = t.previousElementSibling.getBBox(), digits = t.getBBox();
             return {n: t.textContent, inside: digits.x >= badge.x && digits.x + digits.width <= badge.x + badge.width};
           }).filter((x) => !x.inside).map((x) => x.n)""")
    assert page.locator("#margin text").count() == 143
    assert overflows == []
    # ...and in the Links panel's list, whose circles were as narrow
    cramped = page.evaluate("() => [...document.querySelectorAll('#links .num')].filter((n) => n.scrollWidth > n.clientWidth).map((n) => n.textContent)")
    assert page.locator("#links .num").count() == 143
    assert cramped == []
    page.context.close()


# ------------------------------------------------------------------ on a phone, a choice in the panels sheet shows in the text

PHONE = (360, 740)

# JS: whether an element is in sight: a point of its first line inside the window, and not under anything else (the
# panels sheet, the sticky toolbar).
_IN_SIGHT = """(sel) => { const node = document.querySelector(sel); const r = node && node.getClientRects()[0]; if (!r) return false;
  const x = r.left + Math.min(r.width / 2, 4), y = r.top + r.height / 2;
  if (!r.height || y < 0 || y > innerHeight) return false;
  const top = document.elementFromPoint(x, y); return Boolean(top) && (top === node || node.contains(top)); }"""


def in_sight(page, selector: str, timeout: int = 10_000) -> bool:
    """Whether the element comes into sight within `timeout` ms (a smooth scroll takes a moment, and a loaded machine
    draws few frames of it a second)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # as conftest's chromium: only where Chromium is

    try:
        page.wait_for_function(_IN_SIGHT, arg=selector, timeout=timeout)
    except PlaywrightTimeout:
        return False
    return True


def test_on_a_phone_a_span_link_or_suggestion_chosen_in_the_panels_closes_the_sheet_over_the_text(app, server, chromium):
    """On a phone the panels are a sheet over the article: a span, a link or a suggestion chosen in it was scrolled to
    under the sheet, which stayed open, so the annotator did not see what they chose. Such a choice closes the sheet;
    one that stays in the panels (a ✕, the "whole article" toggle) leaves it open."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    add_quotes_with_sources(app, "ann", ids["long"])
    with_suggestions(app)
    spans = {LONG[start:end]: uid for uid, _, start, end in db_spans(app, "ann", ids["long"])}
    page = open_page(chromium, server, "ann", ids["long"], viewport=PHONE, touch=True)
    toggle = page.locator("#panels-toggle")
    sheet = page.locator("#side")

    # The whole article's spans, listed with the toggle: the sheet stays, the list is in it.
    toggle.tap()
    assert sheet.is_visible()
    page.locator("#spans-all").tap()
    assert sheet.is_visible() and page.locator("#spans li").count() == 144

    # A quote far down, chosen in the Spans panel: the sheet closes, and the quote is in sight, selected.
    quote = spans["We will not back down in case 301"]
    page.locator(f"#spans li[data-span='{quote}'] button.span-text").tap()
    assert sheet.is_hidden()
    assert in_sight(page, f"#text .tag[data-span='{quote}']"), "the chosen span is under the sheet"
    assert "case 301" in current_text(page)
    assert toggle.get_attribute("aria-expanded") == "false"

    # A ✕ in the Spans panel deletes in place: the sheet stays open on the list.
    toggle.tap()
    page.locator(f"#spans li[data-span='{spans['We will not back down in case 6']}'] button.x").tap()
    wait_saved(page)
    assert sheet.is_visible()

    # A link's source chosen in the Links panel: the sheet closes, the source is in sight.
    page.locator("#links li").nth(40).locator(".link-to button.link-text").tap()
    assert sheet.is_hidden()
    chosen = page.evaluate("() => document.querySelector('#text .tag.sel').dataset.span")
    assert LONG[slice(*[(s, e) for uid, _, s, e in db_spans(app, "ann", ids["long"]) if uid == chosen][0])] in PEOPLE
    assert in_sight(page, f"#text .tag[data-span='{chosen}']"), "the chosen source is under the sheet"

    # A suggestion chosen in the Spans panel to decide on: the sheet closes, its menu opens under it in the text.
    toggle.tap()
    row = page.locator("#ghost-list li[data-kind='span']").last
    ghost = row.get_attribute("data-suggestion")
    row.locator("button.span-text").tap()
    assert sheet.is_hidden()
    assert in_sight(page, f"#text .gtag[data-ghost='{ghost}']")
    assert in_sight(page, ".ghost-menu button[data-decision='accept']")
    page.locator(".ghost-menu button[data-decision='accept']").tap()
    wait_saved(page)
    assert page.locator(f"#text .gtag[data-ghost='{ghost}']").count() == 0  # decided, in sight
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


# ------------------------------------------------------------------ the keys never act on a sentence scrolled out of sight


def labels_of(app, article_id: int) -> dict[int, str]:
    return {i: label for i, (label, _) in db_labels(app, "ann", article_id).items()}


def away(page) -> None:
    """Wait for the hint line to say that the current sentence is out of sight. Its words, not only its kind: a key
    that brought something back into view leaves an 'away' hint of its own ("Back at ..."), and a wait on the kind
    alone then returned before the wheel had scrolled, so the next key acted in sight (1 run in 3)."""
    page.wait_for_function("""() => { const h = document.getElementById('hint');
                                      return h.dataset.kind === 'away' && /^(Keys act on|Labels go to) sentence /.test(h.textContent); }""",
                           timeout=15_000)  # the wheel's scroll, then the frame that says so: slow on a loaded machine


def test_scrolled_away_from_the_current_sentence_a_label_key_first_brings_it_back(app, server, chromium):
    """After the wheel took the current sentence off the screen, a label key labelled it unseen and the page jumped
    back to it. The hint line now names the sentence the keys act on, and the first key brings it back, labelling
    nothing; the next one labels."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(1280, 800))
    click_sentence(page, 3)
    page.mouse.move(400, 400)
    page.mouse.wheel(0, 4000)
    away(page)
    assert page.inner_text("#hint") == "Keys act on sentence 4, above: a label key goes back there first, or click a sentence to label that one."
    page.keyboard.press("1")
    assert page.inner_text("#hint") == "Back at sentence 4, which was out of sight: nothing was changed; press 1 again to label it CFS."
    assert in_sight(page, "#text .pc.cur")
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {}
    page.keyboard.press("1")  # in sight now: it labels, and moves on
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {3: "CFS"}
    assert "The ministry said 4 families" in current_text(page)
    assert page.inner_text("#hint") == ""  # "Back at sentence 4" is over

    # Shift+Delete the same way; scrolled back before any key, the hint goes and the key acts.
    page.keyboard.press("k")
    settled(page)
    page.mouse.wheel(0, 4000)
    away(page)
    page.keyboard.press("Shift+Delete")
    assert page.inner_text("#hint").startswith("Back at sentence 4, which was out of sight: nothing was changed; press Shift+Delete again")
    assert in_sight(page, "#text .pc.cur")
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {3: "CFS"}
    settled(page)
    page.mouse.wheel(0, 3000)
    away(page)
    page.mouse.wheel(0, -3000)
    page.wait_for_function("() => document.getElementById('hint').textContent === ''")
    page.keyboard.press("Shift+Delete")
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {}

    # The page's own scrolling (u far down the article, then a label at once) is not the annotator looking away.
    for _ in range(3):
        page.keyboard.press("End")
    page.keyboard.press("u")  # sentence 5, scrolled to smoothly from the foot of the article
    page.keyboard.press("2")
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {4: "UFS"}
    page.keyboard.press("?")  # the keyboard help says so
    assert "first brings it back and changes nothing" in page.inner_text("#help")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def swipe_up(page) -> None:
    """A finger drawn up the screen, which scrolls the article down (Playwright taps, but has no swipe)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": 180, "y": 650}]})
    for step in range(1, 31):
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": 180, "y": 650 - step * 18}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_on_a_touch_phone_a_label_tapped_after_scrolling_away_first_brings_its_sentence_back(app, server, chromium):
    """The same on a touch phone: a finger scrolled the sentence away, and a tap on a label labelled it unseen; and a
    tap on Accept all, the bar of the current sentence's suggestions, accepted them unseen."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    with_suggestions(app)
    page = open_page(chromium, server, "ann", ids["long"], viewport=PHONE, touch=True)
    page.locator("#text .pc[data-s='5']:not(.gh)").first.tap()  # its text, not a suggestion in it (which opens a menu)
    assert page.evaluate("() => document.querySelector('#text .pc.cur').dataset.s") == "5"
    swipe_up(page)
    away(page)
    assert page.inner_text("#hint") == "Labels go to sentence 6, above: tap a label to go back there, or tap a sentence to label that one."
    cfs = page.locator('#toolbar button[data-kind="sentence"][data-label="CFS"]')
    settled(page)  # a tap during the fling only stops it
    cfs.tap()
    assert page.inner_text("#hint") == "Back at sentence 6, which was out of sight: nothing was changed; tap CFS again to label it."
    assert in_sight(page, "#text .pc.cur")
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {}
    cfs.tap()
    wait_saved(page)
    assert labels_of(app, ids["long"]) == {5: "CFS"}

    # Sentence 7, a quote of case 6 with its source and cue suggested: Accept all, after a swipe, first brings it back.
    accept = page.locator("#suggest-bar button[data-decision=accept]")
    assert accept.is_visible() and page.inner_text("#suggest-bar-text").startswith("Sentence 7: ")
    swipe_up(page)
    away(page)
    settled(page)
    accept.tap()
    assert page.inner_text("#hint") == "Back at sentence 7, which was out of sight: nothing was changed; tap Accept all again to accept its suggestions."
    assert in_sight(page, "#text .pc.cur")
    wait_saved(page)
    assert db_spans(app, "ann", ids["long"]) == []
    accept.tap()
    wait_saved(page)
    assert {label for _, label, _, _ in db_spans(app, "ann", ids["long"])} >= {"QUOTE", "SOURCE"}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
