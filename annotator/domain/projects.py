"""Projects: creation with a validated label schema, and versioned guidelines."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, ArticleLabel, GuidelineVersion, Project, ProjectMember, Sentence, User, utcnow
from annotator.domain import labelschema
from annotator.domain.gold.refresh import refresh_auto_gold
from annotator.domain.guidelines import too_long
from annotator.domain.suggestions import drop_outside_schema
from annotator.stats import textcheck
from annotator.stats.numbers import LARGEST_ID, whole_number

MAX_ANNOTATORS_PER_ARTICLE = 50  # the admin form and the CLI allow no more


class ProjectError(ValueError):
    """A project operation that cannot be done; the message says why."""


class GuidelinesChanged(ProjectError):
    """Guidelines edited from a version that is no longer the current one: someone saved `current` meanwhile."""

    def __init__(self, current: int) -> None:
        super().__init__(f"someone saved version {current} of the guidelines meanwhile")
        self.current = current


def find_project(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def get_project(session: Session, name: str) -> Project:
    """A project by name, or by its id (the number the web pages show) when no project has that name."""
    project = find_project(session, name)
    number = whole_number(name, LARGEST_ID) if project is None else None
    if number is not None:
        project = session.get(Project, number)
    if project is None:
        raise ProjectError(f"no project named {name!r}")
    return project


def _checked_name(name: str) -> str:
    """The name without surrounding blanks, if it is one line of 1 to 200 characters; else ProjectError."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ProjectError("project name must be 1 to 200 characters")
    where = textcheck.not_one_line(name)
    if where:
        raise ProjectError(f"project name must be one line of text (got {where})")
    return name


def create_project(
    session: Session,
    name: str,
    schema: dict[str, Any] | None = None,
    annotators_per_article: int = 2,
    guidelines: str = "",
    author_id: int | None = None,
) -> Project:
    name = _checked_name(name or "")
    if find_project(session, name) is not None:
        raise ProjectError(f"project {name!r} already exists")
    _check_annotators_per_article(annotators_per_article)
    _check_guidelines(guidelines)
    checked = labelschema.validate(schema if schema is not None else labelschema.preset(labelschema.DEFAULT_PRESET))
    project = Project(
        name=name,
        label_schema=checked,
        guidelines=guidelines,
        guidelines_version=1,
        annotators_per_article=annotators_per_article,
    )
    session.add(project)
    session.flush()
    session.add(GuidelineVersion(project_id=project.id, version=1, text=guidelines, author_id=author_id))
    return project


def _check_guidelines(text: str) -> None:
    """The guidelines page's limit, for every way in (the REST API, `projects create --guidelines`): every annotation
    page renders them, and 2,940,000 characters sent over the API took each page 35-70 s."""
    reason = too_long(text)
    if reason:
        raise ProjectError(reason)


def _check_annotators_per_article(n: int) -> None:
    if not 1 <= n <= MAX_ANNOTATORS_PER_ARTICLE:
        raise ProjectError(f"annotators per article must be 1 to {MAX_ANNOTATORS_PER_ARTICLE}")


def set_guidelines(session: Session, project: Project, text: str, author_id: int | None = None, base_version: int | None = None) -> int:
    """Save a new version of the guidelines; returns the new version number.

    A project starts with an empty version 1 (a label records the version it was made
    under, so there always is one). Until someone labels under it, that empty version is
    only a placeholder: the first guidelines saved replace it and are version 1. Once
    labels were made with no guidelines, the first guidelines are a new version, so those
    labels do not claim guidelines their annotators never saw.

    The project's row is locked (FOR UPDATE) and read again first, so two saves at once take turns: both numbered
    their version alike (a unique key's 500 on PostgreSQL), or both passed the editor's check and the second replaced
    the first unseen. `base_version`, the version the editor opened, must still be current (else GuidelinesChanged).
    """
    _check_guidelines(text)
    session.flush()  # the caller's changes to the project go in before it is read again
    session.refresh(project, with_for_update=True)
    if base_version is not None and project.guidelines_version != base_version:
        raise GuidelinesChanged(project.guidelines_version)
    if text == project.guidelines:
        return project.guidelines_version
    if next_guidelines_version(session, project) == 1:
        placeholder = session.scalar(
            select(GuidelineVersion).where(GuidelineVersion.project_id == project.id, GuidelineVersion.version == 1)
        )
        if placeholder is None:
            session.add(GuidelineVersion(project_id=project.id, version=1, text=text, author_id=author_id))
        else:
            placeholder.text, placeholder.author_id, placeholder.created_at = text, author_id, utcnow()
        project.guidelines = text
        session.flush()
        return 1
    project.guidelines_version += 1
    project.guidelines = text
    session.add(GuidelineVersion(project_id=project.id, version=project.guidelines_version, text=text, author_id=author_id))
    session.flush()
    return project.guidelines_version


