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

Modules: lexicon (the words), quote_marks (pairing), document (tokens, the
_Doc the rules fill, scores), direct and indirect (the rules), sources
(finding the speaker), linking (spans, ids and links), suggester (suggest()),
results (what it returns).  The package's API is re-exported here; the
submodules import each other, never this file.
"""
from annotator.stats.attribution.results import NAME, VERSION, Relation, Span, Suggestions
from annotator.stats.attribution.suggester import DEFAULT_THRESHOLD, suggest

__all__ = ["DEFAULT_THRESHOLD", "NAME", "VERSION", "Relation", "Span", "Suggestions", "suggest"]
