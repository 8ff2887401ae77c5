"""Attribution suggester for English news: QUOTE, SOURCE and CUE spans and
``attributed_to`` links, proposed from text alone.

    >>> s = suggest("“We lost,” she said.")
    >>> [(x.label, x.text) for x in s.spans]
    [('QUOTE', 'We lost'), ('SOURCE', 'she'), ('CUE', 'said')]

Rules, not a model: quote marks are paired per paragraph, speech verbs come
from a lexicon, and the speaker is found by walking from the verb over the
noun phrase next to it (titles and ranks included, comma-set appositions
left out).  Nothing is downloaded and nothing of the app is imported.

Conventions (the project's attribution guidelines):

* QUOTE is the reported content only: inside the marks, without them and
  without a trailing comma; a quoted fragment inside the reporter's sentence
  leaves out the reporter's full stop; indirect speech is the reported clause
  without a leading "that" and without the sentence's final full stop.  A
  split quote is two QUOTEs; a quote running over two paragraphs is one per
  paragraph.
* SOURCE is the mention of the speaker where it stands (no coreference: a
  pronoun is the source); a document's author rather than the document
  (``A report by X found`` gives ``X``; ``X's statement said`` gives ``X``).
* CUE is the speech verb alone, or ``according to``; a colon headline has none.
* One ``attributed_to`` link from each QUOTE to its SOURCE.

Every suggestion has a score in (0, 1]: how sure the rule that made it is
(direct quotes next to a speech verb score highest).  ``suggest`` keeps those
at or above ``threshold``.  Span ids are ``a1``, ``a2`` … in text order, so the
same text always gives the same ids.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

from annotator.stats.segment import segment

NAME = "annotator-attribution-rules"
VERSION = "1"
DEFAULT_THRESHOLD = 0.5

# Scores rank the rules by how much can go wrong with them, set by hand (not
# fitted: every rule was right on the evaluation set): a quote next to its
# speech verb is surest, a clause without "that" or a quote that only follows
# another one less so.
SCORE_DIRECT = 0.9
SCORE_HEADLINE = 0.8
SCORE_ACCORDING = 0.85
SCORE_INDIRECT_THAT = 0.85
SCORE_INDIRECT_BARE = 0.75
SCORE_CLAUSE_FIRST = 0.8
SCORE_INTERRUPTED = 0.7
SCORE_FRAGMENT = 0.75
SCORE_CONTINUATION = 0.7


# --------------------------------------------------------------------------- results


class Span(NamedTuple):
    id: str
    label: str  # QUOTE, SOURCE or CUE
    start: int  # code-point offsets: text[start:end] == self.text
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "start": self.start, "end": self.end, "text": self.text, "score": self.score}


class Relation(NamedTuple):
    type: str  # always "attributed_to"
    quote: str  # span id of the QUOTE ("from")
    source: str  # span id of the SOURCE ("to")
    score: float

    def to_dict(self) -> dict:
        return {"type": self.type, "from": self.quote, "to": self.source, "score": self.score}


@dataclass(frozen=True)
class Suggestions:
    spans: tuple[Span, ...]
    relations: tuple[Relation, ...]
    suggester: str = f"{NAME}/{VERSION}"

    def to_dict(self) -> dict:
        return {"spans": [s.to_dict() for s in self.spans], "relations": [r.to_dict() for r in self.relations]}


# --------------------------------------------------------------------------- lexicon

# Verbs that report speech or writing and take a clause ("X said [that] ...").
SAY_VERBS = frozenset("""
said says say told tells added adds warned warns argued argues claimed claims denied denies
estimated estimates announced announces stated states insisted insists explained explains
noted notes wrote writes asked asks replied replies acknowledged acknowledges admitted admits
confirmed confirms cautioned cautions predicted predicts promised promises suggested suggests
stressed stresses emphasised emphasized reported reports concluded concludes found finds
showed shows ruled rules alleged alleges maintained maintains disclosed revealed conceded
complained declared recalled testified observed agreed believes believed countered
pledged vowed assured reassured reiterated contended urged
say show estimate find argue claim warn report insist believe predict suggest agree conclude note
telling saying adding warning arguing claiming insisting noting stressing explaining""".split())
# Verbs whose clause may follow without "that" ("she said the plan would fail").
BARE_CLAUSE_VERBS = frozenset("""
said says told added adds warned warns argued argues claimed claims insisted insists estimated
estimates announced announces predicted predicts wrote writes believes believed stressed
acknowledged admitted conceded maintained noted reiterated saying adding arguing claiming
insisting say estimate argue claim insist believe predict warn""".split())
# Verbs that take an addressee before the clause ("told Reuters that ...").
OBJECT_VERBS = frozenset("told tells telling warned warns warning assured reassured reminded informed urged".split())
# Verbs that characterise with a quoted fragment ("called the plan “a fantasy.”").
FRAGMENT_VERBS = frozenset("""
called calls calling described describes dismissed dismisses accused accuses branded brands
labelled labeled termed hailed praised criticised criticized condemned describing dismissing
accusing branding""".split())
CUES = SAY_VERBS | FRAGMENT_VERBS


def _trie_pattern(words: frozenset[str] | set[str]) -> str:
    """A regular expression matching exactly these words, as a trie (one
    alternative per first letter), much faster than a flat alternation."""
    if "" in words and len(words) == 1:
        return ""
    heads: dict[str, set[str]] = {}
    for w in words:
        if w:
            heads.setdefault(w[0], set()).add(w[1:])
    alternatives = [re.escape(h) + _trie_pattern(rest) for h, rest in sorted(heads.items())]
    body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
    return f"(?:{body})?" if "" in words else body


_HAS_CUE = re.compile(r"\b" + _trie_pattern(CUES | {"according"}) + r"\b", re.I)
NAMING_VERBS = frozenset("called calls calling labelled labeled termed branded brands".split())

AUX_BEFORE_CUE = frozenset("""
has have had also already later earlier previously again separately publicly privately
repeatedly then reportedly further once subsequently long often consistently frequently
privately openly""".split())
NEGATIONS = frozenset("not never n't no neither nor".split())
# Words that show a clause has a finite verb (so "said the plan would fail" is speech
# and "denied the allegations" is not).
FINITE = frozenset("""
would will could can should may might must shall had has have was were is are did does do am
came went made took gave fell rose grew saw knew thought became left kept held ran won lost cost
paid put set spent got began brought felt meant stood sent told said found showed""".split())
DOCUMENT_NOUNS = frozenset("""
statement report study survey analysis review audit letter memo filing filings document documents
post paper data figures research poll assessment note notes release records minutes ruling judgment
judgement verdict decision order filing""".split())
STATEMENT_NOUNS = frozenset("""
statement interview letter post briefing conference speech message email e-mail report video
podcast op-ed column tweet call filing release notice note submission document blog newsletter""".split())
EVENT_NOUNS = frozenset("conference briefing rally hearing meeting summit event ceremony session call".split())
TIME_WORDS = frozenset("""
monday tuesday wednesday thursday friday saturday sunday week month year night morning evening
afternoon weekend""".split())
SINGLE_ADJUNCTS = frozenset("""
yesterday today tonight earlier later again also previously repeatedly publicly privately
separately too overnight recently""".split())
CLAUSE_BOUNDARY_WORDS = frozenset("""
and but while as because although though after before when where since so that then if or
whereas unless until""".split())
DETERMINERS = frozenset("a an the some many several these those his her its their our my your two three four other such".split())
SUBJECT_PRONOUNS = frozenset("he she it they we i".split())
ADDRESSEES = frozenset("reporters journalists investors analysts lawmakers legislators parliament me him her us them".split())
RELATIVES = frozenset("who whom which whose".split())
NOT_A_REPORT_BEFORE = frozenset("to would will could can should may might must shall".split())
NOT_CLAUSE_START = frozenset("to when whether why how what if where who nothing".split())
INVERTED_SOURCE_STOPS = frozenset("on in after outside during at before when while as".split())
APPOSITION_STARTS = frozenset("a an who which whose aged now once formerly also".split())
ABBREVIATIONS = frozenset("""
mr mrs ms dr prof sen rep gov gen col lt maj capt sgt cpl adm st jr sr rev hon no nos inc co corp
ltd jan feb mar apr jun jul aug sep sept oct nov dec mt ft vs etc pres supt insp det cmdr""".split())

# --------------------------------------------------------------------------- tokens

_TOKEN = re.compile(r"[“”\"‘(),;:!?\[\]]|[^\s“”\"‘(),;:!?\[\]]+")
MARKS = frozenset("“”\"")


@dataclass(slots=True)
class _Tok:
    start: int
    end: int
    text: str
    low: str


def _tokenize(text: str, start: int, end: int, out: list[_Tok]) -> None:
    """Append the tokens of text[start:end] (offsets into the whole text)."""
    append = out.append
    for m in _TOKEN.finditer(text, start, end):
        word = m.group()
        a, b = m.span()
        # a final full stop is its own token unless the word is an abbreviation
        if word[-1] == "." and len(word) > 1 and not _is_abbreviation(word):
            stripped = word.rstrip(".")
            if stripped:
                cut = a + len(stripped)
                append(_Tok(a, cut, stripped, stripped.lower()))
                append(_Tok(cut, b, word[len(stripped):], word[len(stripped):]))
                continue
        append(_Tok(a, b, word, word.lower()))


def _is_abbreviation(word: str) -> bool:
    body = word[:-1]
    if "." in body:  # U.S., Maj.-Gen., Ph.D.
        return True
    if len(body) == 1 and body.isupper():  # an initial
        return True
    return body.lower() in ABBREVIATIONS


def _is_cap(tok: _Tok) -> bool:
    return tok.text[:1].isupper()


# --------------------------------------------------------------------------- quote marks


@dataclass
class _Quote:
    open: int  # offset of the opening mark
    close: int | None  # offset of the closing mark; None: runs to the end of its paragraph
    start: int  # content
    end: int
    line: int  # paragraph index
    attributed: bool = False
    consumed: bool = False  # inside an indirect clause: part of that QUOTE
    fragment_of: tuple | None = None  # (source, cue) of a quoted fragment


def _pair_quotes(text: str) -> list[_Quote]:
    """Quote marks paired per paragraph (line).  Curly double marks pair by
    direction; straight ones alternate.  An opening double mark left open at
    the end of a paragraph runs to its end (a quote continued in the next
    paragraph).  Curly single marks (British style) pair outside double
    quotes, with a closing ’ told from an apostrophe by what is around it.
    Marks inside a quote belong to that quote."""
    out: list[_Quote] = []
    pos = 0
    for line_no, line in enumerate(text.split("\n")):
        first = len(out)
        _pair_doubles(line, line_no, pos, out)
        if "‘" in line:
            doubles = out[first:]
            singles = [q for q in _pair_singles(line, line_no, pos) if not any(d.open <= q.open <= (d.close or d.end) for d in doubles)]
            out[first:] = sorted(doubles + singles, key=lambda q: q.open)
        pos += len(line) + 1
    return out


_SINGLE_CLOSE = re.compile(r"(?<=[,.!?…])’|(?<=\S)’(?=[,.;:!?)\]]|\s*$)")


def _pair_singles(line: str, line_no: int, pos: int) -> list[_Quote]:
    out: list[_Quote] = []
    i = 0
    while True:
        o = line.find("‘", i)
        if o < 0:
            return out
        m = _SINGLE_CLOSE.search(line, o + 2)
        if m is None:
            return out
        nxt = line.find("‘", o + 1)
        if nxt != -1 and nxt < m.start():
            i = nxt  # an opening mark with no closing one before the next opening
            continue
        out.append(_Quote(pos + o, pos + m.start(), pos + o + 1, pos + m.start(), line_no))
        i = m.end()


_DOUBLE_MARK = re.compile(r"[“”\"]")


def _pair_doubles(line: str, line_no: int, pos: int, out: list[_Quote]) -> None:
    opened: int | None = None
    for m in _DOUBLE_MARK.finditer(line):
        i, ch = m.start(), m.group()
        if opened is None:
            if ch == "”":
                continue  # a stray closing mark
            opened = i
        elif ch == "”" or (ch == '"' and line[opened] == '"'):
            out.append(_Quote(pos + opened, pos + i, pos + opened + 1, pos + i, line_no))
            opened = None
    if opened is not None:
        end = len(line.rstrip())
        if end > opened + 1:
            out.append(_Quote(pos + opened, None, pos + opened + 1, pos + end, line_no))


# --------------------------------------------------------------------------- building the result


@dataclass
class _Attribution:
    quotes: list[tuple[int, int]]
    source: tuple[int, int] | None
    cue: tuple[int, int] | None
    score: float
    continuation: bool = False


@dataclass
class _Doc:
    text: str
    toks: list[_Tok]
    tok_starts: list[int]
    sent_of_tok: list[int]
    sent_tok_range: list[tuple[int, int]]
    quotes: list[_Quote]
    quote_starts: list[int]
    sentences: list[tuple[int, int]]
    sentence_starts: list[int]
    attributions: list[_Attribution] = field(default_factory=list)
    used_cues: set[int] = field(default_factory=set)

    def sentence_at(self, offset: int) -> int | None:
        k = bisect_right(self.sentence_starts, offset) - 1
        return k if k >= 0 and offset < self.sentences[k][1] else None

    def inside_quote(self, tok: _Tok) -> bool:
        k = bisect_right(self.quote_starts, tok.start) - 1
        return k >= 0 and self.quotes[k].start <= tok.start < self.quotes[k].end

    def add(self, attribution: _Attribution) -> None:
        attribution.quotes = [q for q in (_trim(self.text, s, e) for s, e in attribution.quotes) if q]
        if attribution.quotes:
            self.attributions.append(attribution)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def suggest(text: str, sentences: Sequence[tuple[int, int]] | None = None, threshold: float = DEFAULT_THRESHOLD) -> Suggestions:
    """QUOTE / SOURCE / CUE spans and quote -> source links for a news article.

    ``sentences`` are (start, end) code-point offsets (``annotator.stats.segment``'s
    by default).  Only suggestions scoring at least ``threshold`` are returned.
    """
    if sentences is None:
        sentences = segment(text)
    # Only sentences with a speech verb (or `according to`) are read word by
    # word: the rest of an article is skipped (quotes standing alone, colon
    # headlines and continued quotes are found from their offsets).
    spans = _ordered(sentences, len(text))
    toks: list[_Tok] = []
    sent_of_tok: list[int] = []
    ranges: list[tuple[int, int]] = []
    for k, (start, end) in enumerate(spans):
        first = len(toks)
        if _HAS_CUE.search(text, start, end):
            _tokenize(text, start, end, toks)
            sent_of_tok.extend([k] * (len(toks) - first))
        ranges.append((first, len(toks)))
    quotes = _pair_quotes(text)
    doc = _Doc(text, toks, [t.start for t in toks], sent_of_tok, ranges, quotes, [q.start for q in quotes], spans, [a for a, _ in spans])

    _headlines(doc)
    _direct_quotes(doc)
    for k in range(len(doc.sent_tok_range)):
        _indirect(doc, k)
    _fragments(doc)
    _continuations(doc)
    return _result(doc, threshold)


def _ordered(sentences: Sequence[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    """The caller's sentences sorted, inside the text and not overlapping."""
    out: list[tuple[int, int]] = []
    last = 0
    for start, end in sorted((int(s), int(e)) for s, e in sentences):
        start, end = max(start, last, 0), min(end, n)
        if start < end:
            out.append((start, end))
            last = end
    return out


