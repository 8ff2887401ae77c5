"""Store imported articles with their sentences: one transaction per file, in bulk.

Takes a SQLAlchemy session and plain records; no Flask. The caller commits or
rolls back, so a file with one bad line leaves nothing behind.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Literal

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session

from .ingest import ArticleRecord, IngestError
from .models import Annotation, Article, Sentence, Span, Project
from .segment import segment

OnDuplicate = Literal["skip", "update", "error"]
ON_DUPLICATE = ("skip", "update", "error")


@dataclass
class StoreResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def merge(self, other: "StoreResult") -> None:
        self.created += other.created
        self.updated += other.updated
        self.skipped += other.skipped


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sentence_rows(article_id: int, text: str) -> list[dict[str, int]]:
    return [
        {"article_id": article_id, "index": i, "start": start, "end": end}
        for i, (start, end) in enumerate(segment(text))
    ]


def store_articles(
    session: Session,
    project: Project,
    records: Iterable[ArticleRecord],
    file: str,
    on_duplicate: OnDuplicate = "error",
) -> StoreResult:
    """Insert new articles, segmenting each; handle ids already in the project per `on_duplicate`."""
    records = list(records)
    result = StoreResult()
    existing = dict(
        session.execute(
            select(Article.external_id, Article.id).where(
                Article.project_id == project.id,
                Article.external_id.in_([r.external_id for r in records]),
            )
        ).all()
    ) if records else {}
    new: list[ArticleRecord] = []
    for record in records:
        article_id = existing.get(record.external_id)
        if article_id is None:
            new.append(record)
        elif on_duplicate == "skip":
            result.skipped.append(record.external_id)
        elif on_duplicate == "error":
            raise IngestError(file, record.line, f"article id {record.external_id!r} already exists in project {project.name!r} "
                              "(to skip or update it: --on-duplicate for 'annotator import', 'When an article id is already in the project' on the upload page)")
        else:
            _update(session, article_id, record, file)
            result.updated.append(record.external_id)
    if new:
        ids = session.scalars(
            insert(Article).returning(Article.id, sort_by_parameter_order=True),
            [
                {
                    "project_id": project.id,
                    "external_id": r.external_id,
                    "title": r.title,
                    "text": r.text,
                    "meta": r.meta,
                    "sha256": sha256(r.text),
                }
                for r in new
            ],
        ).all()
        rows = [row for article_id, r in zip(ids, new) for row in sentence_rows(article_id, r.text)]
        if rows:
            session.execute(insert(Sentence), rows)
        result.created += [r.external_id for r in new]
    return result


def _update(session: Session, article_id: int, record: ArticleRecord, file: str) -> None:
    """Title and meta may change; the text only while nobody has annotated the article."""
    article = session.get(Article, article_id)
    assert article is not None
    if article.text != record.text:
        annotated = session.scalar(
            select(
                exists().where(Span.article_id == article_id)
                | exists().where(Annotation.sentence_id.in_(select(Sentence.id).where(Sentence.article_id == article_id)))
            )
        )
        if annotated:
            raise IngestError(file, record.line, f"article {record.external_id!r} is already annotated; its text cannot change")
        session.execute(Sentence.__table__.delete().where(Sentence.article_id == article_id))
        session.execute(insert(Sentence), sentence_rows(article_id, record.text))
        session.execute(update(Article).where(Article.id == article_id).values(text=record.text, sha256=sha256(record.text)))
    session.execute(update(Article).where(Article.id == article_id).values(title=record.title, meta=record.meta))
