"""Automatic gold recomputed: a sentence, a list of articles, or the whole project a batch of articles at a time.

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
The label rule itself is pure (annotator.stats.gold); the spans and relations
are auto_spans.py's.

WHEN automatic gold is computed: as the labels change. Every annotation write
recomputes the automatic gold of the article it touched in its own
transaction (incremental.py), so readers (the export, the review queue, the
adjudication page) find it current and never write. The whole project is
recomputed here, a batch of articles at a time, only when a setting of the
rule changes (the majority, annotators per article: projects.update_project)
and by `annotator gold rebuild`, which compares. `ensure_auto_gold` (the lazy
catch-up per project revision, from before gold was kept current) stays for
databases upgraded from that time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import Text, bindparam, case, cast, delete, distinct, func, insert, null, select, union_all, update
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, AuditEntry, CacheEntry, GoldLabel, Project, Sentence, Span
from annotator.db.prepared import Prepared, PreparedWrite
from annotator.db.transactions import transaction
from annotator.domain import labelschema
from annotator.domain.gold.writes import audit_many, chunks, delete_rows, is_auto, lock_project, now, write_rows
from annotator.domain.project_head import ProjectHead, min_raters, project_head
from annotator.stats.gold import AUTO_PROVENANCE, PROVENANCE_CODES, auto_gold_label, auto_gold_labels

if TYPE_CHECKING:
    from annotator.domain.agreement.loaders import ArticleRange, ProjectLabels
    from annotator.domain.gold.inputs import BatchInputs, GoldLabelRow


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


# Automatic gold is decided sentence by sentence and span by span within an
# article, so a refresh goes through the project this many articles at a time.
# Its memory is that of one batch, and ensure_auto_gold commits each batch, so
# on SQLite annotators' saves wait for one batch, not the project. Measured on
# 1M labels (bench/bench_export.py): the whole project at once took 13.1 s and
# 879 MB and held writers for all of it; batches of 100 articles take 10.3 s,
# 96 MB, and a save waited at most 87 ms.
REFRESH_BATCH_ARTICLES = 100


def refresh_auto_gold(session: Session, project_id: int, batch_articles: int = REFRESH_BATCH_ARTICLES) -> RefreshResult:
    """Recompute the project's automatic gold labels, spans and relations, in the caller's transaction.

    Creates what the rule now gives, updates what changed (unanimous <->
    majority, another label), removes automatic gold the labels no longer
    support; never touches adjudicated or imported gold. The caller opens the
    write transaction and commits afterwards: all batches are one transaction
    (ensure_auto_gold instead commits batch by batch).
    """
    lock_project(session, project_id)
    head = project_head(session, project_id)
    result = RefreshResult(revision=head.revision)
    for articles in _article_batches(session, head, batch_articles):
        refresh_articles(session, head, articles, result)
    session.flush()
    return result


def marker_key(head: ProjectHead) -> str:
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
    Its transactions are several on purpose (one per batch), each its own `transaction()`.
    """
    head = project_head(session, project_id)
    if session.scalar(select(CacheEntry.key).where(CacheEntry.key == marker_key(head))) is not None:
        return None
    with transaction(session):
        lock_project(session, project_id)
        head = project_head(session, project_id)  # re-read under the lock: the revision may have moved
        key = marker_key(head)
        if session.scalar(select(CacheEntry.key).where(CacheEntry.key == key)) is not None:
            return None
        batches = _article_batches(session, head, batch_articles)
    result = RefreshResult(revision=head.revision)
    for articles in batches:
        with transaction(session, queue=True):  # in line with the annotators' saves, which wait on the same queue
            lock_project(session, project_id)
            refresh_articles(session, head, articles, result)
    with transaction(session, queue=True):
        lock_project(session, project_id)
        session.execute(delete(CacheEntry).where(CacheEntry.project_id == head.id, CacheEntry.key.like(f"autogold:{head.id}:%")))
        session.execute(
            insert(CacheEntry).values(key=key, project_id=head.id, revision=head.revision, value={"changed": result.changed}, created_at=now())
        )
    return result


