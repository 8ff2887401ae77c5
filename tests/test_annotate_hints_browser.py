"""The annotation page's hint line as an annotator meets it over hours with the keys, in Chromium: it says what a key
did or why it did nothing, in the page's words (never a schema's internal name), about the sentence the keys act on
now (never the one left behind), and what the next undo will take back; and the keys that change a span never act on
the anchor while linking, nor on selected text scrolled out of sight."""
from __future__ import annotations

from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import needs_chromium
from .test_annotate_browser import TEXT, TITLE, db_labels, db_spans, open_page, seed, settled, wait_saved
from .test_annotate_long_browser import LONG, in_sight
from .test_annotate_undo_browser import ferry  # noqa: F401  (a fixture: the ferry article with suggestions on)
from .test_suggestions_browser import LINDQVIST, RESIDENTS, VIRTANEN, current_sentence, go_to

pytestmark = needs_chromium


def hint(page) -> str:
    return page.locator("#hint").text_content()


def test_a_hint_about_one_sentence_goes_when_j_or_k_moves_to_another(app, ferry, server, chromium):  # noqa: F811
    """"Sentence 2 has no suggestions left" stayed on the hint line after j, on sentence 3, which had some; so did
    "Sentence 1 has no label to remove", and an open suggestion's "a accepts, x rejects" after j had closed its menu,
    where a then accepted all of the new sentence's suggestions. A hint about a sentence goes when another is current."""
    page = open_page(chromium, server, "ann", ferry, viewport=(1280, 800))
    assert current_sentence(page) == 0
    page.keyboard.press("Shift+Delete")
    assert hint(page) == "Sentence 1 has no label to remove."
    page.keyboard.press("j")
    assert hint(page) == ""
    page.keyboard.press("x")
    page.keyboard.press("x")
    assert hint(page) == "Sentence 2 has no suggestions left."
    page.keyboard.press("j")  # sentence 3 has suggestions: the hint must not say it has none
    assert current_sentence(page) == LINDQVIST
    assert hint(page) == ""
    page.keyboard.press("k")  # and back: a hint about sentence 3 would not be about sentence 2 either
    page.keyboard.press("j")
    page.locator("#text .gtag").first.focus()  # Tab's stop: sentence 3's first suggestion
    page.keyboard.press("Enter")
    page.locator(".ghost-menu").wait_for(state="visible")
    assert "a accepts, x rejects" in hint(page)
    page.keyboard.press("j")
    assert page.locator(".ghost-menu").is_hidden() and current_sentence(page) == RESIDENTS
    assert hint(page) == ""
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_label_key_on_the_last_sentence_with_every_one_labelled_says_it_stays_there(app, server, chromium):
    """The label key on the last sentence, every sentence labelled, stays there (the next one relabels it): the hint
    was to start "Last sentence. ", but that prefix was dropped where nothing was left to label, the one place it was
    passed. It shows now, and goes when k moves on."""
    ids = seed(app, [ArticleRecord("short", "Short", "First one. Second one. Third one.")], users=("ann",))
    page = open_page(chromium, server, "ann", ids["short"])
    for key in "123":
        page.keyboard.press(key)
    assert hint(page) == "Last sentence: every sentence is labelled. Enter opens the next article."
    page.keyboard.press("k")
    assert hint(page) == ""
    wait_saved(page)
    assert {i: label for i, (label, _) in db_labels(app, "ann", ids["short"]).items()} == {0: "CFS", 1: "UFS", 2: "NFS"}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_span_that_cannot_be_linked_is_said_in_the_pages_words(app, server, chromium):
    """l on a CUE said "A CUE span cannot be linked with attributed_to": the schema's internal name, which the page
    shows nowhere (its button says Link). It says which spans a link joins."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs"
    page.keyboard.press("c")
    page.keyboard.press("l")
    assert hint(page) == "A CUE span cannot be linked: a link goes from a QUOTE to a SOURCE; select one of those first."
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def linking_from_a_quote(app, server: str, chromium):
    """ann's page on the bridge article, linking from a QUOTE just made of "Repairs to" (sentence 2)."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs to"
    page.keyboard.press("q")
    page.keyboard.press("l")
    return ids, page


