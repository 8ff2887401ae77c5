"""Sentence segmentation for news text.

    segment(text) -> [(start, end), ...]

Offsets are Python code-point offsets into the text exactly as given (never
normalised), so ``text[start:end]`` is the sentence.  Sentences are sorted,
do not overlap, are never empty and never start or end with whitespace;
whitespace between sentences belongs to no sentence.

How it works
------------
1. Every line break ends a sentence, so the text is cut into lines first
   (``\\n``, ``\\r\\n``, ``\\r`` and the other Unicode line separators).
2. ``sentencex`` (wikimedia, MIT, Rust) proposes sentence boundaries for each
   line.  It is fast and handles quotes, initials and most abbreviations.
3. A rule layer looks at every proposed boundary *and* at every other
   "terminator followed by whitespace" position, and may overrule sentencex.
   Each rule is one function below that returns True (boundary), False (no
   boundary) or None (no opinion; the next rule or sentencex decides).
4. Two list rules work on whole lines: numbered/lettered lists written on one
   line are split at each item, and a segment that is only a list marker
   ("1.", "a)") is joined to the next.

No model files, no network, no module-level mutable state: the tables and
compiled regexes below are constants.
"""
from __future__ import annotations

import re

import sentencex

__all__ = ["segment"]

_LANGUAGE = "en"

# --------------------------------------------------------------------------
# Constant tables
# --------------------------------------------------------------------------

# Titles and ranks written before a name (or a number): never end a sentence.
_TITLES = frozenset(
    """
    Mr Mrs Ms Mx Messrs Mmes Mme Mlle Dr Drs Prof Profs Sen Sens Rep Reps Gov Govs
    Lt Gen Gens Col Cols Maj Capt Cpt Cmdr Cdr Comdr Adm Brig Sgt Cpl Pvt Pfc Spc
    Rev Revs Fr Msgr Hon Pres Supt Det Insp Atty Amb Asst Assoc Cllr Mt Ft Ste
    """.split()
)
# Lower-case abbreviations that only occur inside a sentence.
_MID_SENTENCE = frozenset("vs v e.g i.e cf viz approx ca c incl esp resp".split())

# Abbreviations that never end a sentence when a number follows ("No. 5",
# "Jan. 6", "p. 55"); before anything else they behave like ordinary words.
_BEFORE_NUMBER = frozenset(
    """
    No Nos Nr no nos N° Nº № p pp Vol vol Vols vols Fig fig Figs figs Ch ch
    Art art Sec sec Secs Para para Pt pt Op op Ref ref
    Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec
    ft lb lbs oz mi yd yds hr hrs min mins sec secs yr yrs mo mos wk wks pct pts sq
    """.split()
)
# Abbreviations that may or may not end a sentence ("Apple Inc. said" /
# "a deal with Apple Inc. The ..."): the rule layer has no opinion and
# sentencex decides (it splits when a common sentence opener follows).
_AMBIGUOUS = frozenset(
    """
    Inc Corp Corps Co Cos Ltd Plc Bros Assn Intl Mfg Dept Univ Jr Sr Esq al
    St Ave Blvd Rd Hwy Rte Pkwy Sq Ln Ct Pl Bldg Ret
    Ala Ariz Ark Calif Colo Conn Del Fla Ga Ill Ind Kan Kans Ky La Md Mass Mich
    Minn Miss Mo Mont Neb Nebr Nev Okla Ore Pa Penn Tenn Tex Va Vt Wash Wis Wisc
    Wyo Alta Ont Que Sask
    """.split()
)
_ABBREVIATIONS = _TITLES | _MID_SENTENCE | _BEFORE_NUMBER | _AMBIGUOUS
_ALL_CAPS_TITLES = frozenset(t.upper() for t in _TITLES if len(t) > 1)

# Verbs of saying that follow a quote in an attribution ("Why?" Smith asked.).
_SPEECH_VERBS = (
    "said|says|asked|asks|added|adds|told|tells|wrote|writes|replied|replies|"
    "explained|noted|stated|shouted|yelled|declared|insisted|argued|recalled|"
    "tweeted|posted|responded|warned|cautioned|conceded|acknowledged|admitted|"
    "suggested|claimed|observed|continued|countered|demanded|wondered|cried"
)

_TERMINATORS = ".!?…‽"
_CLOSERS = "\"”’'»)]"
_OPENERS = "\"“‘'«(["
_QUOTE_OPENERS = "\"“‘'«"
_BULLETS = "•◦▪‣⁃●○■□►▸*·\\-–—"
_RUN_CHARS = _TERMINATORS + _CLOSERS

# --------------------------------------------------------------------------
# Compiled regexes
# --------------------------------------------------------------------------