# --------------------------------------------------------------------------- headlines

_HEADLINE = re.compile(r"^([A-Z][^:\n“”\"‘’']{0,60}?):[ \t]*([‘'“\"])(.+?)([’'”\"])[ \t]*$", re.M)


def _headlines(doc: _Doc) -> None:
    """`Mayor: ‘We will rebuild’`: the noun before the colon is the source; no cue."""
    for m in _HEADLINE.finditer(doc.text):
        words = m.group(1).split()
        if len(words) > 5 or any(w.lower() in CUES for w in words):
            continue  # `Town manager Jo Briggs said: “…”` is a sentence, not a headline
        doc.add(_Attribution([(m.start(3), m.end(3))], (m.start(1), m.end(1)), None, SCORE_HEADLINE))
        for q in doc.quotes:
            if m.start() <= q.open < m.end():
                q.attributed = q.consumed = True


# --------------------------------------------------------------------------- direct quotes


def _tok_index(doc: _Doc, offset: int) -> int:
    """Index of the first token starting at or after offset."""
    return bisect_left(doc.tok_starts, offset)


def _content(doc: _Doc, q: _Quote) -> tuple[int, int]:
    """The quote's content: no trailing comma; a fragment embedded in the
    reporter's sentence leaves the full stop before the closing mark out."""
    start, end = q.start, q.end
    text = doc.text
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and text[end - 1] == ",":
        end -= 1
    elif end > start and text[end - 1] == "." and not text[end - 2:end] == ".." and _embedded(doc, q):
        end -= 1
    return start, end


