"""The annotation page on right-to-left text (Hebrew, Arabic): each sentence is drawn in its own direction, a wholly
Hebrew article reads right to left, and what the mouse or the arrow keys select there is stored as the very words."""
from __future__ import annotations

import itertools

from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import needs_chromium
from .test_annotate_browser import db_spans, drag_mouse, open_page, rendered_spans, seed, settled, wait_saved

pytestmark = needs_chromium

HE_TITLE = "הגשר ייסגר לשיפוצים"
HE_TEXT = (
    f"{HE_TITLE}\n"
    'ראש העירייה אמר: "העבודות יימשכו שנה". '
    "התושבים ביקשו דרך עוקפת.\n"
    "המועצה תצביע מחר."
)
MIXED_TITLE = "Bridge to close"
MIXED_TEXT = (
    f"{MIXED_TITLE}\n"
    "The mayor spoke on Tuesday. "
    'ראש העירייה אמר: "נסגור את הגשר". '
    'Residents called the detour "דרך ארוכה מדי" in a letter. '
    "قال المهندس إن الجسر آمن."
)
PLAIN_TITLE = "Harbour works"
PLAIN_TEXT = f"{PLAIN_TITLE}\nThe harbour will close in May. Ferries will stop at the north pier. Work ends in June."

# Each sentence as drawn: the left edges of its first and last characters (its chip left out), the top of each, and
# the sentence's run's direction; and the text block's own direction and edges.
_SENTENCES = """() => {
  const box = (node, i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1); return r.getBoundingClientRect(); };
  const out = [];
  for (let s = 0; ; s++) {
    const pieces = [...document.querySelectorAll(`#text .pc[data-s="${s}"]`)];
    if (!pieces.length) break;
    const nodes = pieces.map((p) => p.firstChild).filter((n) => n.data.trim());
    const first = nodes[0], last = nodes[nodes.length - 1];
    const a = box(first, first.data.search(/\\S/)), b = box(last, last.data.trimEnd().length - 1);
    out.push({text: pieces.map((p) => p.textContent).join(''), first: a.left, last: b.left, firstRight: a.right,
              top: a.top, lastTop: b.top, dir: getComputedStyle(pieces[0]).direction});
  }
  const t = document.getElementById('text').getBoundingClientRect();
  return {sentences: out, dir: getComputedStyle(document.getElementById('text')).direction, left: t.left, right: t.right};
}"""

# Where to press and let go to drag over a needle: inside its first character's edge where the text starts (the right
# edge in right-to-left text), to inside its last one's far edge.
_DRAG_POINTS = """([needle, rtl]) => {
  const root = document.getElementById('text');
  const at = root.textContent.indexOf(needle);
  if (at < 0) throw new Error('not found: ' + needle);
  const locate = (u) => {
    let seen = 0;
    for (const piece of root.querySelectorAll('.pc')) {
      const node = piece.firstChild;
      if (u < seen + node.length) return [node, u - seen];
      seen += node.length;
    }
    throw new Error('outside the text');
  };
  const rect = (u) => { const [n, o] = locate(u); const r = document.createRange(); r.setStart(n, o); r.setEnd(n, o + 1); return r.getBoundingClientRect(); };
  const a = rect(at), b = rect(at + needle.length - 1);
  return {x1: rtl ? a.right - 1 : a.left + 1, y1: a.top + a.height / 2, x2: rtl ? b.left + 1 : b.right - 1, y2: b.top + b.height / 2};
}"""


def drag(page, needle: str, rtl: bool) -> None:
    page.locator("#text").evaluate("(t) => t.scrollIntoView({block: 'center'})")
    settled(page)
    box = page.evaluate(_DRAG_POINTS, [needle, rtl])
    drag_mouse(page, box, steps=4)
    assert page.evaluate("() => window.getSelection().toString()") == needle


def label(page, count: int) -> None:
    """Label the first `count` sentences CFS: a chip with Latin letters after a Hebrew sentence is what drew its
    closing quote mark and full stop, left in the article's left-to-right paragraph, at its right."""
    for _ in range(count):
        page.keyboard.press("1")
    wait_saved(page)


def one_line(sentence: dict) -> bool:
    return abs(sentence["top"] - sentence["lastTop"]) < 2


