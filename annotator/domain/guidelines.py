"""Guideline versions: which one an annotator last worked under, the saved versions, and labels per version.

Saving goes through projects.set_guidelines (each change is a new
GuidelineVersion); rendering through annotator.domain.markdown (sanitised HTML). No
Flask: the annotation page calls `guidelines_notice()` to tell an annotator
that the rules changed since their last label.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Bundle, Session

from annotator.db.models import Annotation, Article, GuidelineVersion, Project, Sentence, User, visible_articles
from annotator.domain.markdown import render

__all__ = ["MAX_CHARS", "too_long", "guidelines_notice", "versions", "get_version", "version_counts", "labels_by_version", "label_rows", "render"]


MAX_CHARS = 200_000  # characters (code points) of one version's Markdown, of any script


def too_long(text: str) -> str | None:
    """Why a guidelines text is refused for its length, or None: said alike by the form and the preview. A line break
    counts once as a CRLF too: a browser's form sends each one so, and the text typed had 200,000 characters."""
    length = len(text) - text.count("\r\n")
    if length <= MAX_CHARS:
        return None
    return f"The guidelines may be at most {MAX_CHARS:,} characters (this text has {length:,})."


_projects, _annotations, _sentences, _articles, _versions = (
    m.__table__ for m in (Project, Annotation, Sentence, Article, GuidelineVersion)
)
# guidelines_notice's statements, built once: every annotation page runs them.
CURRENT_VERSION = select(_projects.c.guidelines_version).where(_projects.c.id == bindparam("project_id"))
LAST_LABELLED_VERSION = (
    select(func.max(_annotations.c.guidelines_version))
    .select_from(
        _annotations.join(_sentences, _sentences.c.id == _annotations.c.sentence_id).join(_articles, _articles.c.id == _sentences.c.article_id)
    )
    .where(_annotations.c.user_id == bindparam("user_id"), _articles.c.project_id == bindparam("project_id"), visible_articles(_articles.c))
)
VERSION_SAVED_AT = select(_versions.c.created_at).where(_versions.c.project_id == bindparam("project_id"), _versions.c.version == bindparam("version"))
VERSION_CHARS = select(func.length(_versions.c.text)).where(_versions.c.project_id == bindparam("project_id"), _versions.c.version == bindparam("version"))


def guidelines_notice(session: Session, user_id: int, project_id: int) -> dict[str, Any] | None:
    """None, or what changed: the newest version the user labelled under is older than the project's.

    A user who has not labelled anything in the project yet gets no notice
    (they read the current guidelines first anyway). `last_was_empty`: the
    version they labelled under had no text (a project starts with an empty
    version 1), so the notice says there were no guidelines then.
    """
    connection = session.connection()
    current = connection.execute(CURRENT_VERSION, {"project_id": project_id}).scalar()
    if current is None:
        return None
    last = connection.execute(LAST_LABELLED_VERSION, {"user_id": user_id, "project_id": project_id}).scalar()
    if last is None or last >= current:
        return None
    changed_at = connection.execute(VERSION_SAVED_AT, {"project_id": project_id, "version": current}).scalar()
    last_chars = connection.execute(VERSION_CHARS, {"project_id": project_id, "version": last}).scalar()
    return {"last_version": last, "current_version": current, "changed_at": changed_at, "last_was_empty": not last_chars}


def versions(session: Session, project_id: int) -> list[dict[str, Any]]:
    """Every saved version, newest first, with its author and how many labels were made under it."""
    counts = version_counts(session, project_id)
    rows = session.execute(
        select(GuidelineVersion.version, GuidelineVersion.created_at, func.length(GuidelineVersion.text), User.name)
        .outerjoin(User, User.id == GuidelineVersion.author_id)
        .where(GuidelineVersion.project_id == project_id)
        .order_by(GuidelineVersion.version.desc())
    ).all()
    return [
        {"version": v, "created_at": at, "chars": chars or 0, "author": author, "labels": counts.get(v, 0)}
        for v, at, chars, author in rows
    ]


def get_version(session: Session, project_id: int, version: int) -> GuidelineVersion | None:
    return session.scalar(select(GuidelineVersion).where(GuidelineVersion.project_id == project_id, GuidelineVersion.version == version))


def version_counts(session: Session, project_id: int) -> dict[int, int]:
    """Labels per guidelines version they were made under."""
    return dict(
        session.execute(
            select(Annotation.guidelines_version, func.count())
            .join(Sentence, Sentence.id == Annotation.sentence_id)
            .join(Article, Article.id == Sentence.article_id)
            .where(Article.project_id == project_id)
            .group_by(Annotation.guidelines_version)
        ).all()
    )


def labels_by_version(session: Session, project_id: int, version: int | None = None) -> Select:
    """Labels made under `version`, or under any version older than the current one when None.

    A select of one Bundle per label (article, sentence, annotator, label), in the page's order, for
    db.paginate; `label_rows` shapes a page of it.
    """
    current = session.scalar(select(Project.guidelines_version).where(Project.id == project_id)) or 1
    condition = Annotation.guidelines_version == version if version is not None else Annotation.guidelines_version < current
    return (
        select(
            Bundle(
                "label",
                Article.id, Article.external_id, Article.title,
                func.substr(Article.text, Sentence.start + 1, Sentence.end - Sentence.start),  # code points on both databases
                Sentence.index,
                User.name, Annotation.label, Annotation.guidelines_version, Annotation.updated_at, Annotation.needs_review,
            )
        )
        .select_from(Annotation)  # a Bundle leaves the left side of the joins to be named
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .join(User, User.id == Annotation.user_id)
        .where(Article.project_id == project_id, condition)
        .order_by(Article.id, Sentence.index, User.name)
    )


def label_rows(labels: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """A page of `labels_by_version` as the page shows it (the sentence's text shortened)."""
    return [
        {
            "article_id": aid,
            "external_id": external_id,
            "title": title,
            "sentence": index,
            "text": _excerpt(text),
            "user": name,
            "label": label,
            "version": gv,
            "updated_at": updated_at,
            "needs_review": bool(needs_review),
        }
        for aid, external_id, title, text, index, name, label, gv, updated_at, needs_review in labels
    ]


def _excerpt(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
