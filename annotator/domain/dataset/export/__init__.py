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

In the sentence unit a span appears in every sentence it overlaps as its piece
in that sentence: ``start``/``end`` relative to the sentence and
``article_start``/``article_end`` in the article are the piece (so both
``sentence_text[start:end]`` and ``article_text[article_start:article_end]``
are the piece's ``text``), ``span_start``/``span_end`` are the whole span in
the article, and ``clipped`` is true when the piece is less than the whole span
(a span across a sentence boundary: one piece per sentence, all under the
span's id).  A span over only the whitespace between sentences is in no
sentence record (the article unit has it).  A relation appears in the
sentences of both its ends and names each end's span id and sentence index
(``from_sentence``, ``to_sentence``), so a quote linked to a source in the
next sentence is visible from both.

Records stream in article id order, in batches of BATCH_SIZE articles, each
batch loaded with one SQLAlchemy Core query per table (no ORM objects, no
query per article; rows read through the driver's cursor, see _rows), so
memory stays flat whatever the project's size.  `annotator export` runs one
forked process per article range for big projects (dataset_cli.py); the
output is the same bytes.

Not exported (so not carried through an export -> import round trip):
database ids, an annotation's edit counter (``version``), the creation and
update times of articles, spans and relations (labels and gold keep theirs),
and the project's settings.  Everything exported survives the round trip
byte for byte (tests/test_export.py).

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
import unicodedata
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.resources import files
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import String, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from annotator.domain import labelschema

try:  # optional: the export is about 6x faster to serialise with it
    import orjson
except ImportError:  # pragma: no cover
    orjson = None  # type: ignore[assignment]

from annotator.db.models import (
    Annotation,
    Article,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Project,
    ProjectMember,
    Relation,
    Sentence,
    Span,
    User,
    visible_articles,
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
    """Raise ExportError for a label the schema lacks or an annotator who is not of this project.

    The people of a project are its members and anyone with a label or span in it. A name that exists
    elsewhere gets the same answer as one that does not exist, so a reviewer cannot use the export
    to learn which user names exist in other projects.
    """
    known = labelschema.names(project.label_schema, "sentence_labels")
    unknown = [label for label in filters.labels if label not in known]
    if unknown:
        raise ExportError(f"unknown label(s) {', '.join(unknown)} (project has: {', '.join(known)})")
    if filters.annotators:
        found = set(session.scalars(_people_of_project(project.id, filters.annotators)))
        missing = [name for name in filters.annotators if name not in found]
        if missing:
            raise ExportError(f"no annotator named {', '.join(map(repr, missing))} in this project")
    return filters


def _people_of_project(project_id: int, names: Iterable[str]):  # noqa: ANN202  (a Select)
    in_project = Article.project_id == project_id
    labelled = select(Annotation.id).join(Sentence, Sentence.id == Annotation.sentence_id).join(Article, Article.id == Sentence.article_id)
    marked = select(Span.id).join(Article, Article.id == Span.article_id)
    return select(User.name).where(
        User.name.in_(list(names)),
        or_(
            select(ProjectMember.user_id).where(ProjectMember.project_id == project_id, ProjectMember.user_id == User.id).exists(),
            labelled.where(in_project, Annotation.user_id == User.id).exists(),
            marked.where(in_project, Span.user_id == User.id).exists(),
        ),
    )


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


_UNSAFE_IN_NAME = re.compile(r"[^\w.-]+")  # keeps letters and digits of any script, '_', '.', '-'
_NOT_ASCII_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def download_name(project_name: str, project_id: int, unit: str, filters: Filters = Filters(), ascii_only: bool = False) -> str:
    """The file name of a download, distinct per unit and filter:
    ``<project>.<unit>[.gold][.labels-CFS-UFS][.by-alice-bob].jsonl``.

    Runs of anything but letters, digits, '_', '.' and '-' become '-' (no path
    separators, quotes or control characters; no leading dot); ascii_only also
    spells letters without their accents and drops what has no ASCII form,
    for the plain ``filename`` of a Content-Disposition header.
    """

    def part(value: str, limit: int) -> str:
        value = _UNSAFE_IN_NAME.sub("-", unicodedata.normalize("NFC", value))
        if ascii_only:
            value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
            value = _NOT_ASCII_NAME.sub("-", value)
        return value.strip("-.")[:limit].rstrip("-.")

    parts = [part(project_name, 80) or f"project-{project_id}", unit]
    if filters.gold_only:
        parts.append("gold")
    for prefix, values in (("labels", filters.labels), ("by", filters.annotators)):
        value = part("-".join(values), 60) if values else ""
        if value:
            parts.append(f"{prefix}-{value}")
    return ".".join(parts) + ".jsonl"


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


def article_ranges(session: Session, project_id: int, parts: int) -> list[tuple[int, int | None]]:
    """Cut the project's articles into `parts` id ranges (after, last] of about equal counts, in order."""
    total = count_articles(session, project_id)
    parts = max(1, min(parts, total))
    bounds: list[int] = []
    for k in range(1, parts):
        last = session.scalar(
            select(Article.id).where(Article.project_id == project_id).order_by(Article.id).offset(total * k // parts - 1).limit(1)
        )
        if last is not None and (not bounds or last > bounds[-1]):
            bounds.append(last)
    edges = [0, *bounds]
    return [(edges[k], edges[k + 1] if k + 1 < len(edges) else None) for k in range(len(edges))]


# ---------------------------------------------------------------- records


def iter_records(
    session: Session,
    project_id: int,
    unit: str = DEFAULT_UNIT,
    filters: Filters = Filters(),
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict[str, Any]]:
    """Export records of one unit, in article id order; `progress(n)` after each batch of n articles.

    id_range (after, last): only articles with after < id <= last (last None: no bound),
    so that several processes can each export a part (see article_ranges).
    """
    if unit == "article":
        return iter_articles(session, project_id, filters, batch_size, progress, id_range)
    if unit == "sentence":
        return iter_sentences(session, project_id, filters, batch_size, progress, id_range)
    raise ExportError(f"unknown unit {unit!r} (choose from {', '.join(UNITS)})")


def iter_articles(
    session: Session,
    project_id: int,
    filters: Filters = Filters(),
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict[str, Any]]:
    """One lossless record per article (see the module doc and article.schema.json)."""
    wanted = frozenset(filters.labels)
    for batch in _batches(session, project_id, filters, batch_size, id_range):
        for article_id, external_id, title, text, meta in batch.articles:
            sentences = batch.sentences.get(article_id, ())
            labels = batch.labels.get(article_id, ())
            gold_labels = batch.gold_labels.get(article_id, {})
            spans = batch.spans.get(article_id, ())
            if filters.gold_only and not gold_labels:
                continue
            if filters.annotators and not labels and not spans:
                continue
            if wanted and not _any_sentence_selected(labels, gold_labels, wanted):
                continue
            by_user: dict[str, dict[str, Any]] = {}
            for index, user, label, seconds, version, updated_at, needs_review in labels:
                entry = by_user.get(user) or by_user.setdefault(user, {"annotator": user, "labels": [], "spans": [], "relations": []})
                entry["labels"].append(
                    {"sentence": index, "label": label, "seconds": seconds, "guidelines_version": version,
                     "updated_at": updated_at, "needs_review": needs_review}
                )
            uid_of: dict[int, str] = {}
            for span_id, uid, user, label, start, end in spans:
                uid_of[span_id] = uid
                entry = by_user.get(user) or by_user.setdefault(user, {"annotator": user, "labels": [], "spans": [], "relations": []})
                entry["spans"].append({"id": uid, "label": label, "start": start, "end": end, "text": text[start:end]})
            for uid, user, rel_type, source, target in batch.relations.get(article_id, ()):
                entry = by_user.get(user) or by_user.setdefault(user, {"annotator": user, "labels": [], "spans": [], "relations": []})
                entry["relations"].append({"id": uid, "type": rel_type, "from": uid_of[source], "to": uid_of[target]})
            annotations = []
            for name in sorted(by_user):
                entry = by_user[name]
                entry["labels"].sort(key=_by_sentence)
                _sort_spans_and_relations(entry["spans"], entry["relations"])
                annotations.append(entry)
            yield {
                "id": external_id,
                "title": title,
                "text": text,
                "meta": meta or {},
                "sentences": [{"index": index, "start": start, "end": end} for index, start, end in sentences],
                "annotations": annotations,
                "gold": _article_gold(batch, article_id, text, gold_labels),
            }
        if progress is not None:
            progress(len(batch.articles))


def _by_sentence(label: dict[str, Any]) -> int:
    return label["sentence"]


def iter_sentences(
    session: Session,
    project_id: int,
    filters: Filters = Filters(),
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    id_range: tuple[int, int | None] = (0, None),
) -> Iterator[dict[str, Any]]:
    """One training record per sentence (see the module doc and sentence.schema.json)."""
    wanted = frozenset(filters.labels)
    for batch in _batches(session, project_id, filters, batch_size, id_range):
        for article in batch.articles:
            yield from _article_sentences(batch, article, filters, wanted)
        if progress is not None:
            progress(len(batch.articles))


def _article_sentences(batch: "_Batch", article: tuple, filters: Filters, wanted: frozenset[str]) -> Iterator[dict[str, Any]]:
    article_id, external_id, _title, text, _meta = article
    sentences = batch.sentences.get(article_id)
    if not sentences:
        return
    n = len(sentences)
    # Sentence indexes are 0..n-1 in order; map them to positions if some were ever skipped.
    position = None if sentences[-1][0] == n - 1 else {index: i for i, (index, _, _) in enumerate(sentences)}
    starts = [start for _, start, _ in sentences]
    ends = [end for _, _, end in sentences]

    def covered(start: int, end: int) -> range:
        """Positions of the sentences a span overlaps."""
        i = bisect_right(starts, start) - 1
        if i < 0 or ends[i] <= start:
            i += 1
        j = i
        while j < n and starts[j] < end:
            j += 1
        return range(i, j)

    entries: list[dict[str, dict[str, Any]] | None] = [None] * n
    for index, user, label, seconds, version, updated_at, needs_review in batch.labels.get(article_id, ()):
        i = index if position is None else position[index]
        per = entries[i]
        if per is None:
            per = entries[i] = {}
        per[user] = {
            "annotator": user,
            "label": label,
            "seconds": seconds,
            "guidelines_version": version,
            "updated_at": updated_at,
            "needs_review": needs_review,
            "spans": [],
            "relations": [],
        }

    def entry_for(i: int, user: str) -> dict[str, Any]:
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
                "spans": [],
                "relations": [],
            }
        return entry

    span_where: dict[int, tuple[str, range]] = {}
    for span_id, uid, user, label, start, end in batch.spans.get(article_id, ()):
        where = covered(start, end)
        span_where[span_id] = (uid, where)
        for i in where:
            entry_for(i, user)["spans"].append(_sentence_span(uid, label, start, end, text, starts[i], ends[i]))
    for uid, user, rel_type, source, target in batch.relations.get(article_id, ()):
        rel, places = _sentence_relation(uid, rel_type, source, target, span_where, sentences)
        for i in places:
            entry_for(i, user)["relations"].append(rel)

    gold_labels = batch.gold_labels.get(article_id, {})
    gold_spans: list[list[dict[str, Any]] | None] = [None] * n
    gold_relations: list[list[dict[str, Any]] | None] = [None] * n
    gold_where: dict[int, tuple[str, range]] = {}
    for span_id, uid, label, start, end, provenance, reviewer, _updated in batch.gold_spans.get(article_id, ()):
        where = covered(start, end)
        gold_where[span_id] = (uid, where)
        for i in where:
            span = _sentence_span(uid, label, start, end, text, starts[i], ends[i])
            span["provenance"] = provenance
            span["reviewer"] = reviewer
            (gold_spans[i] if gold_spans[i] is not None else gold_spans.__setitem__(i, []) or gold_spans[i]).append(span)
    for uid, rel_type, source, target, provenance, reviewer in batch.gold_relations.get(article_id, ()):
        rel, places = _sentence_relation(uid, rel_type, source, target, gold_where, sentences)
        rel["provenance"] = provenance
        rel["reviewer"] = reviewer
        for i in places:
            (gold_relations[i] if gold_relations[i] is not None else gold_relations.__setitem__(i, []) or gold_relations[i]).append(rel)

    gold_only, selected_users = filters.gold_only, bool(filters.annotators)
    for i, (index, start, end) in enumerate(sentences):
        gold = gold_labels.get(index)
        if gold_only and gold is None:
            continue
        per = entries[i]
        if selected_users and not per:
            continue
        if wanted:
            if gold is not None:
                if gold[0] not in wanted:
                    continue
            elif not per or not any(e["label"] in wanted for e in per.values()):
                continue
        if per:
            annotations = [per[name] for name in sorted(per)] if len(per) > 1 else list(per.values())
            for entry in annotations:
                if len(entry["spans"]) > 1 or len(entry["relations"]) > 1:
                    _sort_spans_and_relations(entry["spans"], entry["relations"])
        else:
            annotations = []
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
            "annotations": annotations,
        }


def _sentence_span(uid: str, label: str, start: int, end: int, text: str, s_start: int, s_end: int) -> dict[str, Any]:
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
    rel = {
        "id": uid,
        "type": rel_type,
        "from": from_uid,
        "to": to_uid,
        "from_sentence": sentences[from_places[0]][0] if from_places else None,
        "to_sentence": sentences[to_places[0]][0] if to_places else None,
    }
    if from_places == to_places:
        return rel, from_places
    return rel, sorted(set(from_places) | set(to_places))


def _sort_spans_and_relations(spans: list[dict[str, Any]], relations: list[dict[str, Any]]) -> None:
    """A content order (position, then label and id), never a database order."""
    if len(spans) > 1:
        if "span_start" in spans[0]:
            spans.sort(key=_sentence_span_key)
        else:
            spans.sort(key=_span_key)
    if len(relations) > 1:
        relations.sort(key=_relation_key)


def _span_key(s: dict[str, Any]) -> tuple:
    return (s["start"], s["end"], s["label"], s["id"])


def _sentence_span_key(s: dict[str, Any]) -> tuple:
    return (s["span_start"], s["span_end"], s["label"], s["id"])


def _relation_key(r: dict[str, Any]) -> tuple:
    return (r["from"], r["to"], r["type"], r["id"])


def _any_sentence_selected(labels: Iterable[tuple], gold_labels: dict[int, tuple], wanted: frozenset[str]) -> bool:
    if any(g[0] in wanted for g in gold_labels.values()):
        return True
    return any(row[2] in wanted and row[0] not in gold_labels for row in labels)


def _article_gold(batch: "_Batch", article_id: int, text: str, gold_labels: dict[int, tuple]) -> dict[str, list]:
    uid_of: dict[int, str] = {}
    spans = []
    for span_id, uid, label, start, end, provenance, reviewer, updated_at in batch.gold_spans.get(article_id, ()):
        uid_of[span_id] = uid
        spans.append(
            {"id": uid, "label": label, "start": start, "end": end, "text": text[start:end],
             "provenance": provenance, "reviewer": reviewer, "updated_at": updated_at}
        )
    relations = [
        {"id": uid, "type": rel_type, "from": uid_of[source], "to": uid_of[target], "provenance": provenance, "reviewer": reviewer}
        for uid, rel_type, source, target, provenance, reviewer in batch.gold_relations.get(article_id, ())
    ]
    _sort_spans_and_relations(spans, relations)
    return {
        "labels": [
            {"sentence": index, "label": label, "provenance": provenance, "reviewer": reviewer, "reason": reason, "updated_at": updated_at}
            for index, (label, provenance, reviewer, reason, updated_at) in sorted(gold_labels.items())
        ],
        "spans": spans,
        "relations": relations,
    }


def iso(value: datetime | str | None) -> str | None:
    """ISO 8601 in UTC with a Z (microseconds only when there are some).

    Takes a datetime, or the text SQLite stores ('2026-11-24 10:00:00.000000',
    UTC): converting that text directly skips a parse and a format per value.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " " and value[19] == ".":
            return f"{value[:10]}T{value[11:19]}Z" if value.endswith(".000000") else f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(timezone.utc)
    return value.replace(tzinfo=None).isoformat() + "Z"


# ---------------------------------------------------------------- loading in batches


@dataclass
class _Batch:
    """One batch of articles and everything they carry, as plain tuples grouped by article id.

    articles:       (id, external_id, title, text, meta)
    sentences:      (index, start, end)
    labels:         (sentence index, annotator, label, seconds, guidelines_version, updated_at, needs_review)
    spans:          (db id, uid, annotator, label, start, end)
    relations:      (uid, annotator, type, from db id, to db id)
    gold_labels:    sentence index -> (label, provenance, reviewer, reason, updated_at)
    gold_spans:     (db id, uid, label, start, end, provenance, reviewer, updated_at)
    gold_relations: (uid, type, from db id, to db id, provenance, reviewer)
    """

    articles: list[tuple]
    sentences: dict[int, list[tuple[int, int, int]]]
    labels: dict[int, list[tuple]]
    spans: dict[int, list[tuple]]
    relations: dict[int, list[tuple]]
    gold_labels: dict[int, dict[int, tuple]]
    gold_spans: dict[int, list[tuple]]
    gold_relations: dict[int, list[tuple]]


_IN_CHUNK = 5_000


def _id_filter(column: Any, ids: list[int]) -> list[Any]:
    """WHERE clauses selecting `ids` (sorted): one range scan when they are nearly contiguous
    (rows of other ids in the range are dropped by the caller), else IN lists of bounded size."""
    lo, hi = ids[0], ids[-1]
    if hi - lo + 1 <= 2 * len(ids) + 1_000:
        return [column.between(lo, hi)]
    return [column.in_(ids[k : k + _IN_CHUNK]) for k in range(0, len(ids), _IN_CHUNK)]


def _timestamp(column: Any) -> Any:
    """The column without SQLAlchemy's datetime processing: iso() formats what the driver gives."""
    return type_coerce(column, String)


def _rows(conn: Any, query: Any) -> list[tuple]:
    """Run a Core query on the driver's own cursor and return plain tuples.

    The export reads millions of rows; SQLAlchemy's per-row work (Row objects,
    result processors) would cost more than the database does. Every literal
    in these queries is an integer id, so rendering them inline is safe. The
    values come as the driver gives them: iso() and the callers handle both
    SQLite's text/integers and psycopg's datetimes/booleans/parsed JSON.
    """
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        cursor.close()


def _batches(
    session: Session, project_id: int, filters: Filters, batch_size: int, id_range: tuple[int, int | None] = (0, None)
) -> Iterator[_Batch]:
    """Articles in id order, batch by batch (keyset pagination), each with all it carries.

    A handful of Core queries per batch, none per article; rows stay tuples.
    """
    conn = session.connection()
    names: dict[int, str] = dict(conn.execute(select(User.id, User.name)).all())
    chosen_users = [uid for uid, name in names.items() if name in set(filters.annotators)] if filters.annotators else None
    last_id, until_id = id_range
    while True:
        query = (
            select(Article.id, Article.external_id, Article.title, Article.text, Article.meta)
            .where(Article.project_id == project_id, Article.id > last_id, visible_articles())  # run on the cursor: no ORM filter
            .order_by(Article.id)
            .limit(batch_size)
        )
        if until_id is not None:
            query = query.where(Article.id <= until_id)
        articles = [(a, e, t, x, json.loads(m) if isinstance(m, str) else m) for a, e, t, x, m in _rows(conn, query)]
        if not articles:
            return
        last_id = articles[-1][0]
        ids = [a[0] for a in articles]
        wanted_articles = set(ids)

        sentences: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        where_sentence: dict[int, tuple[int, int]] = {}  # sentence db id -> (article id, index)
        for clause in _id_filter(Sentence.article_id, ids):
            for sentence_id, article_id, index, start, end in _rows(
                conn,
                select(Sentence.id, Sentence.article_id, Sentence.index, Sentence.start, Sentence.end).where(clause)
            ):
                if article_id in wanted_articles:
                    sentences[article_id].append((index, start, end))
                    where_sentence[sentence_id] = (article_id, index)
        for rows in sentences.values():
            rows.sort()
        sentence_ids = sorted(where_sentence)

        labels: dict[int, list[tuple]] = defaultdict(list)
        gold_labels: dict[int, dict[int, tuple]] = defaultdict(dict)
        if sentence_ids:
            for clause in _id_filter(Annotation.sentence_id, sentence_ids):
                query = select(
                    Annotation.sentence_id,
                    Annotation.user_id,
                    Annotation.label,
                    Annotation.seconds,
                    Annotation.guidelines_version,
                    _timestamp(Annotation.updated_at),
                    Annotation.needs_review,
                ).where(clause)
                if chosen_users is not None:
                    query = query.where(Annotation.user_id.in_(chosen_users))
                for sentence_id, user_id, label, seconds, version, updated_at, needs_review in _rows(conn, query):
                    place = where_sentence.get(sentence_id)
                    if place is not None:
                        labels[place[0]].append((place[1], names[user_id], label, seconds, version, iso(updated_at), bool(needs_review)))
            for clause in _id_filter(GoldLabel.sentence_id, sentence_ids):
                for sentence_id, label, provenance, reviewer_id, reason, updated_at in _rows(
                    conn,
                    select(
                        GoldLabel.sentence_id,
                        GoldLabel.label,
                        GoldLabel.provenance,
                        GoldLabel.reviewer_id,
                        GoldLabel.reason,
                        _timestamp(GoldLabel.updated_at),
                    ).where(clause)
                ):
                    place = where_sentence.get(sentence_id)
                    if place is not None:
                        reviewer = names.get(reviewer_id) if reviewer_id is not None else None
                        gold_labels[place[0]][place[1]] = (label, provenance, reviewer, reason, iso(updated_at))

        spans: dict[int, list[tuple]] = defaultdict(list)
        relations: dict[int, list[tuple]] = defaultdict(list)
        gold_spans: dict[int, list[tuple]] = defaultdict(list)
        gold_relations: dict[int, list[tuple]] = defaultdict(list)
        for clause in _id_filter(Span.article_id, ids):
            query = select(Span.id, Span.uid, Span.article_id, Span.user_id, Span.label, Span.start, Span.end).where(clause)
            if chosen_users is not None:
                query = query.where(Span.user_id.in_(chosen_users))
            for span_id, uid, article_id, user_id, label, start, end in _rows(conn, query):
                if article_id in wanted_articles:
                    spans[article_id].append((span_id, uid, names[user_id], label, start, end))
        for clause in _id_filter(Relation.article_id, ids):
            query = select(
                Relation.uid, Relation.article_id, Relation.user_id, Relation.type, Relation.from_span_id, Relation.to_span_id
            ).where(clause)
            if chosen_users is not None:
                query = query.where(Relation.user_id.in_(chosen_users))
            for uid, article_id, user_id, rel_type, source, target in _rows(conn, query):
                if article_id in wanted_articles:
                    relations[article_id].append((uid, names[user_id], rel_type, source, target))
        for clause in _id_filter(GoldSpan.article_id, ids):
            for span_id, uid, article_id, label, start, end, provenance, reviewer_id, updated_at in _rows(
                conn,
                select(
                    GoldSpan.id,
                    GoldSpan.uid,
                    GoldSpan.article_id,
                    GoldSpan.label,
                    GoldSpan.start,
                    GoldSpan.end,
                    GoldSpan.provenance,
                    GoldSpan.reviewer_id,
                    _timestamp(GoldSpan.updated_at),
                ).where(clause)
            ):
                if article_id in wanted_articles:
                    reviewer = names.get(reviewer_id) if reviewer_id is not None else None
                    gold_spans[article_id].append((span_id, uid, label, start, end, provenance, reviewer, iso(updated_at)))
        for clause in _id_filter(GoldRelation.article_id, ids):
            for uid, article_id, rel_type, source, target, provenance, reviewer_id in _rows(
                conn,
                select(
                    GoldRelation.uid,
                    GoldRelation.article_id,
                    GoldRelation.type,
                    GoldRelation.from_span_id,
                    GoldRelation.to_span_id,
                    GoldRelation.provenance,
                    GoldRelation.reviewer_id,
                ).where(clause)
            ):
                if article_id in wanted_articles:
                    reviewer = names.get(reviewer_id) if reviewer_id is not None else None
                    gold_relations[article_id].append((uid, rel_type, source, target, provenance, reviewer))
        yield _Batch(articles, sentences, labels, spans, relations, gold_labels, gold_spans, gold_relations)


# ---------------------------------------------------------------- writing


def dumps(record: dict[str, Any]) -> str:
    """One JSONL line: UTF-8 as is (no \\u escapes), compact, key order as built."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def dumpb(record: dict[str, Any]) -> bytes:
    """The same line as UTF-8 bytes; with orjson (about 6x faster) when it is installed.

    Both give compact JSON with the characters as they are and keys in order;
    they differ only in how they spell some floats (1e-05 / 1e-5).
    """
    if orjson is not None:
        try:
            return orjson.dumps(record) + b"\n"
        except (TypeError, orjson.JSONEncodeError):  # e.g. an integer beyond 64 bits in meta
            pass
    return dumps(record).encode("utf-8")


def record_article_id(record: dict[str, Any]) -> str:
    """The external article id of a record of either unit."""
    return record["article_id"] if "article_id" in record else record["id"]