# The one-sentence path runs inside every label save: prebuilt Core statements on the session's connection
# (building and ORM-executing them per save cost several times the database work, as annotations/statements.py says).
_gold_labels, _annotations = GoldLabel.__table__, Annotation.__table__
_sentences, _projects, _spans = Sentence.__table__, Project.__table__, Span.__table__
# Everything the sentence's gold label depends on, in ONE statement (it was four: the project head, the spans over the
# sentence, its gold row, its labels): a head row (the project's settings and the sentence's gold row; `given` NULL)
# and a row per label (only `given`). A UNION ALL, not a join of labels to the head: that would decode the project's
# JSON schema once per label (3 decodes were a third of the read); the schema comes as its text, and its sentence
# labels are decoded once per distinct text (_sentence_labels). Sentence and gold by key, labels by sentence_id.
def _sentence_gold(with_spans: bool) -> Any:
    head = [
        _projects.c.revision, cast(_projects.c.label_schema, Text), _projects.c.majority_threshold, _projects.c.annotators_per_article,
        _gold_labels.c.id.label("gold_id"), _gold_labels.c.label.label("gold_label"), _gold_labels.c.provenance, null().label("given"),
    ]
    if with_spans:  # whether an exact annotator span over the sentence has min_raters markers: only such a span can
        # be automatic gold (incremental.spans_can_be_gold), so only then can a rater created or removed there change the
        # article's automatic spans. min_raters is project_head.min_raters(annotators_per_article), in SQL. It reads the
        # spans that start before the sentence's end on ix_spans_article_offsets_label_user, grouped in the index's order
        # (no sort): a span from anywhere before may reach into the sentence, and no bound on a span's length is kept.
        least = case((_projects.c.annotators_per_article > 2, _projects.c.annotators_per_article), else_=2)
        head.append(
            select(_spans.c.label)
            .where(_spans.c.article_id == _sentences.c.article_id, _spans.c.start < _sentences.c.end, _spans.c.end > _sentences.c.start)
            .group_by(_spans.c.start, _spans.c.end, _spans.c.label).having(func.count(distinct(_spans.c.user_id)) >= least)
            .exists().label("spans_over")
        )
    head_row = (
        select(*head)
        .select_from(_sentences.join(_projects, _projects.c.id == bindparam("project_id"))
                     .outerjoin(_gold_labels, _gold_labels.c.sentence_id == _sentences.c.id))
        .where(_sentences.c.id == bindparam("sentence_id"))
    )
    label_rows = select(*[null()] * 7, _annotations.c.label, *[null()] * with_spans).where(
        _annotations.c.sentence_id == bindparam("sentence_id"))
    return union_all(head_row, label_rows)


# run on the driver's cursor (db/prepared.py), as the writes a label save may make below: every label save runs one
_SENTENCE_GOLD, _SENTENCE_GOLD_AND_SPANS = Prepared(_sentence_gold(False)), Prepared(_sentence_gold(True))
# The automatic provenances written into the SQL (an IN of bound values is expanded again at every execution).
_IS_AUTO = is_auto(_gold_labels.c.provenance)
_DELETE_AUTO = PreparedWrite(delete(_gold_labels).where(_gold_labels.c.id == bindparam("gid"), _IS_AUTO))
_DELETE_AUTO_LABELS = delete(_gold_labels).where(_gold_labels.c.id.in_(bindparam("ids", expanding=True)), _IS_AUTO)
_UPDATE_AUTO = PreparedWrite(update(_gold_labels).where(_gold_labels.c.id == bindparam("gid"), _IS_AUTO).values(
    label=bindparam("new_label"), provenance=bindparam("new_prov"), reviewer_id=None, reason=None, updated_at=bindparam("at")))
_INSERT = PreparedWrite(insert(_gold_labels))
_AUDIT = PreparedWrite(insert(AuditEntry.__table__))
_PROVENANCE_NAMES = {v: k for k, v in PROVENANCE_CODES.items()}


@lru_cache(maxsize=256)
def _sentence_labels(schema_text: str) -> tuple[str, ...]:
    """The schema's sentence labels (ProjectHead.categories), decoded once per distinct schema text."""
    return tuple(labelschema.names(json.loads(schema_text), "sentence_labels"))


@dataclass(slots=True)
class SentenceGold:
    """What the automatic gold label of one sentence depends on, read by sentence_gold in one statement."""

    revision: int
    categories: tuple[str, ...]  # the schema's sentence labels, in its order
    majority_threshold: float
    annotators_per_article: int
    gold: tuple[int, str, str] | None  # (gold label id, label, provenance)
    labels: list[str]
    spans_over: bool  # an exact annotator span with min_raters markers overlaps the sentence (False when not asked)


def sentence_gold(session: Session, project_id: int, sentence_id: int, with_spans: bool = False) -> SentenceGold | None:
    """The inputs of the sentence's gold label (and, `with_spans`, whether a span that can be gold overlaps it); None
    when there is no such sentence."""
    statement = _SENTENCE_GOLD_AND_SPANS if with_spans else _SENTENCE_GOLD
    rows = statement.rows(session, {"project_id": project_id, "sentence_id": sentence_id})
    head = next((row for row in rows if row[7] is None), None)  # row[7], `given`: labels are never NULL, the head's is
    if head is None:
        return None
    return SentenceGold(
        head[0], _sentence_labels(head[1]), head[2], head[3], None if head[4] is None else (head[4], head[5], head[6]),
        [row[7] for row in rows if row[7] is not None], bool(head[8]) if with_spans else False,
    )


