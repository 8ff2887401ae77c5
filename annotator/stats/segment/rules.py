"""Sentence segmentation for news text.

    segment(text) -> [(start, end), ...]

Offsets are Python code-point offsets into the text exactly as given (never
normalised), so ``text[start:end]`` is the sentence.  Sentences are sorted,
do not overlap, are never empty and never start or end with whitespace;
whitespace between sentences belongs to no sentence.

How it works
------------
1. Every line break ends a sentence, so the text is cut into lines first
   (``\n``, ``\r\n``, ``\r`` and the other Unicode line separators), and
   each line is segmented on its own.
2. ``sentencex`` (wikimedia, MIT, Rust) proposes sentence boundaries.  It is
   fast and handles quotes, initials and most abbreviations.  It is called
   once, on the non-blank lines joined by blank lines: it segments every
   paragraph on its own, so that equals one call per line, only cheaper (a
   test checks the two agree).
3. A rule layer looks at every proposed boundary *and* at every other
   "terminator followed by whitespace" position, and may overrule sentencex.
   Each rule is one function below (``_rule_*``) that returns True
   (boundary), False (no boundary) or None (no opinion: the next rule, and in
   the end sentencex, decides).  ``_decide`` short-cuts the commonest cases
   with the same outcome as the rules (a property test checks that too).
4. Two list rules work on whole lines: numbered/lettered lists written on one
   line are split at each item, and a segment that is only a list marker
   ("1.", "a)") is joined to the next.

No model files, no network, no module-level mutable state: the tables and
compiled regexes below are constants.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
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
# Abbreviations that quantify what follows ("approx. $12 million", "an est.
# 4.5 million", "Approx. 200 people"): never end a sentence before a number or
# an amount of money (a currency symbol, "US$", "CHF 12").
_BEFORE_AMOUNT = frozenset(
    """
    approx appr est estd avg abt incl excl tot Approx Appr Est Estd Avg Abt Incl Excl Tot
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
_ABBREVIATIONS = _TITLES | _MID_SENTENCE | _BEFORE_NUMBER | _BEFORE_AMOUNT | _AMBIGUOUS
_ALL_CAPS_TITLES = frozenset(t.upper() for t in _TITLES if len(t) > 1)
_NO_BREAK_AFTER = _TITLES | _MID_SENTENCE | _ALL_CAPS_TITLES

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

# Words that follow an abbreviation inside a name ("U.S. Senate", "U.N.
# Security Council", "U.K. Foreign Office"): after them the abbreviation never
# ends a sentence, whatever follows.
_NAME_PARTS = frozenset(
    """
    Senate House Congress Capitol Army Navy Naval Air Marine Marines Coast Guard Space Force Forces
    Military Embassy Embassies Consulate Mission Ambassador Envoy Secretary Department Treasury Court
    Courts Supreme District Circuit Appeals Attorney Justice State Defense Defence Commerce Energy Health
    Labor Labour Agriculture Education Interior Transportation Trade Security Council General Assembly
    Commission Commissioner Committee Agency Office Bureau Service Services Postal Border Customs
    Immigration Census Federal Central National Special President Presidential Vice Prime Minister
    Ministry Government Parliament Open Olympic Olympics Championship Championships Cup Chamber
    Representative Foreign Home Intelligence Nuclear Peacekeeping High Human Refugee Food Development
    Environment Environmental Climate Patent Geological Park Forest Drug Dollar Economy Economic Stock
    Bond Bonds Markets Soccer Football Basketball Women's Men's
    Chairman Chairwoman Chair Chief Executive CEO Director Founder Head Board Managing Spokesman
    Spokeswoman Spokesperson
    """.split()
)
# Finite verbs without the usual -ed: common irregular past tenses and
# present tenses that are rarely nouns.  With the auxiliaries, the verbs of
# saying and words in -ed they tell a clause ("Canada joined", "Britain has").
_IRREGULAR_VERBS = frozenset(
    """
    went came took made won lost left met sent gave held began became fell rose spent paid sold bought
    built found kept led ran saw set struck wrote got put cut hit quit shut brought caught fought taught
    thought sought knew grew threw drew flew blew drove rode spoke broke chose froze stole woke wore
    tore swore hung stood understood sat lay laid meant felt dealt slept swept wept lent bent sank sang
    swam drank beat bit hid forgot forgave withdrew upheld overcame overtook undertook shot lit fed fled
    sped slid spun stuck swung dug told heard said let
    says remains seems wants expects hopes believes thinks warns insists argues denies
    """.split()
)
# Words in -ed that are not verbs.
_ED_NOT_VERBS = frozenset(
    "need seed deed reed speed breed greed creed steed shed hundred indeed sacred naked wicked rugged ragged kindred beloved".split()
)
# Before one of these the abbreviation does not end a clause: "said the U.S.
# Mission ...", "after the U.S. Senate passed ...".
_CLAUSE_GOES_ON_AFTER = frozenset(
    """
    said says told tells asked that which who whom whose because after before when while as if unless
    since until whether where once though although and or nor but than
    """.split()
)
# Words after which a word in -s is a noun, not a verb ("hundreds of workers").
_NOUN_BEFORE = frozenset(
    "the a an of in at on for from to with by this that these those its his her their our some many all no two three several".split()
)
_PREPOSITIONS = frozenset("in at from of for on with across near outside inside".split())
_SENTENCE_END_BEFORE = re.compile(r"[.!?…][\"”’')\]]*\s")

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