def test_the_edge_keys_while_linking_leave_the_anchor_alone_and_say_why(app, server, chromium):
    """While linking, ] moved the start of the quote being linked, and its span hint replaced the linking one, so the
    annotator lost the thread. Now the edge keys change no span while linking and say what the mode wants; Esc still
    cancels, after which ] moves the start again."""
    ids, page = linking_from_a_quote(app, server, chromium)
    assert hint(page).startswith("Linking: no SOURCE span yet")
    for key in ("]", "Control+}"):
        page.keyboard.press(key)
    assert hint(page) == ("While linking, Ctrl+} changes no span: choose the one to link to (click it, or n / p and Enter), "
                          "or select new text and press its span key. Esc cancels.")
    wait_saved(page)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("QUOTE", "Repairs to")
    page.keyboard.press("Escape")
    assert hint(page) == "Linking cancelled."
    page.keyboard.press("]")
    wait_saved(page)
    [(_, _, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert TEXT[start:end] == "epairs to"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_scrolled_away_from_selected_text_the_edge_keys_first_bring_it_back(app, server, chromium):
    """With text selected and no span, [ ] { } moved the selection's edges though the wheel had taken it out of
    sight, where the same keys on a selected span first bring it back. Now the selection comes back first, unchanged,
    and the next key moves its edge."""
    ids = seed(app, [ArticleRecord("long", "A long year in twelve cities", LONG)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["long"], viewport=(1280, 800))
    for _ in range(11):
        page.keyboard.press("j")  # sentence 12: "We will not back down in case 11", ...
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")
    selected = "() => getSelection().toString()"
    assert page.evaluate(selected) == "\u201cWe will"
    settled(page)
    page.mouse.move(400, 400)
    page.mouse.wheel(0, 4000)
    page.wait_for_function("() => /^Keys act on sentence 12, above/.test(document.getElementById('hint').textContent)", timeout=5_000)
    page.keyboard.press("]")
    assert hint(page) == "Back at the selected text in sentence 12, which was out of sight: nothing was changed; press ] again to move its start."
    assert page.evaluate(selected) == "\u201cWe will"
    assert in_sight(page, "#text .pc.cur")
    page.keyboard.press("]")
    assert page.evaluate(selected) == "We will"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_the_undo_after_accepted_suggestions_says_what_the_next_undo_takes_back(app, ferry, server, chromium):  # noqa: F811
    """Undo stops once at accepted suggestions and said "Ctrl+Z again undoes the change before it", whatever that
    was, and also where there was none (the next undo then said "changes made before this page was opened stay", as
    if the accepted ones were). It names the change, or says there is none; on a touch phone, in a tap's words."""
    page = open_page(chromium, server, "ann", ferry, viewport=(1280, 800))
    go_to(page, LINDQVIST)
    page.keyboard.press("a")
    page.keyboard.press("Control+z")
    assert hint(page) == ("The last change, accepting suggestions, cannot be undone here: delete or relabel what you do not want. "
                          "Nothing before it was changed on this page.")
    page.keyboard.press("3")  # sentence 3 relabelled NFS, on to sentence 4
    page.keyboard.press("x")  # its suggestions rejected
    page.keyboard.press("Control+z")
    assert hint(page) == ("The last change, rejecting suggestions, cannot be undone here: mark it yourself if you want it. "
                          "Ctrl+Z again undoes label NFS on sentence 3.")
    page.keyboard.press("Control+z")
    assert hint(page) == "Undone: label NFS on sentence 3."
    wait_saved(page)
    page.context.close()

    phone = open_page(chromium, server, "ann", ferry, viewport=(390, 844), touch=True)
    go_to(phone, VIRTANEN)
    phone.locator('#toolbar button[data-kind="sentence"][data-label="UFS"]').tap()  # sentence 5 UFS, on to sentence 6
    phone.locator("#suggest-bar button[data-decision=accept]").tap()
    phone.locator('#toolbar button[data-action="undo"]').tap()
    assert hint(phone).endswith("Undo again undoes label UFS on sentence 5.")
    assert phone.errors == []  # type: ignore[attr-defined]
    phone.context.close()


def test_on_a_phone_a_suggestion_tapped_in_another_sentence_lets_the_selected_span_go(app, ferry, server, chromium):  # noqa: F811
    """On a phone, a span tapped opens the span tools for it; a suggestion then tapped in another sentence opened its
    menu with the span still selected and its tools still open, Delete and Fit acting on a span out of the sentence
    now current. The span is let go and its tools close, as Esc does."""
    page = open_page(chromium, server, "ann", ferry, viewport=(390, 844), touch=True)
    go_to(page, LINDQVIST)
    page.locator("#suggest-bar button[data-decision=accept]").tap()  # its quote and source are ann's own now
    wait_saved(page)
    page.locator("#text .tag").first.tap()
    assert page.locator("#text .tag.sel").count() == 1
    assert page.evaluate("() => document.getElementById('annotate').classList.contains('span-tools-open')")
    chip = page.locator(f"#text .gchip[aria-label*='for sentence {VIRTANEN + 1} ']")
    chip.scroll_into_view_if_needed()
    settled(page)
    chip.tap()
    page.locator(".ghost-menu").wait_for(state="visible")
    assert current_sentence(page) == VIRTANEN
    assert page.locator("#text .tag.sel").count() == 0
    assert not page.evaluate("() => document.getElementById('annotate').classList.contains('span-tools-open')")
    assert hint(page).startswith("Tap Accept or Reject")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_digit_no_label_has_and_shift_end_say_why_they_do_nothing(app, server, chromium):
    """With three sentence labels, 4 to 9 (and 0) did nothing and said nothing, nor did Shift+End (or Shift+Home),
    which select to a line's end elsewhere. Each says which keys do that here; nothing is labelled."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    for key in ("4", "9", "0"):
        page.keyboard.press(key)
        assert hint(page) == f"The key {key} labels nothing in this project: the sentence labels are 1 CFS, 2 UFS, 3 NFS.", key
    assert current_sentence(page) == 0
    page.keyboard.press("Shift+End")
    assert hint(page) == "Shift+End selects nothing here: Shift+\u2190 selects from the current sentence's end, Ctrl+Shift+\u2190 by word."
    page.keyboard.press("Shift+Home")
    assert hint(page) == "Shift+Home selects nothing here: Shift+\u2192 selects from the current sentence's start, Ctrl+Shift+\u2192 by word."
    wait_saved(page)
    assert db_labels(app, "ann", ids["bridge"]) == {}
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_suggestions_menu_left_for_later_takes_its_hint_with_it(app, ferry, server, chromium):  # noqa: F811
    """Esc on a suggestion's menu (Later on a phone) closed it, but its hint stayed: "a accepts, x rejects" about that
    one suggestion, where a then accepted all of the sentence's. The hint goes with the menu (on a phone, back to the
    count)."""
    page = open_page(chromium, server, "ann", ferry, viewport=(1280, 800))
    go_to(page, LINDQVIST)
    page.locator("#text .gtag[tabindex='0']").first.focus()  # Tab's stop: one of sentence 3's suggestions
    page.keyboard.press("Enter")
    page.locator(".ghost-menu").wait_for(state="visible")
    assert "a accepts, x rejects" in hint(page)
    page.keyboard.press("Escape")
    assert page.locator(".ghost-menu").is_hidden()
    assert hint(page) == ""
    page.context.close()

    phone = open_page(chromium, server, "ann", ferry, viewport=(390, 844), touch=True)
    go_to(phone, LINDQVIST)
    phone.locator("#text .gtag[tabindex='0']").first.tap()
    phone.locator(".ghost-menu").wait_for(state="visible")
    assert hint(phone).startswith("Tap Accept or Reject, or Later")
    phone.locator(".ghost-menu button.link").tap()  # Later
    assert phone.locator(".ghost-menu").is_hidden()
    assert hint(phone) == "0 of 6 labelled; sentence 1 is still unlabelled."
    assert phone.errors == []  # type: ignore[attr-defined]
    phone.context.close()


def test_a_or_x_on_a_suggestion_tab_reached_keeps_the_focus_in_the_text(app, ferry, server, chromium):  # noqa: F811
    """Tab reaches the current sentence's suggestions; a (or x) pressed there decided them and redrew the sentence
    without the focused one, and the focus fell to the page's body: the next Tab went to the page's top link, not on
    through the text. The focus goes to the text, as after a decision in a suggestion's menu."""
    page = open_page(chromium, server, "ann", ferry, viewport=(1280, 800))
    go_to(page, LINDQVIST)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('gtag') || document.activeElement.classList.contains('gchip')")
    page.keyboard.press("a")
    assert hint(page).startswith(f"Accepted the suggestions of sentence {LINDQVIST + 1}")
    assert page.evaluate("() => document.activeElement.id") == "text"
    page.keyboard.press("j")  # on through the text: the next sentence's suggestions
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('gtag') || document.activeElement.classList.contains('gchip')")
    page.keyboard.press("x")
    assert page.evaluate("() => document.activeElement.id") == "text"
    # from a row of the Spans panel's suggestions (the whole article's, so rows stay), the focus stays in the panel
    # (keepingFocus), not sent to the text
    page.keyboard.press("j")
    page.locator("#spans-all").check()
    page.locator("#ghost-list li button.span-text").first.focus()
    page.keyboard.press("a")
    assert hint(page).startswith(f"Accepted the suggestions of sentence {VIRTANEN + 1}")
    assert page.evaluate("() => Boolean(document.activeElement.closest('#side'))")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_u_on_the_only_sentence_left_unlabelled_says_so(app, server, chromium):
    """u goes to the next unlabelled sentence; on the only one left it did nothing and said nothing (the hint kept
    "Removed the label of sentence 2"). It says this one is the only one left."""
    ids = seed(app, [ArticleRecord("short", "Short", "First one. Second one. Third one.")], users=("ann",))
    page = open_page(chromium, server, "ann", ids["short"])
    for key in ("1", "2", "3", "k"):
        page.keyboard.press(key)
    page.keyboard.press("Shift+Delete")
    assert hint(page) == "Removed the label of sentence 2 (UFS)."
    page.keyboard.press("u")
    assert current_sentence(page) == 1
    assert hint(page) == "Sentence 2, this one, is the only one still unlabelled."
    page.keyboard.press("k")  # a hint about sentence 2 goes when another is current
    assert hint(page) == ""
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_span_key_on_a_span_of_its_own_label_says_so(app, server, chromium):
    """c on a selected CUE did nothing and said nothing, where the annotator may have meant to mark selected text or
    another span. It says the span is a CUE already."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs"
    page.keyboard.press("c")
    assert hint(page).startswith("CUE \u201cRepairs\u201d selected")
    page.keyboard.press("c")
    assert hint(page) == "The selected span is a CUE already."
    wait_saved(page)
    assert [label for _, label, _, _ in db_spans(app, "ann", ids["bridge"])] == ["CUE"]
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_f_while_linking_leaves_the_anchor_alone(app, server, chromium):
    """While linking, text selected for the link's other end was offered "f fits the span to it", and f moved the
    quote being linked onto that text. f changes no span while linking now, and the selection's hint offers it not."""
    ids, page = linking_from_a_quote(app, server, chromium)
    page.keyboard.press("Control+Shift+ArrowRight")  # new text, for the source
    # the selection's hint comes with the selectionchange event, after the key press has returned
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected')")
    assert hint(page).startswith("Selected \u201cRepairs\u201d: q QUOTE, s SOURCE, c CUE; ")
    page.keyboard.press("f")
    assert hint(page) == ("While linking, f changes no span: choose the one to link to (click it, or n / p and Enter), "
                          "or select new text and press its span key. Esc cancels.")
    wait_saved(page)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("QUOTE", "Repairs to")
    page.keyboard.press("?")  # the keyboard help says so
    assert "while linking, they, { } and f leave the span being linked alone" in page.inner_text("#help")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_touch_phone_a_span_let_go_gives_the_hint_line_back_to_the_count(app, server, chromium):
    """A touch phone's row of tools has no room for the labelled count, so the hint line carries it; a span tapped and
    then let go (a tap on other text) left the line empty, the count gone until the next label."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"], viewport=(390, 844), touch=True)
    count = "0 of 9 labelled; sentence 1 is still unlabelled."
    assert hint(page) == count
    page.evaluate("""() => { const piece = document.querySelector("#text .pc[data-s='1']");
                             getSelection().setBaseAndExtent(piece.firstChild, 0, piece.firstChild, 'Repairs'.length); }""")
    page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').tap()
    assert hint(page).startswith("CUE selected")
    page.locator("#text .pc[data-s='3']").first.tap()  # other text: the span is let go
    assert page.locator("#text .tag.sel").count() == 0
    assert hint(page) == count
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_the_keyboard_helps_link_row_is_in_the_pages_words(app, server, chromium):
    """The keyboard help's Links row began "attributed_to:", the schema's internal name, which the page shows nowhere
    else (its button says Link). It says what the key links, in the spans' labels."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("?")
    row = page.locator("#help table.keys tr", has=page.locator("kbd", has_text="l")).filter(has_text="SOURCE")
    assert row.inner_text().replace("\t", " ").replace("\n", " ").split(None, 1)[1] == (
        "link a QUOTE to a SOURCE: select the QUOTE, press l, then click the SOURCE (or n / p, nearest first, and Enter)")
    assert "attributed_to" not in page.inner_text("#help")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_with_a_span_and_text_selected_the_edge_keys_resize_the_text_as_the_hint_says(app, server, chromium):
    """A span selected, then text selected to fit it to: the hint said "[ ] { } resize", and the keys moved the span's
    edges instead of the selection's, so f then fitted the span to text the keys had not trimmed. With text selected the
    edge keys shape that text (as the span keys mark it) and the hints say so; Esc lets the text go, and then they move
    the span's edges."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs to"
    page.keyboard.press("q")
    selected = "() => getSelection().toString()"
    for _ in range(3):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs to the", the QUOTE still selected
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected \u201cRepairs to the\u201d')")
    assert "f fits the span to it; [ ] { } resize it," in hint(page)
    page.keyboard.press("]")
    assert page.evaluate(selected) == "epairs to the"
    # its hint comes with the selectionchange event, after the key press has returned: wait for it before n
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected \u201cepairs to the\u201d')")
    page.keyboard.press("n")  # the span chosen again, the text still selected: its hint says the same
    assert hint(page) == ("QUOTE \u201cRepairs to\u201d selected: f fits it to the selected text, which a span key marks "
                          "and [ ] { } resize (Esc lets the text go); Del deletes, l links.")
    page.keyboard.press("Control+{")
    assert page.evaluate(selected) == "epairs to"
    page.keyboard.press("f")
    wait_saved(page)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("QUOTE", "epairs to")
    page.keyboard.press("Control+Shift+ArrowRight")  # text selected again, then let go with Esc: ] is the span's
    page.keyboard.press("Escape")
    page.keyboard.press("]")
    wait_saved(page)
    [(_, _, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert TEXT[start:end] == "pairs to"
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


TOOLS_OPEN = "() => document.getElementById('annotate').classList.contains('span-tools-open')"


def test_on_a_touch_phone_a_span_deleted_or_undone_closes_the_span_tools(app, server, chromium):
    """On a phone the span tools open as a row of their own for a span tapped; Delete took the span away and left that
    row open with every button of it disabled, over the text, until Esc (which a phone lacks) or the Span toggle. The
    row closes when the span goes, by Delete or by the undo of its making, as when a tap lets the span go."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"], viewport=(390, 844), touch=True)
    select_repairs = """() => { const piece = document.querySelector("#text .pc[data-s='1']");
                               getSelection().setBaseAndExtent(piece.firstChild, 0, piece.firstChild, 'Repairs'.length); }"""
    page.evaluate(select_repairs)
    page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').tap()
    assert hint(page).startswith("CUE selected") and page.evaluate(TOOLS_OPEN)
    page.locator('#toolbar button[data-action="delete"]').tap()
    assert hint(page) == "Deleted the CUE span \u201cRepairs\u201d."
    assert not page.evaluate(TOOLS_OPEN)
    wait_saved(page)
    assert db_spans(app, "ann", ids["bridge"]) == []

    page.evaluate(select_repairs)
    page.locator('#toolbar button[data-kind="span"][data-label="QUOTE"]').tap()
    assert hint(page).startswith("QUOTE selected") and page.evaluate(TOOLS_OPEN)
    page.locator('#toolbar button[data-action="undo"]').tap()  # the quote's making undone: it goes
    assert page.locator("#text .tag").count() == 0
    assert not page.evaluate(TOOLS_OPEN)
    wait_saved(page)
    assert db_spans(app, "ann", ids["bridge"]) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_on_a_touch_phone_a_span_let_go_closes_the_tools_and_one_deleted_in_the_panel_leaves_them(app, server, chromium):
    """A span let go with a tap on other text left the span tools open, every button disabled, as Delete did (the test
    above): they close, as Esc closes them. But a span deleted with its ✕ in the Spans panel, nothing selected and the
    tools opened with the Span toggle, leaves them open: nothing the annotator had chosen went with it."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"], viewport=(390, 844), touch=True)
    page.evaluate("""() => { const piece = document.querySelector("#text .pc[data-s='1']");
                             getSelection().setBaseAndExtent(piece.firstChild, 0, piece.firstChild, 'Repairs'.length); }""")
    page.locator('#toolbar button[data-kind="span"][data-label="CUE"]').tap()
    page.locator("#text .pc[data-s='3']").first.tap()  # other text: the span is let go, the tools close
    assert page.locator("#text .tag.sel").count() == 0 and not page.evaluate(TOOLS_OPEN)
    page.locator("#span-tools-toggle").tap()  # opened by hand
    assert page.evaluate(TOOLS_OPEN)
    page.locator("#panels-toggle").tap()
    page.locator("#spans-all").tap()  # the whole article's spans: the CUE is in sentence 2, the current is 4
    page.locator("#spans li button.x").first.tap()
    assert page.locator("#text .tag").count() == 0
    assert page.evaluate(TOOLS_OPEN)
    wait_saved(page)
    assert db_spans(app, "ann", ids["bridge"]) == []
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_an_undone_relabel_or_resize_names_the_span_as_it_is_back(app, server, chromium):
    """After a QUOTE relabelled SOURCE, Ctrl+Z said "Undone: the change to the SOURCE span", naming the span by the
    label it had just lost, where the page showed a QUOTE again; an undone resize likewise quoted the text it no longer
    covered. The hint says what the relabel was, by the label the span had before it, and quotes a resized span's text as
    it was."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs to"
    page.keyboard.press("q")
    page.keyboard.press("s")  # the selected QUOTE relabelled SOURCE
    page.keyboard.press("Control+z")
    assert hint(page) == "Undone: relabelling the QUOTE span \u201cRepairs to\u201d as SOURCE."
    page.keyboard.press("Control+Shift+z")
    assert hint(page) == "Redone: relabelling the QUOTE span \u201cRepairs to\u201d as SOURCE."
    page.keyboard.press("Control+z")
    wait_saved(page)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("QUOTE", "Repairs to")
    page.keyboard.press("n")  # the quote selected again, its start moved on a character, and that undone
    page.keyboard.press("]")
    page.keyboard.press("Control+z")
    assert hint(page) == "Undone: the change to the QUOTE span \u201cRepairs to\u201d."
    wait_saved(page)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("QUOTE", "Repairs to")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_what_enter_says_is_left_names_the_sentence_u_goes_to(app, server, chromium):
    """Enter before every sentence is labelled named the first sentence left, "(u jumps there)", but u goes on from the
    current sentence: from sentence 3, with sentences 1 and 4 left, to sentence 4; on an unlabelled sentence, past it.
    The hint names where u goes, the current sentence when it is one left, and follows j and k."""
    ids = seed(app, [ArticleRecord("four", "Four", "First one. Second one. Third one. Fourth one.")], users=("ann",))
    page = open_page(chromium, server, "ann", ids["four"])
    for key in ("j", "2", "1", "k"):  # sentences 2 and 3 labelled, sentence 3 current
        page.keyboard.press(key)
    assert current_sentence(page) == 2
    page.keyboard.press("Enter")
    enter = "Enter opens the next article once every sentence is labelled. "
    assert hint(page) == enter + "Sentence 4 is still unlabelled (u jumps there)."
    page.keyboard.press("u")
    assert current_sentence(page) == 3
    page.keyboard.press("Enter")
    assert hint(page) == enter + "Sentence 4, this one, is still unlabelled (u goes on to sentence 1)."
    page.keyboard.press("u")
    assert current_sentence(page) == 0
    assert hint(page) == enter + "Sentence 1, this one, is still unlabelled (u goes on to sentence 4)."
    page.keyboard.press("3")  # labels sentence 1: on to sentence 4, the only one left
    assert current_sentence(page) == 3
    assert hint(page) == enter + "Sentence 4, this one, is the only one still unlabelled."
    page.keyboard.press("k")
    assert hint(page) == enter + "Sentence 4 is still unlabelled (u jumps there)."
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_click_on_a_spans_label_with_text_selected_chooses_the_span_to_fit(app, server, chromium):
    """Text selected first, then the span's label clicked to fit it there: the label keeps the text selected (it is
    not text), and the page took the click for the end of a drag and did nothing, saying nothing; f then asked for a
    span. The click chooses the span, the text stays selected, and f fits the span to it; on a phone the hint then says
    what a tap on a span label does with that text selected (it marks the text; it said "relabel")."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs"
    page.keyboard.press("c")
    page.keyboard.press("Escape")  # the CUE let go
    assert page.locator("#text .tag.sel").count() == 0
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs to"
    page.locator("#text .tag").first.click()
    assert page.locator("#text .tag.sel").count() == 1
    assert page.evaluate("() => getSelection().toString()") == "Repairs to"
    assert hint(page).startswith("CUE \u201cRepairs\u201d selected: f fits it to the selected text")
    page.keyboard.press("f")
    wait_saved(page)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("CUE", "Repairs to")
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()

    phone = open_page(chromium, server, "ann", ids["bridge"], viewport=(390, 844), touch=True)
    phone.evaluate("""() => { const piece = document.querySelectorAll("#text .pc[data-s='1']")[1];  // after the CUE
                              getSelection().setBaseAndExtent(piece.firstChild, 1, piece.firstChild, 1 + 'the Eastbrook'.length); }""")
    phone.locator("#text .tag").first.tap()
    assert phone.locator("#text .tag.sel").count() == 1
    assert hint(phone) == ("CUE selected: tap Fit to fit it to the selected text, or a span label to mark that text "
                           "(\u201cRepairs to\u201d).")  # not "a span label relabels it": with text selected it marks the text
    phone.locator('#toolbar button[data-action="fit"]').tap()
    wait_saved(phone)
    [(_, label, start, end)] = db_spans(app, "ann", ids["bridge"])
    assert (label, TEXT[start:end]) == ("CUE", "the Eastbrook")
    assert phone.errors == []  # type: ignore[attr-defined]
    phone.context.close()


def test_an_undone_relabel_that_removed_a_link_says_the_link_comes_back(app, server, chromium):
    """A SOURCE relabelled CUE removes its link (a quote is attributed to no cue), and the hint said so; Ctrl+Z then
    put the label and the link back but named only the relabel, so a link came back unannounced. It names the link."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("j")
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Repairs to"
    page.keyboard.press("q")
    page.keyboard.press("Control+Shift+ArrowLeft")  # "Tuesday."
    page.keyboard.press("s")
    page.keyboard.press("l")
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    assert hint(page).startswith("Linked")
    page.keyboard.press("c")  # the SOURCE, still selected, relabelled CUE: its link goes
    assert hint(page) == "Relabelled to CUE; 1 link no longer allowed was removed."
    page.keyboard.press("Control+z")
    assert hint(page) == "Undone: relabelling the SOURCE span \u201cTuesday.\u201d as CUE, which removed its 1 link."
    page.keyboard.press("Control+Shift+z")
    assert hint(page) == "Redone: relabelling the SOURCE span \u201cTuesday.\u201d as CUE, which removed its 1 link."
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_question_mark_closes_the_keyboard_help_it_opened(app, server, chromium):
    """? opens the keyboard help ("? this help"), but with the help open the page ignored every key but Esc, so a
    second ? did nothing and said nothing. It closes the help, and the keys act on the page again."""
    ids = seed(app, [ArticleRecord("bridge", TITLE, TEXT)], users=("ann",))
    page = open_page(chromium, server, "ann", ids["bridge"])
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("?")
    assert page.locator("#help").is_hidden()
    page.keyboard.press("j")
    assert current_sentence(page) == 1
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()


