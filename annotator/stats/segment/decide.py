"""Whether a candidate boundary is a sentence end: fast paths for the commonest cases, else the rules.

The fast paths give the rules' own outcome (tests/test_segment.py checks both
agree on random text); they exist because most candidates are a plain word,
a full stop and a capital, or a quote that closes after a full stop.  The
commonest of all are decided inline, in the loop over a text's candidates
(_decide_all): a function call per candidate costs as much as the check.
"""
from __future__ import annotations

from annotator.stats.segment.context import _is_title, _next_word, _Text
from annotator.stats.segment.lexicon import (
    _ABBREVIATIONS,
    _AFTER_TIME,
    _AMBIGUOUS,
    _BEFORE_AMOUNT,
    _CLOSERS,
    _HEAD,
    _MEASURE_UNITS,
    _NO_BREAK_AFTER,
    _OPENER_WORDS,
    _OPENERS,
    _QUOTE_OPENERS,
    _TAIL,
    _TERMINATORS,
)
from annotator.stats.segment.quote_rules import _attribution
from annotator.stats.segment.rules import _decide_by_rules

# Words before a full stop that the fast paths leave to the others: titles and mid-sentence abbreviations (no
# break), abbreviations before amounts and ambiguous ones (the rules decide).
_NOT_PLAIN = _NO_BREAK_AFTER | _BEFORE_AMOUNT | _AMBIGUOUS


def _decide_all(ctx: _Text, cuts: list[int]) -> list[int]:
    """The cuts (sorted) that end a sentence.

    Decided inline, with _decide's outcome (see _after_word): where sentencex
    breaks too, a space after "word." (letters and digits, no abbreviation)
    and then a capital (on a line without straight single quotes), an opening
    double quote and a capital, or "(" and a capital or a digit (no straight
    single quote either; before a digit the rules leave it to sentencex).
    Everything else goes to _decide."""
    text = ctx.text
    ends = ctx.ends
    sx_set = ctx.sx_set
    straight_single = ctx.straight_single
    kept = []
    line = 0
    for cut in cuts:
        while cut > ends[line]:
            line += 1
        if text[cut - 1] == "." and text[cut : cut + 1] == " " and cut in sx_set:
            nxt = text[cut + 1 : cut + 2]
            after = text[cut + 2 : cut + 3]
            if (
                ("A" <= nxt <= "Z" and not straight_single[line])
                or ((nxt == "“" or nxt == '"') and "A" <= after <= "Z")
                or (nxt == "(" and ("A" <= after <= "Z" or "0" <= after <= "9") and not straight_single[line])
            ):
                lo = cut - _TAIL if cut > _TAIL else 0
                word = text[text.rfind(" ", lo, cut) + 1 or lo : cut - 1]
                if word.isalnum() and word not in _NOT_PLAIN:
                    kept.append(cut)
                    continue
        if _decide(ctx, cut, line):
            kept.append(cut)
    return kept


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
    if text[cut - 1] in "”\"" and text[cut - 2 : cut - 1] == "." and sx and not ctx.straight_single[index]:
        verdict = _after_closing_quote(ctx, cut, index, nxt)
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
        if word in _MEASURE_UNITS:  # "5 mi. 20 homes flooded": _rule_number_after_abbreviation reads the clause
            return _decide_by_rules(ctx, cut, index, sx)
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


def _after_closing_quote(ctx: _Text, cut: int, index: int, nxt: str) -> bool | None:
    """`word.” X` or `word." X` where sentencex breaks and the line has no straight
    single quote, with a plain word (letters and digits, no abbreviation) and X a
    capital, or an opening quote and a capital: the verdict, or None for the rules.

    For these the rules about titles, numbers, money, ambiguous abbreviations
    and quotes that close later have no opinion, so the first to speak is
    _rule_attribution (no break before an attribution that ends the sentence:
    “Done.” Smith said.), else _rule_opening_quote or _rule_word_then_capital
    (a break)."""
    text = ctx.text
    start = ctx.starts[index]
    lo = cut - _TAIL if cut - _TAIL > start else start  # the token as _Boundary finds it
    word = text[text.rfind(" ", lo, cut) + 1 or lo : cut - 2].lstrip(_OPENERS)
    if not word.isalnum() or word in _NOT_PLAIN:
        return None
    if "A" <= nxt <= "Z":
        m = _attribution(text[cut + 1 : min(cut + _HEAD, ctx.ends[index])])
        return not (m and m.group("end"))
    if nxt in _QUOTE_OPENERS and text[cut + 2 : cut + 3].isupper():
        return True
    return None