_PLAIN_WORD = re.compile(r"[^\W_][\w’'\-]*")
_SPACED_ELLIPSIS_AHEAD = re.compile(r"\.(?: \.){2}\s+[" + re.escape(_OPENERS) + r"]?[A-Z]")
_FOUR_DOT_BEHIND = re.compile(r"[^\W_][.!?](?: \.){3}\Z")
_ATTRIBUTION = re.compile(
    r"(?:[A-Z][\w’'.\-]*\s+){1,4}(?:" + _SPEECH_VERBS + r")\b(?P<end>\s*[.,;:])?"
)
# An attribution whose speaker starts with an abbreviation or a rank, with up
# to seven more words of any case: “Why?” U.N. envoy Pierre Dubois asked.
_ATTRIBUTION_ABBREVIATED = re.compile(
    r"(?P<first>[A-Z][\w’'\-]*\.(?:[\w’'\-]*\.)*)\s+(?P<words>(?:[\w’'.\-]+\s+){0,7}?)(?:"
    + _SPEECH_VERBS
    + r")\b(?P<end>\s*[.,;:])?"
)
_INITIALISM = re.compile(r"(?:[A-Z]\.)+[A-Z]\.?")
_NAME_WORD = re.compile(r"[A-Z][\w’'\-]*")
_SPEECH_VERB_SET = frozenset(_SPEECH_VERBS.split("|"))
# Finite verbs that make a clause of its own, not an attribution ("U.N. envoys
# have asked that for years"): auxiliaries and modals.
_AUXILIARIES = frozenset(
    """
    is are was were be been being am has have had do does did will would shall should can could may
    might must isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't
    can't couldn't shouldn't
    """.split()
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
# A URL (with a scheme, or starting "www."), an e-mail address, or a bare
# domain with an optional path ("example.org/a.html"): the token before a
# boundary, terminators and closers taken off.  A bare domain needs a
# lower-case top-level label of two or more letters, so initials ("U.S"),
# "e.g", "a.m" and ranks ("Lt.Col") are not domains.
_ADDRESS = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.\-]*://|www\.)\S+"
    r"|[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+"
    r"|(?:[A-Za-z0-9](?:[\w\-]*[A-Za-z0-9])?\.)+[a-z]{2,}(?:/\S*)?"
)
# An amount of money: a sign, then a currency symbol (with a country prefix:
# US$, AU$, HK$) or a three-letter code and a space, then a digit.
_CURRENCY_SYMBOLS = (  # Unicode category Sc (currency symbols) of the Basic Multilingual Plane
    "$\u00a2-\u00a5\u058f\u060b\u07fe\u07ff\u09f2\u09f3\u09fb\u0af1\u0bf9\u0e3f\u17db"
    "\u20a0-\u20c0\ua838\ufdfc\ufe69\uff04\uffe0\uffe1\uffe5\uffe6"
)
_MONEY = re.compile(rf"[+\-\u2212±~]?(?:[A-Z]{{0,3}}[{_CURRENCY_SYMBOLS}]\s?|[A-Z]{{3}}\s)\d")
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
    if not keep:
        return []
    ctx = _Text([all_lines[i] for i in keep])
    kept = []
    line = 0  # index of the line holding the cut
    ends = ctx.ends
    for cut in sorted(ctx.sx_set.union(_candidates(ctx.text))):
        while cut > ends[line]:
            line += 1
        if _decide(ctx, cut, line):
            kept.append(cut)
    kept = _split_inline_lists(ctx, kept)
    kept = _attach_trailing_symbols(ctx, kept)
    return _emit(ctx, [all_offsets[i] for i in keep], kept)


