"""The words the attribution rules read: speech verbs and the words around speakers and clauses.

Constants only (frozensets and one compiled pattern).
"""
from __future__ import annotations

import re

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
