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
from itertools import accumulate

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
# "a deal with Apple Inc. The ..."): before a capital they end the sentence
# only when a common sentence opener follows.
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

# Words after "a.m."/"p.m." that keep the sentence going.
_AFTER_TIME = frozenset(
    """
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday Mon Tue Tues Wed Thu
    Thurs Fri Sat Sun January February March April May June July August September
    October November December Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec
    ET EST EDT CT CST CDT MT MST MDT PT PST PDT GMT UTC BST CET CEST IST JST AEST
    Eastern Central Mountain Pacific Moscow Beijing Tokyo local
    """.split()
)
# Common sentence openers: after an ambiguous abbreviation they mean a new
# sentence (function words, and a few subjects that open many news sentences).
_OPENER_WORDS = frozenset(
    """
    The A An This That These Those It Its He She They We I You His Her Their Our
    My Your There Here But And Or Nor So Yet Then When While After Before As If
    In On At By For From With Without Since Until Although Though Because However
    Meanwhile Still Also Now Later Earlier Today Yesterday Tomorrow Last Next
    First Both Each Every Many Most Much Some Several Such Other Another Any All
    No None Not Nothing Only Even What Which Who Whose Why How Where Whether Yes
    Instead Indeed Thus Therefore Moreover Furthermore Nevertheless Otherwise
    During Despite Under Over Among According Asked One Two Three
    Officials Police Authorities Analysts Experts Critics Residents Witnesses
    """.split()
)

_TERMINATORS = ".!?…‽"
_CLOSERS = "\"”’'»)]"
_OPENERS = "\"“‘'«(["
_QUOTE_OPENERS = "\"“‘'«"
_BULLETS = "•◦▪‣⁃●○■□►▸*·-–—"
_RUN_CHARS = _TERMINATORS + _CLOSERS
_LIST_FIRST_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz" + _BULLETS)
_CONTINUATION_SKIP = _OPENERS + "—–- \t\u00a0"

# --------------------------------------------------------------------------
# Compiled regexes
# --------------------------------------------------------------------------

_LINE_BREAK_CHARS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_PLAIN_WORD = re.compile(r"[^\W_][\w’'\-]*")
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
_UNICODE_SPACE = re.compile("[\xa0\u1680\u2000-\u200a\u202f\u205f\u3000]")

_TAIL = 80  # characters of context looked at before a boundary
_HEAD = 80  # ... and after it


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def segment(text: str) -> list[tuple[int, int]]:
    """Sentence (start, end) code-point offsets into text."""
    # Rule: a line break always ends a sentence.  str.splitlines breaks at \n,
    # \r\n, \r and the other Unicode line boundaries (\v, \f, \x1c-\x1e,
    # \x85, \u2028, \u2029); each line is then segmented on its own, so a
    # title line and a byline are sentences of their own.
    all_lines = text.splitlines()
    all_offsets = [0, *accumulate(map(len, text.splitlines(True)))]
    keep = [i for i, line in enumerate(all_lines) if line and not line.isspace()]
    lines = [all_lines[i] for i in keep]
    offsets = [all_offsets[i] for i in keep]
    if not lines:
        return []
    # Both passes below run once over the lines joined by blank lines, which is
    # cheaper than once per line; the results are then split per line.
    joined = "\n\n".join(lines)
    sx_cuts_per_line = _sentencex_cuts(lines, joined)
    candidates_per_line = _per_line(_candidates(joined), lines)
    spans: list[tuple[int, int]] = []
    for offset, line, sx_cuts, candidates in zip(offsets, lines, sx_cuts_per_line, candidates_per_line):
        if candidates or sx_cuts or line.lstrip()[:1] in _LIST_FIRST_CHARS:
            _segment_line(_Line(line, sx_cuts), candidates, offset, spans)
        else:  # nothing could end a sentence before the line's end
            stripped = line.lstrip()
            start = offset + len(line) - len(stripped)
            spans.append((start, start + len(stripped.rstrip())))
    return spans


# --------------------------------------------------------------------------
# Per line
# --------------------------------------------------------------------------


