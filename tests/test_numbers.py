"""The one reading of a whole number from text (annotator/stats/numbers.py) that ids, versions and settings share."""
from __future__ import annotations

import pytest

from annotator.stats.numbers import LARGEST_ID, whole_number


@pytest.mark.parametrize(("raw", "most", "expected"), [
    ("0", 10, 0),
    ("7", 10, 7),
    ("10", 10, 10),
    ("007", 10, 7),  # leading zeros are the same number
    (str(LARGEST_ID), LARGEST_ID, LARGEST_ID),
    ("11", 10, None),  # over the bound
    (str(LARGEST_ID + 1), LARGEST_ID, None),
    ("", 10, None),
    (None, 10, None),
    ("-1", 10, None),  # no sign
    ("+1", 10, None),
    (" 1", 10, None),  # no spaces (a caller strips where a person may have typed them)
    ("1.0", 10, None),
    ("²", 10, None),  # isdigit() takes it, int() fails on it
    ("٣", 10, None),  # isdigit() takes it and int() reads 3: not a number a page or a setting writes
    ("1" * 5000, 10**30, None),  # int() fails past 4,300 digits, and costs time well before
    ("9" * 25, 10**30, None),  # longer than any bound needs
])
def test_whole_number_takes_ascii_digits_within_the_bound(raw, most, expected):
    assert whole_number(raw, most) == expected
