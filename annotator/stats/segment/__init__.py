"""Sentence segmentation for news text (being split into modules: see rules.py)."""
from annotator.stats.segment.rules import (  # noqa: F401
    _candidates,
    _decide,
    _decide_by_rules,
    _sentencex_joined_cuts,
    _sentencex_line_cuts,
    _Text,
    segment,
)

__all__ = ["segment"]
