"""The stored gold spans and links as the refresh reads them: rows of their own module, which both the batch path
(inputs.py, with NumPy) and the one-article path (one_article.py, without) read, and auto_spans.py settles."""
from __future__ import annotations

from typing import NamedTuple


class GoldSpanRow(NamedTuple):
    id: int
    uid: str
    article_id: int
    label: str
    start: int
    end: int
    provenance: str


class GoldRelationRow(NamedTuple):
    id: int
    uid: str
    article_id: int
    type: str
    from_span_id: int
    to_span_id: int
    provenance: str
