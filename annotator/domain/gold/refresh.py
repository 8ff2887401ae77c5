"""Gold: automatic gold where annotators agree, and reviewers' adjudications.

Plain functions over a SQLAlchemy session; no Flask. Every gold change writes
an AuditEntry (entity gold_label / gold_span / gold_relation).

Provenance (GoldLabel / GoldSpan / GoldRelation.provenance):
- ``unanimous``: every annotator who labelled the sentence gave this label;
- ``majority``: the share agreeing reaches Project.majority_threshold (< 1.0);
- ``adjudicated``: chosen by a reviewer (reviewer_id, reason, time kept);
- ``imported``: came with an import (import_annotations.py).
``adjudicated`` and ``imported`` are human gold: automatic gold never
overwrites, removes or duplicates them.

Automatic gold, exactly:
- a sentence label, when at least max(2, annotators_per_article) annotators
  labelled the sentence and all agree (unanimous) or the largest share agreeing
  is >= majority_threshold (majority; only when the threshold is below 1);
- a span (label, start, end), when every annotator who labelled ALL the
  sentences the span overlaps (at least max(2, annotators_per_article) of them)
  marked exactly that span (same label and offsets: exact match);
- a relation, when both of its spans are automatic gold spans and every
  annotator who is a rater of both spans made that link;
- never on or across a sentence with human gold: the reviewer decided there.
Only unanimous spans and relations become gold automatically, never majority.

WHEN automatic gold is computed: lazily. `ensure_auto_gold(session, project)`
recomputes it when the project's revision (bumped by every annotation write)
has moved since the last run, and is a single indexed read otherwise. The
disagreement queue, the adjudication page and anything that READS the gold
tables (the export) call it first; the agreement figures do not need to, they
apply the same rule to the same label matrix (project_agreement.item_gold).
A run of the refresh is keyed by (project, revision, settings) in
cache_entries, so every worker and host sees the same state; it does not bump
the revision itself (its result is a function of that revision's labels).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

import numpy as np
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from annotator.db.models import (
    Annotation,
    Article,
    AuditEntry,
    CacheEntry,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Project,
    Relation,
    Sentence,
    Span,
    User,
)
from annotator.db.transactions import begin_write, writer_queue
from annotator.domain import labelschema
from annotator.domain.agreement import loaders as pa
from annotator.domain.projects import bump_revision
from annotator.stats.gold import AUTO_PROVENANCE, PROVENANCE_CODES, auto_gold_labels

MAX_REASON = 5000
_CHUNK = 5000  # ids per IN (...) / rows per executemany, well under every database's limit
_SPAN_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\s*[\s:,]\s*(\d{1,10})\s*[\s:,-]\s*(\d{1,10})\s*$")


class GoldError(ValueError):
    """An adjudication that cannot be stored; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 422, problems: Iterable[str] = ()):
        super().__init__(message)
        self.message = message
        self.status = status
        self.problems = list(problems)  # one line each, when there are several (typed spans)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _uid() -> str:
    return uuid.uuid4().hex


# ----------------------------------------------------------------- automatic gold
@dataclass
class RefreshResult:
    """What one refresh changed."""

    labels_created: int = 0
    labels_updated: int = 0
    labels_deleted: int = 0
    spans_created: int = 0
    spans_deleted: int = 0
    relations_created: int = 0
    relations_deleted: int = 0
    revision: int = 0

    @property
    def changed(self) -> int:
        return sum(getattr(self, f) for f in ("labels_created", "labels_updated", "labels_deleted", "spans_created",
                                              "spans_deleted", "relations_created", "relations_deleted"))


_GOLD_LOCK_NAMESPACE = 0x60D  # first key of the PostgreSQL advisory lock: "gold writes of project N"


