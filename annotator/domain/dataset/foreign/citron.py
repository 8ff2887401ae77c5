"""BBC Citron's JSON documents (github.com/bbc/citron, docs/data_format.md) as article-format records.

A Citron document is ``{"text", "quotes": [{"cue", "sources", "contents"}], "coreference_groups"}``,
each span ``{"start", "end", "text"}`` with character offsets (Python's, so code points).  A file
is one document (Citron's own files), or JSONL with one per line (`annotator export --format
citron`, whose lines also carry ``id``, ``annotator``, ``title`` and ``meta``; other keys go
into meta).  Consecutive lines with the same ``id`` are one article with several annotators.

Each quote's contents become QUOTE spans, its sources SOURCE spans, its cue a CUE span, and
every content is attributed_to every source of its quote.  The same span in several quotes (a
source quoted twice) is one span.  The annotator is the document's ``annotator``, else --as
NAME.  A document's ``article_labels`` (``{group: value or [values]}``, which `annotator export
--format citron` adds; Citron has no document-level labels) are that annotator's article labels,
checked against the schema's groups; without groups in the schema they are skipped and reported.
Coreferences are not imported (counted as skipped).
"""
from __future__ import annotations

from typing import Any, Iterator

from annotator.domain import labelschema
from annotator.domain.dataset.foreign.regions import Bad, Offsets, article_record, derived_uid, external_id
from annotator.domain.dataset.foreign.report import Skipped
from annotator.domain.dataset.foreign.sniff import looks_like
from annotator.domain.dataset.ingest import IngestError, jsonl_objects, keys_hint
from annotator.stats import strict_json

QUOTE, SOURCE, CUE, ATTRIBUTED_TO = "QUOTE", "SOURCE", "CUE", "attributed_to"
_NOT_META = ("id", "annotator", "title", "text", "quotes", "coreference_groups", "meta", "article_labels")


def citron_records(
    text: str, file: str, annotator: str, offsets: str = "auto", skipped: Skipped | None = None, schema: dict[str, Any] | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Article-format records from Citron documents; `annotator` names documents without one; `schema`: the
    project's, whose article label groups take the documents' article labels."""
    skipped = skipped if skipped is not None else Skipped()
    record: dict[str, Any] | None = None
    first = 0
    for n, (line, doc) in enumerate(_documents(text, file), start=1):
        try:
            article_id, block, title, doc_text, meta = _document(doc, n, file, annotator, offsets, skipped, schema or {})
        except Bad as exc:
            raise IngestError(file, line, str(exc)) from None
        block["_line"] = line  # the checks against the schema name this document's line, not the article's first
        if record is not None and record["id"] == article_id:
            if record["text"] != doc_text:
                raise IngestError(file, line, f"article {article_id!r} has another text than on line {first}")
            twice = [other["_line"] for other in record["annotations"] if other["annotator"] == block["annotator"]]
            if twice:
                raise IngestError(file, line, f"article {article_id!r} has a document by {block['annotator']!r} on line {twice[0]} already")
            record["annotations"].append(block)
            continue
        if record is not None:
            yield first, record
        record, first = article_record(article_id, title, doc_text, meta, [block]), line
    if record is not None:
        yield first, record


def _documents(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """One pretty-printed document (Citron's files), else one per line."""
    stripped = text.lstrip()
    if stripped.startswith("{") and "\n" in stripped.rstrip():
        try:
            return iter([(1 + text[: len(text) - len(stripped)].count("\n"), strict_json.loads(text))])
        except ValueError:  # not one object: JSONL, which names the bad line
            pass
    return jsonl_objects(text, file)


def _document(
    doc: Any, n: int, file: str, annotator: str, offsets: str, skipped: Skipped, schema: dict[str, Any]
) -> tuple[str, dict[str, Any], Any, str, dict]:
    """(article id, the annotator's block, title, text, meta) of one document."""
    hint = looks_like(doc)
    if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
        where = keys_hint("text", doc, "document") if isinstance(doc, dict) else ""
        raise Bad(f"expected a Citron document with 'text' and 'quotes'; this looks like {hint}" if hint else
                  f"expected a Citron document: a JSON object with 'text' and 'quotes'{where}")
    if hint and "Citron" not in hint:
        raise Bad(f"this looks like {hint}")
    name = doc.get("annotator", annotator)
    if not isinstance(name, str) or not name:
        raise Bad("the document names no annotator: say --as NAME")
    text = doc["text"]
    article_id = external_id(doc.get("id"), file, n)
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    meta = {**meta, **{k: v for k, v in doc.items() if k not in _NOT_META}}
    quotes = _list(doc.get("quotes"), "quotes")
    block = _block(quotes, Offsets(text, offsets, "code-points"), name, article_id, skipped)
    groups = _list(doc.get("coreference_groups"), "coreference_groups")
    if groups:
        skipped.add(name, "coreference group(s): not imported", len(groups))
    chosen = doc.get("article_labels")
    if chosen and not labelschema.article_groups(schema):
        skipped.add(name, "article label(s): the schema has no article label groups", len(chosen) if isinstance(chosen, dict) else 1)
    elif chosen is not None:
        block["article_labels"] = chosen  # checked against the schema as the article format's are
    return article_id, block, doc.get("title"), text, meta


def _block(quotes: list[Any], reader: Offsets, name: str, article_id: str, skipped: Skipped) -> dict[str, Any]:
    spans: dict[tuple[str, int, int], dict[str, Any]] = {}
    relations: dict[str, dict[str, Any]] = {}

    def span(label: str, raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise Bad(f"{where} must be an object with start, end, text")
        start, end = reader.read(raw.get("start"), raw.get("end"), raw.get("text"), where)
        key = (label, start, end)
        if key not in spans:  # "_from": the schema's checks name the span by the Citron field it came from
            spans[key] = {"id": derived_uid(name, article_id, f"{label}\x00{start}\x00{end}"), "label": label, "start": start, "end": end,
                          "_from": where}
        return spans[key]

    for i, quote in enumerate(quotes):
        where = f"quotes[{i}]"
        if not isinstance(quote, dict):
            raise Bad(f"{where} must be an object with cue, sources, contents")
        if quote.get("cue") is not None:
            span(CUE, quote["cue"], f"{where}.cue")
        found = {}
        for part in ("sources", "contents"):
            items = _list(quote.get(part), f"{where}.{part}")
            found[part] = [span(SOURCE if part == "sources" else QUOTE, item, f"{where}.{part}[{k}]") for k, item in enumerate(items)]
        coreferences = _list(quote.get("coreferences"), f"{where}.coreferences")
        if coreferences:
            skipped.add(name, "quote coreference(s): not imported", len(coreferences))
        for content in found["contents"]:
            for source in found["sources"]:
                uid = derived_uid(name, article_id, f"{ATTRIBUTED_TO}\x00{content['id']}\x00{source['id']}")
                relations[uid] = {"id": uid, "type": ATTRIBUTED_TO, "from": content["id"], "to": source["id"], "_from": where}
    # "_at" "": the block is the document, so the schema's checks name its own fields (article_labels.stance), not the record's
    return {"annotator": name, "labels": [], "spans": list(spans.values()), "relations": list(relations.values()), "_at": ""}


def _list(value: Any, where: str) -> list[Any]:
    """A list the document may leave out (or null)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Bad(f"{where} must be a list")
    return value