# --------------------------------------------------------------------------
# The lines, joined
# --------------------------------------------------------------------------


class _Text:
    """The non-blank lines joined by blank lines, so that sentencex and the
    candidate search run once over all of them (sentencex segments each
    paragraph on its own, so this equals one call per line, only cheaper).
    Positions below are in this joined text.  Also holds the boundaries
    sentencex proposes and, per line and when first needed, the stretches
    that are quoted or bracketed."""

    __slots__ = ("text", "lines", "starts", "ends", "sx_set", "straight_single", "_quotes")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.text = "\n\n".join(lines)
        self.starts = [0, *accumulate(len(line) + 2 for line in lines[:-1])]
        self.ends = [start + len(line) for start, line in zip(self.starts, lines)]
        self.sx_set = frozenset(_sentencex_cuts(self))
        # sentencex never breaks inside “…”, "…", ‘…’, «…» or (…), but it can
        # inside '…' when an apostrophe follows (“'We won. Now,' he said. It's”).
        self.straight_single = ["'" in line for line in lines]
        self._quotes: dict[int, tuple[int, list[int], list[int]]] = {}

    def inside_quotes(self, cut: int, i: int) -> bool:
        """True when the boundary at cut (in line i) is inside quotes or brackets
        that close later in the line (a quote that closes right at the boundary
        does not count): sentencex keeps such text together and so do the rules."""
        quotes = self._quotes.get(i)
        if quotes is None:
            start = self.starts[i]
            line = self.lines[i]
            last_close = max(
                line.rfind("”"), line.rfind('"'), line.rfind("’"), line.rfind("'"), line.rfind(")"), line.rfind("»")
            )
            starts, reach = _reach(_quoted_ranges(line)) if last_close >= 0 else ([], [])
            quotes = self._quotes[i] = (start + last_close, [start + s for s in starts], [start + r for r in reach])
        last_close, starts, reach = quotes
        if last_close < cut:  # nothing closes after the boundary
            return False
        k = bisect_left(starts, cut)  # ranges starting before cut: [0, k)
        return k > 0 and reach[k - 1] > cut


def _emit(ctx: _Text, offsets: list[int], kept: list[int]) -> list[tuple[int, int]]:
    """Sentences between consecutive cuts and line ends, leading whitespace
    skipped (every cut already sits right after a non-space character), in
    offsets of the original text."""
    text = ctx.text
    spans: list[tuple[int, int]] = []
    kept.append(len(text) + 1)  # sentinel
    j = 0
    for line, start, offset in zip(ctx.lines, ctx.starts, offsets):
        shift = offset - start
        last = start + len(line.rstrip())
        prev = start
        cut = kept[j]
        while cut <= last:
            if cut > prev:
                if text[prev] == " " and not text[prev + 1].isspace():
                    lead = 1  # the usual single space after the previous sentence
                else:
                    lead = prev
                    while text[lead].isspace():
                        lead += 1
                    lead -= prev
                if cut - prev - lead > 12 or cut == last or not _MARKER_ONLY.fullmatch(text, prev + lead, cut):
                    spans.append((prev + lead + shift, cut + shift))
                    prev = cut
                # else rule: a segment that is only a list marker ("1.", "a)") joins the next
            j += 1
            cut = kept[j]
        if last > prev:
            piece = text[prev:last]
            lead = len(piece) - len(piece.lstrip())
            if lead < len(piece):
                spans.append((prev + lead + shift, last + shift))
    return spans