def next_guidelines_version(session: Session, project: Project) -> int:
    """The number the next change of the guidelines gets, so that the guidelines page can say it before the save.

    1 while the project's empty version 1 is a placeholder nobody labelled under; else the current version + 1.
    """
    if project.guidelines_version == 1 and not project.guidelines and not _labelled_under(session, project.id, 1):
        return 1
    return project.guidelines_version + 1


def _labelled_under(session: Session, project_id: int, version: int) -> bool:
    """Whether any label of the project, of a sentence or of an article, was made under this guidelines version."""
    sentence_label = (
        select(Annotation.id)
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id, Annotation.guidelines_version == version)
        .limit(1)
    )
    article_label = (
        select(ArticleLabel.id)
        .join(Article, Article.id == ArticleLabel.article_id)
        .where(Article.project_id == project_id, ArticleLabel.guidelines_version == version)
        .limit(1)
    )
    return session.scalar(sentence_label) is not None or session.scalar(article_label) is not None


def bump_revision(session: Session, project_id: int) -> None:
    """Mark the project's annotations as changed: caches keyed by the old revision go stale."""
    session.execute(update(Project).where(Project.id == project_id).values(revision=Project.revision + 1))


def lock_schema(session: Session, project_id: int, articles: bool = False) -> dict[str, Any]:
    """The project's schema, its row locked FOR UPDATE until commit, for a schema change (an edit, a label rename).

    PostgreSQL: every save reads the schema with that row locked FOR NO KEY UPDATE (annotations/statements.py,
    gold/adjudication.py), so a save in flight commits first (and the labels in use then count it), and a save that
    comes meanwhile waits, then reads the schema this transaction leaves. `articles`: the project's articles are
    locked FOR UPDATE first, in id order, as a delete or a segmentation correction locks its article; for a change
    that rewrites stored rows (a rename), which then waits for those writers whole instead of meeting them in a
    deadlock. SQLite runs one writer at a time (BEGIN IMMEDIATE): the locks are no-ops there.
    """
    if articles and session.get_bind().dialect.name == "postgresql":
        table = Article.__table__
        session.execute(select(table.c.id).where(table.c.project_id == project_id).order_by(table.c.id).with_for_update()).all()
    schema = session.scalar(select(Project.label_schema).where(Project.id == project_id).with_for_update())
    if schema is None:
        raise ProjectError(f"no project {project_id}")
    return schema


SCHEMA_CHANGED = ("the project's label schema changed while the file was imported (a label renamed or the schema edited): "
                  "nothing was stored; import it again")


def schema_unchanged(session: Session, project_id: int, schema: dict[str, Any], articles: Sequence[int] = ()) -> bool:
    """Whether the project's schema, as committed now, is still `schema`, for a long write that checks its rows
    against the schema it read at its start (an import) and calls this before it writes anything. The project's row is
    then held FOR KEY SHARE until the end (PostgreSQL), so a rename or schema edit that comes later waits for this
    transaction (and sees its rows); one in flight, holding the row, answers False at once (NOWAIT): waiting for it
    could close a circle (a schema edit refreshing gold rows this write holds), and its change is to come anyway.

    `articles`: a write whose rows reference these articles (suggestions: each insert takes a KEY SHARE lock on its
    article) calls this before it writes anything; their rows are locked FOR NO KEY UPDATE first (as a save locks its
    article: the write and the article's saves take turns), in id order, as a rename
    locks the project's articles (FOR UPDATE, in id order) before its row. The rename then waits for this write whole,
    or this write for the rename (and then answers False). Left to the inserts, which take them in their own order and
    after the rows the write deletes, the two could close a circle (the write's insert waiting for an article the
    rename holds, the rename's update for a suggestion the write deleted), which PostgreSQL breaks by ending one."""
    lock_article_rows(session, articles, no_key_update=True)
    # FOR KEY SHARE (read=True: SQLAlchemy renders key_share alone as FOR NO KEY UPDATE, which every save of the
    # project holds on this row from its first statement, so an import beside any save in flight was refused)
    query = select(Project.label_schema).where(Project.id == project_id).with_for_update(read=True, key_share=True, nowait=True)
    try:
        return session.scalar(query) == schema
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available: a rename or schema edit holds the row
            return False
        raise


def lock_article_rows(session: Session, articles: Sequence[int], no_key_update: bool = False) -> None:
    """Lock these articles' rows until the end of the transaction (PostgreSQL; SQLite runs one writer at a time), FOR
    UPDATE or FOR NO KEY UPDATE (a save's lock), in id order: the order a label rename locks its project's articles (lock_schema), so the
    two wait for each other whole instead of each holding an article the other wants."""
    if not articles or session.get_bind().dialect.name != "postgresql":
        return
    table = Article.__table__
    ordered = sorted(set(articles))
    for chunk in (ordered[i:i + _LOCK_CHUNK] for i in range(0, len(ordered), _LOCK_CHUNK)):
        session.execute(select(table.c.id).where(table.c.id.in_(chunk)).order_by(table.c.id).with_for_update(key_share=no_key_update)).all()  # key_share alone: FOR NO KEY UPDATE


