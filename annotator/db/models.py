"""The data model. Offsets everywhere are Unicode code points into Article.text.

Constraints live in the database (CHECK, UNIQUE, foreign keys), so that a bug in
Python, a script or a second worker cannot store what the model forbids.

Long (over 500 lines) on purpose: every table in one module, so the whole schema reads in one place.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, with_loader_criteria
from sqlalchemy.types import TypeDecorator
from werkzeug.security import check_password_hash, generate_password_hash

from annotator.db import db

ROLES = ("admin", "reviewer", "annotator")
ASSIGNMENT_STATUSES = ("assigned", "in_progress", "done")
GOLD_PROVENANCE = ("unanimous", "majority", "adjudicated", "imported")
HUMAN_GOLD_PROVENANCE = ("adjudicated", "imported")  # a person's gold (stats.gold.HUMAN_PROVENANCE): never recomputed
# Where an annotator's label, span or relation came from: made by hand, or a suggestion they accepted.
ORIGINS = ("manual", "suggested")
SUGGESTION_KINDS = ("label", "span", "relation")
DECISIONS = ("accepted", "rejected")
# scrypt: werkzeug's current default, a memory-hard algorithm.
PASSWORD_METHOD = "scrypt"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_uid() -> str:
    return uuid.uuid4().hex


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on every database (SQLite stores no zone; we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="annotator")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Goes up when every session of the user must end (logout, new password, new role, "log out
    # everywhere", deactivation): it is part of the id in the session and remember-me cookies, and a
    # cookie naming an older generation no longer logs anyone in (auth._load_user).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # When the session (or remember-me cookie) being built or read was opened, in Unix seconds; not a
    # column: it travels in the cookie, through get_id().
    session_started = None  # int | None

    def get_id(self) -> str:
        """Flask-Login's id in the session and remember-me cookies: "<id>:<generation>:<login time>"."""
        started = self.session_started if self.session_started is not None else int(utcnow().timestamp())
        return f"{self.id}:{self.session_generation or 0}:{started}"

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot log in
        return bool(self.active)

    def __repr__(self) -> str:
        return f"<User {self.name} ({self.role})>"