def _embedded(doc: _Doc, q: _Quote) -> bool:
    """The opening mark follows a word of the reporter's sentence (not a colon, comma or sentence start)."""
    i = q.open - 1
    while i >= 0 and doc.text[i] in " \t":
        i -= 1
    return i >= 0 and (doc.text[i].isalnum() or doc.text[i] in "’'")


def _direct_quotes(doc: _Doc) -> None:
    for n, q in enumerate(doc.quotes):
        if q.attributed:
            continue
        found = _after_quote(doc, q) or _before_quote(doc, q, doc.quotes[n - 1] if n else None)
        if found:
            source, cue, cue_index = found
            doc.used_cues.add(cue_index)
            q.attributed = True
            doc.add(_Attribution([_content(doc, q)], source, cue, SCORE_DIRECT))


def _after_quote(doc: _Doc, q: _Quote):
    """`“…,” X said` and `“…,” said X`."""
    if q.close is None:
        return None
    toks = doc.toks
    k = doc.sentence_at(q.close)
    if k is None:
        return None
    lo, stop = doc.sent_tok_range[k]
    i = _tok_index(doc, q.close + 1)
    if i < lo or i >= stop or "\n" in doc.text[q.close:toks[i].start]:
        return None
    if toks[i].text == ",":  # straight marks: `"…", she said`
        i += 1
    elif not _ends_like_speech(doc, q):
        return None  # `“Parasite” won the award, the academy said`: a title, not the quote
    for j in range(i, min(i + 16, stop)):
        t = toks[j]
        if t.text in MARKS or t.text in ".;:!?" or doc.inside_quote(t):
            return None
        if t.low in SAY_VERBS and j > i and (toks[j - 1].low in RELATIVES or (j + 1 < stop and toks[j + 1].low in ("to", "not"))):
            continue  # `a senior official who asked not to be named said`
        if t.low in SAY_VERBS and not _is_cap(t) or (t.low in SAY_VERBS and j == i):
            if j == i:
                src = _forward_np(doc, j + 1, stop)
            else:
                src = _subject(doc, i, j)
            if src is None:
                return None
            return src, (t.start, t.end), j
    return None


