"""What refresh_articles computes a batch's automatic gold from: its labels, sentences, spans, relations and gold.

Two ways to read the same thing:
- a list of article ids (the articles a save, an import or `gold rebuild` touched;
  every span or link save of a rater recomputes its ONE article): prebuilt Core
  statements with bound parameters, run on the session's connection. Building the
  whole-project loaders' statements per call (coercions, operators, cache keys)
  was ~40 % of a one-article refresh, and it read in ten statements what three
  give here: the labels (with each sentence's article and the annotator's name),
  the sentences with their gold labels, and the spans, relations, gold spans and
  gold relations in one UNION ALL. Few rows: plain rows, the label codes made here;
- a range of article ids (the whole project a batch at a time, when a setting of
  the rule changes): the loaders of annotator.domain.agreement, built per call
  (rare), which pack a batch's many labels into one string for NumPy.
tests/test_gold_inputs.py checks that both give the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import bindparam, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from annotator.db.models import (
    Annotation,
    Article,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Relation,
    Sentence,
    Span,
    User,
    visible_articles,
)
from annotator.domain.agreement.loaders import (
    ArticleRange,
    ProjectLabels,
    ProjectSpans,
    SentenceRows,
    article_clause,
    dense_ids,
    load_labels,
    load_sentences,
    load_spans,
)
from annotator.domain.gold.rows import GoldRelationRow, GoldSpanRow
from annotator.domain.gold.writes import is_auto
from annotator.domain.project_head import ProjectHead
from annotator.stats import agreement as ag

GoldLabelRow = tuple[int, int, str, str, int]  # (gold label id, sentence id, label, provenance, article id)


@dataclass(frozen=True, slots=True)
class BatchInputs:
    """Everything the rule reads for a batch of articles, as it is before the refresh writes."""

    labels: ProjectLabels
    sentences: SentenceRows
    gold_labels: list[GoldLabelRow]
    spans: ProjectSpans
    gold_spans: list[GoldSpanRow]
    gold_relations: list[GoldRelationRow]


def read_batch(session: Session, head: ProjectHead, articles: ArticleRange) -> BatchInputs:
    """The batch's inputs: prebuilt statements for a list of ids, the whole-project loaders for a range."""
    if session.autoflush:  # what an ORM query would have flushed first (e.g. a correction's new sentences)
        session.flush()
    if isinstance(articles, list):
        return _read_listed(session, head, articles)
    return _read_range(session, head, articles)


def auto_gold_spans(session: Session, head: ProjectHead, articles: ArticleRange) -> list[tuple[int, str, int, str, int, int]]:
    """The batch's automatic gold spans as they are now: (id, uid, article, label, start, end)."""
    if isinstance(articles, list):
        return [tuple(r) for r in session.connection().execute(_AUTO_GOLD_SPANS, _params(head, articles))]
    in_project = select(Article.id).where(Article.project_id == head.id, article_clause(articles))
    return [tuple(r) for r in session.execute(
        select(GoldSpan.id, GoldSpan.uid, GoldSpan.article_id, GoldSpan.label, GoldSpan.start, GoldSpan.end)
        .where(GoldSpan.article_id.in_(in_project), is_auto(GoldSpan.provenance))
    )]


# ----------------------------------------------------------------- a range: the whole-project loaders
def _read_range(session: Session, head: ProjectHead, articles: tuple[int, int]) -> BatchInputs:
    labels = load_labels(session, head, with_seconds=False, articles=articles)
    gold_labels = [tuple(r) for r in session.execute(
        select(GoldLabel.id, GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance, Sentence.article_id)
        .join(Sentence, Sentence.id == GoldLabel.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == head.id, article_clause(articles))
    )]
    spans = load_spans(session, head, articles)
    sentences = load_sentences(session, head, articles)
    in_project = select(Article.id).where(Article.project_id == head.id, article_clause(articles))
    gold_spans = [GoldSpanRow(*r) for r in session.execute(
        select(GoldSpan.id, GoldSpan.uid, GoldSpan.article_id, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance)
        .where(GoldSpan.article_id.in_(in_project))
    )]
    gold_relations = [GoldRelationRow(*r) for r in session.execute(
        select(GoldRelation.id, GoldRelation.uid, GoldRelation.article_id, GoldRelation.type, GoldRelation.from_span_id,
               GoldRelation.to_span_id, GoldRelation.provenance)
        .where(GoldRelation.article_id.in_(in_project))
    )]
    return BatchInputs(labels, sentences, gold_labels, spans, gold_spans, gold_relations)  # type: ignore[arg-type]