class ApiToken(db.Model):
    """A per-user API token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: never
    # Written at most once a minute per token (accounts.user_for_token), not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The one-use key of the web form that issued it: the same form sent again issues no second token.
    issue_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """Failed logins per key ((user name, client address) pair, or client address), for throttling across workers."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The latest failure: the count is forgotten after a quiet window (throttle.py).
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # No login of this pair before then (a growing delay, not a lock anyone can set for someone else).
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint("annotators_per_article >= 1", name="annotators_per_article"),
        CheckConstraint("guidelines_version >= 1", name="guidelines_version"),
        CheckConstraint("majority_threshold > 0.5 AND majority_threshold <= 1", name="majority_threshold"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    label_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    guidelines: Mapped[str] = mapped_column(Text, default="")
    guidelines_version: Mapped[int] = mapped_column(Integer, default=1)
    annotators_per_article: Mapped[int] = mapped_column(Integer, default=2)
    # Share of annotators that must agree for automatic gold: 1.0 means unanimous only.
    majority_threshold: Mapped[float] = mapped_column(Float, default=1.0)
    # Goes up on every annotation write: caches (agreement) are keyed by it, so
    # every worker and host sees the same invalidation.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Annotators see suggestions only where the admin turned them on (off keeps a blind, unassisted study possible).
    suggestions_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    articles: Mapped[list["Article"]] = relationship(back_populates="project", cascade="all, delete-orphan", passive_deletes=True)


class ProjectMember(db.Model):
    """Who works on a project: its annotators (the pool assignment draws on) and its reviewers (who may open its review pages).

    What a member does follows from their role; admins see every project and are never members.
    """

    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GuidelineVersion(db.Model):
    """Every saved version of a project's guidelines, kept for reference."""

    __tablename__ = "guideline_versions"
    __table_args__ = (UniqueConstraint("project_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Article(db.Model):
    __tablename__ = "articles"
    __table_args__ = (
        UniqueConstraint("project_id", "external_id"),
        # A project's articles in id order: a page of a list or an export batch reads only its own project's rows
        # (the queries order by project_id, id, so PostgreSQL cannot serve them from the primary key; migration 0015).
        Index("ix_articles_project_id_id", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)  # exactly as imported, never normalised
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The import that stored it in chunks (StagedImport.id). While that import is
    # staged the article is invisible (see _hide_staged_articles); publishing
    # deletes the StagedImport row, so the value stays as a harmless trace.
    staged_import: Mapped[str | None] = mapped_column(String(32), index=True)

    project: Mapped[Project] = relationship(back_populates="articles")
    sentences: Mapped[list["Sentence"]] = relationship(
        back_populates="article", order_by="Sentence.index", cascade="all, delete-orphan", passive_deletes=True
    )


class StagedImport(db.Model):
    """A big import being stored in committed chunks: its articles stay invisible until this row goes.

    Publishing deletes the row in one short transaction. A failed import deletes
    its articles, then the row; a killed one leaves both, and the next import
    deletes them once their owner (host:pid) is gone or `seen_at` is stale.
    """

    __tablename__ = "staged_imports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_uid)  # never reused, unlike an integer key
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    file: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(300))  # host:pid of the importing process
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # bumped by every chunk


def visible_articles(cls=None):  # noqa: ANN001, ANN201
    """The WHERE clause that leaves out staged articles; statements run on a bare connection add it themselves."""
    cls = Article if cls is None else cls
    return or_(cls.staged_import.is_(None), cls.staged_import.not_in(select(StagedImport.id)))


@event.listens_for(Session, "do_orm_execute")
def _hide_staged_articles(state) -> None:  # noqa: ANN001
    """Every ORM SELECT that involves articles (pages, API, export, assignment, agreement, gold) skips staged ones.

    Code that must see them (the import itself, its clean-up) passes
    `execution_options(include_staged=True)` or uses Core statements.
    """
    if state.is_select and not state.execution_options.get("include_staged", False):
        state.statement = state.statement.options(with_loader_criteria(Article, visible_articles, include_aliases=True))


class Sentence(db.Model):
    __tablename__ = "sentences"
    __table_args__ = (
        UniqueConstraint("article_id", "index"),
        CheckConstraint('0 <= start AND start < "end"', name="offsets"),
        CheckConstraint('"index" >= 0', name="index"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)

    article: Mapped[Article] = relationship(back_populates="sentences")


class Assignment(db.Model):
    __tablename__ = "assignments"
    __table_args__ = (
        UniqueConstraint("user_id", "article_id"),
        CheckConstraint(_in("status", ASSIGNMENT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
    article: Mapped[Article] = relationship()


class Annotation(db.Model):
    """One annotator's label for one sentence."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("user_id", "sentence_id"),
        CheckConstraint("seconds >= 0", name="seconds"),
        CheckConstraint("version >= 1", name="version"),
        # Covers the agreement loaders' label query (domain/agreement/loaders.py) (labels of a project's sentences) without table lookups.
        Index("ix_annotations_sentence_user_label", "sentence_id", "user_id", "label"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # No index of its own: ix_annotations_sentence_user_label begins with it (migration 0016).
    sentence_id: Mapped[int] = mapped_column(ForeignKey("sentences.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    guidelines_version: Mapped[int] = mapped_column(Integer)
    # Bumped on each write; a client may send the version it saw to detect a stale tab.
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Set when segmentation changed under the label and it must be looked at again.
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    # "suggested" when the annotator accepted a suggestion (and did not change it since), with the suggester's name and version
    origin: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    suggester: Mapped[str | None] = mapped_column(String(100))
    suggester_version: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    sentence: Mapped[Sentence] = relationship()
    user: Mapped[User] = relationship()


class ArticleLabel(db.Model):
    """One annotator's value(s) in one article-level label group (a stance, a document class) of one article.

    One row per (article, annotator, group), the values a sorted JSON list (one value for a
    group that is not `multiple`): a whole answer is written and read at once, like a sentence label.
    Clearing the group deletes the row.
    """

    __tablename__ = "article_labels"
    __table_args__ = (
        UniqueConstraint("article_id", "user_id", "group"),
        CheckConstraint("version >= 1", name="version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    group: Mapped[str] = mapped_column(String(64))
    values: Mapped[list[str]] = mapped_column(JSON)
    guidelines_version: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # "suggested" when the annotator accepted a suggestion (and did not change it since), with the suggester's name and version
    origin: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    suggester: Mapped[str | None] = mapped_column(String(100))
    suggester_version: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Span(db.Model):
    """A marked stretch of an article (quote, source, cue), by one annotator."""

    __tablename__ = "spans"
    __table_args__ = (
        UniqueConstraint("article_id", "uid"),
        CheckConstraint('0 <= start AND start < "end"', name="offsets"),
        # One annotator never has the same span twice (same label and offsets), whatever two tabs race; the
        # (article_id, user_id, start) prefix also serves the reads by annotator and start offset.
        Index("uq_spans_article_user_offsets_label", "article_id", "user_id", "start", "end", "label", unique=True),
        # Whoever the annotator: how many marked exactly this span (gold/incremental.py _MARKERS: one seek, not a scan of
        # the article's spans), and the spans over a sentence by start offset (gold/refresh.py, spans_over), grouped as
        # they come; both run inside a save's write lock.
        Index("ix_spans_article_offsets_label_user", "article_id", "start", "end", "label", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), default=new_uid)  # the id exports carry
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(64))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    # "suggested" when the annotator accepted a suggestion (and did not change it since), with the suggester's name and version
    origin: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    suggester: Mapped[str | None] = mapped_column(String(100))
    suggester_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship()


class LabelRequest(db.Model):
    """A label save's idempotency key: a retried PUT (same user, same request id) gets `response` again, and writes nothing."""

    __tablename__ = "label_requests"
    __table_args__ = (
        UniqueConstraint("user_id", "request_id"),
        Index("ix_label_requests_user_created", "user_id", "created_at"),  # pruning a user's old keys
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    request_id: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of what the request asked for: the same id with another body is refused
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the label the first request answered; set before its commit
    # the article saved on: a label rename rewrites the project's stored answers that name the label (label_rename.py).
    # SET NULL: a retry after the article was deleted still gets its first answer
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Relation(db.Model):
    """A typed link between two spans of the same annotator (e.g. quote attributed_to source)."""

    __tablename__ = "relations"
    __table_args__ = (
        UniqueConstraint("article_id", "uid"),
        UniqueConstraint("from_span_id", "to_span_id", "type"),
        CheckConstraint("from_span_id <> to_span_id", name="distinct_ends"),
        Index("ix_relations_article_user", "article_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), default=new_uid)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    from_span_id: Mapped[int] = mapped_column(ForeignKey("spans.id", ondelete="CASCADE"), index=True)
    to_span_id: Mapped[int] = mapped_column(ForeignKey("spans.id", ondelete="CASCADE"), index=True)
    # "suggested" when the annotator accepted a suggestion (and did not change it since), with the suggester's name and version
    origin: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    suggester: Mapped[str | None] = mapped_column(String(100))
    suggester_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    from_span: Mapped[Span] = relationship(foreign_keys=[from_span_id])
    to_span: Mapped[Span] = relationship(foreign_keys=[to_span_id])


class GoldLabel(db.Model):
    """The adjudicated label of a sentence, with where it came from."""

    __tablename__ = "gold_labels"
    __table_args__ = (CheckConstraint(_in("provenance", GOLD_PROVENANCE), name="provenance"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sentence_id: Mapped[int] = mapped_column(ForeignKey("sentences.id", ondelete="CASCADE"), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    provenance: Mapped[str] = mapped_column(String(16))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    sentence: Mapped[Sentence] = relationship()
    reviewer: Mapped[User | None] = relationship()


class GoldSpan(db.Model):
    __tablename__ = "gold_spans"
    __table_args__ = (
        UniqueConstraint("article_id", "uid"),
        CheckConstraint('0 <= start AND start < "end"', name="offsets"),
        CheckConstraint(_in("provenance", GOLD_PROVENANCE), name="provenance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), default=new_uid)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(64))
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    provenance: Mapped[str] = mapped_column(String(16))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class GoldRelation(db.Model):
    __tablename__ = "gold_relations"
    __table_args__ = (
        UniqueConstraint("article_id", "uid"),
        UniqueConstraint("from_span_id", "to_span_id", "type"),
        CheckConstraint("from_span_id <> to_span_id", name="distinct_ends"),
        CheckConstraint(_in("provenance", GOLD_PROVENANCE), name="provenance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64), default=new_uid)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    from_span_id: Mapped[int] = mapped_column(ForeignKey("gold_spans.id", ondelete="CASCADE"))
    to_span_id: Mapped[int] = mapped_column(ForeignKey("gold_spans.id", ondelete="CASCADE"))
    provenance: Mapped[str] = mapped_column(String(16))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    from_span: Mapped[GoldSpan] = relationship(foreign_keys=[from_span_id])
    to_span: Mapped[GoldSpan] = relationship(foreign_keys=[to_span_id])


class GoldArticleLabel(db.Model):
    """A reviewer's decision on an article label group of one article: its gold value(s), adjudicated (or imported).

    Automatic gold of article labels is computed from the answers whenever it is read (the export,
    domain.dataset.export.article_labels), never stored; a row here is a human decision, which
    wins over that rule and is never overwritten by it. One row per (article, group), the values a
    sorted JSON list as in article_labels.
    """

    __tablename__ = "gold_article_labels"
    __table_args__ = (
        UniqueConstraint("article_id", "group"),
        CheckConstraint(_in("provenance", HUMAN_GOLD_PROVENANCE), name="provenance"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    group: Mapped[str] = mapped_column(String(64))
    values: Mapped[list[str]] = mapped_column(JSON)
    provenance: Mapped[str] = mapped_column(String(16))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Suggestion(db.Model):
    """A label, span or link a suggester proposes for an article: nobody's annotation until an annotator accepts it.

    Suggestions belong to the article, not to a person; each annotator's accept / reject is a
    SuggestionDecision of their own, so no one sees what another annotator did with them.
    A span suggestion's `uid` is what relation suggestions name in from_uid / to_uid.
    """

    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("article_id", "uid"),
        CheckConstraint(_in("kind", SUGGESTION_KINDS), name="kind"),
        CheckConstraint("score >= 0 AND score <= 1", name="score"),
        CheckConstraint("kind <> 'span' OR (start IS NOT NULL AND 0 <= start AND start < \"end\")", name="span_offsets"),
        CheckConstraint("kind <> 'label' OR sentence_id IS NOT NULL", name="label_sentence"),
        CheckConstraint("kind <> 'relation' OR (from_uid IS NOT NULL AND to_uid IS NOT NULL)", name="relation_ends"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(64))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    suggester: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))  # the sentence label, the span label, or the relation type
    sentence_id: Mapped[int | None] = mapped_column(ForeignKey("sentences.id", ondelete="CASCADE"), index=True)
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    from_uid: Mapped[str | None] = mapped_column(String(64))
    to_uid: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuggestionDecision(db.Model):
    """One annotator's answer to one suggestion: accepted (it became their annotation) or rejected."""

    __tablename__ = "suggestion_decisions"
    __table_args__ = (CheckConstraint(_in("decision", DECISIONS), name="decision"),)

    suggestion_id: Mapped[int] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    decision: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SuggesterModel(db.Model):
    """A model a project trained on its own labels (the claim-label suggester), as a JSON document: never a pickle."""

    __tablename__ = "suggester_models"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(db.Model):
    """Append-only record of every annotation change and every account change (domain/account_log.py; entity "user",
    user_id the actor); triggers in the migration forbid UPDATE/DELETE."""

    __tablename__ = "audit_log"
    # One entity's trail (a user's account history) without reading the whole log: 298 -> 8 ms on a million entries.
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # no index: every read of the log goes by id (migration 0016)
    user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: the log outlives what it names
    project_id: Mapped[int | None] = mapped_column(Integer, index=True)
    article_id: Mapped[int | None] = mapped_column(Integer)
    entity: Mapped[str] = mapped_column(String(32))  # label, span, relation, gold_label, segmentation ...
    entity_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(16))  # create, update, delete
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CacheEntry(db.Model):
    """Computed results (agreement) keyed by project revision: shared by every worker and host."""

    __tablename__ = "cache_entries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# The audit log is append-only in the database itself, whoever connects.
AUDIT_GUARD_SQL = {
    "sqlite": [
        "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    ],
}


def install_audit_guard(connection, dialect_name: str) -> None:  # noqa: ANN001
    from sqlalchemy import text

    for statement in AUDIT_GUARD_SQL.get(dialect_name, []):
        connection.execute(text(statement))


@event.listens_for(AuditEntry.__table__, "after_create")
def _guard_after_create(target, connection, **_kw):  # noqa: ANN001
    install_audit_guard(connection, connection.dialect.name)