def refresh_sentence_label(
    session: Session, project_id: int, article_id: int, sentence_id: int, result: RefreshResult, inputs: SentenceGold | None = None
) -> None:
    """The automatic gold label of one sentence made what the rule gives (its spans are refresh_articles' business).

    One read (sentence_gold; `inputs` when the caller read it already), the
    rule (annotator.stats.gold) on that one row exactly as the batch refresh
    applies it (the same codes: schema labels first, unknown labels after
    them), and at most one write and its audit entry.
    """
    if inputs is None:
        inputs = sentence_gold(session, project_id, sentence_id)
        if inputs is None:
            return
    existing = inputs.gold
    if existing is not None and existing[2] not in AUTO_PROVENANCE:
        return  # human gold: the reviewer decided
    wanted = _one_sentence_rule(inputs)
    before = None if existing is None else existing[1:]
    if wanted == before:
        return
    conn = session.connection()
    at = now()
    if wanted is None:
        _DELETE_AUTO.run(conn, {"gid": existing[0]})
        action, result.labels_deleted = "delete", result.labels_deleted + 1
    elif before is None:
        _INSERT.run(conn, {"sentence_id": sentence_id, "label": wanted[0], "provenance": wanted[1], "reviewer_id": None, "reason": None,
                           "updated_at": at})
        action, result.labels_created = "create", result.labels_created + 1
    else:
        _UPDATE_AUTO.run(conn, {"gid": existing[0], "new_label": wanted[0], "new_prov": wanted[1], "at": at})
        action, result.labels_updated = "update", result.labels_updated + 1
    entry = _label_entry(project_id, sentence_id, article_id, action, before and _label_doc(sentence_id, *before),
                         wanted and _label_doc(sentence_id, *wanted))
    _AUDIT.run(conn, {"at": at, **entry})


def _one_sentence_rule(inputs: SentenceGold) -> tuple[str, str] | None:
    """(label, provenance) the rule gives one sentence with these labels, or None (the codes as load_labels makes them)."""
    return sentence_rule(inputs.categories, inputs.labels, inputs.majority_threshold, min_raters(inputs.annotators_per_article))


def sentence_rule(categories: Sequence[str], given: Sequence[str], threshold: float, least: int) -> tuple[str, str] | None:
    """(label, provenance) the rule gives a sentence with the labels `given`, or None. The codes are load_labels':
    the schema's labels (`categories`) in its order, then the others sorted. A batch sorts the others of all its
    sentences, a sentence only its own: their order among its own labels, which breaks a tie, is the same."""
    unknown = sorted({label for label in given if label not in categories})
    if unknown:
        categories = [*categories, *unknown]
    code, provenance = auto_gold_label([categories.index(label) for label in given], threshold, least)
    if code < 0:
        return None
    return categories[code], _PROVENANCE_NAMES[provenance]


def _article_batches(session: Session, head: ProjectHead, batch_articles: int) -> list[ArticleRange]:
    """The project's article ids in ranges of `batch_articles` articles (other projects' ids may fall inside a range)."""
    ids = list(session.scalars(select(Article.id).where(Article.project_id == head.id).order_by(Article.id)))
    return [(batch[0], batch[-1]) for batch in chunks(ids, batch_articles)]


def refresh_articles(
    session: Session, head: ProjectHead, articles: ArticleRange, result: RefreshResult, changes: list[dict[str, Any]] | None = None
) -> None:
    """refresh_auto_gold for the project's articles in `articles` (a range or a list of ids); adds its counts to `result`
    and, when `changes` is a list, each change's audit entry to it (gold rebuild lists them)."""
    # Imported here: their arrays load NumPy and the agreement loaders, which a save's paths never need (a save's one
    # article goes through one_article.py: incremental.py chooses).
    from annotator.domain.gold.auto_spans import refresh_auto_spans
    from annotator.domain.gold.inputs import read_batch

    batch = read_batch(session, head, articles)
    audit: list[dict[str, Any]] = []
    human_sentences = _refresh_auto_labels(session, head, batch, audit, result)
    refresh_auto_spans(session, head, articles, batch, human_sentences, audit, result)
    audit_many(session, audit)
    if changes is not None:
        changes.extend(audit)


# ----------------------------------------------------------------- sentence labels
_Current = dict[int, tuple[int, str, str, int]]  # sentence id -> (gold label id, label, provenance, article id)
_Wanted = dict[int, tuple[str, str, int]]  # sentence id -> (label, provenance, article id)