def _lock_project(session: Session, project_id: int) -> None:
    """Serialise the gold writers (refresh, adjudication) of one project.

    SQLite: BEGIN IMMEDIATE (begin_write) already serialises every writer.
    PostgreSQL: a transaction-scoped advisory lock, not a row lock on the
    project: every writer takes the project row LAST (bump_revision), so a
    lock on it first could deadlock with them.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_GOLD_LOCK_NAMESPACE, project_id)))


def _chunks(items: list, size: int = _CHUNK) -> Iterable[list]:
    for k in range(0, len(items), size):
        yield items[k:k + size]


def _audit_many(session: Session, entries: list[dict[str, Any]]) -> None:
    now = _now()
    for chunk in _chunks(entries):
        session.execute(insert(AuditEntry), [{"at": now, **e} for e in chunk])


def _popcount(x: int) -> int:
    return bin(x).count("1")


# Automatic gold is decided sentence by sentence and span by span within an
# article, so a refresh goes through the project this many articles at a time.
# Its memory is that of one batch, and ensure_auto_gold commits each batch, so
# on SQLite annotators' saves wait for one batch, not the project. Measured on
# 1M labels (bench/bench_export.py): the whole project at once took 13.1 s and
# 879 MB and held writers for all of it; batches of 100 articles take 10.3 s,
# 96 MB, and a save waited at most 87 ms.
REFRESH_BATCH_ARTICLES = 100


def refresh_auto_gold(session: Session, project_id: int, batch_articles: int = REFRESH_BATCH_ARTICLES) -> RefreshResult:
    """Recompute the project's automatic gold labels, spans and relations.

    Creates what the rule now gives, updates what changed (unanimous <->
    majority, another label), removes automatic gold the labels no longer
    support; never touches adjudicated or imported gold. The caller calls
    begin_write() first and commits afterwards: all batches are one transaction.
    """
    _lock_project(session, project_id)
    head = pa.project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    for articles in _article_batches(session, head, batch_articles):
        _refresh_articles(session, head, articles, result)
    session.flush()
    return result


def _article_batches(session: Session, head: pa.ProjectHead, batch_articles: int) -> list[pa.ArticleRange]:
    """The project's article ids in ranges of `batch_articles` articles (other projects' ids may fall inside a range)."""
    ids = list(session.scalars(select(Article.id).where(Article.project_id == head.id).order_by(Article.id)))
    return [(batch[0], batch[-1]) for batch in _chunks(ids, batch_articles)]


def _refresh_articles(session: Session, head: pa.ProjectHead, articles: pa.ArticleRange, result: RefreshResult) -> None:
    """refresh_auto_gold for the project's articles with ids in `articles`; adds its counts to `result`."""
    labels = pa.load_labels(session, head, with_seconds=False, articles=articles)
    gold, provenance = auto_gold_labels(labels.codes, head.majority_threshold, head.min_raters)
    categories = labels.matrix.categories
    audit: list[dict[str, Any]] = []

    existing = session.execute(
        select(GoldLabel.id, GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance, Sentence.article_id)
        .join(Sentence, Sentence.id == GoldLabel.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == head.id, Article.id.between(*articles))
    ).all()
    human_sentences = {sid for _, sid, _, prov, _ in existing if prov not in AUTO_PROVENANCE}
    current = {sid: (gid, label, prov, art) for gid, sid, label, prov, art in existing if prov in AUTO_PROVENANCE}
    names = {v: k for k, v in PROVENANCE_CODES.items()}
    wanted: dict[int, tuple[str, str, int]] = {}
    for item in np.flatnonzero(gold >= 0).tolist():
        sid = int(labels.sentence_ids[item])
        if sid not in human_sentences:
            wanted[sid] = (categories[gold[item]], names[int(provenance[item])], int(labels.article_ids[item]))

    def entry(sid: int, art: int, action: str, before: Any, after: Any) -> dict[str, Any]:
        return {"user_id": None, "project_id": head.id, "article_id": art, "entity": "gold_label", "entity_id": str(sid),
                "action": action, "before": before, "after": after}

    def doc(sid: int, label: str, prov: str) -> dict[str, Any]:
        return {"sentence_id": sid, "label": label, "provenance": prov, "reviewer_id": None, "reason": None}

    stale = [sid for sid in current if sid not in wanted]
    for ids in _chunks([current[sid][0] for sid in stale]):
        session.execute(delete(GoldLabel).where(GoldLabel.id.in_(ids), GoldLabel.provenance.in_(AUTO_PROVENANCE)))
    for sid in stale:
        gid, label, prov, art = current[sid]
        audit.append(entry(sid, art, "delete", doc(sid, label, prov), None))
    result.labels_deleted += len(stale)

    now = _now()
    changed = [(sid, w) for sid, w in wanted.items() if sid in current and (current[sid][1], current[sid][2]) != w[:2]]
    if changed:
        session.connection().execute(
            update(GoldLabel.__table__).where(
                GoldLabel.__table__.c.id == bindparam("gid"), GoldLabel.__table__.c.provenance.in_(AUTO_PROVENANCE)  # never human gold
            ).values(
                label=bindparam("new_label"), provenance=bindparam("new_prov"), reviewer_id=None, reason=None, updated_at=now
            ),
            [{"gid": current[sid][0], "new_label": w[0], "new_prov": w[1]} for sid, w in changed],
        )
    for sid, (label, prov, art) in changed:
        _, old_label, old_prov, _ = current[sid]
        audit.append(entry(sid, art, "update", doc(sid, old_label, old_prov), doc(sid, label, prov)))
    result.labels_updated += len(changed)

    new = [(sid, w) for sid, w in wanted.items() if sid not in current]
    for chunk in _chunks(new):
        session.execute(
            insert(GoldLabel),
            [{"sentence_id": sid, "label": label, "provenance": prov, "reviewer_id": None, "reason": None, "updated_at": now}
             for sid, (label, prov, _) in chunk],
        )
    for sid, (label, prov, art) in new:
        audit.append(entry(sid, art, "create", None, doc(sid, label, prov)))
    result.labels_created += len(new)

    _refresh_auto_spans(session, head, articles, labels, human_sentences, audit, result)
    _audit_many(session, audit)


