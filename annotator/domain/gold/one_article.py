"""One article's automatic gold, as a rater's save recomputes it while it holds the write turn: one read, no NumPy.

A save that can change its article's automatic spans (a label created or removed under a span enough
annotators marked, a span or link that can be gold) recomputes the article inside its write transaction, which
on SQLite every other save waits for. The batch path (inputs.py and the NumPy arrays) read the article in three
statements through SQLAlchemy's execution and packed its few rows into arrays that cost more than the rule:
1.7 ms of a 3.1 ms refresh (in process, issue 17's save shape), and the first such save of every worker
imported NumPy inside its turn (0.2 s). Here one prebuilt statement on the driver's cursor (db/prepared.py)
reads the labels, the sentences with their gold labels, the spans, links, gold spans and gold links; the rule's
inputs are made in plain Python, the label rule per sentence (refresh.sentence_rule) and who rated what
(auto_spans.tally); the writes are the batch path's. tests/test_gold_one_article.py checks on random articles
that both paths want the same gold.
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, literal_column, null, select, union_all
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, GoldLabel, GoldRelation, GoldSpan, Relation, Sentence, Span, visible_articles
from annotator.db.prepared import Prepared
from annotator.domain.gold.auto_spans import _Votes, settle_auto_spans, tally
from annotator.domain.gold.refresh import human_gold, sentence_rule, settle_labels
from annotator.domain.gold.rows import GoldRelationRow, GoldSpanRow
from annotator.domain.gold.writes import audit_many, is_auto
from annotator.domain.project_head import ProjectHead

if TYPE_CHECKING:
    from annotator.domain.gold.refresh import RefreshResult, _Wanted

_articles, _sentences, _annotations, _spans, _relations = (m.__table__ for m in (Article, Sentence, Annotation, Span, Relation))
_gold_labels, _gold_spans, _gold_relations = (m.__table__ for m in (GoldLabel, GoldSpan, GoldRelation))
# The project's article, if visible (the ORM's filter of staged imports does not apply to a Core statement).
_IN_SCOPE = (_articles.c.id == bindparam("article_id"), _articles.c.project_id == bindparam("project_id"), visible_articles())


def _kind(k: int) -> Any:
    return literal_column(str(k))


# Everything the rule reads of the article, in one UNION ALL of rows (kind, n1, n2, n3, n4, t1, t2, t3): numbers and
# texts kept in columns of their own, as PostgreSQL wants of a union's columns.
#   0 label: sentence id, user id, -, -, label          3 link: user id, from span, to span, -, type
#   1 sentence: id, start, end, gold label id, gold label, -, its provenance
#   2 span: id, user id, start, end, label              4 gold span: id, start, end, -, label, uid, provenance
#                                                       5 gold link: id, from, to, -, type, uid, provenance
_ARTICLE = Prepared(union_all(
    select(_kind(0), _annotations.c.sentence_id, _annotations.c.user_id, null(), null(), _annotations.c.label, null(), null())
    .select_from(_annotations.join(_sentences, _sentences.c.id == _annotations.c.sentence_id)
                 .join(_articles, _articles.c.id == _sentences.c.article_id))
    .where(*_IN_SCOPE),
    select(_kind(1), _sentences.c.id, _sentences.c.start, _sentences.c.end, _gold_labels.c.id, _gold_labels.c.label, null(),
           _gold_labels.c.provenance)
    .select_from(_sentences.join(_articles, _articles.c.id == _sentences.c.article_id)
                 .outerjoin(_gold_labels, _gold_labels.c.sentence_id == _sentences.c.id))
    .where(*_IN_SCOPE),
    select(_kind(2), _spans.c.id, _spans.c.user_id, _spans.c.start, _spans.c.end, _spans.c.label, null(), null())
    .select_from(_spans.join(_articles, _articles.c.id == _spans.c.article_id)).where(*_IN_SCOPE),
    select(_kind(3), _relations.c.user_id, _relations.c.from_span_id, _relations.c.to_span_id, null(), _relations.c.type, null(), null())
    .select_from(_relations.join(_articles, _articles.c.id == _relations.c.article_id)).where(*_IN_SCOPE),
    select(_kind(4), _gold_spans.c.id, _gold_spans.c.start, _gold_spans.c.end, null(), _gold_spans.c.label, _gold_spans.c.uid,
           _gold_spans.c.provenance)
    .select_from(_gold_spans.join(_articles, _articles.c.id == _gold_spans.c.article_id)).where(*_IN_SCOPE),
    select(_kind(5), _gold_relations.c.id, _gold_relations.c.from_span_id, _gold_relations.c.to_span_id, null(), _gold_relations.c.type,
           _gold_relations.c.uid, _gold_relations.c.provenance)
    .select_from(_gold_relations.join(_articles, _articles.c.id == _gold_relations.c.article_id)).where(*_IN_SCOPE),
))
# The article's automatic gold spans after the span writes, read only when a gold link is to be made between them.
_AUTO_GOLD_SPANS = Prepared(
    select(_gold_spans.c.id, _gold_spans.c.uid, _gold_spans.c.article_id, _gold_spans.c.label, _gold_spans.c.start, _gold_spans.c.end)
    .where(_gold_spans.c.article_id == bindparam("article_id"), is_auto(_gold_spans.c.provenance))
)


@dataclass(slots=True)
class ArticleInputs:
    """What the rule reads of one article, as plain rows (the batch path's BatchInputs, without arrays)."""

    article_id: int
    sentences: list[tuple[int, int, int]]  # (id, start, end), in any order
    labels: list[tuple[int, int, str]]  # (sentence id, user id, label)
    spans: list[tuple[int, int, int, str, int, int]]  # (span id, article, user, label, start, end), as ProjectSpans'
    relations: list[tuple[int, int, str, int, int]]  # (article, user, type, from span id, to span id)
    gold_labels: list[tuple[int, int, str, str, int]] = field(default_factory=list)  # (id, sentence id, label, provenance, article)
    gold_spans: list[GoldSpanRow] = field(default_factory=list)
    gold_relations: list[GoldRelationRow] = field(default_factory=list)


def read_article(session: Session, project_id: int, article_id: int) -> ArticleInputs:
    """The article's inputs in one statement; all empty when it is not the project's or not visible."""
    if session.autoflush:  # what an ORM query would have flushed first (e.g. a correction's new sentences)
        session.flush()
    got = ArticleInputs(article_id, [], [], [], [])
    for kind, n1, n2, n3, n4, t1, t2, t3 in _ARTICLE.rows(session, {"article_id": article_id, "project_id": project_id}):
        if kind == 0:
            got.labels.append((n1, n2, t1))
        elif kind == 1:
            got.sentences.append((n1, n2, n3))
            if n4 is not None:
                got.gold_labels.append((n4, n1, t1, t3, article_id))
        elif kind == 2:
            got.spans.append((n1, article_id, n2, t1, n3, n4))
        elif kind == 3:
            got.relations.append((article_id, n1, t1, n2, n3))
        elif kind == 4:
            got.gold_spans.append(GoldSpanRow(n1, t2, article_id, t1, n2, n3, t3))
        else:
            got.gold_relations.append(GoldRelationRow(n1, t2, article_id, t1, n2, n3, t3))
    return got


def refresh_article(session: Session, head: ProjectHead, article_id: int, result: RefreshResult, changes: list[dict[str, Any]] | None) -> None:
    """refresh.refresh_articles for one article (its counts added to `result`, its audit entries to `changes` when a list)."""
    inputs = read_article(session, head.id, article_id)
    audit: list[dict[str, Any]] = []
    human = human_gold(inputs.gold_labels)
    settle_labels(session, head.id, inputs.gold_labels, wanted_labels(head, inputs, human), audit, result)
    settle_auto_spans(session, head, votes(inputs, human), inputs.relations, inputs.gold_spans, inputs.gold_relations,
                      lambda: _AUTO_GOLD_SPANS.rows(session, {"article_id": article_id}), audit, result)
    audit_many(session, audit)
    if changes is not None:
        changes.extend(audit)


def wanted_labels(head: ProjectHead, inputs: ArticleInputs, human_sentences: set[int]) -> _Wanted:
    """Sentence id -> (label, provenance, article) the rule gives, but where a person gave the gold label."""
    given: dict[int, list[str]] = {}
    for sentence_id, _user, label in inputs.labels:
        given.setdefault(sentence_id, []).append(label)
    categories, threshold, least = head.categories, head.majority_threshold, head.min_raters
    wanted: _Wanted = {}
    for sentence_id, labels in given.items():
        if sentence_id not in human_sentences:
            got = sentence_rule(categories, labels, threshold, least)
            if got is not None:
                wanted[sentence_id] = (got[0], got[1], inputs.article_id)
    return wanted


def votes(inputs: ArticleInputs, human_sentences: set[int]) -> _Votes:
    """auto_spans.tally() for one article: each span's sentences by binary search (an article's sentences do not
    overlap, so their starts and their ends are both sorted), each sentence's raters from its labels."""
    column_of = {user: j for j, user in enumerate(sorted({user for _, user, _ in inputs.labels}))}
    raters: dict[int, int] = {}
    for sentence_id, user, _label in inputs.labels:
        raters[sentence_id] = raters.get(sentence_id, 0) | 1 << column_of[user]
    ordered = sorted(inputs.sentences, key=lambda s: s[1])
    starts, ends = [s[1] for s in ordered], [s[2] for s in ordered]
    spans = inputs.spans

    def sentences_of(k: int) -> list[int]:
        start, end = spans[k][4], spans[k][5]
        return [ordered[r][0] for r in range(bisect_right(ends, start), bisect_left(starts, end)) if starts[r] < end and ends[r] > start]

    def rater_bits(sentence_id: int) -> int | None:
        return None if sentence_id in human_sentences else raters.get(sentence_id)

    return tally(spans, column_of, sentences_of, rater_bits)
