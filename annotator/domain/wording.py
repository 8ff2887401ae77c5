"""Counts in words: "1 label", "2 labels", never "1 label(s)", in the pages, flashes and messages."""
from __future__ import annotations


def plural(count: int, noun: str, many: str | None = None) -> str:
    """The noun as the count takes it: `noun` for exactly one, else `many` (the noun with an "s" unless given)."""
    return noun if count == 1 else (many if many is not None else noun + "s")


def counted(count: int, noun: str, many: str | None = None) -> str:
    """"1 label", "0 labels", "3 gold labels"; `many` for a plural not made with "s" ("1 entry", "2 entries")."""
    return f"{count:,} {plural(count, noun, many)}"


def with_article(noun: str) -> str:
    """"an admin", "a reviewer": the indefinite article a word's first letter takes (the app's role and label words)."""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"
