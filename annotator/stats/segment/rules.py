"""The rule layer over sentencex: each rule looks at one possible boundary and may overrule it.

A rule returns True (boundary), False (no boundary) or None (no opinion: the
next rule, and in the end sentencex, decides).  Abbreviations, titles, times
of day, numbers, addresses and initialisms are here; the rules about quotes
and brackets are in quote_rules.py.  _RULES is the order they are asked in.
"""
from __future__ import annotations

from annotator.stats.segment.context import _bare_word, _Boundary, _first_letter, _is_title, _next_word, _Text
from annotator.stats.segment.lexicon import (
    _ABBREVIATIONS,
    _ADDRESS,
    _AFTER_TIME,
    _AMBIGUOUS,
    _AUXILIARIES,
    _BEFORE_AMOUNT,
    _BEFORE_NUMBER,
    _CLAUSE_GOES_ON_AFTER,
    _CONTINUATION_SKIP,
    _ED_NOT_VERBS,
    _FOUR_DOT_BEHIND,
    _INITIALISM,
    _IRREGULAR_VERBS,
    _MEASURE_UNITS,
    _MONEY,
    _NAME_PARTS,
    _NAME_WORD,
    _NOUN_BEFORE,
    _NUMBER,
    _OPENER_WORDS,
    _PLAIN_WORD,
    _PLURAL_WITHOUT_S,
    _PREPOSITIONS,
    _QUOTE_OPENERS,
    _SENTENCE_END_BEFORE,
    _SLASHED_BEFORE_NAME,
    _SLASHED_UNIT,
    _SPACED_ELLIPSIS_AHEAD,
    _SPEECH_VERB_SET,
    _TAIL,
    _UNIT_WORDS,
)
from annotator.stats.segment.quote_rules import (
    _rule_attribution,
    _rule_inside_quotes,
    _rule_opening_quote,
    _rule_opening_quote_mark,
    _rule_parenthesised_sentence,
)


def _decide_by_rules(ctx: _Text, cut: int, index: int, sx: bool) -> bool:
    """The rules in order; the first opinion wins, else sentencex's (sx) stands."""
    b = _Boundary(ctx, sx, cut, index)
    for rule in _RULES if b.term and b.head else _RULES_WITHOUT_TERMINATOR:
        verdict = rule(b)
        if verdict is not None:
            return verdict
    return sx


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
    "approx. 40", "5 ft. 10 in.", unless a measure ends before a clause of its
    own (_clause_after_measure).  Before money only an abbreviation that
    quantifies holds on ("approx. $12 million", "an est. US$1.2 billion"); a
    month or a unit before money ends its sentence ("fined in Nov. €40,000 is a lot")."""
    if b.term == ".":
        if b.head[0].isdigit():
            word = _bare_word(b.word)
            if word in _MEASURE_UNITS and _clause_after_measure(b):
                return True
            if word in _ABBREVIATIONS or _is_title(word):
                return False
        elif _MONEY.match(b.head):
            word = _bare_word(b.word)
            if word in _BEFORE_AMOUNT or _is_title(word):
                return False
            if word in _BEFORE_NUMBER and not b.closers and not b.ctx.inside_quotes(b.cut, b.index):
                return True
    return None


def _clause_after_measure(b: _Boundary) -> bool:
    """Whether a measure ("5 mi.") ends its sentence before a number because the
    number opens a clause: a plural noun that is no unit and a finite verb
    follow it ("He ran 5 mi. 20 homes flooded.").  Anything else goes on with
    the measure: a unit ("5 ft. 10 in.", "2 hr. 30 minutes passed"), another
    word ("6 ft. 2 and weighed"), a singular noun ("the 6 ft. 10 center
    scored"), or a quote that closes later."""
    if b.closers or b.ctx.inside_quotes(b.cut, b.index):
        return False
    before = b.line[max(b.start, b.term_start - _TAIL) : b.term_start - len(b.word)].split()
    if not before or not _NUMBER.fullmatch(before[-1]):
        return False
    words = b.head.split(None, 3)
    if len(words) < 3 or not _NUMBER.fullmatch(words[0]):
        return False
    noun, verb = words[1], words[2]
    if not noun.isalpha() or not noun.islower() or noun in _UNIT_WORDS or _is_verb(noun):
        return False
    plural = noun in _PLURAL_WITHOUT_S or (len(noun) > 3 and noun.endswith("s") and not noun.endswith("ss"))
    return plural and _is_verb(verb)


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


def _rule_slashed_unit(b: _Boundary) -> bool | None:
    """A full stop after a unit with a slash, or a word shortened with one, ends the sentence when a capital, a
    number or an amount follows: "Winds reached 120 km/h. The schools reopened.", "... 120 km/h. 20 homes were
    flooded.", "They came w/o. Then they left." (sentencex reads "h." and "o." as abbreviations.) A lower-case word
    after it goes on with the sentence (_rule_lowercase_continuation), as do quotes that close later."""
    if b.term == "." and not b.closers:
        first = _first_letter(b.head)
        if first.isupper() or first.isdigit() or _MONEY.match(b.head):
            word = _bare_word(b.word)
            if _SLASHED_UNIT.fullmatch(word) and word.lower() not in _SLASHED_BEFORE_NAME:
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
    start = 0
    for match in _SENTENCE_END_BEFORE.finditer(before):
        start = match.end()
    return before[start:]


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
    _rule_slashed_unit,
    _rule_initialism_ends_sentence,
    _rule_ambiguous_abbreviation,
    _rule_word_then_capital,
)

# For the cuts sentencex makes where no terminator comes before them.
_RULES_WITHOUT_TERMINATOR = (_rule_opening_quote_mark,)