_LINE_BREAK_CHARS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_PLAIN_WORD = re.compile(r"[^\W_][\w’'\-]*")
_LEADING_OPENERS = re.compile(f"[{re.escape(_OPENERS)}]+")
_SPACED_ELLIPSIS_AHEAD = re.compile(r"\.(?: \.){2}\s+[" + re.escape(_OPENERS) + r"]?[A-Z]")
_FOUR_DOT_BEHIND = re.compile(r"[^\W_][.!?](?: \.){3}\Z")
_ATTRIBUTION = re.compile(
    r"(?:[A-Z][\w’'.\-]*\s+){1,4}(?:" + _SPEECH_VERBS + r")\b(?P<end>\s*[.,;:])?"
)
_BULLET = f"[{re.escape(_BULLETS)}]"
_LIST_START = re.compile(
    rf"\s*(?:{_BULLET}\s*)?(?P<label>\d{{1,3}}|[a-z])(?P<punct>\.\)|[.)])\s"
)
_LIST_MARKER = re.compile(
    rf"(?<=\s)(?:{_BULLET}\s*)?(?P<label>\d{{1,3}}|[a-z])(?P<punct>\.\)|[.)])(?=\s)"
)
_MARKER_ONLY = re.compile(
    rf"{_BULLET}|(?:{_BULLET}\s*)?(?:\d{{1,3}}|[A-Za-z]|[ivxlcdm]{{1,6}}|[IVXLCDM]{{1,6}})(?:\.\)|[.)])"
)
_SURROGATE = re.compile("[\ud800-\udfff]")

_TAIL = 80  # characters of context looked at before a boundary
_HEAD = 80  # ... and after it


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def segment(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) code-point offsets into text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    # str.splitlines breaks at \n, \r\n, \r and the other Unicode line
    # boundaries (\v, \f, \x1c-\x1e, \x85, \u2028, \u2029).
    for part in text.splitlines(True):
        line = part.rstrip(_LINE_BREAK_CHARS)
        if line and not line.isspace():
            _segment_line(line, pos, spans)
        pos += len(part)
    return spans


# --------------------------------------------------------------------------
# Per line
# --------------------------------------------------------------------------


def _segment_line(line: str, offset: int, out: list[tuple[int, int]]) -> None:
    """Rule: a line break always ends a sentence, so each line is segmented on
    its own (a title line and a byline are sentences of their own)."""
    ctx = _Line(line)
    cuts = ctx.sx_set.union(_candidates(line))
    kept = [c for c in sorted(cuts) if _decide(ctx, c)]
    kept = _split_inline_list(line, kept)
    kept = _join_list_markers(line, kept)
    kept.append(len(line))
    prev = 0
    for cut in kept:
        piece = line[prev:cut]
        stripped = piece.strip()
        if stripped:
            start = offset + prev + len(piece) - len(piece.lstrip())
            out.append((start, start + len(stripped)))
        prev = cut


class _Line:
    """One line of text and the boundaries sentencex proposes for it."""

    __slots__ = ("text", "sx_set")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sx_set = frozenset(_sentencex_cuts(text))


def _sentencex_cuts(line: str) -> list[int]:
    """End offsets (trailing whitespace excluded) of sentencex's sentences."""
    try:
        parts = sentencex.segment(_LANGUAGE, line)
    except UnicodeEncodeError:  # lone surrogates cannot cross into Rust
        parts = sentencex.segment(_LANGUAGE, _SURROGATE.sub("\ufffd", line))
    cuts = []
    pos = 0
    for part in parts:
        n = len(part.rstrip())
        if n:
            cuts.append(pos + n)
        pos += len(part)
    if pos != len(line):  # sentencex's pieces always tile the line; be safe anyway
        cuts = [
            b["start_index"] + len(b["text"].rstrip())
            for b in sentencex.get_sentence_boundaries(_LANGUAGE, line)
            if b["text"].strip()
        ]
    return [c for c in cuts if 0 < c < len(line)]  # the line's end is implicit


def _candidates(line: str) -> list[int]:
    """Positions right after terminators (+ closing quotes/brackets) that are
    followed by whitespace: every place a sentence could end.  str.find is
    several times faster than a regex scan here."""
    out = []
    n = len(line)
    for ch in _TERMINATORS:
        i = line.find(ch)
        while i >= 0:
            j = i + 1
            while j < n and line[j] in _RUN_CHARS:
                j += 1
            if j < n and line[j].isspace():
                out.append(j)
            i = line.find(ch, j)
    return out


def _inside_quotes(line: str, term_start: int, cut: int) -> bool:
    """True when the terminator at term_start is inside quotes or brackets that
    close later in the line (not right at the boundary): sentencex keeps such
    text together and the rules do not force a break there."""
    before = line[:term_start]
    after = line[cut:]
    if before.count("“") > before.count("”") and "”" in after:
        return True
    if before.count('"') % 2 and '"' in after:
        return True
    if before.count("(") > before.count(")") and ")" in after:
        return True
    if before.count("«") > before.count("»") and "»" in after:
        return True
    return _open_single(before, after, "‘", "’") or _open_single(before, after, "'", "'")