def _ends_like_speech(doc: _Doc, q: _Quote) -> bool:
    """A quote followed by its attribution ends with a comma, ? ! … or a dash
    inside the marks (`“We lost,” she said`), a nested quote's mark after one,
    or a full stop when it is followed by the verb (`“No.” she said` is rare)."""
    content = doc.text[q.start:q.end].rstrip()
    if content[-1:] in ("’", "'", '"'):
        content = content[:-1].rstrip()
    return content[-1:] in (",", "?", "!", "…", "—", "–", "-", ".")


def _before_quote(doc: _Doc, q: _Quote, previous: _Quote | None):
    """`X said: “…”`, `X said, “…”` and the second half of a split quote."""
    toks = doc.toks
    o = _tok_index(doc, q.open)
    if o == 0 or o >= len(toks) or toks[o].start != q.open:
        return None
    k = doc.sent_of_tok[o]
    lo = doc.sent_tok_range[k][0]
    if previous is not None and previous.close is not None:
        lo = max(lo, _tok_index(doc, previous.close + 1))
    if o - 1 < lo or toks[o - 1].text not in ":,":
        return None
    for j in range(o - 2, max(lo, o - 10) - 1, -1):
        t = toks[j]
        if t.text in MARKS or doc.inside_quote(t):
            return None
        if t.low in SAY_VERBS:
            src = _subject(doc, lo, j) if j > lo else _forward_np(doc, j + 1, o - 1)
            if src is None and j > lo:
                src = _forward_np(doc, j + 1, o - 1)
            if src is None:
                return None
            return src, (t.start, t.end), j
    return None


# --------------------------------------------------------------------------- noun phrases


def _strip_aux(doc: _Doc, lo: int, hi: int) -> int | None:
    """End of the subject region before a cue at hi: auxiliaries and adverbs
    dropped; None when the verb is negated."""
    while hi > lo and doc.toks[hi - 1].low in AUX_BEFORE_CUE | NEGATIONS | {"did", "does", "do"}:
        if doc.toks[hi - 1].low in NEGATIONS:
            return None
        hi -= 1
    return hi


def _subject(doc: _Doc, lo: int, cue: int) -> tuple[int, int] | None:
    """The speaker named before the cue at token `cue`, searching no further back than `lo`."""
    toks = doc.toks
    if toks[cue].low.endswith("ing"):
        return _gerund_subject(doc, lo, cue)
    if cue > lo and toks[cue - 1].low in ("and", "but"):
        return _coordinated_subject(doc, lo, cue)
    if cue > lo and toks[cue - 1].low in NOT_A_REPORT_BEFORE | RELATIVES:
        return None  # `hope to show that`, `will say that`: not (yet) a report; `who asked …`
    if cue + 1 < len(toks) and toks[cue + 1].low in ("to", "not"):
        return None  # `asked not to be named`, `told to leave`
    if cue > lo and toks[cue - 1].low in DETERMINERS:
        return None  # `The claim could not be verified`: a noun
    hi = _strip_aux(doc, lo, cue)
    if hi is None or hi <= lo:
        return None
    toks = doc.toks
    if toks[hi - 1].text == ",":
        return _apposed(doc, lo, hi - 1)
    start = _np_start(doc, lo, hi)
    if start is None:
        return None
    return _np_span(doc, start, hi)


