"""Sentence segmentation for news text.

    segment(text) -> [(start, end), ...]

Offsets are Python code-point offsets into the text exactly as given (never
normalised), so ``text[start:end]`` is the sentence.  Sentences are sorted,
do not overlap, are never empty and never start or end with whitespace;
whitespace between sentences belongs to no sentence.

How it works
------------
1. Every line break ends a sentence, so the text is cut into lines first
   (``\\n``, ``\\r\\n``, ``\\r`` and the other Unicode line separators), and
   each line is segmented on its own (sentences.py, context.py).
2. ``sentencex`` (wikimedia, MIT, Rust) proposes sentence boundaries.  It is
   fast and handles quotes, initials and most abbreviations.  It is called
   once, on the non-blank lines joined by blank lines (sentencex_cuts.py).
3. A rule layer looks at every proposed boundary *and* at every other
   "terminator followed by whitespace" position, and may overrule sentencex.
   Each rule is one function (``_rule_*`` in rules.py and quote_rules.py) that
   returns True (boundary), False (no boundary) or None (no opinion: the next
   rule, and in the end sentencex, decides).  decide.py short-cuts the
   commonest cases with the same outcome as the rules (a property test checks
   that too).  The rules read the word lists of lexicon.py and the context of
   context.py (the line, its quoted stretches, the token before the boundary).
4. Two list rules work on whole lines: numbered/lettered lists written on one
   line are split at each item, and a segment that is only a list marker
   ("1.", "a)") is joined to the next (sentences.py).

No model files, no network, no module-level mutable state: the tables and
compiled regexes are constants.  The package's API is segment(); the
submodules import each other, never this file.
"""
from annotator.stats.segment.sentences import segment

__all__ = ["segment"]