def _segment_line(ctx: _Line, candidates: list[int], offset: int, out: list[tuple[int, int]]) -> None:
    """Decide every possible boundary of one line, then emit its sentences.
    Every cut sits right after a non-space character, so a sentence only needs
    its leading whitespace skipped."""
    line = ctx.text
    cuts = ctx.sx_set.union(candidates)
    kept = [c for c in sorted(cuts) if _decide(ctx, c)]
    if line.lstrip()[:1] in _LIST_FIRST_CHARS:
        kept = _split_inline_list(line, kept)
    last = len(line.rstrip())
    kept.append(last)
    prev = 0
    for cut in kept:
        if cut <= prev:
            continue
        piece = line[prev:cut]
        lead = len(piece) - len(piece.lstrip())
        if cut - prev - lead <= 12 and cut < last and _MARKER_ONLY.fullmatch(piece, lead):
            continue  # rule: a segment that is only a list marker ("1.", "a)") joins the next
        out.append((offset + prev + lead, offset + cut))
        prev = cut


class _Line:
    """One line of text, the boundaries sentencex proposes for it, and (when
    first needed) the stretches of it that are quoted or bracketed."""

    __slots__ = ("text", "sx_set", "straight_single", "_last_close", "_ranges")

    def __init__(self, text: str, sx_cuts: list[int]) -> None:
        self.text = text
        self.sx_set = frozenset(sx_cuts)
        # sentencex never breaks inside “…”, "…", ‘…’, «…» or (…), but it can
        # inside '…' when an apostrophe follows (“'We won. Now,' he said. It's”).
        self.straight_single = "'" in text
        self._last_close: int | None = None
        self._ranges: list[tuple[int, int]] | None = None

    def inside_quotes(self, cut: int) -> bool:
        """True when the boundary at cut is inside quotes or brackets that close
        later in the line (a quote that closes right at the boundary does not
        count): sentencex keeps such text together and so do the rules."""
        if self._last_close is None:  # cheap first test: does anything close later?
            t = self.text
            self._last_close = max(
                t.rfind("”"), t.rfind('"'), t.rfind("’"), t.rfind("'"), t.rfind(")"), t.rfind("»")
            )
        if self._last_close < cut:
            return False
        if self._ranges is None:
            self._ranges = _quoted_ranges(self.text)
        for start, end in self._ranges:
            if start < cut < end:
                return True
        return False


def _per_line(positions: list[int], lines: list[str]) -> list[list[int]]:
    """Positions in the lines joined by blank lines, split per line and made
    relative to their line."""
    result: list[list[int]] = [[] for _ in lines]
    i = 0
    start = 0
    end = len(lines[0])
    for p in sorted(positions):
        while p > end:
            i += 1
            start = end + 2
            end = start + len(lines[i])
        result[i].append(p - start)
    return result


def _sentencex_cuts(lines: list[str], joined: str | None = None) -> list[list[int]]:
    """For each line, the end offsets (trailing whitespace excluded) of the
    sentences sentencex finds in it."""
    if not lines:
        return []
    cuts = _sentencex_joined_cuts(lines, joined)
    if cuts is None:  # never seen; kept for safety against future sentencex versions
        cuts = [_sentencex_line_cuts(line) for line in lines]
    return cuts


def _sentencex_joined_cuts(lines: list[str], joined: str | None = None) -> list[list[int]] | None:
    """sentencex segments each paragraph (text between blank lines) on its own,
    so one call on the lines joined by blank lines gives exactly the per-line
    result without the cost of one call per line.  None if sentencex's pieces
    do not line up with the lines."""
    if joined is None:
        joined = "\n\n".join(lines)
    cuts = []
    pos = 0
    for part in _sentencex_segment(joined):
        if "\n" in part:  # only the separators contain line breaks
            if part != "\n\n":
                return None
        else:
            kept = len(part.rstrip())
            if kept and joined[pos + kept : pos + kept + 1] not in ("\n", ""):
                cuts.append(pos + kept)  # (the end of a line is a cut anyway)
        pos += len(part)
    if pos != len(joined):
        return None
    return _per_line(cuts, lines)