def _open_single(before: str, after: str, opening: str, closing: str) -> bool:
    """Single quotes double as apostrophes (don't, Israel’s, '90s): an opening
    quote follows a space or the line start and precedes a word; a closing
    quote is not followed by a letter."""
    i = len(before)
    while True:
        i = before.rfind(opening, 0, i)
        if i < 0:
            return False
        if (i == 0 or before[i - 1].isspace() or before[i - 1] in _OPENERS) and before[
            i + 1 : i + 2
        ].isalnum():
            break
    if _has_closing(before, i + 1, closing):
        return False
    return _has_closing(after, 0, closing)


def _has_closing(s: str, start: int, closing: str) -> bool:
    k = s.find(closing, start)
    while k >= 0:
        if k > 0 and not s[k - 1].isspace() and not s[k + 1 : k + 2].isalnum():
            return True
        k = s.find(closing, k + 1)
    return False


# --------------------------------------------------------------------------
# Boundary decisions
# --------------------------------------------------------------------------


class _Boundary:
    """What surrounds a possible boundary: the last token before it, split into
    word + terminators + closers, and the text after it."""

    __slots__ = ("line", "sx", "cut", "word", "term", "closers", "head", "spaced", "term_start")

    def __init__(self, line: str, sx: bool, cut: int) -> None:
        self.line = line
        self.sx = sx
        self.cut = cut
        ws = line.rfind(" ", 0, cut)
        token = line[ws + 1 : cut]
        if not token.isprintable():  # another kind of whitespace (tab, NBSP ...)
            parts = line[max(0, cut - _TAIL) : cut].rsplit(None, 1)
            token = parts[-1] if parts else ""
        core = token.rstrip(_CLOSERS)
        self.closers = token[len(core) :]
        self.word = core.rstrip(_TERMINATORS)
        self.term = core[len(self.word) :]
        self.term_start = cut - len(self.closers) - len(self.term)
        self.spaced = cut < len(line) and line[cut].isspace()
        self.head = line[cut : cut + _HEAD].lstrip()


def _decide(ctx: _Line, cut: int) -> bool:
    """Run the rules in order; the first opinion wins, else sentencex decides."""
    sx = cut in ctx.sx_set
    b = _Boundary(ctx.text, sx, cut)
    if b.term and b.head:
        for rule in _RULES:
            verdict = rule(b)
            if verdict is not None:
                return verdict
    return sx


def _bare_word(word: str) -> str:
    """The word without opening quotes/brackets in front of it."""
    return _LEADING_OPENERS.sub("", word) if word and word[0] in _OPENERS else word


def _first_letter(head: str) -> str:
    """First character after any opening quotes/brackets."""
    for ch in head:
        if ch not in _OPENERS:
            return ch
    return ""


def _is_title(word: str) -> bool:
    """Titles and ranks, including hyphenated ranks (Maj.-Gen., Lt.-Col.)."""
    if word in _TITLES or word in _MID_SENTENCE or word in _ALL_CAPS_TITLES:
        return True
    if "-" in word or "." in word:
        last = re.split(r"[.\-]", word)[-1]
        first = re.split(r"[.\-]", word)[0]
        return last in _TITLES and first in _TITLES
    return False


def _rule_inside_token(b: _Boundary) -> bool | None:
    """No break inside a token: decimals, URLs, e-mail addresses, version numbers,
    "Jr.'s" (sentencex sometimes cuts where no space follows)."""
    if not b.spaced and b.head[0] not in _QUOTE_OPENERS + "(":
        return False
    return None


def _rule_lowercase_continuation(b: _Boundary) -> bool | None:
    """No break before a lower-case word: abbreviations mid-sentence ("5 ft. tall"),
    an ellipsis inside a sentence ("and so... we went"), a quote with its
    attribution ("Why?" she asked.).  Brand names like iPhone start sentences."""
    first = _first_letter(b.head)
    if first.islower():
        word = b.head.lstrip(_OPENERS).split(None, 1)[0]
        if not any(c.isupper() for c in word):
            return False
    return None


def _rule_title(b: _Boundary) -> bool | None:
    """No break after a title or rank (Dr., Sen., Maj.-Gen., Lt. Col.) or a
    mid-sentence abbreviation (vs., e.g., approx.)."""
    if b.term == "." and _is_title(_bare_word(b.word)):
        return False
    return None


def _rule_number_after_abbreviation(b: _Boundary) -> bool | None:
    """No break between an abbreviation and a number: "No. 5", "Jan. 6", "p. 55",
    "approx. 40"."""
    if b.term == "." and b.head[0].isdigit():
        word = _bare_word(b.word)
        if word in _ABBREVIATIONS or _is_title(word):
            return False
    return None


