"""An exported article as BBC Citron documents: one per annotator (github.com/bbc/citron, docs/data_format.md).

A Citron document is ``{"text", "quotes": [{"cue", "sources", "contents"}]}``, each span
``{"start", "end", "text"}`` with character (code-point) offsets, as here.  Lines also carry
``id``, ``annotator``, ``title`` and ``meta``, and in a project with article label groups the
annotator's ``article_labels`` (``{group: value or [values]}``, the article unit's shape; Citron
has no document-level labels): Citron ignores these keys, `import-annotations --format citron`
reads them back.

Our QUOTE spans are Citron's contents, SOURCE spans its sources, CUE spans its cues, and the
attributed_to links say which sources a content has.  Citron's quote has one cue, which our
annotations do not link: each QUOTE takes the nearest CUE (in characters; first every CUE to one
quote, nearest pairs first, then a quote left over shares its nearest CUE), and QUOTEs with the
same cue and the same sources are one Citron quote with several contents (a quote split around
"she said").  A QUOTE with no CUE in the article has ``"cue": null`` (Citron's trainer needs one).

Not in the format, so left out and counted for the export's report: sentence labels, spans of
other labels, other relation types, SOURCE spans no QUOTE is attributed to and CUE spans no QUOTE
took.  Everything else comes back from an import as it was: the spans, and every QUOTE linked
to each of its sources.
"""
from __future__ import annotations

from typing import Any

from annotator.domain.dataset.foreign.report import Skipped

QUOTE, SOURCE, CUE, ATTRIBUTED_TO = "QUOTE", "SOURCE", "CUE", "attributed_to"


def document(record: dict[str, Any], entry: dict[str, Any], left_out: Skipped) -> dict[str, Any]:
    """The Citron document of one annotator's entry on an article."""
    who = entry["annotator"]
    by_id = {span["id"]: span for span in entry["spans"]}
    quotes = [s for s in entry["spans"] if s["label"] == QUOTE]
    cues = [s for s in entry["spans"] if s["label"] == CUE]
    sources_of: dict[str, set[str]] = {q["id"]: set() for q in quotes}
    for rel in entry["relations"]:
        if rel["type"] == ATTRIBUTED_TO and rel["from"] in sources_of and by_id[rel["to"]]["label"] == SOURCE:
            sources_of[rel["from"]].add(rel["to"])
        else:
            left_out.add(who, f"relation(s) other than {ATTRIBUTED_TO} from a {QUOTE} to a {SOURCE}")
    cue_of = nearest_cues(quotes, cues)
    groups: dict[tuple[str | None, tuple[str, ...]], list[dict[str, Any]]] = {}
    for quote in quotes:
        key = (cue_of.get(quote["id"]), tuple(sorted(sources_of[quote["id"]], key=lambda uid: _place(by_id[uid]))))
        groups.setdefault(key, []).append(quote)
    citron_quotes = [
        {
            "cue": _span(by_id[cue]) if cue is not None else None,
            "sources": [_span(by_id[uid]) for uid in sources],
            "contents": [_span(q) for q in sorted(contents, key=_place)],
        }
        for (cue, sources), contents in groups.items()
    ]
    citron_quotes.sort(key=lambda q: (q["contents"][0]["start"], q["contents"][0]["end"]))
    _count_left_out(entry, who, sources_of, set(cue_of.values()), left_out)
    out: dict[str, Any] = {"id": record["id"], "annotator": who, "title": record["title"], "text": record["text"], "quotes": citron_quotes}
    if record["meta"]:
        out["meta"] = record["meta"]
    if "article_labels" in entry:  # the project has article label groups
        out["article_labels"] = entry["article_labels"]
    return out


def nearest_cues(quotes: list[dict[str, Any]], cues: list[dict[str, Any]]) -> dict[str, str]:
    """Quote id -> the id of its cue: every cue to one quote first (nearest pairs first), then the rest to their nearest."""
    pairs = sorted((_gap(q, c), _place(q), _place(c), q["id"], c["id"]) for q in quotes for c in cues)
    cue_of: dict[str, str] = {}
    taken: set[str] = set()
    for *_, quote, cue in pairs:
        if quote not in cue_of and cue not in taken:
            cue_of[quote] = cue
            taken.add(cue)
    for *_, quote, cue in pairs:
        cue_of.setdefault(quote, cue)
    return cue_of


def _count_left_out(entry: dict[str, Any], who: str, sources_of: dict[str, set[str]], used_cues: set[str], left_out: Skipped) -> None:
    linked = set().union(*sources_of.values()) if sources_of else set()
    for span in entry["spans"]:
        if span["label"] == SOURCE and span["id"] not in linked:
            left_out.add(who, f"{SOURCE} span(s) no {QUOTE} is attributed to")
        elif span["label"] == CUE and span["id"] not in used_cues:
            left_out.add(who, f"{CUE} span(s) no {QUOTE} took as its cue")
        elif span["label"] not in (QUOTE, SOURCE, CUE):
            left_out.add(who, f"span(s) labelled other than {QUOTE}, {SOURCE}, {CUE}")
    if entry["labels"]:
        left_out.add(who, "sentence label(s): Citron has no place for them", len(entry["labels"]))


def _gap(a: dict[str, Any], b: dict[str, Any]) -> int:
    return max(0, a["start"] - b["end"], b["start"] - a["end"])


def _place(span: dict[str, Any]) -> tuple[int, int]:
    return (span["start"], span["end"])


def _span(span: dict[str, Any]) -> dict[str, Any]:
    return {"start": span["start"], "end": span["end"], "text": span["text"]}