def _sentencex_line_cuts(line: str) -> list[int]:
    """_sentencex_cuts for one line, one call."""
    cuts = []
    pos = 0
    for part in _sentencex_segment(line):
        kept = len(part.rstrip())
        cut = pos + kept
        pos += len(part)
        if kept and 0 < cut < len(line):
            cuts.append(cut)
    return cuts


def _sentencex_segment(text: str) -> list[str]:
    """sentencex.segment, minus two failure modes: lone surrogates (they cannot
    cross into Rust) and a panic of sentencex 1.0.32 on a capital, a non-ASCII
    space and a full stop ("S\xa0.").  Both substitutions keep every code
    point in place, so the pieces still measure the original text.  Should
    sentencex fail anyway, it proposes nothing and the rules decide alone."""
    if (
        "\xa0" in text or "\u202f" in text or "\u2009" in text
        or "\u2002" in text or "\u2003" in text or "\u3000" in text
    ):
        text = _UNICODE_SPACE.sub(" ", text)
    try:
        return sentencex.segment(_LANGUAGE, text)
    except UnicodeEncodeError:
        pass
    except BaseException as exc:  # pyo3 turns Rust panics into BaseExceptions
        if type(exc).__name__ != "PanicException":
            raise
    try:
        return sentencex.segment(_LANGUAGE, _UNICODE_SPACE.sub(" ", _SURROGATE.sub("\ufffd", text)))
    except BaseException as exc:
        if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
            raise
        return [text]


def _candidates(text: str) -> list[int]:
    """Positions right after terminators (+ closing quotes/brackets) that are
    followed by whitespace other than a line break: every place a sentence
    could end inside a line.  str.find is several times faster than a regex
    scan here."""
    out = []
    n = len(text)
    for ch in _TERMINATORS:
        i = text.find(ch)
        while i >= 0:
            j = i + 1
            while j < n and text[j] in _RUN_CHARS:
                j += 1
            if j < n and text[j].isspace() and text[j] != "\n":
                out.append(j)
            i = text.find(ch, j)
    return out


def _quoted_ranges(line: str) -> list[tuple[int, int]]:
    """(start, end) of each balanced quote or bracket pair in the line, found
    in one linear pass per kind; unbalanced marks are ignored."""
    ranges: list[tuple[int, int]] = []
    for opening, closing in (("“", "”"), ("«", "»"), ("(", ")")):
        if opening in line:
            marks = sorted(_positions(line, opening) + _positions(line, closing))
            _pair(line, marks, opening, ranges)
    if '"' in line:
        marks = _positions(line, '"')
        ranges.extend((marks[i], marks[i + 1] + 1) for i in range(0, len(marks) - 1, 2))
    for opening, closing, closing_after in (("‘", "’", ""), ("'", "'", ",.!?…;:")):
        if opening in line:
            marks = []
            for i in sorted(set(_positions(line, opening) + _positions(line, closing))):
                if _opens_single(line, i, opening):
                    marks.append(i)
                elif _closes_single(line, i, closing, closing_after):
                    marks.append(-i - 1)  # negative: a closing mark
            _pair_signed(marks, ranges)
    return ranges


def _positions(line: str, ch: str) -> list[int]:
    out = []
    i = line.find(ch)
    while i >= 0:
        out.append(i)
        i = line.find(ch, i + 1)
    return out


def _pair(line: str, marks: list[int], opening: str, ranges: list[tuple[int, int]]) -> None:
    stack = []
    for i in marks:
        if line[i] == opening:
            stack.append(i)
        elif stack:
            ranges.append((stack.pop(), i + 1))


def _pair_signed(marks: list[int], ranges: list[tuple[int, int]]) -> None:
    stack = []
    for m in marks:
        if m >= 0:
            stack.append(m)
        elif stack:
            ranges.append((stack.pop(), -m))  # -m - 1 + 1


def _opens_single(line: str, i: int, opening: str) -> bool:
    """Single quotes double as apostrophes (don't, Israel’s, '90s, the boys'):
    an opening quote follows a space or the line start and precedes a letter."""
    return (
        line[i] == opening
        and (i == 0 or line[i - 1].isspace() or line[i - 1] in _OPENERS)
        and line[i + 1 : i + 2].isalpha()
    )


