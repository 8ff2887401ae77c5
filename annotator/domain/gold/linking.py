"""Gold links in adjudication: which annotators' links come with the spans a reviewer keeps, and which gold
quotes are left without their source.

The guidelines link every quote to its source when one is present. A reviewer who keeps an annotator's
quote and source keeps that annotator's link too (unless they unlink it), so the gold does not lose the
relation the annotator made; and a gold quote with no link at all is named on the page and after the save,
never dropped silently: the sentence's own, and a quote of another sentence whose only link went to a source
the reviewer dropped here. It warns rather than blocks, as the annotation page does for annotators: a quote
whose speaker the article never names has nothing to link to.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from annotator.domain.gold.keys import LinkKey, SpanKey


def links_with_spans(offered: Iterable[dict[str, Any]], chosen: set[str]) -> list[str]:
    """The keys of the offered links (context.py's distinct links) that go with the chosen span keys.

    A link goes when each of its ends in the sentence is chosen (an end in another sentence is no
    checkbox: the link brings it). When several such links leave one span by the same relation type
    (annotators linked the quote to different sources), the one most annotators made goes; a tie is the
    reviewer's to settle, so none goes and the quote is flagged as unlinked.
    """
    by_anchor: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for link in offered:
        ends = [end for end in (link["from"], link["to"]) if end["in_sentence"]]
        if ends and all(end["key"] in chosen for end in ends):
            by_anchor[(link["type"], link["from"]["key"])].append(link)
    keys = []
    for rivals in by_anchor.values():
        ranked = sorted(rivals, key=lambda link: -len(set(link["by"])))
        if len(ranked) == 1 or len(set(ranked[0]["by"])) > len(set(ranked[1]["by"])):
            keys.append(ranked[0]["key"])
    return sorted(keys)


def unlinked(schema: dict[str, Any], spans: Iterable[SpanKey], links: Iterable[LinkKey]) -> list[SpanKey]:
    """The spans that start no link of a relation type their label starts (a QUOTE with no attributed_to), by offset."""
    starts = defaultdict(set)  # span label -> relation types it starts
    for rel in schema.get("relation_types", []):
        for label in rel.get("from", []):
            starts[label].add(rel["name"])
    linked = {(rtype, a) for rtype, a, _ in links}
    return sorted((key for key in set(spans) if starts.get(key[0]) and not any((rtype, key) in linked for rtype in starts[key[0]])),
                  key=lambda k: (k[1], k[2], k[0]))


def left_unlinked(schema: dict[str, Any], spans: Iterable[SpanKey], links: Iterable[LinkKey], linked_in: Iterable[SpanKey],
                  untouched: Iterable[LinkKey]) -> list[SpanKey]:
    """The gold quotes that saving a sentence's `spans` and `links` leaves linked to nothing: its own, and the gold
    quotes of other sentences with a gold link into it (`linked_in`), which keep only the links chosen here and
    those with no end in the sentence (`untouched`, which the save leaves alone). The page warns with it before
    the save, and the save says the same after it."""
    return unlinked(schema, {*spans, *linked_in}, [*links, *untouched])
