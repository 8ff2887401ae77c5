"""What the database already holds for a chunk of a file's records, read with a few queries for the whole chunk.

Existing(session, project, records) reads, for the stored articles the records name: their id and SHA-256
(FOR UPDATE), sentences, span and relation ids with their annotators, which kinds of annotation each annotator
has, and which articles have gold. store.check_against_database then checks each record against it in memory.
Read per record, that was about 9 queries per article and annotator: 13,500 for a file of 1,500 articles onto
stored ones. Now it is 7 per chunk (IN-lists of at most a chunk's article ids, well under SQLite's and
PostgreSQL's bound-parameter limits). `--on-duplicate replace` notes what to delete here, and delete_replaced()
deletes it with a few statements per annotator, before the chunk's rows are inserted.

Each article appears once in a file (import_records refuses a second line), and each annotator once in a record, so what
one record replaces is never read again by another: what was read for the chunk stays true while it is checked.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import delete, literal_column, select, union_all
from sqlalchemy.orm import Session

from annotator.db.models import (
    Annotation,
    Article,
    ArticleLabel,
    GoldArticleLabel,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    Project,
    Relation,
    Sentence,
    Span,
    User,
)
from annotator.domain.dataset.import_annotations.parse import Record

CHUNK = 500  # values per IN (...): under SQLite's oldest limit (999) and far under PostgreSQL's (65,535)


class StoredArticle(NamedTuple):
    id: int
    sha256: str


class Existing:
    """The stored side of a chunk of records, keyed by article id (and user id for what an annotator has)."""

    def __init__(self, session: Session, project: Project, records: list[Record]):
        self.session = session
        self.articles: dict[str, StoredArticle] = {}  # external id -> the stored article
        self.sentences: dict[int, list[tuple[int, int, int]]] = {}  # article id -> (sentence id, start, end) in order
        self.span_uids: dict[int, dict[str, str]] = {}  # article id -> span uid -> annotator's name
        self.relation_uids: dict[int, dict[str, str]] = {}
        self.kinds: dict[tuple[int, int], set[str]] = {}  # (article id, user id) -> parse.KINDS the user has there
        self.gold: set[int] = set()  # article ids with gold
        self.replace: dict[int, dict[str, list[int]]] = {}  # user id -> kind -> article ids whose annotations go
        self.replace_gold: list[int] = []
        # PostgreSQL: FOR UPDATE, as a delete or a segmentation correction locks an article (see store._stored_article)
        for chunk in _chunks(sorted({r.external_id for r in records})):
            for row in session.execute(select(Article.external_id, Article.id, Article.sha256).where(
                    Article.project_id == project.id, Article.external_id.in_(chunk)).order_by(Article.id).with_for_update()):
                self.articles[row.external_id] = StoredArticle(row.id, row.sha256)
        ids = sorted(a.id for a in self.articles.values())
        for chunk in _chunks(ids):
            self._read(chunk)

    def _read(self, ids: list[int]) -> None:
        session = self.session
        for article_id, sentence_id, start, end in session.execute(select(Sentence.article_id, Sentence.id, Sentence.start, Sentence.end)
                                                                   .where(Sentence.article_id.in_(ids)).order_by(Sentence.article_id, Sentence.index)):
            self.sentences.setdefault(article_id, []).append((sentence_id, start, end))
        for article_id, uid, user_id, name in session.execute(select(Span.article_id, Span.uid, Span.user_id, User.name)
                                                              .join(User, Span.user_id == User.id).where(Span.article_id.in_(ids))):
            self.span_uids.setdefault(article_id, {})[uid] = name
            self.kinds.setdefault((article_id, user_id), set()).add("spans")
        for article_id, uid, name in session.execute(select(Relation.article_id, Relation.uid, User.name)
                                                     .join(User, Relation.user_id == User.id).where(Relation.article_id.in_(ids))):
            self.relation_uids.setdefault(article_id, {})[uid] = name
        labelled = (select(Sentence.article_id, Annotation.user_id, literal_column("'labels'")).join(Sentence, Annotation.sentence_id == Sentence.id)
                    .where(Sentence.article_id.in_(ids)).distinct())
        answered = select(ArticleLabel.article_id, ArticleLabel.user_id, literal_column("'article_labels'")).where(ArticleLabel.article_id.in_(ids)).distinct()
        for article_id, user_id, kind in session.execute(union_all(labelled, answered)):
            self.kinds.setdefault((article_id, user_id), set()).add(kind)
        self.gold.update(session.scalars(union_all(
            select(Sentence.article_id).join(GoldLabel, GoldLabel.sentence_id == Sentence.id).where(Sentence.article_id.in_(ids)),
            select(GoldSpan.article_id).where(GoldSpan.article_id.in_(ids)),
            select(GoldArticleLabel.article_id).where(GoldArticleLabel.article_id.in_(ids)),
        )))

    def stored_kinds(self, article_id: int, user_id: int) -> set[str]:
        """The kinds of annotation (parse.KINDS) the user has on the article."""
        return set(self.kinds.get((article_id, user_id), ()))

    def delete_later(self, article_id: int, user_id: int, kinds: set[str]) -> None:
        """--on-duplicate replace: the user's annotations of these kinds on the article go (spans with their relations)."""
        by_kind = self.replace.setdefault(user_id, {})
        for kind in kinds:
            by_kind.setdefault(kind, []).append(article_id)

    def delete_gold_later(self, article_id: int) -> None:
        self.replace_gold.append(article_id)

    def delete_replaced(self) -> None:
        """Delete what replace noted, a few statements per annotator and chunk of articles, before the inserts."""
        session = self.session
        for user_id, by_kind in self.replace.items():
            for chunk in _chunks(by_kind.get("spans", [])):
                session.execute(delete(Relation).where(Relation.article_id.in_(chunk), Relation.user_id == user_id))
                session.execute(delete(Span).where(Span.article_id.in_(chunk), Span.user_id == user_id))
            for chunk in _chunks(by_kind.get("labels", [])):
                session.execute(delete(Annotation).where(Annotation.user_id == user_id, Annotation.sentence_id.in_(
                    select(Sentence.id).where(Sentence.article_id.in_(chunk)))))
            for chunk in _chunks(by_kind.get("article_labels", [])):
                session.execute(delete(ArticleLabel).where(ArticleLabel.article_id.in_(chunk), ArticleLabel.user_id == user_id))
        for chunk in _chunks(self.replace_gold):
            session.execute(delete(GoldRelation).where(GoldRelation.article_id.in_(chunk)))
            session.execute(delete(GoldSpan).where(GoldSpan.article_id.in_(chunk)))
            session.execute(delete(GoldLabel).where(GoldLabel.sentence_id.in_(select(Sentence.id).where(Sentence.article_id.in_(chunk)))))
            session.execute(delete(GoldArticleLabel).where(GoldArticleLabel.article_id.in_(chunk)))
        self.replace, self.replace_gold = {}, []


def _chunks(values: list) -> list[list]:
    return [values[i:i + CHUNK] for i in range(0, len(values), CHUNK)]