def _closes_single(line: str, i: int, closing: str, closing_after: str) -> bool:
    """A closing quote follows a non-space (for straight quotes: punctuation)
    and precedes no letter or digit."""
    return (
        line[i] == closing
        and i > 0
        and not line[i - 1].isspace()
        and not line[i + 1 : i + 2].isalnum()
        and (not closing_after or line[i - 1] in closing_after)
    )


# --------------------------------------------------------------------------
# Boundary decisions
# --------------------------------------------------------------------------


class _Boundary:
    """What surrounds a possible boundary: the last token before it, split into
    word + terminators + closers, and the text after it."""

    __slots__ = ("ctx", "line", "sx", "cut", "word", "term", "closers", "head", "spaced", "term_start")

    def __init__(self, ctx: _Line, sx: bool, cut: int) -> None:
        line = self.line = ctx.text
        self.ctx = ctx
        self.sx = sx
        self.cut = cut
        lo = max(0, cut - _TAIL)  # bounded look-back keeps long lines linear
        token = line[max(lo, line.rfind(" ", lo, cut) + 1) : cut]
        if not token.isprintable():  # another kind of whitespace (tab, NBSP ...)
            parts = token.rsplit(None, 1)
            token = parts[-1] if parts else ""
        core = token.rstrip(_CLOSERS)
        self.closers = token[len(core) :]
        self.word = core.rstrip(_TERMINATORS)
        self.term = core[len(self.word) :]
        self.term_start = cut - len(self.closers) - len(self.term)
        self.spaced = cut < len(line) and line[cut].isspace()
        self.head = line[cut : cut + _HEAD].lstrip()


def _decide(ctx: _Line, cut: int) -> bool:
    """Whether the line breaks into two sentences at cut."""
    line = ctx.text
    sx = cut in ctx.sx_set
    # Fast paths for the commonest cases, with the same outcome as the rules
    # below (tests/test_segment.py checks both agree on random text):
    #   "word. Capital"  a sentence end, unless inside quotes
    #   "Dr. Capital"    no break (titles)
    #   "J. Capital"     sentencex decides (initials)
    #   "No. 5"          no break after an abbreviation before a number
    #   "x. lower-case"  no break
    if line[cut : cut + 1] == " " and line[cut - 1] == ".":
        nxt = line[cut + 1 : cut + 2]
        after = line[cut + 2 : cut + 3] if nxt in "(“\"" else nxt
        if "A" <= after <= "Z" or "0" <= nxt <= "9":
            lo = max(0, cut - _TAIL)
            ws = line.rfind(" ", lo, cut)
            word = line[ws + 1 if ws >= 0 else lo : cut - 1]
            if word.isalnum():
                if word in _TITLES or word in _MID_SENTENCE or word in _ALL_CAPS_TITLES:
                    return False
                if "0" <= nxt <= "9":
                    if word in _ABBREVIATIONS:
                        return False
                    return sx and not (ctx.straight_single and ctx.inside_quotes(cut))
                if nxt in "“\"":  # _rule_opening_quote
                    return sx or not ctx.inside_quotes(cut)
                if word not in _AMBIGUOUS:  # (those go through the rules)
                    if sx and not ctx.straight_single:
                        return True  # see _rule_inside_quotes
                    if len(word) == 1:
                        return sx and not ctx.inside_quotes(cut)
                    return not ctx.inside_quotes(cut)
            if "-" in word and word[-1] != "." and word.isprintable() and _is_title(word):
                return False  # Maj.-Gen.
    if line[cut : cut + 1] == " " and "a" <= line[cut + 1 : cut + 2] <= "z":
        c = line[cut - 1]
        if c in _TERMINATORS or (c in _CLOSERS and cut > 1 and line[cut - 2] in _TERMINATORS):
            end = line.find(" ", cut + 1)
            if line[cut + 1 : end if end > 0 else None].islower():
                return False
    return _decide_by_rules(ctx, cut, sx)