# ----------------------------------------------------------------- a list: prebuilt statements
_articles, _sentences, _annotations, _users = (m.__table__ for m in (Article, Sentence, Annotation, User))
_spans, _relations, _gold_labels, _gold_spans, _gold_relations = (m.__table__ for m in (Span, Relation, GoldLabel, GoldSpan, GoldRelation))
# The project's visible articles among the ids (a Core statement: the ORM's filter of staged imports does not apply).
_IN_SCOPE = (
    _articles.c.project_id == bindparam("project_id"),
    _articles.c.id.in_(bindparam("article_ids", expanding=True)),
    visible_articles(),
)
_SCOPE = select(_articles.c.id).where(*_IN_SCOPE)
_LABELS = (  # the label itself, not a code: the codes depend on the project's schema (made in _labels)
    select(_annotations.c.sentence_id, _sentences.c.article_id, _annotations.c.user_id, _annotations.c.label, _users.c.name)
    .select_from(_annotations.join(_sentences, _sentences.c.id == _annotations.c.sentence_id)
                 .join(_articles, _articles.c.id == _sentences.c.article_id)
                 .outerjoin(_users, _users.c.id == _annotations.c.user_id))
    .where(*_IN_SCOPE)
)
_SENTENCES = (  # SentenceRows' columns, then the sentence's gold label (at most one: unique by sentence)
    select(_sentences.c.id, _sentences.c.article_id, _sentences.c.index, _sentences.c.start, _sentences.c.end,
           _gold_labels.c.id.label("gold_id"), _gold_labels.c.label, _gold_labels.c.provenance)
    .select_from(_sentences.join(_articles, _articles.c.id == _sentences.c.article_id)
                 .outerjoin(_gold_labels, _gold_labels.c.sentence_id == _sentences.c.id))
    .where(*_IN_SCOPE)
    .order_by(_sentences.c.article_id, _sentences.c.start)
)
_SPAN, _RELATION, _GOLD_SPAN, _GOLD_RELATION = (literal_column(str(k)) for k in range(4))
# Spans, relations, gold spans, gold relations: (kind, id, uid, article, user, label or type, start or from, end or to, provenance).
_SPANS = union_all(
    select(_SPAN, _spans.c.id, null(), _spans.c.article_id, _spans.c.user_id, _spans.c.label, _spans.c.start, _spans.c.end, null())
    .where(_spans.c.article_id.in_(_SCOPE)),
    select(_RELATION, null(), null(), _relations.c.article_id, _relations.c.user_id, _relations.c.type, _relations.c.from_span_id,
           _relations.c.to_span_id, null())
    .where(_relations.c.article_id.in_(_SCOPE)),
    select(_GOLD_SPAN, _gold_spans.c.id, _gold_spans.c.uid, _gold_spans.c.article_id, null(), _gold_spans.c.label, _gold_spans.c.start,
           _gold_spans.c.end, _gold_spans.c.provenance)
    .where(_gold_spans.c.article_id.in_(_SCOPE)),
    select(_GOLD_RELATION, _gold_relations.c.id, _gold_relations.c.uid, _gold_relations.c.article_id, null(), _gold_relations.c.type,
           _gold_relations.c.from_span_id, _gold_relations.c.to_span_id, _gold_relations.c.provenance)
    .where(_gold_relations.c.article_id.in_(_SCOPE)),
)
_AUTO_GOLD_SPANS = (
    select(_gold_spans.c.id, _gold_spans.c.uid, _gold_spans.c.article_id, _gold_spans.c.label, _gold_spans.c.start, _gold_spans.c.end)
    .where(_gold_spans.c.article_id.in_(_SCOPE), is_auto(_gold_spans.c.provenance))
)


def _params(head: ProjectHead, articles: list[int]) -> dict[str, Any]:
    return {"project_id": head.id, "article_ids": articles}


def _read_listed(session: Session, head: ProjectHead, articles: list[int]) -> BatchInputs:
    conn, params = session.connection(), _params(head, articles)
    labels = _labels(head, conn.execute(_LABELS, params).all())
    rows = conn.execute(_SENTENCES, params).all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    sentences = SentenceRows(*(np.array(columns[k], dtype=np.int64) for k in range(5)))
    gold_labels = [(gid, sid, label, prov, art) for sid, art, _, _, _, gid, label, prov in rows if gid is not None]
    spans: list[tuple[int, int, int, str, int, int]] = []
    relations: list[tuple[int, int, str, int, int]] = []
    gold_spans: list[GoldSpanRow] = []
    gold_relations: list[GoldRelationRow] = []
    for kind, id_, uid, art, user, text, a, b, prov in conn.execute(_SPANS, params):
        if kind == 0:
            spans.append((id_, art, user, text, a, b))
        elif kind == 1:
            relations.append((art, user, text, a, b))
        elif kind == 2:
            gold_spans.append(GoldSpanRow(id_, uid, art, text, a, b, prov))
        else:
            gold_relations.append(GoldRelationRow(id_, uid, art, text, a, b, prov))
    return BatchInputs(labels, sentences, gold_labels, ProjectSpans(spans, relations), gold_spans, gold_relations)


def _labels(head: ProjectHead, rows: list[Any]) -> ProjectLabels:
    """ProjectLabels as load_labels makes them from (sentence id, article id, user id, label, user name) rows: the
    schema's sentence labels in its order, then the labels it does not list, sorted; dense sentence and user codes."""
    sentence_of, article_of, user_of, label_of, name_of = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [], [])
    categories = head.categories
    code_of = {name: k for k, name in enumerate(categories)}
    unknown = sorted({label for label in label_of if label not in code_of})
    if unknown:
        categories = [*categories, *unknown]
        code_of = {name: k for k, name in enumerate(categories)}
    codes = np.array([code_of[label] for label in label_of], dtype=np.int64)
    sentence_ids, item = dense_ids(np.array(sentence_of, dtype=np.int64))
    user_ids, column = dense_ids(np.array(user_of, dtype=np.int64))
    article_ids = np.zeros(len(sentence_ids), dtype=np.int64)
    article_ids[item] = article_of
    names = dict(zip(user_of, name_of, strict=True))
    annotators = [f"user {u}" if names.get(u) is None else names[u] for u in user_ids.tolist()]  # (no such user row: as load_labels)
    matrix = ag.LabelMatrix.from_long(item, column, codes, len(sentence_ids), annotators, categories)
    return ProjectLabels(matrix, sentence_ids, article_ids, user_ids, None)