def test_a_word_step_at_the_sentences_end_says_how_to_select_on(app, server, chromium):
    """Ctrl+Shift+→ selects by word and stops at the sentence's end (README); pressed there it did nothing and said
    nothing, where an annotator marking a quote that runs on needs Shift+↓. It says so, at either end."""
    ids = seed(app, [ArticleRecord("short", "Short", "First one. Second one. Third one.")], users=("ann",))
    page = open_page(chromium, server, "ann", ids["short"])
    page.keyboard.press("j")
    for _ in range(2):
        page.keyboard.press("Control+Shift+ArrowRight")  # "Second one"
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected \\u201cSecond one')")
    page.keyboard.press("Control+Shift+ArrowRight")  # the full stop: the end of the sentence
    # the selection's own hint comes with its selectionchange event, after the key: waited for, so that it does not
    # land over the next key's (a loaded CI run read it there)
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected \\u201cSecond one.\\u201d')")
    page.keyboard.press("Control+Shift+ArrowRight")
    assert page.evaluate("() => getSelection().toString()") == "Second one."
    assert hint(page) == "The selection is at the end of sentence 2: a word step stops there; Shift+\u2193 selects on by line, into the next sentence."
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+ArrowLeft")  # "one." from the end, then "Second one.", then the start
    page.keyboard.press("Control+Shift+ArrowLeft")
    page.wait_for_function("() => getSelection().toString() === 'Second one.'")
    page.wait_for_function("() => document.getElementById('hint').textContent.startsWith('Selected \\u201cSecond one.\\u201d')")
    page.keyboard.press("Control+Shift+ArrowLeft")
    assert hint(page) == "The selection is at the start of sentence 2: a word step stops there; Shift+\u2191 selects back by line, into the one before."
    assert page.errors == []  # type: ignore[attr-defined]
    page.context.close()