def _refresh_auto_spans(
    session: Session,
    head: pa.ProjectHead,
    articles: pa.ArticleRange,
    labels: pa.ProjectLabels,
    human_sentences: set[int],
    audit: list[dict[str, Any]],
    result: RefreshResult,
) -> None:
    data = pa.load_spans(session, head, articles)
    sentences = pa.load_sentences(session, head, articles)
    item_of_row = labels.items_of(sentences.ids)
    column_of = {int(u): j for j, u in enumerate(labels.user_ids.tolist())}
    rated = labels.codes >= 0
    rater_mask: dict[int, int] = {}

    def raters(item: int) -> int:
        if item not in rater_mask:
            rater_mask[item] = sum(1 << j for j in np.flatnonzero(rated[item]).tolist())
        return rater_mask[item]

    human_rows = {int(p) for p in np.flatnonzero(np.isin(sentences.ids, list(human_sentences)))} if human_sentences else set()

    # Who marked each exact span, and who rated all the sentences it overlaps.
    markers: dict[tuple, int] = {}
    span_raters: dict[tuple, int | None] = {}
    by_id = {}
    rows_of: dict[int, list[int]] = {}
    if data.spans:
        cols = list(zip(*data.spans))
        span_k, span_rows = pa.span_sentence_rows(sentences, np.array(cols[1]), np.array(cols[4]), np.array(cols[5]))
        for k, r in zip(span_k.tolist(), span_rows.tolist()):
            rows_of.setdefault(k, []).append(r)
    for k, (sid, art, user, label, start, end) in enumerate(data.spans):
        key = (art, label, start, end)
        by_id[sid] = key
        if key not in span_raters:
            rows = rows_of.get(k, [])
            if not rows or any(r in human_rows or item_of_row[r] < 0 for r in rows):
                span_raters[key] = None
            else:
                mask = -1
                for r in rows:
                    mask &= raters(int(item_of_row[r]))
                span_raters[key] = mask
        if user in column_of:
            markers[key] = markers.get(key, 0) | (1 << column_of[user])
    wanted_spans = {
        key for key, mask in span_raters.items()
        if mask is not None and _popcount(mask) >= head.min_raters and not (mask & ~markers.get(key, 0))
    }
    link_markers: dict[tuple, int] = {}
    for art, user, rtype, f, t in data.relations:
        if f in by_id and t in by_id and user in column_of:
            key = (art, rtype, by_id[f], by_id[t])
            link_markers[key] = link_markers.get(key, 0) | (1 << column_of[user])
    wanted_links = set()
    for key, mask in link_markers.items():
        _art, _rtype, fk, tk = key
        if fk in wanted_spans and tk in wanted_spans:
            both = (span_raters[fk] or 0) & (span_raters[tk] or 0)
            if _popcount(both) >= head.min_raters and not (both & ~mask):
                wanted_links.add(key)

    in_project = select(Article.id).where(Article.project_id == head.id, Article.id.between(*articles))
    gold_spans = session.execute(
        select(GoldSpan.id, GoldSpan.uid, GoldSpan.article_id, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance)
        .where(GoldSpan.article_id.in_(in_project))
    ).all()
    gold_rels = session.execute(
        select(GoldRelation.id, GoldRelation.uid, GoldRelation.article_id, GoldRelation.type, GoldRelation.from_span_id,
               GoldRelation.to_span_id, GoldRelation.provenance)
        .where(GoldRelation.article_id.in_(in_project))
    ).all()
    span_key = {g.id: (g.article_id, g.label, g.start, g.end) for g in gold_spans}
    span_uid = {g.id: g.uid for g in gold_spans}
    human_keys = {span_key[g.id] for g in gold_spans if g.provenance not in AUTO_PROVENANCE}
    auto_spans = {span_key[g.id]: g for g in gold_spans if g.provenance in AUTO_PROVENANCE}
    wanted_spans -= human_keys
    used_by_human = {i for r in gold_rels if r.provenance not in AUTO_PROVENANCE for i in (r.from_span_id, r.to_span_id)}

    def span_doc(uid: str, key: tuple, prov: str) -> dict[str, Any]:
        return {"id": uid, "label": key[1], "start": key[2], "end": key[3], "provenance": prov}

    def rel_doc(uid: str, rtype: str, from_uid: str, to_uid: str, prov: str) -> dict[str, Any]:
        return {"id": uid, "type": rtype, "from": from_uid, "to": to_uid, "provenance": prov}

    def entry(entity: str, art: int, uid: str, action: str, before: Any, after: Any) -> dict[str, Any]:
        return {"user_id": None, "project_id": head.id, "article_id": art, "entity": entity, "entity_id": uid,
                "action": action, "before": before, "after": after}

    drop_spans = [g for key, g in auto_spans.items() if key not in wanted_spans and g.id not in used_by_human]
    drop_span_ids = {g.id for g in drop_spans}
    drop_rels = []
    for r in gold_rels:
        key = (r.article_id, r.type, span_key[r.from_span_id], span_key[r.to_span_id])
        if r.provenance in AUTO_PROVENANCE and (key not in wanted_links or r.from_span_id in drop_span_ids or r.to_span_id in drop_span_ids):
            drop_rels.append(r)
        elif r.from_span_id in drop_span_ids or r.to_span_id in drop_span_ids:  # pragma: no cover (used_by_human keeps them)
            drop_rels.append(r)
    for ids in _chunks([r.id for r in drop_rels]):
        session.execute(delete(GoldRelation).where(GoldRelation.id.in_(ids), GoldRelation.provenance.in_(AUTO_PROVENANCE)))
    for r in drop_rels:
        audit.append(entry("gold_relation", r.article_id, r.uid, "delete",
                           rel_doc(r.uid, r.type, span_uid[r.from_span_id], span_uid[r.to_span_id], r.provenance), None))
    for ids in _chunks(sorted(drop_span_ids)):
        session.execute(delete(GoldSpan).where(GoldSpan.id.in_(ids), GoldSpan.provenance.in_(AUTO_PROVENANCE)))
    for g in drop_spans:
        audit.append(entry("gold_span", g.article_id, g.uid, "delete", span_doc(g.uid, span_key[g.id], g.provenance), None))
    result.spans_deleted += len(drop_spans)
    result.relations_deleted += len(drop_rels)

    now = _now()
    new_spans = sorted(wanted_spans - set(auto_spans))
    new_rows = [{"uid": _uid(), "article_id": k[0], "label": k[1], "start": k[2], "end": k[3], "provenance": "unanimous",
                 "reviewer_id": None, "updated_at": now} for k in new_spans]
    for chunk in _chunks(new_rows):
        session.execute(insert(GoldSpan), chunk)
    for row in new_rows:
        key = (row["article_id"], row["label"], row["start"], row["end"])
        audit.append(entry("gold_span", row["article_id"], row["uid"], "create", None, span_doc(row["uid"], key, "unanimous")))
    result.spans_created += len(new_rows)

    dropped = {r.id for r in drop_rels}
    kept_links = {
        (r.article_id, r.type, span_key[r.from_span_id], span_key[r.to_span_id])
        for r in gold_rels if r.id not in dropped
    }
    todo = sorted(wanted_links - kept_links)
    if todo:
        ids = {
            (g.article_id, g.label, g.start, g.end): (g.id, g.uid)
            for g in session.execute(
                select(GoldSpan.id, GoldSpan.uid, GoldSpan.article_id, GoldSpan.label, GoldSpan.start, GoldSpan.end)
                .where(GoldSpan.article_id.in_(in_project), GoldSpan.provenance.in_(AUTO_PROVENANCE))
            )
        }
        rel_rows = []
        for art, rtype, fk, tk in todo:
            if fk in ids and tk in ids:
                rel_rows.append({"uid": _uid(), "article_id": art, "type": rtype, "from_span_id": ids[fk][0], "to_span_id": ids[tk][0],
                                 "provenance": "unanimous", "reviewer_id": None})
                audit.append(entry("gold_relation", art, rel_rows[-1]["uid"], "create", None,
                                   rel_doc(rel_rows[-1]["uid"], rtype, ids[fk][1], ids[tk][1], "unanimous")))
        for chunk in _chunks(rel_rows):
            session.execute(insert(GoldRelation), chunk)
        result.relations_created += len(rel_rows)


