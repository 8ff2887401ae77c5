"""The dataset: a project's articles and annotations as JSON records, streamed.

Two units, each described by a JSON Schema shipped in annotator/schemas/:

* ``article`` (lossless, canonical): one record per article with its text,
  sentences, every annotator's labels, spans and relations, and gold.
  ``annotator import-annotations`` reads it back (see import_annotations.py).
* ``sentence`` (for training): one record per sentence with its gold label,
  gold spans and relations (offsets relative to the sentence and in the
  article) and every annotator's label, spans and relations for it.

Offsets are code points into the article's text: ``text[start:end] ==
span["text"]`` for every span (in the sentence unit, into the sentence's
text).  Timestamps are ISO 8601 UTC ending in ``Z``.

Records stream in article id order, in batches of BATCH_SIZE articles, each
batch loaded with one SQLAlchemy Core query per table (no ORM objects, no
query per article), so memory stays flat whatever the project's size.

Not exported (so not carried through an export -> import round trip):
database ids, an annotation's edit counter (``version``), the creation times
of articles, spans and relations, and the project's settings.

Splits (``--split train=0.8,dev=0.1,test=0.1 --seed 13``) are by article: an
article's split is picked by a seeded SHA-256 hash of its external id, so it
needs no second pass, never depends on the other articles (adding articles
never moves an existing one to another split) and is the same for the same
seed on any machine.  The proportions are therefore met in expectation, not
exactly.
"""
from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from . import labelschema
from .models import (
    Annotation,
    Article,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Project,
    Relation,
    Sentence,
    Span,
    User,
)

UNITS = ("article", "sentence")
DEFAULT_UNIT = "sentence"
BATCH_SIZE = 500
SPLIT_TOLERANCE = 1e-9
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class ExportError(ValueError):
    """Export options that cannot be used; the message says why."""


@dataclass(frozen=True)
class Filters:
    """Which records to export.

    gold_only: only sentences with a gold label (article unit: articles with any).
    annotators: only these annotators' annotations, and only the sentences
        (articles) where one of them labelled or marked something.
    labels: only sentences whose label is in the set: the gold label when there
        is one, otherwise any (selected) annotator's label.  In the article
        unit, articles with at least one such sentence, exported whole.
    """

    gold_only: bool = False
    annotators: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


# ---------------------------------------------------------------- options


def check_filters(session: Session, project: Project, filters: Filters) -> Filters:
    """Raise ExportError for a label the schema lacks or a user who does not exist."""
    known = labelschema.names(project.label_schema, "sentence_labels")
    unknown = [label for label in filters.labels if label not in known]
    if unknown:
        raise ExportError(f"unknown label(s) {', '.join(unknown)} (project has: {', '.join(known)})")
    if filters.annotators:
        found = set(session.scalars(select(User.name).where(User.name.in_(filters.annotators))))
        missing = [name for name in filters.annotators if name not in found]
        if missing:
            raise ExportError(f"no user named {', '.join(map(repr, missing))}")
    return filters


def parse_labels(value: str | None) -> tuple[str, ...]:
    """'CFS,UFS' -> ('CFS', 'UFS'); empty items are an error."""
    if value is None:
        return ()
    items = [item.strip() for item in value.split(",")]
    if not value.strip() or any(not item for item in items):
        raise ExportError(f"labels must be a comma-separated list of label names (got {value!r})")
    return tuple(dict.fromkeys(items))


def parse_split(spec: str) -> list[tuple[str, float]]:
    """'train=0.8,dev=0.1,test=0.1' -> [('train', 0.8), ...]; proportions > 0, summing to 1."""
    parts: list[tuple[str, float]] = []
    for item in spec.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not _SPLIT_NAME.match(name):
            raise ExportError(f"split {item.strip()!r}: expected NAME=PROPORTION, NAME of letters, digits, '_' or '-'")
        try:
            share = float(value)
        except ValueError:
            raise ExportError(f"split {name!r}: {value.strip()!r} is not a number") from None
        if not share > 0 or share != share or share == float("inf"):
            raise ExportError(f"split {name!r}: the proportion must be positive (got {value.strip()})")
        if any(name == other for other, _ in parts):
            raise ExportError(f"split {name!r} is named twice")
        parts.append((name, share))
    total = sum(share for _, share in parts)
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        raise ExportError(f"split proportions must sum to 1 (they sum to {total:.12g})")
    return parts