def _np_start(doc: _Doc, lo: int, hi: int) -> int | None:
    toks = doc.toks
    j = hi
    while j > lo:
        t = toks[j - 1]
        if t.text in "“”\"‘(),;:!?[]." or t.low in CLAUSE_BOUNDARY_WORDS or doc.inside_quote(t):
            break
        j -= 1
        if hi - j > 12:
            return None
    j = _skip_adjuncts(doc, j, hi)
    if j >= hi:
        return None
    for n in range(j, hi):
        t = toks[n]
        if t.low in RELATIVES and n > j:
            break  # `a nurse who asked not to be named`: the relative clause belongs to the speaker
        if (t.low in FINITE or t.low in CUES) and not (n > j and toks[n - 1].low in DETERMINERS):
            return None  # a verb: not a noun phrase (but `some reports`, `the findings` are)
        if t.low.endswith("ed") and len(t.low) > 4 and n + 1 < hi and toks[n + 1].low in DETERMINERS:
            return None  # a verb with its object (`launched an appeal`), not `a retired teacher`
    return j


def _apposed(doc: _Doc, lo: int, comma: int) -> tuple[int, int] | None:
    """`Reyes, 52, said` -> Reyes; `Her lawyer, Tom Ashby, said` -> Tom Ashby:
    chunks set off by commas before the cue; the speaker is the name, the
    appositions (ages, descriptions, relative clauses) are left out."""
    toks = doc.toks
    chunks: list[tuple[int, int]] = []
    hi = comma
    while True:
        j = hi
        while j > lo and toks[j - 1].text != "," and toks[j - 1].text not in "“”\"‘;:.!?":
            j -= 1
        chunks.append((j, hi))
        if j > lo and toks[j - 1].text == "," and len(chunks) < 4:
            hi = j - 1
            continue
        break
    if len(chunks) < 2:
        return None
    # chunks[0] is next to the cue; going back, skip appositions until a name
    # (`Her lawyer, Tom Ashby,`) or the first chunk (`the minister, who …,`)
    k = 0
    while k < len(chunks) - 1 and not _name_like(doc, chunks[k]):
        k += 1
    start, end = chunks[k]
    if start >= end:
        return None
    np = _np_start(doc, start, end)
    if np is None:
        return None
    return _np_span(doc, np, end)


def _name_like(doc: _Doc, chunk: tuple[int, int]) -> bool:
    """`Gov. Dale Whitaker`, not `52`, `the agency's chief`, `Harbor's chief
    executive`, `speaking to reporters in Paris` or `who …`."""
    start, end = chunk
    return end > start and _is_cap(doc.toks[end - 1]) and _is_cap(doc.toks[start]) and doc.toks[start].low not in APPOSITION_STARTS


_POSSESSIVE_DOC = re.compile(r"^(.+?)['’]s?\s+(?:\w+\s+)?(" + "|".join(sorted(DOCUMENT_NOUNS)) + r")$", re.I)
_DOC_BY = re.compile(r"^(?:(?:a|an|the|its|his|her|their)\s+)?(?:[\w-]+\s+){0,2}(?:" + "|".join(sorted(DOCUMENT_NOUNS)) + r")\s+(?:by|from)\s+(.+)$", re.I)


def _np_span(doc: _Doc, start: int, end: int) -> tuple[int, int] | None:
    """The source span of tokens start..end, with a document replaced by its author."""
    toks = doc.toks
    s, e = toks[start].start, toks[end - 1].end
    phrase = doc.text[s:e]
    m = _DOC_BY.match(phrase)
    if m:
        return s + m.start(1), s + m.end(1)
    m = _POSSESSIVE_DOC.match(phrase)
    if m:
        return s + m.start(1), s + m.end(1)
    if not any(t.text[:1].isalpha() for t in toks[start:end]):
        return None
    return s, e


def _forward_np(doc: _Doc, i: int, stop: int) -> tuple[int, int] | None:
    """The speaker after an inverted cue: `said Dr. Amina Yusuf, a virologist`."""
    toks = doc.toks
    j = i
    relative = False
    while j < stop:
        t = toks[j]
        if t.text in "“”\"‘(),;:!?[].":
            break
        if t.low in ("who", "whose"):
            relative = True
        if not relative and j > i and t.low in INVERTED_SOURCE_STOPS:
            break
        j += 1
        if j - i > 14:
            return None
    if j == i:
        return None
    if not relative and any(t.low in FINITE for t in toks[i:j]):
        return None
    return _np_span(doc, i, j)


# --------------------------------------------------------------------------- indirect speech


def _finite_clause(doc: _Doc, i: int, stop: int) -> bool:
    """A verb among the first words of a clause, before any comma (or a
    pronoun subject: `said it “regrets any inconvenience”`)."""
    if doc.toks[i].low in SUBJECT_PRONOUNS and i + 1 < stop:
        return True
    for t in doc.toks[i:min(stop, i + 14)]:
        if t.text in ",;:" or t.low in ("which", "who"):
            return False
        if t.low in FINITE or (len(t.low) > 4 and t.low.endswith("ed") and not _is_cap(t)):
            return True
    return False