def marker_key(head: pa.ProjectHead) -> str:
    return f"autogold:{head.id}:{head.revision}:{head.fingerprint()}"


def ensure_auto_gold(session: Session, project_id: int, batch_articles: int = REFRESH_BATCH_ARTICLES) -> RefreshResult | None:
    """Bring automatic gold up to the project's current revision; None when it already was.

    One indexed read when the revision has not moved since the last refresh.
    Otherwise the refresh runs one write transaction per batch of articles, each
    committed: on SQLite a write transaction holds the whole database, and
    annotators' saves would wait for a whole-project refresh (11 s at a million
    labels); between batches they go through. The marker is written last, for
    the revision read at the start: a label saved meanwhile moved the revision,
    so the next call refreshes again. Each batch recomputes its articles from
    the labels as they are, so two refreshes at once only repeat work.
    """
    head = pa.project_head(session, project_id)
    if session.scalar(select(CacheEntry.key).where(CacheEntry.key == marker_key(head))) is not None:
        return None
    try:
        begin_write(session)
        _lock_project(session, project_id)
        head = pa.project_head(session, project_id)  # re-read under the lock: the revision may have moved
        key = marker_key(head)
        if session.scalar(select(CacheEntry.key).where(CacheEntry.key == key)) is not None:
            session.commit()
            return None
        batches = _article_batches(session, head, batch_articles)
        session.commit()
        result = RefreshResult(revision=head.revision)
        for articles in batches:
            with writer_queue(session):  # in line with the annotators' saves, which wait on the same queue
                begin_write(session)
                _lock_project(session, project_id)
                _refresh_articles(session, head, articles, result)
                session.commit()
        with writer_queue(session):
            begin_write(session)
            _lock_project(session, project_id)
            session.execute(delete(CacheEntry).where(CacheEntry.project_id == head.id, CacheEntry.key.like(f"autogold:{head.id}:%")))
            session.execute(
                insert(CacheEntry).values(key=key, project_id=head.id, revision=head.revision, value={"changed": result.changed}, created_at=_now())
            )
            session.commit()
        return result
    except Exception:
        session.rollback()
        raise