def _rule_attribution(b: _Boundary) -> bool | None:
    """A quote followed by its attribution is one sentence: “Why?” Smith asked.
    After a full stop only a bare attribution joins (“Done.” Smith said.),
    since “Done.” Smith said the plan ... starts a new sentence."""
    if not b.closers or b.closers[-1] not in "\"”’'»":
        return None
    m = _ATTRIBUTION.match(b.head)
    if m and (b.term[-1] in "?!" or m.group("end")):
        return False
    return None


def _rule_opening_quote(b: _Boundary) -> bool | None:
    """Split before an opening quote that follows a sentence end:
    He left. “We are done,” she said."""
    if b.head[0] in _QUOTE_OPENERS and len(b.head) > 1:
        if b.head[1].isupper() and (b.sx or not _inside_quotes(b.line, b.term_start, b.cut)):
            return True
    return None


def _rule_four_dot_ellipsis(b: _Boundary) -> bool | None:
    """"word. . . . Next" is a full stop plus an ellipsis that opens the next
    sentence: break after the full stop, not after the ellipsis."""
    if b.term == "." and not b.closers:
        if b.word and _SPACED_ELLIPSIS_AHEAD.match(b.head):
            return True
        if _first_letter(b.head).isupper():
            tail = b.line[max(0, b.cut - 12) : b.cut]
            if _FOUR_DOT_BEHIND.search(tail):
                return False
    return None


def _rule_parenthesised_sentence(b: _Boundary) -> bool | None:
    """Split after a whole parenthesised sentence: "He won. (It was close.) Then"."""
    if b.closers.endswith(")") and b.term[-1] in ".!?" and _first_letter(b.head).isupper():
        line = b.line
        opening = line.rfind("(", 0, b.term_start)
        if opening >= 0 and line[opening + 1 : opening + 2].isupper():
            before = line[:opening].rstrip().rstrip(_CLOSERS)
            if not before or before[-1] in _TERMINATORS:
                return True
    return None


def _rule_word_then_capital(b: _Boundary) -> bool | None:
    """A full stop after an ordinary word followed by a capital ends the sentence,
    even where sentencex took the word for an abbreviation ("said no. Gen.
    Milley", "in May. Officials", "told me. Police")."""
    if "." in b.term[1:] or "…" in b.term or ")" in b.closers:
        return None  # ellipses and brackets: left to other rules / sentencex
    first = _first_letter(b.head)
    if not first.isupper():
        return None
    word = _bare_word(b.word)
    if len(word) < 2 or word in _AMBIGUOUS or not _PLAIN_WORD.fullmatch(word):
        return None  # initials, "U.S.", "Inc." ...: sentencex decides
    if not b.sx and _inside_quotes(b.line, b.term_start, b.cut):
        return None
    return True


_RULES = (
    _rule_inside_token,
    _rule_lowercase_continuation,
    _rule_title,
    _rule_number_after_abbreviation,
    _rule_attribution,
    _rule_opening_quote,
    _rule_four_dot_ellipsis,
    _rule_parenthesised_sentence,
    _rule_word_then_capital,
)


# --------------------------------------------------------------------------
# List rules (whole line)
# --------------------------------------------------------------------------


def _next_label(label: str) -> str:
    return str(int(label) + 1) if label.isdigit() else chr(ord(label) + 1)


def _split_inline_list(line: str, cuts: list[int]) -> list[int]:
    """A list written on one line ("1. The first item 2. The second item",
    "a. ... b. ...") is split before each item.  Only when the line starts
    with a marker and later markers continue its numbering."""
    m = _LIST_START.match(line)
    if not m:
        return cuts
    expected = _next_label(m.group("label"))
    punct = m.group("punct")
    added = []
    for mk in _LIST_MARKER.finditer(line, m.end()):
        if mk.group("label") != expected or mk.group("punct") != punct:
            continue
        before = line[: mk.start()].rstrip()
        prev_word = _bare_word(before.rsplit(None, 1)[-1].rstrip(".")) if before else ""
        if prev_word in _ABBREVIATIONS or _is_title(prev_word):
            continue  # "No. 2.", "p. 3)" are not list items
        added.append(len(before))
        expected = _next_label(expected)
    if not added:
        return cuts
    return sorted(set(cuts).union(added))


def _join_list_markers(line: str, cuts: list[int]) -> list[int]:
    """A segment that is only a list marker ("1.", "a)", "•") joins the next."""
    kept = []
    prev = 0
    for cut in cuts:
        if not _MARKER_ONLY.fullmatch(line[prev:cut].strip()):
            kept.append(cut)
            prev = cut
    return kept