def _skip_adjuncts(doc: _Doc, i: int, stop: int) -> int:
    """Skip `on Monday`, `in a statement`, `at a news conference on Friday`, `on X`, `last month` …"""
    toks = doc.toks
    while i < stop:
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < stop else None
        if t.low in SINGLE_ADJUNCTS:
            i += 1
        elif t.low in ("on", "last", "this", "next", "late", "early") and nxt is not None and nxt.low in TIME_WORDS:
            i += 2
            if i < stop and toks[i].low in TIME_WORDS:
                i += 1
        elif t.low == "on" and nxt is not None and _is_cap(nxt) and nxt.low not in ("the",):
            i += 2  # on Telegram, on X, on LinkedIn
        elif t.low in ("in", "at", "on", "during") and nxt is not None and nxt.low in ("a", "an", "the", "its", "his", "her", "their"):
            for j in range(i + 2, min(stop, i + 6)):
                if toks[j].low in STATEMENT_NOUNS or toks[j].low in EVENT_NOUNS:
                    i = j + 1
                    break
            else:
                return i
        else:
            return i
    return i


def _clause_end(doc: _Doc, stop: int) -> int:
    """The clause runs to the sentence end, without its final full stop."""
    toks = doc.toks
    end = stop
    while end > 0 and toks[end - 1].text in (".", "…"):
        end -= 1
    return end


def _split_and_that(doc: _Doc, i: int, end: int) -> list[tuple[int, int]]:
    """`said that A and that B` reports two clauses."""
    toks = doc.toks
    parts, begin = [], i
    for j in range(i + 1, end - 1):
        if toks[j].low == "and" and toks[j + 1].low == "that":
            if toks[j - 1].text == ",":
                parts.append((begin, j - 1))
            else:
                parts.append((begin, j))
            begin = j + 2
    parts.append((begin, end))
    return [(toks[a].start, toks[b - 1].end) for a, b in parts if b > a]


def _indirect(doc: _Doc, k: int) -> None:
    lo, stop = doc.sent_tok_range[k]
    toks = doc.toks
    if stop <= lo:
        return
    according = _according_to(doc, lo, stop)
    if according:
        return
    i = lo
    while i < stop:
        t = toks[i]
        if t.low in SAY_VERBS and i not in doc.used_cues and not doc.inside_quote(t):
            after = _source_first(doc, lo, i, stop)
            if after is None and _clause_first(doc, lo, i, stop):
                after = stop
            if after is not None:
                doc.used_cues.add(i)
                i = after  # `X said A but insisted that B`: read on after the first clause
                continue
        i += 1


def _consume(doc: _Doc, start: int, end: int) -> None:
    """Quotes inside an indirect clause are part of its QUOTE."""
    for k in range(bisect_left(doc.quote_starts, start), bisect_left(doc.quote_starts, end)):
        q = doc.quotes[k]
        if start <= q.open and (q.close or q.end) <= end:
            q.consumed = True


def _source_first(doc: _Doc, lo: int, i: int, stop: int) -> int | None:
    """`X said [on Monday] [that] CLAUSE.`: the index where the clause ended, or None."""
    toks = doc.toks
    cue = toks[i]
    src = _subject(doc, lo, i)
    if src is None:
        return None
    j = _skip_adjuncts(doc, i + 1, stop)
    bare = False
    if j < stop and toks[j].low == "that":
        j += 1
    elif cue.low in OBJECT_VERBS:
        for m in range(j + 1, min(stop, j + 7)):
            if toks[m].low == "that":
                if any(t.low in FINITE or t.text in ",;:“”\"" for t in toks[j:m]):
                    return None
                j = m + 1
                break
        else:
            # `told The Associated Press they had not been warned`, `told reporters the …`
            j = _skip_addressee(doc, j, stop)
            if j is None:
                return None
            j = _skip_adjuncts(doc, j, stop)
            bare = True
    elif cue.low in BARE_CLAUSE_VERBS:
        bare = True
    else:
        return None
    end = _clause_end(doc, stop)
    if j >= end or toks[j].text in MARKS or toks[j].text in ":,;" or toks[j].low in NOT_CLAUSE_START:
        return None
    if bare and not _finite_clause(doc, j, end):
        return None
    end, resume = _clause_stop(doc, j, end)
    clauses = _split_and_that(doc, j, end)
    doc.add(_Attribution(clauses, src, (cue.start, cue.end), SCORE_INDIRECT_BARE if bare else SCORE_INDIRECT_THAT))
    _consume(doc, toks[j].start, toks[end - 1].end)
    return resume


def _clause_stop(doc: _Doc, j: int, end: int) -> tuple[int, int]:
    """Where a reported clause starting at token j stops before the sentence's
    end: before a second speech verb of the same speaker (`… but insisted
    that …`) or before what the reporter adds (`…, sending its shares down`,
    `…, adding that …`, `…, though the government disputed it`).  Returns
    (clause end, where to read on)."""
    toks = doc.toks
    for m in range(j + 1, end - 1):
        t, nxt = toks[m], toks[m + 1]
        if doc.inside_quote(t):
            continue
        if t.low in ("and", "but") and nxt.low in SAY_VERBS and not nxt.low.endswith("ing"):
            return (m - 1 if toks[m - 1].text == "," else m), m + 1
        if t.text == "," and nxt.low.endswith("ing") and len(nxt.low) > 4 and not _is_cap(nxt) and not doc.inside_quote(nxt):
            return m, m + 1
        if t.text == "," and nxt.low in ("though", "although", "whereas"):
            return m, m + 1  # `…, though the government disputed the figures`: the reporter's
    return end, end