# ----------------------------------------------------------------- adjudication
SpanKey = tuple[str, int, int]
LinkKey = tuple[str, SpanKey, SpanKey]


def span_key_str(label: str, start: int, end: int) -> str:
    return f"{label}:{start}:{end}"


def link_key_str(rtype: str, a: SpanKey, b: SpanKey) -> str:
    return f"{rtype}|{span_key_str(*a)}|{span_key_str(*b)}"


_OFFSET = re.compile(r"[0-9]{1,10}")


def parse_span_key(value: str) -> SpanKey:
    """'LABEL:START:END' (what the adjudication form's span checkboxes send)."""
    label, _, rest = (value or "").rpartition(":")
    label, _, start = label.rpartition(":")
    # ASCII digits, as the page writes them ("²" passes isdigit() and fails int(); 5000 digits fail int() too)
    if not label or not all(_OFFSET.fullmatch(x) for x in (start, rest)):
        raise GoldError(f"not a span: “{(value or '')[:80]}” (expected LABEL:START:END)", 400)
    return label, int(start), int(rest)


def parse_link_key(value: str) -> LinkKey:
    """'TYPE|LABEL:START:END|LABEL:START:END' (the link checkboxes)."""
    parts = (value or "").split("|")
    if len(parts) != 3 or not parts[0]:
        raise GoldError(f"not a link: “{(value or '')[:80]}” (expected TYPE|SPAN|SPAN)", 400)
    return parts[0], parse_span_key(parts[1]), parse_span_key(parts[2])


def parse_span_lines(
    text: str,
    span_labels: Iterable[str] | None = None,
    text_length: int | None = None,
    sentence: tuple[int, int] | None = None,
) -> list[SpanKey]:
    """Spans typed in by hand, one per line: 'LABEL START END' (code-point offsets into the article).

    Every line is checked (its form, and when given: the label among `span_labels`, the end
    within `text_length`, overlapping the `sentence`'s (start, end)), and all problems are
    reported at once, each with its line number, as GoldError.problems.
    """
    labels = list(span_labels) if span_labels is not None else None
    out: list[SpanKey] = []
    problems: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"Line {number}"
        match = _SPAN_LINE.match(line)
        if not match:
            shown = line.strip()[:60]
            problems.append(f"{where}: expected 'LABEL START END', e.g. QUOTE 120 164, not “{shown}”")
            continue
        label, start, end = match.group(1), int(match.group(2)), int(match.group(3))
        if labels is not None and label not in labels:
            problems.append(f"{where}: there is no span label {label} in this project (its span labels: {', '.join(labels) or 'none'})")
        elif start >= end:
            problems.append(f"{where}: the end ({end}) must be after the start ({start})")
        elif text_length is not None and end > text_length:
            problems.append(f"{where}: {start}–{end} runs past the article's end (it has {text_length} characters)")
        elif sentence is not None and not (start < sentence[1] and end > sentence[0]):
            problems.append(f"{where}: {label} {start}–{end} does not overlap this sentence (characters {sentence[0]}–{sentence[1]})")
        else:
            out.append((label, start, end))
    if problems:
        count = "1 typed span needs" if len(problems) == 1 else f"{len(problems)} typed spans need"
        raise GoldError(f"{count} fixing: " + "; ".join(problems), 422, problems)
    return out


