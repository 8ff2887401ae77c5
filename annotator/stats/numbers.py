"""Whole numbers read from text a person or a page wrote: an id in a query string, a setting, a form's version.

One rule for all of them: ASCII digits only, and a bound before int() runs. str.isdigit() alone lets through
'²' and Arabic-Indic digits (int() fails on the first, reads the second), and a string of thousands of digits
costs int() time and fails past Python's 4,300-digit limit, each a 500 or a traceback where a clear refusal belongs.
"""
from __future__ import annotations

# Longer than any bound here (2**63 has 19 digits) and short enough that int() costs nothing; leading zeros pass.
_MOST_DIGITS = 24


def whole_number(raw: str | None, most: int) -> int | None:
    """The number `raw` spells in ASCII digits when it is at most `most`, else None (no sign, no spaces)."""
    if not raw or len(raw) > _MOST_DIGITS or not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if value <= most else None

LARGEST_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL: a larger number names no row
