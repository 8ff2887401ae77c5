"""Whether a candidate boundary is a sentence end: fast paths for the commonest cases, else the rules.

The fast paths give the rules' own outcome (tests/test_segment.py checks both
agree on random text); they exist because most candidates are a plain word,
a full stop and a capital.
"""
from __future__ import annotations

from tests.segment_before.context import _is_title, _next_word, _Text
from tests.segment_before.lexicon import (
    _ABBREVIATIONS,
    _AFTER_TIME,
    _AMBIGUOUS,
    _BEFORE_AMOUNT,
    _CLOSERS,
    _NO_BREAK_AFTER,
    _OPENER_WORDS,
    _TAIL,
    _TERMINATORS,
)
from tests.segment_before.rules import _decide_by_rules


def _decide(ctx: _Text, cut: int, index: int) -> bool:
    """Whether line `index` breaks into two sentences at cut."""
    text = ctx.text
    sx = cut in ctx.sx_set
    # Fast paths for the commonest cases, with the same outcome as the rules
    # (tests/test_segment.py checks both agree on random text):
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
        verdict = _after_full_stop(ctx, cut, index, sx, nxt)
        if verdict is not None:
            return verdict
    if "a" <= nxt <= "z":
        c = text[cut - 1]
        if c in _TERMINATORS or (c in _CLOSERS and cut > 1 and text[cut - 2] in _TERMINATORS):
            end = text.find(" ", cut + 1)
            if text[cut + 1 : end if end > 0 else None].islower():
                return False
    return _decide_by_rules(ctx, cut, index, sx)


def _after_full_stop(ctx: _Text, cut: int, index: int, sx: bool, nxt: str) -> bool | None:
    """A full stop, a space and `nxt`: the verdict, or None to go on with the other cases."""
    text = ctx.text
    lo = cut - _TAIL if cut > _TAIL else 0
    ws = text.rfind(" ", lo, cut)
    word = text[ws + 1 if ws >= 0 else lo : cut - 1]
    if word in _NO_BREAK_AFTER:
        return False
    if word in _BEFORE_AMOUNT:
        return _decide_by_rules(ctx, cut, index, sx)
    after = text[cut + 2 : cut + 3] if nxt in "(“\"" else nxt
    if not ("A" <= after <= "Z" or "0" <= nxt <= "9"):
        return None
    if word.isalnum():
        return _after_word(ctx, cut, index, sx, nxt, word, lo, ws)
    if word.lower() in ("a.m", "p.m") and "A" <= nxt <= "Z":
        following = _next_word(ctx, cut, index)
        if following in _AFTER_TIME:
            return False
        if following in _OPENER_WORDS:
            return True
        return sx and not (ctx.straight_single[index] and ctx.inside_quotes(cut, index))
    if "-" in word and word[-1] != "." and word.isprintable() and _is_title(word):
        return False  # Maj.-Gen.
    return None


def _after_word(ctx: _Text, cut: int, index: int, sx: bool, nxt: str, word: str, lo: int, ws: int) -> bool:
    """`word. X` with a plain word (letters and digits) and X a capital, a digit or an opening quote."""
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
        text = ctx.text
        if ws > 0 and text[text.rfind(" ", lo, ws) + 1 : ws].islower():
            return False  # "in St. Louis": the abbreviation opens a name
        return _decide_by_rules(ctx, cut, index, sx)
    if sx and not ctx.straight_single[index]:
        return True  # see _rule_inside_quotes
    if len(word) == 1:
        return sx and not ctx.inside_quotes(cut, index)
    return not ctx.inside_quotes(cut, index)