def _decide_by_rules(ctx: _Line, cut: int, sx: bool) -> bool:
    """The rules in order; the first opinion wins, else sentencex's (sx) stands."""
    b = _Boundary(ctx, sx, cut)
    if b.term and b.head:
        for rule in _RULES:
            verdict = rule(b)
            if verdict is not None:
                return verdict
    return sx


def _bare_word(word: str) -> str:
    """The word without opening quotes/brackets in front of it."""
    return word.lstrip(_OPENERS)


def _first_letter(head: str) -> str:
    """First character after any opening quotes/brackets."""
    for ch in head:
        if ch not in _OPENERS:
            return ch
    return ""


def _is_title(word: str) -> bool:
    """Titles and ranks, including hyphenated ranks (Maj.-Gen., Lt.-Col.,
    Vice-Adm.)."""
    if word in _TITLES or word in _MID_SENTENCE or word in _ALL_CAPS_TITLES:
        return True
    if "-" in word and word[:1].isupper():
        return word.rsplit("-", 1)[1].rstrip(".") in _TITLES
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
    rest = b.head.lstrip(_CONTINUATION_SKIP)
    if rest[:1].islower():
        word = rest.split(None, 1)[0]
        if not any(c.isupper() for c in word):
            return False
    return None


def _rule_time_of_day(b: _Boundary) -> bool | None:
    """"a.m."/"p.m." before a weekday, month or time zone is mid-sentence
    ("at 2 a.m. Saturday", "at 9 p.m. EST"); before a sentence opener it ends
    the sentence ("at 5 p.m. The ...")."""
    if b.term == "." and b.word.lower() in ("a.m", "p.m"):
        nxt = b.head.split(None, 1)[0].rstrip(",.;:")
        if nxt in _AFTER_TIME:
            return False
        if nxt in _OPENER_WORDS:
            return True
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
        if b.head[1].isupper() and (b.sx or not b.ctx.inside_quotes(b.cut)):
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


def _rule_inside_quotes(b: _Boundary) -> bool | None:
    """No break inside quotes or brackets that close later on the line:
    “We won. Now we rest,” he said.  Sentencex agrees except for straight
    single quotes followed by an apostrophe, so its own breaks are only
    checked then; this rule mainly stops the next one from splitting."""
    if (not b.sx or b.ctx.straight_single) and b.ctx.inside_quotes(b.cut):
        return False
    return None


def _rule_ambiguous_abbreviation(b: _Boundary) -> bool | None:
    """After Inc., Co., Jr., St., Mass. ... a capital starts a new sentence only
    if it is a common opener: "Apple Inc. The company" splits, "Apple Inc.
    Chief Executive" and "the Mass. Supreme Court" do not."""
    if b.term == "." and _bare_word(b.word) in _AMBIGUOUS and _first_letter(b.head).isupper():
        nxt = b.head.lstrip(_OPENERS).split(None, 1)[0].rstrip(",.;:!?’'\"”")
        return nxt in _OPENER_WORDS
    return None


def _rule_word_then_capital(b: _Boundary) -> bool | None:
    """A full stop after an ordinary word followed by a capital ends the sentence,
    even where sentencex took the word for an abbreviation ("said no. Gen.
    Milley", "in May. Officials", "told me. Police")."""
    if b.term != "." or ")" in b.closers:
        return None  # "?", "!", ellipses, brackets: left to other rules / sentencex
    first = _first_letter(b.head)
    if not first.isupper():
        return None
    word = _bare_word(b.word)
    if len(word) < 2 or not _PLAIN_WORD.fullmatch(word):
        return None  # initials, "U.S.", "a.m." ...: sentencex decides
    return True


_RULES = (
    _rule_inside_token,
    _rule_lowercase_continuation,
    _rule_title,
    _rule_time_of_day,
    _rule_number_after_abbreviation,
    _rule_attribution,
    _rule_opening_quote,
    _rule_four_dot_ellipsis,
    _rule_parenthesised_sentence,
    _rule_inside_quotes,
    _rule_ambiguous_abbreviation,
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