_LOCK_CHUNK = 500  # article ids per IN (...): well under every driver's limit


def labels_in_use(session: Session, project_id: int) -> dict[str, set[str]]:
    """Names each schema section's stored work uses (annotations, spans, relations, gold)."""
    from annotator.db.models import (
        Annotation,
        Article,
        ArticleLabel,
        GoldArticleLabel,
        GoldLabel,
        GoldRelation,
        GoldSpan,
        Relation,
        Sentence,
        Span,
    )

    in_project = select(Article.id).where(Article.project_id == project_id)
    sentences = select(Sentence.id).where(Sentence.article_id.in_(in_project))
    return {
        "sentence_labels": set(session.scalars(select(Annotation.label).where(Annotation.sentence_id.in_(sentences)).distinct()))
        | set(session.scalars(select(GoldLabel.label).where(GoldLabel.sentence_id.in_(sentences)).distinct())),
        "span_labels": set(session.scalars(select(Span.label).where(Span.article_id.in_(in_project)).distinct()))
        | set(session.scalars(select(GoldSpan.label).where(GoldSpan.article_id.in_(in_project)).distinct())),
        "relation_types": set(session.scalars(select(Relation.type).where(Relation.article_id.in_(in_project)).distinct()))
        | set(session.scalars(select(GoldRelation.type).where(GoldRelation.article_id.in_(in_project)).distinct())),
        labelschema.ARTICLE_SECTION: set(session.scalars(select(ArticleLabel.group).where(ArticleLabel.article_id.in_(in_project)).distinct()))
        | set(session.scalars(select(GoldArticleLabel.group).where(GoldArticleLabel.article_id.in_(in_project)).distinct())),
    }


def _article_values_in_use_problems(session: Session, project_id: int, schema: dict[str, Any]) -> list[str]:
    """Each kept article-label group keeps the values stored answers and reviewers' gold decisions hold, and stays
    `multiple` when one holds several (labels_in_use checked the groups themselves). Answers are read a thousand rows
    at a time (a JSON column has no DISTINCT on PostgreSQL)."""
    from annotator.db.models import ArticleLabel, GoldArticleLabel

    groups = labelschema.article_groups(schema)
    if not groups:
        return []
    used: dict[str, set[str]] = {}
    several: set[str] = set()
    def stored() -> Iterator[tuple[str, list[str]]]:
        for table in (ArticleLabel, GoldArticleLabel):  # one after the other: one open cursor at a time
            yield from session.execute(
                select(table.group, table.values)
                .join(Article, Article.id == table.article_id)
                .where(Article.project_id == project_id, table.group.in_(list(groups)))
                .execution_options(yield_per=1000)
            )

    for group, values in stored():
        used.setdefault(group, set()).update(values)
        if len(values) > 1:
            several.add(group)
    problems = []
    for group, values in sorted(used.items()):
        missing = sorted(values - set(groups[group]["values"]))
        if missing:
            problems.append(
                f"{labelschema.ARTICLE_SECTION}: group {group!r}: value{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
                f"already used in stored work; keep {'it' if len(missing) == 1 else 'them'} in the schema"
            )
        if group in several and not groups[group]["multiple"]:
            problems.append(f"{labelschema.ARTICLE_SECTION}: group {group!r} holds answers of several values in stored work; keep it multiple")
    return problems


