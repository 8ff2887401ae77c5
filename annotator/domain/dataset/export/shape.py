"""The records of each unit, shaped from the batches load.py reads (see the package doc and annotator/schemas/).

Labels, spans, relations, their origins and timestamps are spelled by records.py, as in the API.
The sentence unit's own shapes are here: an annotator's entry on a sentence (the label's fields
without the sentence, with the spans and relations on it) and a span's piece in a sentence
(_span_piece); so is the article unit's `suggestions` object (_article_suggestions).
"""
from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy.orm import Session

from annotator.domain.dataset.export import article_labels as article_level
from annotator.domain.dataset.export.load import BATCH_SIZE, Batch, batches
from annotator.domain.dataset.export.options import NO_FILTERS, UNITS, ExportError, Filters
from annotator.domain.records import label_json, origin_json, relation_json, span_json, timestamp

# The same three values on most rows ('manual', None, None): spell each combination once (never mutated).
_origin = lru_cache(maxsize=256)(origin_json)
# A sentence-unit entry without a label (the annotator only marked spans there) has no label origin either.
_NO_LABEL_ORIGIN = {"origin": None, "suggester": None, "suggester_version": None}


def iter_records(
    session: Session,
    project_id: int,
    unit: str = "sentence",
    filters: Filters = NO_FILTERS,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict[str, Any]]:
    """Export records of one unit, in article id order; `progress(n)` after each batch of n articles.

    id_range (after, last): only articles with after < id <= last (last None: no bound),
    so that several processes can each export a part (see load.article_ranges).
    """
    if unit == "article":
        return iter_articles(session, project_id, filters, batch_size, progress, id_range)
    if unit == "sentence":
        return iter_sentences(session, project_id, filters, batch_size, progress, id_range)
    raise ExportError(f"unknown unit {unit!r} (choose from {', '.join(UNITS)})")


# ---------------------------------------------------------------- the article unit


def iter_articles(
    session: Session,
    project_id: int,
    filters: Filters = NO_FILTERS,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict[str, Any]]:
    """One lossless record per article (see the package doc and article.schema.json)."""
    wanted = frozenset(filters.labels)
    rule = article_level.article_label_rule(session, project_id)
    for batch in batches(session, project_id, filters.annotators, batch_size, id_range, with_suggestions=True):
        for article in batch.articles:
            record = _article_record(batch, article, filters, wanted, rule)
            if record is not None:
                yield record
        if progress is not None:
            progress(len(batch.articles))
        del batch, article, record  # one batch in memory at a time: not this one while the next loads


def _article_record(
    batch: Batch, article: tuple, filters: Filters, wanted: frozenset[str], rule: article_level.ArticleLabelRule | None = None
) -> dict[str, Any] | None:
    """The article's record, or None when the filters leave it out."""
    article_id, external_id, title, text, meta = article
    labels = batch.labels.get(article_id, ())
    gold_labels = batch.gold_labels.get(article_id, {})
    spans = batch.spans.get(article_id, ())
    chosen = article_level.by_annotator(batch.article_labels.get(article_id, ()), rule, filters.annotators) if rule else {}
    rows = batch.article_labels.get(article_id, ())
    article_gold = article_level.gold(rows, rule, batch.gold_article_labels.get(article_id, {})) if rule else {}
    if filters.gold_only and not gold_labels and not article_gold:  # gold of the article's labels alone counts too
        return None
    if filters.annotators and not labels and not spans and not chosen:
        return None
    if wanted and not _any_sentence_selected(labels, gold_labels, wanted):
        return None
    record = {
        "id": external_id,
        "title": title,
        "text": text,
        "meta": meta or {},
        "sentences": [{"index": index, "start": start, "end": end} for index, start, end in batch.sentences.get(article_id, ())],
        "annotations": _article_annotations(labels, spans, batch.relations.get(article_id, ()), text),
        "gold": _article_gold(batch, article_id, text, gold_labels),
        "suggestions": _article_suggestions(batch.suggestions.get(article_id, ()), text),
    }
    if rule is not None:
        _add_article_labels(record, chosen, article_gold)
    return record


