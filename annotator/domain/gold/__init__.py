"""Gold: automatic gold where annotators agree, and reviewers' adjudications.

Plain functions over a SQLAlchemy session; no Flask. Every gold change writes
an AuditEntry (entity gold_label / gold_span / gold_relation / gold_article_label).

Provenance (GoldLabel / GoldSpan / GoldRelation.provenance):
- ``unanimous``: every annotator who labelled the sentence gave this label;
- ``majority``: the share agreeing reaches Project.majority_threshold (< 1.0);
- ``adjudicated``: chosen by a reviewer (reviewer_id, reason, time kept);
- ``imported``: came with an import (import_annotations.py).
``adjudicated`` and ``imported`` are human gold: automatic gold never
overwrites, removes or duplicates them.

- incremental.py: automatic gold kept current by every annotation write, for what it touched;
- refresh.py (with auto_spans.py): the recomputation itself (a sentence, articles, the project in batches;
  a sentence's without NumPy, which comes with inputs.py when several articles are recomputed);
- one_article.py: one article's recomputation (a save's) in one read and without NumPy, as the batches' gives;
- rebuild.py: everything from scratch, compared with what is stored (`annotator gold rebuild`);
- adjudication.py: a reviewer's gold for one sentence;
- article_labels.py: the articles whose annotators disagree on an article label group, and a reviewer's gold for them;
- context.py: what the adjudication page shows;
- linking.py: the annotators' links that come with the spans a reviewer keeps, and gold quotes a save leaves with no link;
- stamps.py: the stamp of the stored human decision a reviewer's page saw, checked by a save (two reviewers at once);
- keys.py: the span / link keys and typed spans the page sends, and GoldError;
- writes.py: the lock and the audit every gold write shares.
- rows.py: the stored gold spans and links as both recomputations read them.
The rule itself is pure: annotator.stats.gold. Gold reads the project's
labels through agreement.loaders; agreement never imports gold.

The web and the CLI use the names below; modules inside the package import
from the submodule that defines a name.
"""
from __future__ import annotations

from annotator.domain.gold.adjudication import MAX_REASON, adjudicate
from annotator.domain.gold.article_labels import adjudicate_article_labels, article_label_context, article_label_disputes
from annotator.domain.gold.context import adjudication_context
from annotator.domain.gold.keys import GoldError, parse_link_key, parse_span_key, parse_span_lines, span_key_str
from annotator.domain.gold.linking import left_unlinked, links_with_spans, unlinked
from annotator.domain.gold.refresh import REFRESH_BATCH_ARTICLES, ensure_auto_gold, refresh_auto_gold
from annotator.domain.gold.stamps import NO_DECISION, article_stamp, sentence_stamp

__all__ = [
    "MAX_REASON", "NO_DECISION", "REFRESH_BATCH_ARTICLES", "GoldError", "adjudicate", "adjudicate_article_labels", "adjudication_context",
    "article_label_context", "article_label_disputes", "article_stamp", "ensure_auto_gold", "left_unlinked", "links_with_spans", "parse_link_key",
    "parse_span_key", "parse_span_lines", "refresh_auto_gold", "sentence_stamp", "span_key_str", "unlinked",
]
