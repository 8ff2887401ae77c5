"""A project's agreement, from the database: what the reviewer pages and `annotator agreement` show.

Plain functions over a SQLAlchemy session; no Flask. The statistics are
annotator.stats.agreement's; this package gets the data there fast and shapes
the results:

- loaders.py: the project's labels, spans and sentences as arrays (the head they
  start from is annotator.domain.project_head's, which every save may read: no NumPy);
- figures.py: label, annotator and article figures and gold counts
  (span_figures.py: spans and relations);
- origin_figures.py: work from suggestions and agreement on suggested and manual work apart;
- queue.py: the disagreement queue's rows;
- cache.py: the entry points, cached per project revision.

The web and the CLI use the names below; modules inside the package, and
domain modules elsewhere (gold/), import from the submodule that defines a name.
"""
from __future__ import annotations

from annotator.domain.agreement.article_label_figures import MIN_ARTICLES as ARTICLE_MIN
from annotator.domain.agreement.cache import PageFigures, articles, cache_key, disagreements, document, page_figures, suggestions, summary
from annotator.domain.agreement.figures import ITEM_COUNTS, ITEMS_NOTE, MIN_N, label_metrics
from annotator.domain.agreement.queue import article_names, sentence_texts
from annotator.domain.project_head import ProjectHead, ProjectNotFound, project_head

__all__ = [
    "ARTICLE_MIN", "ITEMS_NOTE", "ITEM_COUNTS", "MIN_N", "PageFigures", "ProjectHead", "ProjectNotFound", "article_names", "articles", "cache_key",
    "disagreements", "document", "label_metrics", "page_figures", "project_head", "sentence_texts", "suggestions", "summary",
]