def _refresh_auto_labels(
    session: Session, head: ProjectHead, batch: BatchInputs, audit: list[dict[str, Any]], result: RefreshResult
) -> set[int]:
    """Automatic gold labels of the batch made what the rule gives; returns the sentences with human gold."""
    human_sentences = human_gold(batch.gold_labels)
    settle_labels(session, head.id, batch.gold_labels, _wanted_labels(head, batch.labels, human_sentences), audit, result)
    return human_sentences


def human_gold(gold_labels: list[GoldLabelRow]) -> set[int]:
    """The sentences whose gold label a person gave (adjudicated, imported): the rule leaves them alone."""
    return {sid for _, sid, _, prov, _ in gold_labels if prov not in AUTO_PROVENANCE}


def settle_labels(
    session: Session, project_id: int, gold_labels: list[GoldLabelRow], wanted: _Wanted, audit: list[dict[str, Any]], result: RefreshResult
) -> None:
    """The automatic gold labels among `gold_labels` made `wanted` (sentence id -> (label, provenance, article))."""
    current: _Current = {sid: (gid, label, prov, art) for gid, sid, label, prov, art in gold_labels if prov in AUTO_PROVENANCE}
    result.labels_deleted += _delete_stale_labels(session, project_id, current, wanted, audit)
    at = now()
    result.labels_updated += _update_changed_labels(session, project_id, current, wanted, at, audit)
    result.labels_created += _insert_new_labels(session, project_id, current, wanted, at, audit)


def _wanted_labels(head: ProjectHead, labels: ProjectLabels, human_sentences: set[int]) -> _Wanted:
    gold, provenance = auto_gold_labels(labels.codes, head.majority_threshold, head.min_raters)
    categories = labels.matrix.categories
    names = {v: k for k, v in PROVENANCE_CODES.items()}
    wanted: _Wanted = {}
    for item in (gold >= 0).nonzero()[0].tolist():  # the array's own method: this module imports no NumPy
        sid = int(labels.sentence_ids[item])
        if sid not in human_sentences:
            wanted[sid] = (categories[gold[item]], names[int(provenance[item])], int(labels.article_ids[item]))
    return wanted


def _label_entry(project_id: int, sid: int, art: int, action: str, before: Any, after: Any) -> dict[str, Any]:
    return {"user_id": None, "project_id": project_id, "article_id": art, "entity": "gold_label", "entity_id": str(sid),
            "action": action, "before": before, "after": after}


def _label_doc(sid: int, label: str, prov: str) -> dict[str, Any]:
    return {"sentence_id": sid, "label": label, "provenance": prov, "reviewer_id": None, "reason": None}


def _delete_stale_labels(session: Session, project_id: int, current: _Current, wanted: _Wanted, audit: list[dict[str, Any]]) -> int:
    stale = [sid for sid in current if sid not in wanted]
    delete_rows(session, _DELETE_AUTO, _DELETE_AUTO_LABELS, [current[sid][0] for sid in stale])
    for sid in stale:
        _gid, label, prov, art = current[sid]
        audit.append(_label_entry(project_id, sid, art, "delete", _label_doc(sid, label, prov), None))
    return len(stale)


def _update_changed_labels(
    session: Session, project_id: int, current: _Current, wanted: _Wanted, at: datetime, audit: list[dict[str, Any]]
) -> int:
    changed = [(sid, w) for sid, w in wanted.items() if sid in current and (current[sid][1], current[sid][2]) != w[:2]]
    # never human gold: _UPDATE_AUTO's WHERE says so too
    write_rows(session, _UPDATE_AUTO, [{"gid": current[sid][0], "new_label": w[0], "new_prov": w[1], "at": at} for sid, w in changed])
    for sid, (label, prov, art) in changed:
        _, old_label, old_prov, _ = current[sid]
        audit.append(_label_entry(project_id, sid, art, "update", _label_doc(sid, old_label, old_prov), _label_doc(sid, label, prov)))
    return len(changed)


def _insert_new_labels(
    session: Session, project_id: int, current: _Current, wanted: _Wanted, at: datetime, audit: list[dict[str, Any]]
) -> int:
    new = [(sid, w) for sid, w in wanted.items() if sid not in current]
    write_rows(session, _INSERT, [{"sentence_id": sid, "label": label, "provenance": prov, "reviewer_id": None, "reason": None,
                                   "updated_at": at} for sid, (label, prov, _) in new])
    for sid, (label, prov, art) in new:
        audit.append(_label_entry(project_id, sid, art, "create", None, _label_doc(sid, label, prov)))
    return len(new)
