"""A project's agreement, from the database (see loaders.py, split next)."""
from __future__ import annotations

from annotator.domain.agreement.loaders import (
    ITEM_COUNTS,
    ITEMS_NOTE,
    ProjectHead,
    ProjectNotFound,
    articles,
    cache_key,
    disagreements,
    label_metrics,
    project_head,
    summary,
)

__all__ = [
    "ITEMS_NOTE", "ITEM_COUNTS", "ProjectHead", "ProjectNotFound", "articles", "cache_key", "disagreements", "label_metrics",
    "project_head", "summary",
]
