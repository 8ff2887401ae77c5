"""Rules about quotes and brackets: attributions after a quote, opening quotes, parenthesised sentences.

Each rule returns True (boundary), False (no boundary) or None (no opinion);
rules.py consults them in order with the others.
"""
from __future__ import annotations

import re

from annotator.stats.segment.context import _Boundary, _first_letter, _is_title
from annotator.stats.segment.lexicon import (
    _ABBREVIATIONS,
    _ATTRIBUTION,
    _ATTRIBUTION_ABBREVIATED,
    _AUXILIARIES,
    _CLOSERS,
    _INITIALISM,
    _QUOTE_OPENERS,
    _TAIL,
    _TERMINATORS,
)


def _rule_attribution(b: _Boundary) -> bool | None:
    """A quote followed by its attribution is one sentence: “Why?” Smith asked.
    After a full stop only a bare attribution joins (“Done.” Smith said.),
    since “Done.” Smith said the plan ... starts a new sentence."""
    if not b.closers or b.closers[-1] not in "\"”’'»":
        return None
    m = _attribution(b.head)
    if m and (b.term[-1] in "?!" or m.group("end")):
        return False
    return None


def _attribution(head: str) -> re.Match[str] | None:
    """The attribution that `head` (the text after a quote) opens with, if any; its group "end" is the punctuation
    that ends it, when it ends there (“Done.” Smith said.)."""
    return _ATTRIBUTION.match(head) or _abbreviated_attribution(head)


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


def _rule_opening_quote_mark(b: _Boundary) -> bool | None:
    """No sentence ends with the mark that opens a quote: sentencex cuts right
    after it when the quote does not close on its line (He left. "|Nobody
    wants it.), as a quote that runs on into the next paragraph does not."""
    if not b.term and not b.spaced and b.word + b.closers and all(c in _QUOTE_OPENERS for c in b.word + b.closers):
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