def _skip_addressee(doc: _Doc, j: int, stop: int) -> int | None:
    """After `told`: a name (`The Associated Press`, `Reuters`) or `reporters`, `him` …"""
    toks = doc.toks
    if j >= stop:
        return None
    if toks[j].low in ADDRESSEES:
        return j + 1
    k = j
    while k < stop and (_is_cap(toks[k]) or (k > j and toks[k].low in ("of", "and") and k + 1 < stop and _is_cap(toks[k + 1]))):
        k += 1
    return k if k > j else None


def _coordinated_subject(doc: _Doc, lo: int, i: int) -> tuple[int, int] | None:
    """`X accused him of … and promised that …`, `“…,” said X, adding that …`:
    the speaker of the earlier verb in the sentence."""
    for j in range(i - 2, lo - 1, -1):
        t = doc.toks[j]
        if t.low in CUES and not doc.inside_quote(t) and not t.low.endswith("ing") and not _reported(doc, lo, t):
            return _subject(doc, lo, j) or _forward_np(doc, j + 1, i - 1)
    return None


def _reported(doc: _Doc, lo: int, tok: _Tok) -> bool:
    """Whether a token lies in a QUOTE already found in this sentence (`… since
    it was agreed in the spring, adding that …`: `agreed` is reported, not the cue)."""
    sentence_start = doc.toks[lo].start
    for a in reversed(doc.attributions):
        if a.quotes[-1][1] <= sentence_start:
            break
        if any(start <= tok.start < end for start, end in a.quotes):
            return True
    return False


def _gerund_subject(doc: _Doc, lo: int, cue: int) -> tuple[int, int] | None:
    """`…, adding that …` / `…, calling it “…”`: the speaker of the sentence's
    earlier verb, else its opening name; `Ryabkov telling CNN that …`: the name
    right before."""
    toks = doc.toks
    if cue > lo and toks[cue - 1].text == ",":
        src = _coordinated_subject(doc, lo, cue)
        if src is not None:
            return src
        j = lo
        while j < cue and (_is_cap(toks[j]) or (j > lo and toks[j].low in ("of", "for") and j + 1 < cue and _is_cap(toks[j + 1]))):
            j += 1
        return _np_span(doc, lo, j) if j > lo else None
    j = cue
    while j > lo and (_is_cap(toks[j - 1]) or toks[j - 1].low in ("of", "for")):
        j -= 1
    while j < cue and not _is_cap(toks[j]):
        j += 1
    return _np_span(doc, j, cue) if j < cue else None


def _clause_first(doc: _Doc, lo: int, i: int, stop: int) -> bool:
    """`CLAUSE, X said [on Monday].`, `CLAUSE, said X.` and `A, X said, B.`"""
    toks = doc.toks
    cue = toks[i]
    if toks[lo].text in MARKS and any(x.open == toks[lo].start and x.attributed for x in doc.quotes):
        return False  # `“…,” X said.`: a direct quote, already attributed
    end = _clause_end(doc, stop)
    after = _skip_adjuncts(doc, i + 1, end)
    # the comma that ends the reported clause
    hi = _strip_aux(doc, lo, i)
    if hi is None:
        return False
    comma = None
    for j in range(hi - 1, max(lo, hi - 12) - 1, -1):
        if toks[j].text == ",":
            comma = j
            break
        if toks[j].low in FINITE or toks[j].low in CUES or toks[j].text in MARKS:
            return False
    if comma is None or comma - lo < 2:
        return False
    if comma + 1 == hi:  # inverted: `CLAUSE, said X.`
        if after < end and toks[after].text == ",":
            return False
        src = _forward_np(doc, i + 1, end)
        if src is None:
            return False
        following = _tok_index(doc, src[1])
        if following < end and toks[following].text != ",":
            return False  # more than the speaker (and an apposition) after the verb
        clause = (toks[lo].start, toks[comma - 1].end)
        doc.add(_Attribution([clause], src, (cue.start, cue.end), SCORE_CLAUSE_FIRST))
        _consume(doc, clause[0], clause[1])
        return True
    start = _np_start(doc, comma + 1, hi)
    if start is None:
        return False
    src = _np_span(doc, start, hi)
    if src is None:
        return False
    if after < end and toks[after].text == ",":  # interrupted: `A, the agency said, B.`
        b0 = after + 1
        if end - b0 < 2:
            return False
        doc.add(_Attribution(
            [(toks[lo].start, toks[comma - 1].end), (toks[b0].start, toks[end - 1].end)], src, (cue.start, cue.end), SCORE_INTERRUPTED
        ))
        return True
    rest = toks[after:end]
    if cue.low in OBJECT_VERBS and len(rest) <= 3 and all(t.text not in MARKS for t in rest):
        rest = []
    if rest:
        return False
    clause = (toks[lo].start, toks[comma - 1].end)
    doc.add(_Attribution([clause], src, (cue.start, cue.end), SCORE_CLAUSE_FIRST))
    _consume(doc, clause[0], clause[1])
    return True


def _according_to(doc: _Doc, lo: int, stop: int) -> bool:
    """`According to X, CLAUSE.` and `CLAUSE, according to X.`"""
    toks = doc.toks
    for i in range(lo, stop - 1):
        if toks[i].low != "according" or toks[i + 1].low != "to" or doc.inside_quote(toks[i]):
            continue
        cue = (toks[i].start, toks[i + 1].end)
        end = _clause_end(doc, stop)
        if i == lo:
            comma = next((j for j in range(i + 2, end) if toks[j].text == ","), None)
            if comma is None or comma == i + 2 or end - comma < 3:
                return False
            src = _np_span(doc, i + 2, comma)
            clause = (toks[comma + 1].start, toks[end - 1].end)
        elif toks[i - 1].text == "," and i - 1 > lo:
            j = i + 2
            while j < end and toks[j].text not in ",;:":
                j += 1
            if j == i + 2:
                return False
            src = _np_span(doc, i + 2, j)
            clause = (toks[lo].start, toks[i - 2].end)
        else:
            return False
        if src is None:
            return False
        doc.add(_Attribution([clause], src, cue, SCORE_ACCORDING))
        _consume(doc, clause[0], clause[1])
        return True
    return False