def update_project(
    session: Session,
    project: Project,
    name: str | None = None,
    schema: dict[str, Any] | None = None,
    annotators_per_article: int | None = None,
    majority_threshold: float | None = None,
    suggestions_enabled: bool | None = None,
) -> None:
    """Change a project's settings; a new schema must keep every label that stored work uses.

    `suggestions_enabled` off (the default of a new project) keeps every suggestion from every
    annotator, on the page and through the API: a blind, unassisted study stays possible."""
    if name is not None:
        name = _checked_name(name)
        other = find_project(session, name)
        if other is not None and other.id != project.id:
            raise ProjectError(f"project {name!r} already exists")
        project.name = name
    rule = (project.annotators_per_article, project.majority_threshold)
    if annotators_per_article is not None:
        _check_annotators_per_article(annotators_per_article)
        project.annotators_per_article = annotators_per_article
    if majority_threshold is not None:
        if not 0.5 < majority_threshold <= 1:
            raise ProjectError("the majority for automatic gold must be above 0.5 and at most 1 (1 = unanimous)")
        project.majority_threshold = majority_threshold
    if suggestions_enabled is not None:
        project.suggestions_enabled = bool(suggestions_enabled)
    if schema is not None:
        checked = labelschema.validate(schema)
        # Before the labels in use are read below: unlocked, a save of a label this edit drops could commit after the
        # check, and leave a label outside the schema.
        lock_schema(session, project.id)
        # every label, group and value the new schema drops but stored work uses, at once (as the schema's own problems
        # are): one at a time, an admin who dropped a label and an article label's value learnt of the second only
        # after fixing the first
        problems = []
        for section, used in labels_in_use(session, project.id).items():
            missing = sorted(used - set(labelschema.names(checked, section)))
            if missing:
                problems.append(
                    f"{section}: {', '.join(map(repr, missing))} already used in stored work; keep {'it' if len(missing) == 1 else 'them'} in the schema"
                )
        problems += _article_values_in_use_problems(session, project.id, checked)
        if problems:
            raise ProjectError("; ".join(problems))
        if checked != project.label_schema:
            drop_outside_schema(session, project.id, checked)  # suggestions the new schema refuses could never be accepted
        project.label_schema = checked
    session.flush()
    if (project.annotators_per_article, project.majority_threshold) != rule:
        # the automatic-gold rule changed: every article's gold, a batch of articles at a time (memory of one batch),
        # in the caller's transaction, so the new setting and its gold are stored together
        refresh_auto_gold(session, project.id)


# ---------------------------------------------------------------- members
def members(session: Session, project_id: int) -> list[User]:
    """The project's annotators and reviewers, annotators first, by name."""
    return list(
        session.scalars(
            select(User)
            .join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project_id)
            .order_by(User.role, User.name)
        )
    )


def candidates(session: Session, project_id: int) -> list[User]:
    """Annotators and reviewers who are not members yet (admins see every project and are never members)."""
    members = select(ProjectMember.user_id).where(ProjectMember.project_id == project_id)
    return list(
        session.scalars(
            select(User).where(User.role.in_(("annotator", "reviewer")), User.id.not_in(members)).order_by(User.role, User.name)
        )
    )


def _name(session: Session, project_id: int) -> str:
    return session.scalar(select(Project.name).where(Project.id == project_id)) or str(project_id)


def add_members(session: Session, project_id: int, users: list[User]) -> list[str]:
    """Make annotators and reviewers members of the project; returns the names that were not members yet."""
    # The project's row, locked: adds of the same person at the same moment (two admins, a hand assignment)
    # read the members one after another instead of both inserting (an IntegrityError on PostgreSQL). FOR NO KEY
    # UPDATE (key_share without read), which adds take in turn: not FOR UPDATE, which an import's or a suggester's
    # FOR KEY SHARE look at the schema would take for a schema change in flight (schema_unchanged).
    if session.scalar(select(Project.id).where(Project.id == project_id).with_for_update(key_share=True)) is None:
        raise ProjectError(f"no project {project_id}")
    for user in users:
        if user.role == "admin":
            raise ProjectError(f"{user.name} is an admin: admins see every project and are not members")
    have = set(session.scalars(select(ProjectMember.user_id).where(ProjectMember.project_id == project_id)))
    added = []
    for user in {u.id: u for u in users}.values():
        if user.id not in have:
            session.add(ProjectMember(project_id=project_id, user_id=user.id))
            added.append(user.name)
    session.flush()
    return added


def remove_members(session: Session, project_id: int, users: list[User]) -> list[str]:
    """Take users off the project; their assignments stay until the project is re-balanced (started work always stays)."""
    have = set(session.scalars(select(ProjectMember.user_id).where(ProjectMember.project_id == project_id)))
    outside = [u.name for u in users if u.id not in have]
    if outside:
        raise ProjectError(f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not a member of {_name(session, project_id)}")
    ids = [u.id for u in users]
    if ids:
        session.execute(delete(ProjectMember).where(ProjectMember.project_id == project_id, ProjectMember.user_id.in_(ids)))
    session.flush()
    return list(dict.fromkeys(u.name for u in users))


def visible_project_ids(session: Session, user: User) -> set[int] | None:
    """The projects whose review pages and exports the user may open: None means every project (admins)."""
    if user.role == "admin":
        return None
    if user.role != "reviewer":
        return set()
    return set(session.scalars(select(ProjectMember.project_id).where(ProjectMember.user_id == user.id)))


def can_open(session: Session, user: User, project_id: int) -> bool:
    """May this user open the project's review pages, segmentation and exports? Admins: any; reviewers: their projects."""
    if user.role == "admin":
        return True
    if user.role != "reviewer" or not 0 < project_id <= LARGEST_ID:
        return False
    return session.scalar(
        select(ProjectMember.user_id).where(ProjectMember.project_id == project_id, ProjectMember.user_id == user.id)
    ) is not None
