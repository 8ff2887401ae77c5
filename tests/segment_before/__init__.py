"""The segmenter as it was before its hot paths were rewritten for speed (annotator/stats/segment at 48c40d4),
kept unchanged as the oracle of tests/test_segment_unchanged.py: the rewrite must find the same sentences.

Only the imports differ from that commit (tests.segment_before instead of annotator.stats.segment). When a rule
is changed on purpose, the new boundaries are tested in tests/test_segment.py; this copy then goes (or takes the
change too), since it pins the rewrite's equivalence, not the rules.
"""
from tests.segment_before.sentences import segment

__all__ = ["segment"]