def test_a_hebrew_article_reads_right_to_left_sentence_after_sentence(app, server, chromium):
    """Found opening a Hebrew article: the page drew it left to right, its lines starting at the left, and the last
    sentence's full stop at its right, before its first word. The article now reads right to left: each sentence's
    first letter right of its last, each sentence right of the one after it on a line, lines starting at the right."""
    ids = seed(app, [ArticleRecord("he", HE_TITLE, HE_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["he"])
    label(page, 4)
    drawn = page.evaluate(_SENTENCES)
    sentences = drawn["sentences"]
    assert len(sentences) == 4 and all(map(one_line, sentences)), sentences  # the title is one
    for s in sentences:
        assert s["last"] < s["first"], s
    assert abs(sentences[1]["top"] - sentences[2]["top"]) < 2, sentences
    assert sentences[2]["first"] < sentences[1]["last"], sentences  # the second sentence of a line is left of the first
    assert abs(sentences[0]["firstRight"] - drawn["right"]) < 3, drawn  # the line starts at the right
    assert drawn["dir"] == "rtl" and {s["dir"] for s in sentences} == {"rtl"}
    assert page.errors == []
    page.context.close()


def test_a_hebrew_title_over_the_text_reads_right_to_left_as_the_text_does(app, server, chromium):
    """Found in a newcomer's walk: a Hebrew article whose title is not its first line showed that title at the left
    edge, left to right, above text that starts at the right. The heading takes the direction of its own letters, as a
    sentence does; an English title stays at the left."""
    body = HE_TEXT.split("\n", 1)[1]
    ids = seed(app, [ArticleRecord("he", "חדשות", body), ArticleRecord("en", PLAIN_TITLE, PLAIN_TEXT.split("\n", 1)[1])], users=("ann",))
    page = open_page(chromium, server, "ann", ids["he"])
    heading = page.locator("#article-title")
    assert heading.is_visible() and heading.inner_text() == "חדשות"
    assert heading.evaluate("(h) => getComputedStyle(h).direction") == "rtl"
    for size in ({"width": 1440, "height": 900}, {"width": 390, "height": 844}):  # a phone: narrower margins
        page.set_viewport_size(size)
        title_right = heading.evaluate("(h) => { const r = document.createRange(); r.selectNodeContents(h); return r.getBoundingClientRect().right; }")
        line_start = page.evaluate(_SENTENCES)["sentences"][0]["firstRight"]
        assert abs(title_right - line_start) < 3, (size, title_right, line_start)  # it starts where the text's lines start
    page.goto(page.url.replace(f"/annotate/{ids['he']}", f"/annotate/{ids['en']}"))
    page.wait_for_selector("#annotate[data-ready=true]", timeout=30_000)
    assert page.locator("#article-title").evaluate("(h) => getComputedStyle(h).direction") == "ltr"
    assert page.errors == []
    page.context.close()


def test_an_english_article_keeps_its_layout_and_its_hebrew_and_arabic_read_right_to_left(app, server, chromium):
    """A Hebrew sentence in an English article had its closing quote mark and full stop drawn at its right, before
    its first word, as the English text around it runs. Each sentence takes its own direction: the Hebrew and the
    Arabic ones read right to left, the English ones left to right from the left edge, a Hebrew quote in one of them
    right to left within it."""
    ids = seed(app, [ArticleRecord("mix", MIXED_TITLE, MIXED_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["mix"])
    label(page, 5)
    drawn = page.evaluate(_SENTENCES)
    sentences = drawn["sentences"]
    hebrew = sentences[2]
    assert one_line(hebrew) and hebrew["last"] < hebrew["first"], hebrew
    for s, rtl in zip(sentences, (False, False, True, False, True), strict=True):
        if one_line(s):
            assert (s["last"] < s["first"]) == rtl, s
    assert abs(sentences[1]["first"] - drawn["left"]) < 3, drawn  # English lines start at the left
    assert drawn["dir"] == "ltr" and [s["dir"] for s in sentences] == ["ltr", "ltr", "rtl", "ltr", "rtl"], sentences
    # the quote inside the English sentence: its first letter right of its last
    quote = page.evaluate(_DRAG_POINTS, ["דרך ארוכה מדי", True])
    assert quote["x2"] < quote["x1"], quote
    assert page.errors == []
    page.context.close()


def test_a_left_to_right_article_is_drawn_as_before(app, server, chromium):
    """The guard beside the fix: an English article's text block stays left to right, its lines start at the left
    edge, and its sentences run left to right one after another."""
    ids = seed(app, [ArticleRecord("en", PLAIN_TITLE, PLAIN_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["en"])
    drawn = page.evaluate(_SENTENCES)
    assert drawn["dir"] == "ltr" and page.locator("#text").get_attribute("dir") is None
    sentences = drawn["sentences"]
    assert abs(sentences[0]["first"] - drawn["left"]) < 3, drawn
    for s in sentences:
        assert s["dir"] == "ltr" and (s["first"] < s["last"] or not one_line(s)), s
    for one, two in itertools.pairwise(sentences):
        if abs(one["top"] - two["top"]) < 2:
            assert one["last"] < two["first"], (one, two)
    page.context.close()


def test_a_span_marked_with_the_mouse_on_hebrew_text_stores_those_words(app, server, chromium):
    """A quote with its quote marks, in a Hebrew sentence of an English article, dragged over from its opening mark to
    its closing one: before each sentence took its direction the closing mark was drawn at the sentence's far end,
    and the drag took in other words. Stored, the span's text[start:end] is the quote; drawn, it covers the quote, its tag's thick edge and its end
    mark's open side at its start, the right."""
    ids = seed(app, [ArticleRecord("mix", MIXED_TITLE, MIXED_TEXT), ArticleRecord("he", HE_TITLE, HE_TEXT)], users=("ann",))
    for key, needle in (("mix", '"נסגור את הגשר"'), ("he", "יימשכו")):
        page = open_page(chromium, server, "ann", ids[key])
        label(page, 3)
        drag(page, needle, rtl=True)
        page.keyboard.press("q")
        wait_saved(page)
        [(_, name, start, end)] = db_spans(app, "ann", ids[key])
        text = MIXED_TEXT if key == "mix" else HE_TEXT
        assert (name, text[start:end]) == ("QUOTE", needle)
        assert [x["text"] for x in rendered_spans(page)] == [needle]
        # the tag's thick edge and the end mark's open side face the span's start, at its right
        edges = page.evaluate("""() => ['#text .tag', '#text .tag-end'].map((q) => {
            const c = getComputedStyle(document.querySelector(q)); return [c.borderRightWidth, c.borderRightStyle]; })""")
        assert edges == [["3px", "solid"], ["0px", "none"]], edges
        assert page.errors == []
        page.context.close()


def test_shift_arrows_in_a_hebrew_sentence_follow_the_text_as_drawn(app, server, chromium):
    """In a right-to-left sentence Shift+← points the way the text reads: it selects from the sentence's start (its
    right end), Ctrl+Shift+← on by a word; Shift+→ from its end. In an English sentence beside it, as before."""
    ids = seed(app, [ArticleRecord("mix", MIXED_TITLE, MIXED_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["mix"])
    selected = lambda: page.evaluate("() => window.getSelection().toString()")  # noqa: E731
    page.keyboard.press("j")
    page.keyboard.press("j")  # the Hebrew sentence (the title is the first)
    for _ in range(3):
        page.keyboard.press("Shift+ArrowLeft")
    assert selected() == "ראש"
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+ArrowLeft")
    assert selected() == "ראש"
    page.keyboard.press("Control+Shift+ArrowLeft")
    assert selected() == "ראש העירייה"
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+ArrowRight")
    assert selected() == "."
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("Shift+ArrowRight")
    assert selected() == "R"
    assert page.errors == []
    page.context.close()


# Sentences whose first letters are not their language's: a Hebrew one opening with a Latin name, an English one opening
# with a Hebrew name, an Arabic one opening with a Latin abbreviation.
LATIN_FIRST_TITLE = "הגשר ייסגר"
LATIN_FIRST_TEXT = (
    f"{LATIN_FIRST_TITLE}\n"
    "CNN דיווחה כי הגשר ייסגר בחודש הבא. "
    "דוד Levi said the bridge would close next month. "
    "BBC قالت إن الجسر آمن."
)


def test_a_sentence_reads_the_way_most_of_its_letters_do_not_its_first(app, server, chromium):
    """A Hebrew sentence opening with "CNN" was laid out left to right, its full stop at its right before "CNN", as its
    first strong letter said (dir="auto"); so was an Arabic one opening with "BBC". A sentence takes the direction most
    of its letters take, as the article does: those two read right to left, the English one opening with a Hebrew name
    left to right. A drag over words of the Hebrew sentence selects and stores those very words."""
    ids = seed(app, [ArticleRecord("lf", LATIN_FIRST_TITLE, LATIN_FIRST_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["lf"])
    label(page, 4)
    drawn = page.evaluate(_SENTENCES)
    sentences = drawn["sentences"]
    assert [s["text"].strip()[:3] for s in sentences] == ["הגש", "CNN", "דוד", "BBC"], sentences
    assert [s["dir"] for s in sentences] == ["rtl", "rtl", "ltr", "rtl"], sentences
    for s in sentences:
        if one_line(s):  # the sentence's first letter right of its last in a right-to-left one
            assert (s["last"] < s["first"]) == (s["dir"] == "rtl"), s
    for needle in ("דיווחה כי הגשר", "قالت إن"):
        drag(page, needle, rtl=True)
        page.keyboard.press("q")
        wait_saved(page)
    spans = db_spans(app, "ann", ids["lf"])
    assert [(name, LATIN_FIRST_TEXT[start:end]) for _, name, start, end in spans] == [("QUOTE", "דיווחה כי הגשר"), ("QUOTE", "قالت إن")]
    assert page.errors == []
    page.context.close()


def test_plain_arrows_in_a_hebrew_sentence_move_the_way_the_text_reads(app, server, chromium):
    """→ went to the next sentence and ← to the one before everywhere, so in a Hebrew sentence, where the next one is
    drawn to its left and Shift+← selects on into the text, ← went back. As the Shift arrows there, ← goes on to the
    next sentence and → back; an English sentence keeps → on, ← back. The keyboard help says so."""
    ids = seed(app, [ArticleRecord("mix", MIXED_TITLE, MIXED_TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["mix"])
    current = lambda: int(page.evaluate("() => document.querySelector('#text .pc.cur').dataset.s"))  # noqa: E731
    assert current() == 0
    page.keyboard.press("ArrowRight")  # the title, English: on
    page.keyboard.press("ArrowRight")  # "The mayor spoke on Tuesday.": on, to the Hebrew sentence
    assert current() == 2
    page.keyboard.press("ArrowLeft")  # Hebrew: on
    assert current() == 3
    page.keyboard.press("ArrowLeft")  # English (with a Hebrew quote): back
    assert current() == 2
    page.keyboard.press("ArrowRight")  # Hebrew: back
    assert current() == 1
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # the Arabic one
    page.keyboard.press("ArrowRight")
    assert current() == 3
    page.keyboard.press("?")
    help_text = page.inner_text("#help")
    assert "in a right-to-left sentence ← goes on to the next sentence" in help_text
    assert "in a right-to-left sentence → goes back to the previous one" in help_text
    assert page.errors == []
    page.context.close()


# The current sentence's bar, the text block and the current sentence's first piece: their left and right edges.
_BAR = """() => {
  const edges = (r) => [r.left, r.right];
  const piece = document.querySelector('#text .pc.cur').getBoundingClientRect();
  return {bar: edges(document.querySelector('#margin .current-bar').getBoundingClientRect()),
          text: edges(document.getElementById('text').getBoundingClientRect()), top: piece.top, bottom: piece.bottom,
          barTop: document.querySelector('#margin .current-bar').getBoundingClientRect().top,
          links: [...document.querySelectorAll('#margin path[data-rel]')].map((p) => edges(p.getBoundingClientRect()))};
}"""


def test_the_current_sentence_bar_stands_at_the_start_of_a_right_to_left_articles_lines(app, server, chromium):
    """In a Hebrew article, whose lines start at the right, the bar marking the current sentence stood in the left
    gutter, at the lines' ends. It stands where they start, right of the text (clear of the links drawn there), beside
    the current sentence, and a phone's page does not scroll sideways for it; in an English article, left of the text
    as before."""
    ids = seed(app, [ArticleRecord("he", HE_TITLE, HE_TEXT), ArticleRecord("en", PLAIN_TITLE, PLAIN_TEXT)], users=("ann",))
    for key, rtl, viewport in (("he", True, (1440, 900)), ("en", False, (1440, 900)), ("he", True, (390, 844))):
        page = open_page(chromium, server, "ann", ids[key], viewport=viewport)
        page.keyboard.press("j")
        if rtl:  # a link, drawn in the right margin: the bar keeps clear of it
            drag(page, "העבודות", rtl=True)
            page.keyboard.press("q")
            drag(page, "ראש העירייה", rtl=True)
            page.keyboard.press("s")
            page.keyboard.press("l")
            page.keyboard.press("n")
            page.keyboard.press("Enter")
            wait_saved(page)
        drawn = page.evaluate(_BAR)
        (bar_left, bar_right), (text_left, text_right) = drawn["bar"], drawn["text"]
        assert abs(drawn["barTop"] - drawn["top"]) < 3, drawn  # beside the current sentence
        if rtl:
            assert text_right < bar_left < text_right + 20, drawn
            assert len(drawn["links"]) == 1 and all(bar_right < left for left, _ in drawn["links"]), drawn
            assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"), drawn
        else:
            assert text_left - 20 < bar_right < text_left, drawn
        assert page.errors == []
        page.context.close()