def _sentencex_cuts(ctx: _Text) -> list[int]:
    """End offsets (trailing whitespace excluded) of the sentences sentencex
    finds, in the joined text, line ends left out (they are cuts anyway)."""
    cuts = _sentencex_joined_cuts(ctx.text, frozenset(ctx.ends))
    if cuts is None:  # never seen; kept for safety against future sentencex versions
        cuts = [start + cut for line, start in zip(ctx.lines, ctx.starts) for cut in _sentencex_line_cuts(line)]
    return cuts


def _sentencex_joined_cuts(joined: str, line_ends: frozenset[int]) -> list[int] | None:
    """One sentencex call over the lines joined by blank lines; None if its
    pieces do not line up with the lines."""
    cuts = []
    pos = 0
    for part in _sentencex_segment(joined):
        if "\n" in part:  # only the separators contain line breaks
            if part != "\n\n":
                return None
        else:
            kept = len(part.rstrip())
            if kept and pos + kept not in line_ends:
                cuts.append(pos + kept)
        pos += len(part)
    if pos != len(joined):
        return None
    return cuts


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


def _reach(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Range starts in order, and for each the furthest end of the ranges
    starting up to it: "is cut inside a range" is then one binary search."""
    ranges.sort()
    starts = [start for start, _ in ranges]
    reach = list(accumulate((end for _, end in ranges), max))
    return starts, reach


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
    """What surrounds a possible boundary within its line: the last token
    before it, split into word + terminators + closers, and the text after it."""

    __slots__ = (
        "ctx", "line", "index", "start", "sx", "cut", "word", "term", "closers", "head", "spaced", "term_start"
    )

    def __init__(self, ctx: _Text, sx: bool, cut: int, index: int) -> None:
        text = self.line = ctx.text
        start = ctx.starts[index]
        end = ctx.ends[index]
        self.ctx = ctx
        self.index = index
        self.start = start
        self.sx = sx
        self.cut = cut
        lo = max(start, cut - _TAIL)  # bounded look-back keeps long lines linear
        token = text[max(lo, text.rfind(" ", lo, cut) + 1) : cut]
        if not token.isprintable():  # another kind of whitespace (tab, NBSP ...)
            parts = token.rsplit(None, 1)
            token = parts[-1] if parts else ""
        core = token.rstrip(_CLOSERS)
        self.closers = token[len(core) :]
        self.word = core.rstrip(_TERMINATORS)
        self.term = core[len(self.word) :]
        self.term_start = cut - len(self.closers) - len(self.term)
        self.spaced = cut < end and text[cut].isspace()
        self.head = text[cut : min(cut + _HEAD, end)].lstrip()


def _decide(ctx: _Text, cut: int, index: int) -> bool:
    """Whether line `index` breaks into two sentences at cut."""
    text = ctx.text
    sx = cut in ctx.sx_set
    # Fast paths for the commonest cases, with the same outcome as the rules
    # below (tests/test_segment.py checks both agree on random text):
    #   "Dr. x"          no break after titles and mid-sentence abbreviations
    #   "word. Capital"  a sentence end, unless inside quotes
    #   "J. Capital"     sentencex decides (initials)
    #   "No. 5"          no break after an abbreviation before a number
    #   "Inc. Capital", "p.m. Capital"  the opener / time-of-day rules
    #   "x. lower-case"  no break
    if text[cut : cut + 1] != " ":
        return _decide_by_rules(ctx, cut, index, sx)
    nxt = text[cut + 1 : cut + 2]
    if text[cut - 1] == "." and nxt.strip():
        lo = cut - _TAIL if cut > _TAIL else 0
        ws = text.rfind(" ", lo, cut)
        word = text[ws + 1 if ws >= 0 else lo : cut - 1]
        if word in _NO_BREAK_AFTER:
            return False
        if word in _BEFORE_AMOUNT:
            return _decide_by_rules(ctx, cut, index, sx)
        after = text[cut + 2 : cut + 3] if nxt in "(“\"" else nxt
        if "A" <= after <= "Z" or "0" <= nxt <= "9":
            if word.isalnum():
                if "0" <= nxt <= "9":
                    if word in _ABBREVIATIONS:
                        return False
                    return sx and not (ctx.straight_single[index] and ctx.inside_quotes(cut, index))
                if nxt in "“\"":  # _rule_opening_quote
                    return sx or not ctx.inside_quotes(cut, index)
                if word in _AMBIGUOUS:  # _rule_ambiguous_abbreviation
                    if (not sx or ctx.straight_single[index]) and ctx.inside_quotes(cut, index):
                        return False
                    if _next_word(ctx, cut, index) in _OPENER_WORDS:
                        return True
                    if ws > 0 and text[text.rfind(" ", lo, ws) + 1 : ws].islower():
                        return False  # "in St. Louis": the abbreviation opens a name
                    return _decide_by_rules(ctx, cut, index, sx)
                if sx and not ctx.straight_single[index]:
                    return True  # see _rule_inside_quotes
                if len(word) == 1:
                    return sx and not ctx.inside_quotes(cut, index)
                return not ctx.inside_quotes(cut, index)
            if word.lower() in ("a.m", "p.m") and "A" <= nxt <= "Z":
                following = _next_word(ctx, cut, index)
                if following in _AFTER_TIME:
                    return False
                if following in _OPENER_WORDS:
                    return True
                return sx and not (ctx.straight_single[index] and ctx.inside_quotes(cut, index))
            if "-" in word and word[-1] != "." and word.isprintable() and _is_title(word):
                return False  # Maj.-Gen.
    if "a" <= nxt <= "z":
        c = text[cut - 1]
        if c in _TERMINATORS or (c in _CLOSERS and cut > 1 and text[cut - 2] in _TERMINATORS):
            end = text.find(" ", cut + 1)
            if text[cut + 1 : end if end > 0 else None].islower():
                return False
    return _decide_by_rules(ctx, cut, index, sx)


def _next_word(ctx: _Text, cut: int, index: int) -> str:
    """The word after a boundary, without quotes, brackets or punctuation."""
    head = ctx.text[cut : min(cut + _HEAD, ctx.ends[index])].lstrip().lstrip(_OPENERS)
    return head.split(None, 1)[0].rstrip(",.;:!?’'\"”") if head.strip() else ""


def _decide_by_rules(ctx: _Text, cut: int, index: int, sx: bool) -> bool:
    """The rules in order; the first opinion wins, else sentencex's (sx) stands."""
    b = _Boundary(ctx, sx, cut, index)
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
    if word in _NO_BREAK_AFTER:
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
    if b.term == "." and b.word.lower() in ("a.m", "p.m") and _first_letter(b.head).isupper():
        nxt = _next_word(b.ctx, b.cut, b.index)
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
    "approx. 40".  Before money only an abbreviation that quantifies holds on
    ("approx. $12 million", "an est. US$1.2 billion"); a month or a unit
    before money ends its sentence ("fined in Nov. €40,000 is a lot")."""
    if b.term == ".":
        if b.head[0].isdigit():
            word = _bare_word(b.word)
            if word in _ABBREVIATIONS or _is_title(word):
                return False
        elif _MONEY.match(b.head):
            word = _bare_word(b.word)
            if word in _BEFORE_AMOUNT or _is_title(word):
                return False
            if word in _BEFORE_NUMBER and not b.closers and not b.ctx.inside_quotes(b.cut, b.index):
                return True
    return None


def _rule_attribution(b: _Boundary) -> bool | None:
    """A quote followed by its attribution is one sentence: “Why?” Smith asked.
    After a full stop only a bare attribution joins (“Done.” Smith said.),
    since “Done.” Smith said the plan ... starts a new sentence."""
    if not b.closers or b.closers[-1] not in "\"”’'»":
        return None
    m = _ATTRIBUTION.match(b.head) or _abbreviated_attribution(b.head)
    if m and (b.term[-1] in "?!" or m.group("end")):
        return False
    return None


def _abbreviated_attribution(head: str) -> re.Match[str] | None:
    """An attribution whose speaker opens with an abbreviation (U.N., E.U.) or
    a rank (Maj.-Gen., Lt.), without a verb of its own before the verb of
    saying: “Why?” U.N. envoy Pierre Dubois asked."""
    space = head.find(" ")
    if space < 2 or head[space - 1] != ".":  # the first word is no abbreviation
        return None
    m = _ATTRIBUTION_ABBREVIATED.match(head)
    if m is None:
        return None
    first = m.group("first")
    if not (_INITIALISM.fullmatch(first) or _is_title(first.rstrip(".")) or first.rstrip(".") in _ABBREVIATIONS):
        return None
    if any(word.replace("’", "'").lower() in _AUXILIARIES for word in m.group("words").split()):
        return None
    return m


def _rule_opening_quote(b: _Boundary) -> bool | None:
    """Split before an opening quote that follows a sentence end:
    He left. “We are done,” she said."""
    if b.head[0] in _QUOTE_OPENERS and len(b.head) > 1:
        if b.head[1].isupper() and (b.sx or not b.ctx.inside_quotes(b.cut, b.index)):
            return True
    return None


def _rule_four_dot_ellipsis(b: _Boundary) -> bool | None:
    """"word. . . . Next" is a full stop plus an ellipsis that opens the next
    sentence: break after the full stop, not after the ellipsis."""
    if b.term == "." and not b.closers:
        if b.word and _SPACED_ELLIPSIS_AHEAD.match(b.head):
            return True
        if _first_letter(b.head).isupper():
            tail = b.line[max(b.start, b.cut - 12) : b.cut]
            if _FOUR_DOT_BEHIND.search(tail):
                return False
    return None


def _rule_parenthesised_sentence(b: _Boundary) -> bool | None:
    """Split after a whole parenthesised sentence: "He won. (It was close.) Then"."""
    if b.closers.endswith(")") and b.term[-1] in ".!?" and _first_letter(b.head).isupper():
        line = b.line
        opening = line.rfind("(", b.start, b.term_start)
        if opening >= 0 and line[opening + 1 : opening + 2].isupper():
            before = line[max(b.start, opening - _TAIL) : opening].rstrip().rstrip(_CLOSERS)
            if not before or before[-1] in _TERMINATORS:
                return True
    return None


def _rule_inside_quotes(b: _Boundary) -> bool | None:
    """No break inside quotes or brackets that close later on the line:
    “We won. Now we rest,” he said.  Sentencex agrees except for straight
    single quotes followed by an apostrophe, so its own breaks are only
    checked then; this rule mainly stops the next one from splitting."""
    if (not b.sx or b.ctx.straight_single[b.index]) and b.ctx.inside_quotes(b.cut, b.index):
        return False
    return None


def _rule_url_or_address(b: _Boundary) -> bool | None:
    """A full stop after a URL or an e-mail address ends the sentence when a
    capital follows: "Write to desk@example.co. Kim will answer."  The stop
    belongs to the sentence, not to the address (sentencex reads ".co.",
    ".gov.", ".no." as abbreviations).  Dots inside the address never split
    (_rule_inside_token), nor does a lower-case word after it."""
    if b.term == "." and not b.closers and _first_letter(b.head).isupper():
        if ("@" in b.word or "." in b.word) and _ADDRESS.fullmatch(_bare_word(b.word)):
            return True
    return None


def _rule_initialism_ends_sentence(b: _Boundary) -> bool | None:
    """An initialism (U.S., E.U., D.C.) before a capital ends the sentence when
    a common opener follows, or a clause of its own after a whole sentence
    (_ends_clause_before): "signed in the U.S. Canada joined a year later."
    Otherwise sentencex decides ("The U.S. Senate passed", "U.N. envoy")."""
    if b.term == "." and not b.closers and _first_letter(b.head).isupper() and _INITIALISM.fullmatch(_bare_word(b.word)):
        if b.ctx.inside_quotes(b.cut, b.index):
            return None
        if _next_word(b.ctx, b.cut, b.index) in _OPENER_WORDS and len(_sentence_so_far(b).split()) >= 2:
            return True
        if _ends_clause_before(b):
            return True
    return None


def _rule_ambiguous_abbreviation(b: _Boundary) -> bool | None:
    """After Inc., Co., Jr., St., Mass. ... a capital starts a new sentence only
    if it is a common opener, or a clause of its own after a whole sentence:
    "Apple Inc. The company" and "down Main St. Crowds lined the route" split,
    "Apple Inc. Chief Executive" and "the Mass. Supreme Court" do not."""
    if b.term == "." and _bare_word(b.word) in _AMBIGUOUS and _first_letter(b.head).isupper():
        if _next_word(b.ctx, b.cut, b.index) in _OPENER_WORDS:
            return True
        # Only an abbreviation that closes a name ("Main St.", "Norvex Corp.",
        # "Tulsa, Okla.") can end a clause; after a lower-case word it opens
        # one ("officials in St. Louis prepared").
        before = _sentence_so_far(b).split()
        return bool(before) and not before[-1].islower() and _ends_clause_before(b)
    return None


def _is_verb(word: str) -> bool:
    """A lower-case finite verb, by its form: an auxiliary, a verb of saying,
    a common irregular verb, or a word in -ed."""
    word = word.rstrip(",.;:!?”’'\"").replace("’", "'")
    if not word.islower():
        return False
    return (
        word in _AUXILIARIES
        or word in _IRREGULAR_VERBS
        or word in _SPEECH_VERB_SET
        or (len(word) >= 4 and word.endswith("ed") and word.isalpha() and word not in _ED_NOT_VERBS)
    )


def _sentence_so_far(b: _Boundary) -> str:
    """The text from the start of the sentence (as far as a sentence end is
    seen within _TAIL characters) to the word before the boundary."""
    before = b.line[max(b.start, b.cut - _TAIL) : b.term_start - len(b.word)]
    last = None
    for last in _SENTENCE_END_BEFORE.finditer(before):
        pass
    return before[last.end() :] if last else before


def _ends_clause_before(b: _Boundary) -> bool:
    """Whether an abbreviation before a capital ends a sentence because what
    follows is a clause of its own and what came before is a whole sentence:
      after:  a name of one to three capitalised words, perhaps a short phrase
              ("Doctors in Ireland", "Delegates from nine countries"), then a
              finite verb ("joined", "has", "are") -- and the name does not
              start with a word that belongs to names after an abbreviation
              (Senate, Embassy, Security ...: "the U.S. Senate passed");
      before: at least four words with a finite verb among them ("The treaty
              was first signed in the"), the last of them (past "the") not a
              word after which a clause goes on ("said the U.S. Mission was",
              "after the U.S. Senate passed")."""
    words = b.head.split(None, 8)
    first = words[0] if words else ""
    if not _NAME_WORD.fullmatch(first) or first in _NAME_PARTS or first.split("-", 1)[0] in _NAME_PARTS:
        return False
    i = 1  # the name: up to three capitalised words, or two names joined by "and"
    while i < 4 and i < len(words):
        if _NAME_WORD.fullmatch(words[i]) and i < 3:
            i += 1
        elif words[i] in ("and", "&") and i + 1 < len(words) and _NAME_WORD.fullmatch(words[i + 1]):
            i += 2
        else:
            break
    if i < len(words) and words[i] in _PREPOSITIONS:
        j = i + 1
        while j < i + 4 and j < len(words) - 1 and _PLAIN_WORD.fullmatch(words[j]) and not _is_verb(words[j]):
            j += 1
        i = j
    if i >= len(words) or not _is_verb(words[i]):
        return False
    before = _sentence_so_far(b).split()
    if len(before) < 4:
        return False
    last = before[-2] if before[-1].lower() == "the" else before[-1]
    if last.lower() in _CLAUSE_GOES_ON_AFTER:
        return False
    for k, word in enumerate(before):
        if _is_verb(word):
            return True
        if (
            word.endswith("s") and not word.endswith("ss") and len(word) > 3 and word.isalpha() and word.islower()
            and k > 0 and before[k - 1].lower() not in _NOUN_BEFORE and not before[k - 1][:1].isupper()
        ):
            return True  # "The ban applies across the"
    return False


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
    _rule_url_or_address,
    _rule_initialism_ends_sentence,
    _rule_ambiguous_abbreviation,
    _rule_word_then_capital,
)


# --------------------------------------------------------------------------
# List rules (whole line)
# --------------------------------------------------------------------------


def _next_label(label: str) -> str:
    return str(int(label) + 1) if label.isdigit() else chr(ord(label) + 1)


# Emoji and other pictographs (So), with what builds them: modifiers (Sk: skin
# tones), variation selectors and combining marks (Mn, Me), zero-width joiners (Cf).
_PICTOGRAPH_PARTS = frozenset({"So", "Sk", "Mn", "Me", "Cf"})


def _is_pictographs(token: str) -> bool:
    categories = [unicodedata.category(c) for c in token]
    return "So" in categories and all(c in _PICTOGRAPH_PARTS for c in categories)


def _attach_trailing_symbols(ctx: _Text, cuts: list[int]) -> list[int]:
    """Emoji that end a line belong to the sentence before them: "We won. 🎉"
    is one sentence (sentencex made "🎉" a sentence of its own). Emoji followed
    by words on the line stay where they are: "… family. 🇬🇧🇺🇸 flags fly."
    may open the next sentence as well as close the last."""
    out: list[int] = []
    line = -1
    after = 0  # cuts at or after this position of the line have only emoji after them
    for cut in cuts:
        if line < 0 or cut > ctx.ends[line]:
            line = max(line, 0)
            while cut > ctx.ends[line]:
                line += 1
            after = _before_trailing_pictographs(ctx.text, ctx.starts[line], ctx.ends[line])
        if cut < after:
            out.append(cut)
    return out


def _before_trailing_pictographs(text: str, start: int, end: int) -> int:
    """End of the last token before the run of emoji tokens that closes text[start:end]; past `end` when there is no such run."""
    last = end
    while last > start and text[last - 1].isspace():
        last -= 1
    if last == start or text[last - 1] < "\x80":  # most lines end in ASCII ("." or a letter): no emoji run
        return end + 1
    tail = end
    while True:
        stop = tail
        while stop > start and text[stop - 1].isspace():
            stop -= 1
        first = stop
        while first > start and not text[first - 1].isspace():
            first -= 1
        if first == stop or not _is_pictographs(text[first:stop]):
            return stop if tail < end else end + 1
        tail = first


def _split_inline_lists(ctx: _Text, cuts: list[int]) -> list[int]:
    """A list written on one line ("1. The first item 2. The second item",
    "a. ... b. ...") is split before each item.  Only when the line starts
    with a marker and later markers continue its numbering."""
    added = []
    for line, start in zip(ctx.lines, ctx.starts):
        if line.lstrip()[:1] in _LIST_FIRST_CHARS:
            added.extend(start + cut for cut in _inline_list_cuts(line))
    return sorted(set(cuts).union(added)) if added else cuts


def _inline_list_cuts(line: str) -> list[int]:
    m = _LIST_START.match(line)
    if not m:
        return []
    expected = _next_label(m.group("label"))
    punct = m.group("punct")
    added = []
    for mk in _LIST_MARKER.finditer(line, m.end()):
        if mk.group("label") != expected or mk.group("punct") != punct:
            continue
        lo = max(0, mk.start() - _TAIL)
        before = line[lo : mk.start()].rstrip()
        prev_word = _bare_word(before.rsplit(None, 1)[-1].rstrip(".")) if before else ""
        if prev_word in _ABBREVIATIONS or _is_title(prev_word):
            continue  # "No. 2.", "p. 3)" are not list items
        added.append(lo + len(before))
        expected = _next_label(expected)
    return added
