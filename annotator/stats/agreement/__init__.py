"""Inter-annotator agreement: sentence labels, spans and quote -> source relations.

Pure functions: no Flask, no database, no module-level mutable state.

Label agreement
===============
Ratings are a list of items, each a mapping ``annotator -> label``.  An
annotator who did not rate an item is absent from its mapping; a label of
``None`` (or a float NaN) counts as absent too.  Labels are hashable: strings
usually, numbers for the ordinal / interval / ratio levels of alpha.

Every label metric accepts either that list of mappings or a
:class:`LabelMatrix` (``codes``: an ``(n_items, n_annotators)`` integer array of
category codes, ``-1`` = missing), so the database layer can build arrays with
SQLAlchemy Core and skip the dicts.  Internally everything is vectorised NumPy
with no Python loop over items: every item statistic depends only on the
item's row of codes, so rows are histogrammed once by pattern (one
``np.bincount`` over a mixed-radix row id; ``np.unique`` when there are too many
possible rows), and the category counts, the coincidence matrix (weighted by
``1 / (m_i - 1)``), pairwise confusion tables (a bincount per annotator pair)
and the other per-item terms are computed on the few distinct patterns.

Each coefficient is computed from per-item statistics that add up over items.
That makes :func:`bootstrap_ci` cheap: statistics are summed per article once,
each resample is a vector of article multiplicities, and all resamples are one
matrix product followed by a vectorised finaliser.

Undefined cases (no items, no item with two ratings, only one category used,
two annotators who share no item, ...) give ``value=None`` and a human
``reason``; they never raise and never invent a 0 or a 1.  Invalid *arguments*
(an unknown alpha level, interval alpha over non-numeric labels, malformed
spans) raise ``ValueError``.

Span and relation agreement
===========================
A span is ``(label, start, end)`` or ``(article, label, start, end)``, offsets
in code points, ``end`` exclusive (Python slicing).  Spans with different
articles never match.  Spans given as 3-tuples all belong to one (unnamed)
article: either pass 4-tuples, or call once per article and add the counts
with :func:`combine_f1` (micro F1 over articles).  Two spans *overlap* when
they share at least one code point (``a.start < b.end and b.start < a.end``).

Runtime dependencies: numpy; scipy (``scipy.optimize.linear_sum_assignment``)
for the one-to-one maximum matching of the ``overlap`` span mode, relation F1
and attribution agreement.  scipy is imported lazily, only by those functions.

Modules
=======
results (what every function returns), matrix (LabelMatrix), patterns (row
patterns, the shared encoding), kappa (percent agreement, Fleiss, Gwet's AC1,
Cohen), alpha (Krippendorff's alpha, alpha per label), bootstrap (intervals
over articles, none from fewer than MIN_ARTICLES), report (every label metric at once), spans (span F1),
relations (relation F1, attribution agreement).  This package's public API is
what it re-exports below; the submodules import each other, never this file.
"""

from annotator.stats.agreement.alpha import LEVELS, alpha_per_label, krippendorff_alpha
from annotator.stats.agreement.bootstrap import MIN_ARTICLES, bootstrap_ci, few_articles
from annotator.stats.agreement.kappa import cohen_kappa, fleiss_kappa, gwet_ac1, percent_agreement
from annotator.stats.agreement.matrix import LabelMatrix
from annotator.stats.agreement.relations import attribution_agreement, relation_f1
from annotator.stats.agreement.report import label_report
from annotator.stats.agreement.results import AttributionResult, F1Result, LabelReport, PairwiseKappa, Result
from annotator.stats.agreement.spans import SPAN_MODES, combine_f1, span_f1, span_f1_pairs, span_f1_per_label

__all__ = [
    "LEVELS",
    "MIN_ARTICLES",
    "SPAN_MODES",
    "AttributionResult",
    "F1Result",
    "LabelMatrix",
    "LabelReport",
    "PairwiseKappa",
    "Result",
    "alpha_per_label",
    "attribution_agreement",
    "bootstrap_ci",
    "cohen_kappa",
    "combine_f1",
    "few_articles",
    "fleiss_kappa",
    "gwet_ac1",
    "krippendorff_alpha",
    "label_report",
    "percent_agreement",
    "relation_f1",
    "span_f1",
    "span_f1_pairs",
    "span_f1_per_label",
]