# --------------------------------------------------------------------------- fragments and continuations


def _fragments(doc: _Doc) -> None:
    """`He called the plan “a fantasy.”`: a characterising verb with a quoted fragment."""
    toks = doc.toks
    previous: _Quote | None = None
    for q in doc.quotes:
        if q.attributed or q.consumed or q.close is None or not _embedded(doc, q):
            previous = q
            continue
        o = _tok_index(doc, q.open)
        if o >= len(toks) or toks[o].start != q.open:
            previous = q
            continue  # not in a sentence that was read
        lo = doc.sent_tok_range[doc.sent_of_tok[o]][0]
        if previous is not None and previous.fragment_of and previous.close is not None:
            between = doc.text[previous.close + 1:q.open].split()
            if all(w in ("and", "or", "a", "an", "the", "as", ",") for w in between):
                # `calling it “productive” and a “meaningful discussion”`: the same speaker and verb
                q.attributed = True
                q.fragment_of = previous.fragment_of
                doc.add(_Attribution([_content(doc, q)], *previous.fragment_of, SCORE_FRAGMENT))
                previous = q
                continue
        previous = q
        for j in range(o - 1, max(lo, o - 8) - 1, -1):
            t = toks[j]
            if t.text in MARKS or t.text in ";:" or doc.inside_quote(t):
                break
            if t.low in FRAGMENT_VERBS:
                if j == o - 1 and t.low in NAMING_VERBS:
                    break  # `an appeal called “Warm Homes”`: a name, not a characterisation
                if j > lo and toks[j - 1].low == "and":
                    src = _coordinated_subject(doc, lo, j)
                else:
                    src = _subject(doc, lo, j)
                if src is not None:
                    q.attributed = True
                    q.fragment_of = (src, (t.start, t.end))
                    doc.used_cues.add(j)
                    doc.add(_Attribution([_content(doc, q)], src, (t.start, t.end), SCORE_FRAGMENT))
                break


def _continuations(doc: _Doc) -> None:
    """A quote that is a sentence of its own right after an attributed quote
    (or continues one into the next paragraph) is the same speaker's: linked
    to the nearest source before it, with no cue."""
    previous: _Quote | None = None
    for q in doc.quotes:
        if not q.attributed and not q.consumed and previous is not None and previous.attributed:
            near = q.line - previous.line <= 1  # the same paragraph or the next
            k = doc.sentence_at(q.open)
            starts_sentence = k is not None and not doc.text[doc.sentences[k][0]:q.open].strip()
            content = doc.text[q.start:q.end].lstrip()
            if near and starts_sentence and content[:1].isupper() and _ends_sentence(doc, q):
                q.attributed = True
                doc.add(_Attribution([_content(doc, q)], None, None, SCORE_CONTINUATION, continuation=True))
        previous = q


def _ends_sentence(doc: _Doc, q: _Quote) -> bool:
    """Nothing but the closing mark (and punctuation) between the quote and its sentence's end."""
    if q.close is None:
        return True
    k = doc.sentence_at(q.close)
    if k is None:
        return True
    return doc.text[q.close + 1:doc.sentences[k][1]].lstrip()[:1] in ("", ".", "!", "?")


def _result(doc: _Doc, threshold: float) -> Suggestions:
    text = doc.text
    spans: dict[tuple[str, int, int], float] = {}
    links: dict[tuple[tuple[int, int], tuple[int, int]], float] = {}
    sources_seen: list[tuple[int, int]] = []  # (end, start), sorted
    for a in sorted(doc.attributions, key=lambda a: a.quotes[0][0]):
        if a.score < threshold:
            continue
        source = a.source
        if a.continuation:
            k = bisect_right(sources_seen, (a.quotes[0][0], a.quotes[0][0]))
            if k == 0:
                continue
            end, start = sources_seen[k - 1]
            source = (start, end)
        if source is None:
            continue
        if any(_overlap(source, q) for q in a.quotes):
            continue
        insort(sources_seen, (source[1], source[0]))
        for label, span in [("SOURCE", source), ("CUE", a.cue)] + [("QUOTE", q) for q in a.quotes]:
            if span is not None:
                key = (label, span[0], span[1])
                spans[key] = max(spans.get(key, 0.0), a.score)
        for q in a.quotes:
            links[(q, source)] = max(links.get((q, source), 0.0), a.score)
    order = {"QUOTE": 0, "SOURCE": 1, "CUE": 2}
    keys = sorted(spans, key=lambda x: (x[1], x[2], order[x[0]]))
    ids = {key: f"a{n}" for n, key in enumerate(keys, start=1)}
    out_spans = tuple(Span(ids[key], key[0], key[1], key[2], text[key[1]:key[2]], round(spans[key], 3)) for key in keys)
    out_links = tuple(
        Relation("attributed_to", ids[("QUOTE", *q)], ids[("SOURCE", *s)], round(score, 3))
        for (q, s), score in sorted(links.items(), key=lambda x: (x[0][0], x[0][1]))
    )
    return Suggestions(out_spans, out_links)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