def _add_article_labels(record: dict[str, Any], chosen: dict[str, dict[str, Any]], gold: dict[str, dict[str, Any]]) -> None:
    """Each annotator's `article_labels` (an annotator with only those gets an entry of their own) and the gold's."""
    entries = {entry["annotator"]: entry for entry in record["annotations"]}
    for name in chosen:
        if name not in entries:
            entries[name] = {"annotator": name, "labels": [], "spans": [], "relations": []}
    for name, entry in entries.items():
        entry["article_labels"] = chosen.get(name, {})
    record["annotations"] = [entries[name] for name in sorted(entries)]
    record["gold"]["article_labels"] = gold


def _article_annotations(labels: Iterable[tuple], spans: Iterable[tuple], relations: Iterable[tuple], text: str) -> list[dict[str, Any]]:
    """Each annotator's labels, spans and relations, annotators by name, each list in a content order."""
    by_user: dict[str, dict[str, Any]] = {}
    for index, user, label, seconds, version, updated_at, needs_review, *origin in labels:
        entry = by_user.get(user) or by_user.setdefault(user, {"annotator": user, "labels": [], "spans": [], "relations": []})
        entry["labels"].append({**label_json(index, label, seconds, version, None, updated_at, needs_review), **_origin(*origin)})
    uid_of: dict[int, str] = {}
    for span_id, uid, user, label, start, end, *origin in spans:
        uid_of[span_id] = uid
        entry = by_user.get(user) or by_user.setdefault(user, {"annotator": user, "labels": [], "spans": [], "relations": []})
        entry["spans"].append({**span_json(uid, label, start, end, text), **_origin(*origin)})
    for uid, user, rel_type, source, target, *origin in relations:
        entry = by_user.get(user) or by_user.setdefault(user, {"annotator": user, "labels": [], "spans": [], "relations": []})
        entry["relations"].append({**relation_json(uid, rel_type, uid_of[source], uid_of[target]), **_origin(*origin)})
    annotations = []
    for name in sorted(by_user):
        entry = by_user[name]
        entry["labels"].sort(key=_by_sentence)
        _sort_spans_and_relations(entry["spans"], entry["relations"])
        annotations.append(entry)
    return annotations


def _by_sentence(label: dict[str, Any]) -> int:
    return label["sentence"]


def _any_sentence_selected(labels: Iterable[tuple], gold_labels: dict[int, tuple], wanted: frozenset[str]) -> bool:
    if any(g[0] in wanted for g in gold_labels.values()):
        return True
    return any(row[2] in wanted and row[0] not in gold_labels for row in labels)


def _article_gold(batch: Batch, article_id: int, text: str, gold_labels: dict[int, tuple]) -> dict[str, list]:
    uid_of: dict[int, str] = {}
    spans = []
    for span_id, uid, label, start, end, provenance, reviewer, updated_at in batch.gold_spans.get(article_id, ()):
        uid_of[span_id] = uid
        span = span_json(uid, label, start, end, text)
        span["provenance"], span["reviewer"], span["updated_at"] = provenance, reviewer, timestamp(updated_at)
        spans.append(span)
    relations = []
    for uid, rel_type, source, target, provenance, reviewer in batch.gold_relations.get(article_id, ()):
        relation = relation_json(uid, rel_type, uid_of[source], uid_of[target])
        relation["provenance"], relation["reviewer"] = provenance, reviewer
        relations.append(relation)
    _sort_spans_and_relations(spans, relations)
    return {
        "labels": [
            {"sentence": index, "label": label, "provenance": provenance, "reviewer": reviewer, "reason": reason,
             "updated_at": timestamp(updated_at)}
            for index, (label, provenance, reviewer, reason, updated_at) in sorted(gold_labels.items())
        ],
        "spans": spans,
        "relations": relations,
    }