def _sentence_id(value: int) -> int:
    """A sentence id the database can hold (PostgreSQL integers are 32-bit): else 404, not a 500."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise GoldError(f"no sentence {value}", 404)
    return value


def _gold_label_doc(sentence_id: int, label: str, provenance: str, reviewer_id: int | None, reason: str | None) -> dict[str, Any]:
    return {"sentence_id": sentence_id, "label": label, "provenance": provenance, "reviewer_id": reviewer_id, "reason": reason}


def adjudicate(
    session: Session,
    reviewer: User | int,
    sentence: Sentence | int,
    label: str,
    spans: Iterable[SpanKey] = (),
    relations: Iterable[LinkKey] = (),
    reason: str | None = None,
) -> dict[str, Any]:
    """Store a reviewer's gold for one sentence: its label, its spans, its links (provenance `adjudicated`).

    The sentence's gold spans are the gold spans overlapping it: afterwards they
    are exactly `spans` (plus link ends, see below); its gold links (those with
    an end among those spans) exactly `relations`. A link is (type, from span,
    to span); both ends become gold spans too, also when one lies in another
    sentence (a source named earlier in the article). Spans and links kept from
    automatic gold turn `adjudicated`. Every change is audited; the project
    revision is bumped. The caller calls begin_write() first and commits.
    """
    reviewer_id = reviewer if isinstance(reviewer, int) else reviewer.id
    sentence_id = _sentence_id(sentence if isinstance(sentence, int) else sentence.id)
    row = session.execute(
        select(Sentence.id, Sentence.article_id, Sentence.start, Sentence.end, Article.project_id, Article.text, Project.label_schema)
        .join(Article, Article.id == Sentence.article_id)
        .join(Project, Project.id == Article.project_id)
        .where(Sentence.id == sentence_id)
    ).first()
    if row is None:
        raise GoldError(f"no sentence {sentence_id}", 404)
    _, article_id, s_start, s_end, project_id, text, schema = row
    if not isinstance(label, str) or label not in labelschema.names(schema, "sentence_labels"):
        raise GoldError(f"unknown sentence label {label!r} (this project's labels: {', '.join(labelschema.names(schema, 'sentence_labels'))})")
    if reason is not None:
        reason = reason.strip() or None
        if reason and len(reason) > MAX_REASON:
            raise GoldError(f"the reason is longer than {MAX_REASON} characters")
    span_labels = labelschema.names(schema, "span_labels")

    def check_span(key: Any, what: str) -> SpanKey:
        try:
            lab, start, end = key
        except (TypeError, ValueError):
            raise GoldError(f"{what}: a span is (label, start, end)", 400) from None
        if lab not in span_labels:
            raise GoldError(f"{what}: unknown span label {lab!r} (this project's span labels: {', '.join(span_labels) or 'none'})")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise GoldError(f"{what}: offsets must satisfy 0 <= start < end <= {len(text)} (got {start}, {end})")
        return lab, start, end

    def overlaps(key: SpanKey) -> bool:
        return key[1] < s_end and key[2] > s_start

    wanted_spans: set[SpanKey] = set()
    for key in spans:
        key = check_span(key, f"span {key!r}")
        if not overlaps(key):
            raise GoldError(f"span {span_key_str(*key)} does not overlap this sentence (characters {s_start}-{s_end})")
        wanted_spans.add(key)
    wanted_links: set[LinkKey] = set()
    outside: set[SpanKey] = set()
    for link in relations:
        try:
            rtype, a, b = link
        except (TypeError, ValueError):
            raise GoldError("a link is (type, from span, to span)", 400) from None
        a, b = check_span(a, f"link {rtype}"), check_span(b, f"link {rtype}")
        if a == b:
            raise GoldError(f"link {rtype}: a link joins two different spans")
        problem = labelschema.relation_allows(schema, rtype, a[0], b[0])
        if problem:
            raise GoldError(problem)
        if not (overlaps(a) or overlaps(b)):
            raise GoldError(f"link {link_key_str(rtype, a, b)} has no end in this sentence")
        for end in (a, b):
            (wanted_spans if overlaps(end) else outside).add(end)
        wanted_links.add((rtype, a, b))

    _lock_project(session, project_id)
    now = _now()
    changes: list[dict[str, Any]] = []

    def audit(entity: str, entity_id: str, action: str, before: Any, after: Any) -> None:
        changes.append({"user_id": reviewer_id, "project_id": project_id, "article_id": article_id, "entity": entity,
                        "entity_id": entity_id, "action": action, "before": before, "after": after})

    # the label
    current = session.execute(
        select(GoldLabel.id, GoldLabel.label, GoldLabel.provenance, GoldLabel.reviewer_id, GoldLabel.reason)
        .where(GoldLabel.sentence_id == sentence_id).with_for_update()
    ).first()
    after = _gold_label_doc(sentence_id, label, "adjudicated", reviewer_id, reason)
    if current is None:
        session.execute(insert(GoldLabel).values(sentence_id=sentence_id, label=label, provenance="adjudicated",
                                                 reviewer_id=reviewer_id, reason=reason, updated_at=now))
        audit("gold_label", str(sentence_id), "create", None, after)
    else:
        session.execute(update(GoldLabel).where(GoldLabel.id == current.id).values(
            label=label, provenance="adjudicated", reviewer_id=reviewer_id, reason=reason, updated_at=now))
        audit("gold_label", str(sentence_id), "update", _gold_label_doc(sentence_id, *current[1:]), after)

    # spans and links of the article as they are
    gold_spans = session.execute(
        select(GoldSpan.id, GoldSpan.uid, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance, GoldSpan.reviewer_id)
        .where(GoldSpan.article_id == article_id)
    ).all()
    gold_rels = session.execute(
        select(GoldRelation.id, GoldRelation.uid, GoldRelation.type, GoldRelation.from_span_id, GoldRelation.to_span_id,
               GoldRelation.provenance, GoldRelation.reviewer_id)
        .where(GoldRelation.article_id == article_id)
    ).all()
    key_of = {g.id: (g.label, g.start, g.end) for g in gold_spans}
    uid_of = {g.id: g.uid for g in gold_spans}
    mine = {g.id for g in gold_spans if overlaps(key_of[g.id])}  # the sentence's gold spans
    drop_span_ids = {i for i in mine if key_of[i] not in wanted_spans}

    def span_doc(uid: str, key: SpanKey, prov: str) -> dict[str, Any]:
        return {"id": uid, "label": key[0], "start": key[1], "end": key[2], "provenance": prov}

    def rel_doc(uid: str, rtype: str, f: str, t: str, prov: str) -> dict[str, Any]:
        return {"id": uid, "type": rtype, "from": f, "to": t, "provenance": prov}

    kept_links: dict[LinkKey, Any] = {}
    for r in gold_rels:
        if r.from_span_id not in mine and r.to_span_id not in mine:
            continue
        key = (r.type, key_of[r.from_span_id], key_of[r.to_span_id])
        if key in wanted_links and r.from_span_id not in drop_span_ids and r.to_span_id not in drop_span_ids and key not in kept_links:
            kept_links[key] = r
            continue
        session.execute(delete(GoldRelation).where(GoldRelation.id == r.id))
        audit("gold_relation", r.uid, "delete", rel_doc(r.uid, r.type, uid_of[r.from_span_id], uid_of[r.to_span_id], r.provenance), None)
    for g in gold_spans:
        if g.id in drop_span_ids:  # its links were deleted (and audited) above: every one has an end in `mine`
            session.execute(delete(GoldSpan).where(GoldSpan.id == g.id))
            audit("gold_span", g.uid, "delete", span_doc(g.uid, key_of[g.id], g.provenance), None)

    # keep, convert or create the wanted spans (and the link ends outside the sentence)
    id_of: dict[SpanKey, tuple[int, str]] = {}
    by_key: dict[SpanKey, Any] = {}
    for g in gold_spans:
        if g.id not in drop_span_ids:
            by_key.setdefault(key_of[g.id], g)
    for key in sorted(wanted_spans | outside):
        g = by_key.get(key)
        if g is None:
            uid = _uid()
            new_id = session.execute(
                insert(GoldSpan).values(uid=uid, article_id=article_id, label=key[0], start=key[1], end=key[2],
                                        provenance="adjudicated", reviewer_id=reviewer_id, updated_at=now).returning(GoldSpan.id)
            ).scalar_one()
            id_of[key] = (new_id, uid)
            audit("gold_span", uid, "create", None, span_doc(uid, key, "adjudicated"))
            continue
        id_of[key] = (g.id, g.uid)
        if g.provenance in AUTO_PROVENANCE or (key in wanted_spans and (g.provenance != "adjudicated" or g.reviewer_id != reviewer_id)):
            session.execute(update(GoldSpan).where(GoldSpan.id == g.id).values(provenance="adjudicated", reviewer_id=reviewer_id, updated_at=now))
            audit("gold_span", g.uid, "update", span_doc(g.uid, key, g.provenance), span_doc(g.uid, key, "adjudicated"))

    for key in sorted(wanted_links):
        rtype, a, b = key
        r = kept_links.get(key)
        if r is None:
            uid = _uid()
            session.execute(insert(GoldRelation).values(uid=uid, article_id=article_id, type=rtype, from_span_id=id_of[a][0],
                                                        to_span_id=id_of[b][0], provenance="adjudicated", reviewer_id=reviewer_id))
            audit("gold_relation", uid, "create", None, rel_doc(uid, rtype, id_of[a][1], id_of[b][1], "adjudicated"))
        elif r.provenance != "adjudicated" or r.reviewer_id != reviewer_id:
            session.execute(update(GoldRelation).where(GoldRelation.id == r.id).values(provenance="adjudicated", reviewer_id=reviewer_id))
            audit("gold_relation", r.uid, "update", rel_doc(r.uid, rtype, id_of[a][1], id_of[b][1], r.provenance),
                  rel_doc(r.uid, rtype, id_of[a][1], id_of[b][1], "adjudicated"))

    _audit_many(session, changes)
    bump_revision(session, project_id)
    session.flush()
    return {"sentence_id": sentence_id, "label": label, "provenance": "adjudicated", "reviewer_id": reviewer_id, "reason": reason,
            "spans": len(wanted_spans), "relations": len(wanted_links), "changes": len(changes)}


# ----------------------------------------------------------------- what the adjudication page shows
def adjudication_context(session: Session, project_id: int, sentence_id: int) -> dict[str, Any]:
    """A sentence with its neighbours, every annotator's label, spans and links on it, and its gold.

    Spans of a sentence are the spans overlapping it; links are those with an
    end among them. Distinct spans / links list who made each one, so the form
    can offer one checkbox per distinct span and link.
    """
    sentence_id = _sentence_id(sentence_id)
    row = session.execute(
        select(Sentence.id, Sentence.article_id, Sentence.index, Sentence.start, Sentence.end, Article.text, Article.title, Article.external_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Sentence.id == sentence_id, Article.project_id == project_id)
    ).first()
    if row is None:
        raise GoldError(f"no sentence {sentence_id} in this project", 404)
    _, article_id, index, s_start, s_end, text, title, external_id = row
    neighbours = session.execute(
        select(Sentence.index, Sentence.start, Sentence.end)
        .where(Sentence.article_id == article_id, Sentence.index.in_([index - 1, index + 1]))
    ).all()
    before = next((text[s:e] for i, s, e in neighbours if i == index - 1), "")
    after = next((text[s:e] for i, s, e in neighbours if i == index + 1), "")

    def overlaps(start: int, end: int) -> bool:
        return start < s_end and end > s_start

    labels = session.execute(
        select(User.id, User.name, Annotation.label, Annotation.seconds, Annotation.needs_review)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.sentence_id == sentence_id)
    ).all()
    spans = session.execute(
        select(Span.id, Span.user_id, User.name, Span.label, Span.start, Span.end)
        .join(User, User.id == Span.user_id)
        .where(Span.article_id == article_id)
    ).all()
    span_by_id = {s.id: s for s in spans}
    relations = session.execute(
        select(Relation.user_id, Relation.type, Relation.from_span_id, Relation.to_span_id).where(Relation.article_id == article_id)
    ).all()
    people: dict[int, dict[str, Any]] = {}

    def person(uid: int, name: str) -> dict[str, Any]:
        return people.setdefault(uid, {"user_id": uid, "name": name, "label": None, "seconds": None, "needs_review": False, "spans": [], "links": []})

    for uid, name, label, seconds, needs_review in labels:
        p = person(uid, name)
        p["label"], p["seconds"], p["needs_review"] = label, seconds, bool(needs_review)

    def span_info(label: str, start: int, end: int) -> dict[str, Any]:
        return {"key": span_key_str(label, start, end), "label": label, "start": start, "end": end, "text": text[start:end],
                "in_sentence": overlaps(start, end)}

    distinct_spans: dict[str, dict[str, Any]] = {}
    for s in spans:
        if overlaps(s.start, s.end):
            info = span_info(s.label, s.start, s.end)
            person(s.user_id, s.name)["spans"].append(info)
            distinct_spans.setdefault(info["key"], {**info, "by": []})["by"].append(s.name)
    distinct_links: dict[str, dict[str, Any]] = {}
    for uid, rtype, f, t in relations:
        a, b = span_by_id.get(f), span_by_id.get(t)
        if a is None or b is None or not (overlaps(a.start, a.end) or overlaps(b.start, b.end)):
            continue
        key = link_key_str(rtype, (a.label, a.start, a.end), (b.label, b.start, b.end))
        link = {"key": key, "type": rtype, "from": span_info(a.label, a.start, a.end), "to": span_info(b.label, b.start, b.end)}
        person(uid, a.name)["links"].append(link)
        distinct_links.setdefault(key, {**link, "by": []})["by"].append(a.name)

    gold = session.execute(
        select(GoldLabel.label, GoldLabel.provenance, GoldLabel.reason, GoldLabel.updated_at, User.name)
        .outerjoin(User, User.id == GoldLabel.reviewer_id)
        .where(GoldLabel.sentence_id == sentence_id)
    ).first()
    gold_spans = session.execute(
        select(GoldSpan.id, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance).where(GoldSpan.article_id == article_id)
    ).all()
    gold_span_by_id = {g.id: g for g in gold_spans}
    gold_rels = session.execute(
        select(GoldRelation.type, GoldRelation.from_span_id, GoldRelation.to_span_id, GoldRelation.provenance).where(GoldRelation.article_id == article_id)
    ).all()
    gold_span_list = [{**span_info(g.label, g.start, g.end), "provenance": g.provenance} for g in gold_spans if overlaps(g.start, g.end)]
    gold_link_list = []
    for rtype, f, t, prov in gold_rels:
        a, b = gold_span_by_id[f], gold_span_by_id[t]
        if overlaps(a.start, a.end) or overlaps(b.start, b.end):
            gold_link_list.append({"key": link_key_str(rtype, (a.label, a.start, a.end), (b.label, b.start, b.end)), "type": rtype,
                                   "from": span_info(a.label, a.start, a.end), "to": span_info(b.label, b.start, b.end), "provenance": prov})
    annotators = sorted(people.values(), key=lambda p: p["name"])
    for p in annotators:
        p["spans"].sort(key=lambda s: (s["start"], s["end"], s["label"]))
    n = len([p for p in annotators if p["label"] is not None])
    for d in list(distinct_spans.values()) + list(distinct_links.values()):
        d["by"].sort()
        d["all"] = n >= 1 and len(set(d["by"])) >= n
    return {
        "sentence": {"id": sentence_id, "index": index, "start": s_start, "end": s_end, "text": text[s_start:s_end]},
        "article": {"id": article_id, "title": title, "external_id": external_id, "text_length": len(text)},
        "context": {"before": before, "after": after},
        "annotators": annotators,
        "distinct_spans": sorted(distinct_spans.values(), key=lambda s: (s["start"], s["end"], s["label"])),
        "distinct_links": sorted(distinct_links.values(), key=lambda s: (s["from"]["start"], s["to"]["start"], s["type"])),
        "gold": None if gold is None else {"label": gold.label, "provenance": gold.provenance, "reason": gold.reason,
                                           "updated_at": gold.updated_at, "reviewer": gold.name},
        "gold_spans": gold_span_list,
        "gold_links": gold_link_list,
    }
