"""Gold: automatic gold where annotators agree, and reviewers' adjudications (see refresh.py, split next)."""
from __future__ import annotations

from annotator.domain.gold.refresh import (
    MAX_REASON,
    REFRESH_BATCH_ARTICLES,
    GoldError,
    LinkKey,
    RefreshResult,
    SpanKey,
    adjudicate,
    adjudication_context,
    ensure_auto_gold,
    parse_link_key,
    parse_span_key,
    parse_span_lines,
    refresh_auto_gold,
)

__all__ = [
    "MAX_REASON", "REFRESH_BATCH_ARTICLES", "GoldError", "LinkKey", "RefreshResult", "SpanKey", "adjudicate", "adjudication_context",
    "ensure_auto_gold", "parse_link_key", "parse_span_key", "parse_span_lines", "refresh_auto_gold",
]