def _article_suggestions(rows: Iterable[tuple], text: str) -> dict[str, Any]:
    """What suggesters propose for the article (nobody's annotation), each item naming its suggester and version.

    The top-level suggester / suggester_version are the one suggester's (and its one version's) when a
    single one made every item, else null (none, or several: each item still says whose it is).
    """
    out: dict[str, Any] = {"suggester": None, "suggester_version": None, "labels": [], "spans": [], "relations": []}
    names: set[str] = set()
    versions: set[tuple[str, str]] = set()
    for kind, uid, suggester, version, label, index, start, end, from_uid, to_uid, score in rows:
        names.add(suggester)
        versions.add((suggester, version))
        whose = {"score": score, "suggester": suggester, "suggester_version": version}
        if kind == "label":
            out["labels"].append({"sentence": index, "label": label, **whose})
        elif kind == "span":
            out["spans"].append({**span_json(uid, label, start, end, text), **whose})
        else:
            out["relations"].append({**relation_json(uid, label, from_uid, to_uid), **whose})
    if len(names) == 1:
        out["suggester"] = next(iter(names))
        if len(versions) == 1:
            out["suggester_version"] = next(iter(versions))[1]
    out["labels"].sort(key=_suggested_label_key)
    _sort_spans_and_relations(out["spans"], out["relations"])
    return out


def _suggested_label_key(s: dict[str, Any]) -> tuple:
    return (s["sentence"], s["label"], s["suggester"], s["suggester_version"])


# ---------------------------------------------------------------- the sentence unit


def iter_sentences(
    session: Session,
    project_id: int,
    filters: Filters = NO_FILTERS,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict[str, Any]]:
    """One training record per sentence (see the package doc and sentence.schema.json)."""
    wanted = frozenset(filters.labels)
    for batch in batches(session, project_id, filters.annotators, batch_size, id_range):
        for article in batch.articles:
            yield from _article_sentences(batch, article, filters, wanted)
        if progress is not None:
            progress(len(batch.articles))
        del batch, article  # one batch in memory at a time: not this one while the next loads


class _Layout:
    """An article's sentences, by position: where a sentence index sits, and which sentences a span overlaps."""

    __slots__ = ("sentences", "n", "position", "starts", "ends")

    def __init__(self, sentences: list[tuple[int, int, int]]):
        self.sentences = sentences
        self.n = n = len(sentences)
        # Sentence indexes are 0..n-1 in order; map them to positions if some were ever skipped.
        self.position = None if sentences[-1][0] == n - 1 else {index: i for i, (index, _, _) in enumerate(sentences)}
        self.starts = [start for _, start, _ in sentences]
        self.ends = [end for _, _, end in sentences]

    def covered(self, start: int, end: int) -> range:
        """Positions of the sentences a span overlaps."""
        starts, n = self.starts, self.n
        i = bisect_right(starts, start) - 1
        if i < 0 or self.ends[i] <= start:
            i += 1
        j = i
        while j < n and starts[j] < end:
            j += 1
        return range(i, j)


def _article_sentences(batch: Batch, article: tuple, filters: Filters, wanted: frozenset[str]) -> Iterator[dict[str, Any]]:
    article_id, external_id, _title, text, _meta = article
    sentences = batch.sentences.get(article_id)
    if not sentences:
        return
    layout = _Layout(sentences)
    entries = _annotator_entries(batch, article_id, text, layout)
    gold_spans, gold_relations = _gold_by_sentence(batch, article_id, text, layout)
    gold_labels = batch.gold_labels.get(article_id, {})
    gold_only, selected_users = filters.gold_only, bool(filters.annotators)
    for i, (index, start, end) in enumerate(sentences):
        gold = gold_labels.get(index)
        if gold_only and gold is None:
            continue
        per = entries[i]
        if selected_users and not per:
            continue
        if wanted and not _label_selected(gold, per, wanted):
            continue
        spans = gold_spans[i] or []
        relations = gold_relations[i] or []
        if len(spans) > 1 or len(relations) > 1:
            _sort_spans_and_relations(spans, relations)
        yield {
            "id": f"{external_id}:{index}",
            "article_id": external_id,
            "sentence_index": index,
            "text": text[start:end],
            "start": start,
            "end": end,
            "label": gold[0] if gold is not None else None,
            "label_source": gold[1] if gold is not None else None,
            "reviewer": gold[2] if gold is not None else None,
            "spans": spans,
            "relations": relations,
            "annotations": _sorted_entries(per),
        }