def split_of(external_id: str, splits: Sequence[tuple[str, float]], seed: int) -> str:
    """The split an article belongs to: a seeded hash of its id, mapped onto the proportions."""
    digest = hashlib.sha256(f"{seed}\x00{external_id}".encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    bound = 0.0
    for name, share in splits:
        bound += share
        if point < bound:
            return name
    return splits[-1][0]  # the float sum may fall a hair short of 1


def schema(unit: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a unit's records."""
    if unit not in UNITS:
        raise ExportError(f"unknown unit {unit!r} (choose from {', '.join(UNITS)})")
    return json.loads((files("annotator") / "schemas" / f"{unit}.schema.json").read_text(encoding="utf-8"))


def count_articles(session: Session, project_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0


# ---------------------------------------------------------------- records


def iter_records(
    session: Session,
    project_id: int,
    unit: str = DEFAULT_UNIT,
    filters: Filters = Filters(),
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Export records of one unit, in article id order; `progress(n)` after each batch of n articles."""
    if unit == "article":
        return iter_articles(session, project_id, filters, batch_size, progress)
    if unit == "sentence":
        return iter_sentences(session, project_id, filters, batch_size, progress)
    raise ExportError(f"unknown unit {unit!r} (choose from {', '.join(UNITS)})")


def iter_articles(
    session: Session,
    project_id: int,
    filters: Filters = Filters(),
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One lossless record per article (see the module doc and article.schema.json)."""
    wanted = frozenset(filters.labels)
    for batch in _batches(session, project_id, filters, batch_size):
        for art in batch.articles:
            article_id = art.id
            sentences = batch.sentences.get(article_id, [])
            labels = batch.labels.get(article_id, [])
            gold_labels = batch.gold_labels.get(article_id, {})
            spans = batch.spans.get(article_id, [])
            if filters.gold_only and not gold_labels:
                continue
            if filters.annotators and not labels and not spans:
                continue
            if wanted and not _any_sentence_selected(labels, gold_labels, wanted):
                continue
            text = art.text
            by_user: dict[str, dict[str, list]] = {}

            def block(name: str) -> dict[str, list]:
                entry = by_user.get(name)
                if entry is None:
                    entry = by_user[name] = {"labels": [], "spans": [], "relations": []}
                return entry

            for row in labels:
                block(row.user)["labels"].append(
                    {
                        "sentence": row.index,
                        "label": row.label,
                        "seconds": row.seconds,
                        "guidelines_version": row.guidelines_version,
                        "updated_at": iso(row.updated_at),
                        "needs_review": bool(row.needs_review),
                    }
                )
            uid_of: dict[int, str] = {}
            for row in spans:
                uid_of[row.id] = row.uid
                block(row.user)["spans"].append(
                    {"id": row.uid, "label": row.label, "start": row.start, "end": row.end, "text": text[row.start : row.end]}
                )
            for row in batch.relations.get(article_id, []):
                block(row.user)["relations"].append(
                    {"id": row.uid, "type": row.type, "from": uid_of[row.from_span_id], "to": uid_of[row.to_span_id]}
                )
            annotations = []
            for name in sorted(by_user):
                entry = by_user[name]
                entry["labels"].sort(key=lambda x: x["sentence"])
                _sort_spans_and_relations(entry["spans"], entry["relations"])
                annotations.append({"annotator": name, **entry})
            yield {
                "id": art.external_id,
                "title": art.title,
                "text": text,
                "meta": art.meta or {},
                "sentences": [{"index": index, "start": start, "end": end} for index, start, end in sentences],
                "annotations": annotations,
                "gold": _article_gold(batch, article_id, text, gold_labels),
            }
        if progress is not None:
            progress(len(batch.articles))


def iter_sentences(
    session: Session,
    project_id: int,
    filters: Filters = Filters(),
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """One training record per sentence (see the module doc and sentence.schema.json)."""
    wanted = frozenset(filters.labels)
    for batch in _batches(session, project_id, filters, batch_size):
        for art in batch.articles:
            yield from _article_sentences(batch, art, filters, wanted)
        if progress is not None:
            progress(len(batch.articles))


def _article_sentences(batch: "_Batch", art: Any, filters: Filters, wanted: frozenset[str]) -> Iterator[dict[str, Any]]:
    article_id = art.id
    sentences = batch.sentences.get(article_id)
    if not sentences:
        return
    text = art.text
    external_id = art.external_id
    starts = [start for _, start, _ in sentences]
    ends = [end for _, _, end in sentences]
    n = len(sentences)

    def covered(start: int, end: int) -> range:
        """Indexes of the sentences a span overlaps."""
        i = bisect_right(starts, start) - 1
        if i < 0 or ends[i] <= start:
            i += 1
        j = i
        while j < n and starts[j] < end:
            j += 1
        return range(i, j)

    # Per sentence: annotator -> entry; gold spans and relations.
    entries: list[dict[str, dict[str, Any]] | None] = [None] * n
    for row in batch.labels.get(article_id, ()):
        per = entries[row.index]
        if per is None:
            per = entries[row.index] = {}
        per[row.user] = {
            "annotator": row.user,
            "label": row.label,
            "seconds": row.seconds,
            "guidelines_version": row.guidelines_version,
            "updated_at": iso(row.updated_at),
            "needs_review": bool(row.needs_review),
            "spans": [],
            "relations": [],
        }

    def entry_for(index: int, user: str) -> dict[str, Any]:
        per = entries[index]
        if per is None:
            per = entries[index] = {}
        entry = per.get(user)
        if entry is None:
            entry = per[user] = {
                "annotator": user,
                "label": None,
                "seconds": None,
                "guidelines_version": None,
                "updated_at": None,
                "needs_review": False,
                "spans": [],
                "relations": [],
            }
        return entry

    span_where: dict[int, tuple[str, range]] = {}
    for row in batch.spans.get(article_id, ()):
        where = covered(row.start, row.end)
        span_where[row.id] = (row.uid, where)
        for i in where:
            _, s_start, s_end = sentences[i]
            entry_for(i, row.user)["spans"].append(_sentence_span(row, text, s_start, s_end))
    for row in batch.relations.get(article_id, ()):
        rel = _sentence_relation(row, span_where)
        if rel is None:
            continue
        for i in _relation_sentences(rel):
            entry_for(i, row.user)["relations"].append(rel)

    gold_labels = batch.gold_labels.get(article_id, {})
    gold_spans: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    gold_relations: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    gold_where: dict[int, tuple[str, range]] = {}
    for row in batch.gold_spans.get(article_id, ()):
        where = covered(row.start, row.end)
        gold_where[row.id] = (row.uid, where)
        for i in where:
            _, s_start, s_end = sentences[i]
            span = _sentence_span(row, text, s_start, s_end)
            span["provenance"] = row.provenance
            span["reviewer"] = row.reviewer
            gold_spans[i].append(span)
    for row in batch.gold_relations.get(article_id, ()):
        rel = _sentence_relation(row, gold_where)
        if rel is None:
            continue
        rel["provenance"] = row.provenance
        rel["reviewer"] = row.reviewer
        for i in _relation_sentences(rel):
            gold_relations[i].append(rel)

    for i, (index, start, end) in enumerate(sentences):
        gold = gold_labels.get(index)
        if filters.gold_only and gold is None:
            continue
        per = entries[i]
        if filters.annotators and not per:
            continue
        if wanted:
            if gold is not None:
                if gold.label not in wanted:
                    continue
            elif not per or not any(e["label"] in wanted for e in per.values()):
                continue
        annotations = [per[name] for name in sorted(per)] if per else []
        for entry in annotations:
            if len(entry["spans"]) > 1 or len(entry["relations"]) > 1:
                _sort_spans_and_relations(entry["spans"], entry["relations"])
        if len(gold_spans[i]) > 1 or len(gold_relations[i]) > 1:
            _sort_spans_and_relations(gold_spans[i], gold_relations[i])
        yield {
            "id": f"{external_id}:{index}",
            "article_id": external_id,
            "sentence_index": index,
            "text": text[start:end],
            "start": start,
            "end": end,
            "label": gold.label if gold is not None else None,
            "label_source": gold.provenance if gold is not None else None,
            "reviewer": gold.reviewer if gold is not None else None,
            "spans": gold_spans[i],
            "relations": gold_relations[i],
            "annotations": annotations,
        }


def _sentence_span(row: Any, text: str, s_start: int, s_end: int) -> dict[str, Any]:
    """A span as seen from one sentence: clipped to it, offsets relative to its start.

    article_start/article_end are the whole span in the article; a span that
    crosses a sentence boundary appears, clipped, in each sentence it overlaps.
    """
    start = row.start if row.start > s_start else s_start
    end = row.end if row.end < s_end else s_end
    return {
        "id": row.uid,
        "label": row.label,
        "start": start - s_start,
        "end": end - s_start,
        "article_start": row.start,
        "article_end": row.end,
        "text": text[start:end],
    }


def _sentence_relation(row: Any, where: dict[int, tuple[str, range]]) -> dict[str, Any] | None:
    """A relation naming both ends' span ids and the sentence each end starts in."""
    source = where.get(row.from_span_id)
    target = where.get(row.to_span_id)
    if source is None or target is None or not source[1] or not target[1]:
        return None  # an end that overlaps no sentence (whitespace only) has no sentence to name
    return {
        "id": row.uid,
        "type": row.type,
        "from": source[0],
        "to": target[0],
        "from_sentence": source[1][0],
        "to_sentence": target[1][0],
        "_sentences": (source[1], target[1]),
    }


def _relation_sentences(rel: dict[str, Any]) -> list[int]:
    """Every sentence either end overlaps; the helper key is dropped from the record."""
    first, second = rel.pop("_sentences")
    return sorted(set(first) | set(second))


def _sort_spans_and_relations(spans: list[dict[str, Any]], relations: list[dict[str, Any]]) -> None:
    """A content order (position, then label and id), never a database order."""
    key_start = "article_start" if spans and "article_start" in spans[0] else "start"
    key_end = "article_end" if key_start == "article_start" else "end"
    spans.sort(key=lambda s: (s[key_start], s[key_end], s["label"], s["id"]))
    if len(relations) > 1:
        relations.sort(key=lambda r: (r["from"], r["to"], r["type"], r["id"]))


def _any_sentence_selected(labels: list[Any], gold_labels: dict[int, Any], wanted: frozenset[str]) -> bool:
    if any(g.label in wanted for g in gold_labels.values()):
        return True
    return any(row.label in wanted and row.index not in gold_labels for row in labels)


def _article_gold(batch: "_Batch", article_id: int, text: str, gold_labels: dict[int, Any]) -> dict[str, list]:
    uid_of: dict[int, str] = {}
    spans = []
    for row in batch.gold_spans.get(article_id, ()):
        uid_of[row.id] = row.uid
        spans.append(
            {
                "id": row.uid,
                "label": row.label,
                "start": row.start,
                "end": row.end,
                "text": text[row.start : row.end],
                "provenance": row.provenance,
                "reviewer": row.reviewer,
                "updated_at": iso(row.updated_at),
            }
        )
    relations = [
        {
            "id": row.uid,
            "type": row.type,
            "from": uid_of[row.from_span_id],
            "to": uid_of[row.to_span_id],
            "provenance": row.provenance,
            "reviewer": row.reviewer,
        }
        for row in batch.gold_relations.get(article_id, ())
    ]
    _sort_spans_and_relations(spans, relations)
    return {
        "labels": [
            {
                "sentence": index,
                "label": g.label,
                "provenance": g.provenance,
                "reviewer": g.reviewer,
                "reason": g.reason,
                "updated_at": iso(g.updated_at),
            }
            for index, g in sorted(gold_labels.items())
        ],
        "spans": spans,
        "relations": relations,
    }


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (microseconds only when there are some)."""
    if value is None:
        return None
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat() + "Z"


# ---------------------------------------------------------------- loading in batches


@dataclass
class _Batch:
    articles: list[Any]
    sentences: dict[int, list[tuple[int, int, int]]]
    labels: dict[int, list[Any]]
    spans: dict[int, list[Any]]
    relations: dict[int, list[Any]]
    gold_labels: dict[int, dict[int, Any]]
    gold_spans: dict[int, list[Any]]
    gold_relations: dict[int, list[Any]]


def _group(rows: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        out[row.article_id].append(row)
    return out


def _batches(session: Session, project_id: int, filters: Filters, batch_size: int) -> Iterator[_Batch]:
    """Articles in id order, batch by batch (keyset pagination), each with all it carries."""
    reviewer = aliased(User)
    last_id = 0
    users = filters.annotators
    while True:
        articles = session.execute(
            select(Article.id, Article.external_id, Article.title, Article.text, Article.meta)
            .where(Article.project_id == project_id, Article.id > last_id)
            .order_by(Article.id)
            .limit(batch_size)
        ).all()
        if not articles:
            return
        last_id = articles[-1].id
        ids = [a.id for a in articles]

        sentences: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for article_id, index, start, end in session.execute(
            select(Sentence.article_id, Sentence.index, Sentence.start, Sentence.end)
            .where(Sentence.article_id.in_(ids))
            .order_by(Sentence.article_id, Sentence.index)
        ):
            sentences[article_id].append((index, start, end))

        labels_q = (
            select(
                Sentence.article_id,
                Sentence.index,
                User.name.label("user"),
                Annotation.label,
                Annotation.seconds,
                Annotation.guidelines_version,
                Annotation.updated_at,
                Annotation.needs_review,
            )
            .join(Sentence, Annotation.sentence_id == Sentence.id)
            .join(User, Annotation.user_id == User.id)
            .where(Sentence.article_id.in_(ids))
        )
        spans_q = (
            select(Span.id, Span.uid, Span.article_id, User.name.label("user"), Span.label, Span.start, Span.end)
            .join(User, Span.user_id == User.id)
            .where(Span.article_id.in_(ids))
        )
        relations_q = (
            select(Relation.uid, Relation.article_id, User.name.label("user"), Relation.type, Relation.from_span_id, Relation.to_span_id)
            .join(User, Relation.user_id == User.id)
            .where(Relation.article_id.in_(ids))
        )
        if users:
            labels_q = labels_q.where(User.name.in_(users))
            spans_q = spans_q.where(User.name.in_(users))
            relations_q = relations_q.where(User.name.in_(users))
        labels = _group(session.execute(labels_q))
        spans = _group(session.execute(spans_q))
        relations = _group(session.execute(relations_q))

        gold_labels: dict[int, dict[int, Any]] = defaultdict(dict)
        for row in session.execute(
            select(
                Sentence.article_id,
                Sentence.index,
                GoldLabel.label,
                GoldLabel.provenance,
                reviewer.name.label("reviewer"),
                GoldLabel.reason,
                GoldLabel.updated_at,
            )
            .join(Sentence, GoldLabel.sentence_id == Sentence.id)
            .outerjoin(reviewer, GoldLabel.reviewer_id == reviewer.id)
            .where(Sentence.article_id.in_(ids))
        ):
            gold_labels[row.article_id][row.index] = row
        gold_spans = _group(
            session.execute(
                select(
                    GoldSpan.id,
                    GoldSpan.uid,
                    GoldSpan.article_id,
                    GoldSpan.label,
                    GoldSpan.start,
                    GoldSpan.end,
                    GoldSpan.provenance,
                    reviewer.name.label("reviewer"),
                    GoldSpan.updated_at,
                )
                .outerjoin(reviewer, GoldSpan.reviewer_id == reviewer.id)
                .where(GoldSpan.article_id.in_(ids))
            )
        )
        gold_relations = _group(
            session.execute(
                select(
                    GoldRelation.uid,
                    GoldRelation.article_id,
                    GoldRelation.type,
                    GoldRelation.from_span_id,
                    GoldRelation.to_span_id,
                    GoldRelation.provenance,
                    reviewer.name.label("reviewer"),
                )
                .outerjoin(reviewer, GoldRelation.reviewer_id == reviewer.id)
                .where(GoldRelation.article_id.in_(ids))
            )
        )
        yield _Batch(articles, sentences, labels, spans, relations, gold_labels, gold_spans, gold_relations)


# ---------------------------------------------------------------- writing


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line: UTF-8 as is (no \\u escapes), compact, key order as built."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def record_article_id(record: dict[str, Any]) -> str:
    """The external article id of a record of either unit."""
    return record["article_id"] if "article_id" in record else record["id"]
