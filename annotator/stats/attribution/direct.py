"""Direct speech: quotes in marks next to their speech verb, colon headlines, quoted fragments, continued quotes."""
from __future__ import annotations

import re

from annotator.stats.attribution.document import (
    MARKS,
    SCORE_CONTINUATION,
    SCORE_DIRECT,
    SCORE_FRAGMENT,
    SCORE_HEADLINE,
    _Attribution,
    _Doc,
    _is_cap,
    _tok_index,
)
from annotator.stats.attribution.lexicon import CUES, FRAGMENT_VERBS, NAMING_VERBS, RELATIVES, SAY_VERBS
from annotator.stats.attribution.quote_marks import _Quote
from annotator.stats.attribution.sources import _coordinated_subject, _forward_np, _subject

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
