"""The word lists and patterns the segmentation rules read: abbreviations, titles, openers, verbs, marks.

Constants only (frozensets, strings, compiled regexes): no module-level
mutable state.
"""
from __future__ import annotations

import re

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
# The units of measure among them: after a number, a full stop and another number go on with the measure ("5 ft.
# 10 in.", "3 lb. 4 oz.") unless that number opens a clause of its own ("He ran 5 mi. 20 homes flooded.").
_MEASURE_UNITS = frozenset("ft lb lbs oz mi yd yds hr hrs min mins sec secs yr yrs mo mos wk wks pct pts".split())
# Units, abbreviated or written out, that a measure goes on in: "5 ft. 10 in.", "5 ft. 10 inches", "2 hr. 30 minutes".
_UNIT_WORDS = _MEASURE_UNITS | frozenset(
    """
    in inch inches foot feet pound pounds ounce ounces mile miles yard yards km m cm mm kg g hour hours minute minutes
    second seconds day days week weeks month months year years percent points
    """.split()
)
# Plural nouns without an -s that open news clauses after a number ("3 people died").
_PLURAL_WITHOUT_S = frozenset("people men women children police".split())
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
# A unit written with a slash, "km/h", "m/s", "mg/l", "kWh/m2", also against its number ("120km/h", "3.5m/s"), or a
# word shortened with one ("w/o", "and/or", "N/A"): its slash is the abbreviation, so a full stop after it ends a
# sentence before a capital, a number or an amount. "c/o" (care of) and "w/" (with) come before a name: left out.
_SLASHED_UNIT = re.compile(r"(?:\d+(?:[.,]\d+)*)?[A-Za-z\u00b5\u00b0]{1,4}[23\u00b2\u00b3]?/[A-Za-z]{1,4}[23\u00b2\u00b3]?")
_SLASHED_BEFORE_NAME = frozenset({"c/o", "w/"})
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
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
# An opening quote mark may come first: sentencex cuts after an initial at the start of a quote that does not
# close on its line ("“J.|K. Rowling wrote it."), and such a piece joins the next as a list marker does.
_MARKER_ONLY = re.compile(
    rf"[{_QUOTE_OPENERS}]?(?:{_BULLET}|(?:{_BULLET}\s*)?(?:\d{{1,3}}|[A-Za-z]|[ivxlcdm]{{1,6}}|[IVXLCDM]{{1,6}})(?:\.\)|[.)]))"
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

_TAIL = 80  # characters of context looked at before a boundary
_HEAD = 80  # ... and after it