def _label_selected(gold: tuple | None, per: dict[str, dict[str, Any]] | None, wanted: frozenset[str]) -> bool:
    """The --labels filter: the gold label when there is one, else any annotator's."""
    if gold is not None:
        return gold[0] in wanted
    return bool(per) and any(e["label"] in wanted for e in per.values())


def _sorted_entries(per: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A sentence's annotator entries by annotator name, their spans and relations in a content order."""
    if not per:
        return []
    annotations = [per[name] for name in sorted(per)] if len(per) > 1 else list(per.values())
    for entry in annotations:
        if len(entry["spans"]) > 1 or len(entry["relations"]) > 1:
            _sort_spans_and_relations(entry["spans"], entry["relations"])
    return annotations


def _annotator_entries(batch: Batch, article_id: int, text: str, layout: _Layout) -> list[dict[str, dict[str, Any]] | None]:
    """Per sentence position, annotator -> their entry there: label, and the spans and relations it shows."""
    entries: list[dict[str, dict[str, Any]] | None] = [None] * layout.n
    position = layout.position
    for index, user, label, seconds, version, updated_at, needs_review, origin, suggester, suggester_version in batch.labels.get(article_id, ()):
        i = index if position is None else position[index]
        per = entries[i]
        if per is None:
            per = entries[i] = {}
        per[user] = {
            "annotator": user,
            "label": label,
            "seconds": seconds,
            "guidelines_version": version,
            "updated_at": timestamp(updated_at),
            "needs_review": bool(needs_review),
            **_origin(origin, suggester, suggester_version),
            "spans": [],
            "relations": [],
        }
    starts, ends = layout.starts, layout.ends
    span_where: dict[int, tuple[str, range]] = {}
    for span_id, uid, user, label, start, end, *origin in batch.spans.get(article_id, ()):
        where = layout.covered(start, end)
        span_where[span_id] = (uid, where)
        spelled = _origin(*origin)
        for i in where:
            piece = _span_piece(uid, label, start, end, text, starts[i], ends[i])
            piece.update(spelled)
            _entry_for(entries, i, user)["spans"].append(piece)
    for uid, user, rel_type, source, target, *origin in batch.relations.get(article_id, ()):
        rel, places = _sentence_relation(uid, rel_type, source, target, span_where, layout.sentences)
        rel.update(_origin(*origin))
        for i in places:
            _entry_for(entries, i, user)["relations"].append(rel)
    return entries


def _entry_for(entries: list[dict[str, dict[str, Any]] | None], i: int, user: str) -> dict[str, Any]:
    """The annotator's entry on sentence position i, made without a label when they only marked spans there."""
    per = entries[i]
    if per is None:
        per = entries[i] = {}
    entry = per.get(user)
    if entry is None:
        entry = per[user] = {
            "annotator": user,
            "label": None,
            "seconds": None,
            "guidelines_version": None,
            "updated_at": None,
            "needs_review": False,
            **_NO_LABEL_ORIGIN,
            "spans": [],
            "relations": [],
        }
    return entry


def _gold_by_sentence(batch: Batch, article_id: int, text: str, layout: _Layout) -> tuple[list[list | None], list[list | None]]:
    """Per sentence position, the gold spans' pieces and the gold relations it shows (None: none)."""
    gold_spans: list[list[dict[str, Any]] | None] = [None] * layout.n
    gold_relations: list[list[dict[str, Any]] | None] = [None] * layout.n
    starts, ends = layout.starts, layout.ends
    gold_where: dict[int, tuple[str, range]] = {}
    for span_id, uid, label, start, end, provenance, reviewer, _updated in batch.gold_spans.get(article_id, ()):
        where = layout.covered(start, end)
        gold_where[span_id] = (uid, where)
        for i in where:
            span = _span_piece(uid, label, start, end, text, starts[i], ends[i])
            span["provenance"] = provenance
            span["reviewer"] = reviewer
            bucket = gold_spans[i]
            if bucket is None:
                bucket = gold_spans[i] = []
            bucket.append(span)
    for uid, rel_type, source, target, provenance, reviewer in batch.gold_relations.get(article_id, ()):
        rel, places = _sentence_relation(uid, rel_type, source, target, gold_where, layout.sentences)
        rel["provenance"] = provenance
        rel["reviewer"] = reviewer
        for i in places:
            bucket = gold_relations[i]
            if bucket is None:
                bucket = gold_relations[i] = []
            bucket.append(rel)
    return gold_spans, gold_relations


def _span_piece(uid: str, label: str, start: int, end: int, text: str, s_start: int, s_end: int) -> dict[str, Any]:
    """A span as seen from one sentence: its piece in that sentence (the span clipped to it).

    start/end are the piece relative to the sentence, article_start/article_end
    the same piece in the article, span_start/span_end the whole span in the
    article, and clipped says whether the piece is less than the whole span.
    A span that crosses a sentence boundary (or runs into the whitespace
    between sentences) has a piece, under the same id, in each sentence it
    overlaps.
    """
    clipped_start = start if start > s_start else s_start
    clipped_end = end if end < s_end else s_end
    return {
        "id": uid,
        "label": label,
        "start": clipped_start - s_start,
        "end": clipped_end - s_start,
        "article_start": clipped_start,
        "article_end": clipped_end,
        "span_start": start,
        "span_end": end,
        "clipped": clipped_start != start or clipped_end != end,
        "text": text[clipped_start:clipped_end],
    }


def _sentence_relation(
    uid: str, rel_type: str, source: int, target: int, where: dict[int, tuple[str, range]], sentences: list[tuple[int, int, int]]
) -> tuple[dict[str, Any], range | list[int]]:
    """A relation naming both ends' span ids and the sentence each end starts in, and where it is listed:
    every sentence either end overlaps (an end in whitespace only, overlapping no sentence, names null)."""
    from_uid, from_places = where[source]
    to_uid, to_places = where[target]
    rel = relation_json(uid, rel_type, from_uid, to_uid)
    rel["from_sentence"] = sentences[from_places[0]][0] if from_places else None
    rel["to_sentence"] = sentences[to_places[0]][0] if to_places else None
    if from_places == to_places:
        return rel, from_places
    return rel, sorted(set(from_places) | set(to_places))


# ---------------------------------------------------------------- order


def _sort_spans_and_relations(spans: list[dict[str, Any]], relations: list[dict[str, Any]]) -> None:
    """A content order (position, then label and id), never a database order."""
    if len(spans) > 1:
        if "span_start" in spans[0]:
            spans.sort(key=_piece_key)
        else:
            spans.sort(key=_span_key)
    if len(relations) > 1:
        relations.sort(key=_relation_key)


def _span_key(s: dict[str, Any]) -> tuple:
    return (s["start"], s["end"], s["label"], s["id"])


def _piece_key(s: dict[str, Any]) -> tuple:
    return (s["span_start"], s["span_end"], s["label"], s["id"])


def _relation_key(r: dict[str, Any]) -> tuple:
    return (r["from"], r["to"], r["type"], r["id"])
