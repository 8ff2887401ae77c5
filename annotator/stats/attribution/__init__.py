"""Attribution suggester (being split into modules: see indirect.py)."""
from annotator.stats.attribution.indirect import DEFAULT_THRESHOLD, NAME, VERSION, Relation, Span, Suggestions, suggest

__all__ = ["DEFAULT_THRESHOLD", "NAME", "VERSION", "Relation", "Span", "Suggestions", "suggest"]
