"""Who annotates what: balanced automatic assignment and assignment by hand."""
from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, Assignment, Project, ProjectMember, Sentence, Span, User
from annotator.domain.wording import with_article

IN_CHUNK = 5000  # ids per IN (...): PostgreSQL takes at most 65,535 parameters a statement, and a REST body may name more
SHOWN = 20  # missing ids named in the error, the rest counted


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[k:k + IN_CHUNK] for k in range(0, len(items), IN_CHUNK)]


class AssignmentError(ValueError):
    """An assignment that cannot be made; the message says why."""


class NoAnnotators(AssignmentError):
    """The project has nobody to assign: the message says the command that fixes it, with the name quoted
    as a shell needs it; `project_name` lets a page say what to do there instead."""

    def __init__(self, project_name: str) -> None:
        self.project_name = project_name
        super().__init__(
            f"project {project_name} has no active annotators to assign: add some with"
            f" `annotator projects members {shlex.quote(project_name)} --add NAME ...` or on the project's Members page"
        )


@dataclass
class AssignResult:
    created: int
    articles_short: int  # articles that still have fewer than N annotators (not enough people)


def project_annotators(session: Session, project_id: int) -> list[User]:
    """The project's active annotators: its members with the annotator role (the pool for automatic assignment)."""
    return list(
        session.scalars(
            select(User)
            .join(ProjectMember, ProjectMember.user_id == User.id)
            .where(ProjectMember.project_id == project_id, User.role == "annotator", User.active.is_(True))
            .order_by(User.name)
        )
    )


def _join(session: Session, project_id: int, users: list[User]) -> None:
    """Assigning someone by hand makes them a member of the project (so re-balancing counts them in)."""
    session.execute(select(Project.id).where(Project.id == project_id).with_for_update(key_share=True))  # as projects.add_members
    have = set(session.scalars(select(ProjectMember.user_id).where(ProjectMember.project_id == project_id)))
    session.add_all(ProjectMember(project_id=project_id, user_id=u.id) for u in {u.id: u for u in users}.values() if u.id not in have)


def assign_balanced(
    session: Session, project_id: int, per_article: int, annotators: list[User] | None = None, count_only_pool: bool = False,
    finished: frozenset[tuple[int, int]] = frozenset(),
) -> AssignResult:
    """Give every article `per_article` distinct annotators, least-loaded first.

    Idempotent: existing assignments are kept (work already started is never
    taken away) and only the missing ones are added. With `count_only_pool`,
    an assignment of someone outside the pool (deactivated) does not count
    towards the N, so the article gets N annotators who can still finish it, unless it is in `finished` ((article id,
    user id): they labelled every sentence of it, so it has their whole work already).
    """
    if per_article < 1:
        raise AssignmentError("annotators per article must be at least 1")
    pool = annotators if annotators is not None else project_annotators(session, project_id)
    if not pool:
        raise NoAnnotators(session.scalar(select(Project.name).where(Project.id == project_id)) or str(project_id))
    pool_ids = {u.id: u.name for u in pool}
    article_ids = list(session.scalars(select(Article.id).where(Article.project_id == project_id).order_by(Article.id)))
    existing = session.execute(
        select(Assignment.article_id, Assignment.user_id).join(Article).where(Article.project_id == project_id)
    ).all()
    assigned: dict[int, set[int]] = {a: set() for a in article_ids}
    load: Counter[int] = Counter({uid: 0 for uid in pool_ids})
    for article_id, user_id in existing:
        if count_only_pool and user_id not in pool_ids and (article_id, user_id) not in finished:
            continue
        assigned[article_id].add(user_id)
        if user_id in load:
            load[user_id] += 1
    new_rows: list[Assignment] = []
    short = 0
    for article_id in article_ids:
        have = assigned[article_id]
        need = per_article - len(have)
        if need <= 0:
            continue
        candidates = sorted((uid for uid in pool_ids if uid not in have), key=lambda uid: (load[uid], pool_ids[uid]))
        chosen = candidates[:need]
        if len(chosen) < need:
            short += 1
        for uid in chosen:
            load[uid] += 1
            have.add(uid)
            new_rows.append(Assignment(user_id=uid, article_id=article_id, status="assigned"))
    session.add_all(new_rows)
    session.flush()
    return AssignResult(created=len(new_rows), articles_short=short)


def assign_to_user(session: Session, project_id: int, user: User, external_ids: list[str]) -> int:
    """Assign the named articles to one user; returns how many were new."""
    if user.role != "annotator":
        raise AssignmentError(f"{user.name} is {with_article(user.role)}, not an annotator")
    if not user.active:
        raise AssignmentError(f"{user.name} is deactivated")
    wanted = list(dict.fromkeys(external_ids))
    rows: dict[str, int] = {}
    for chunk in _chunks(wanted):
        found = select(Article.external_id, Article.id).where(Article.project_id == project_id, Article.external_id.in_(chunk))
        rows.update(session.execute(found).all())
    missing = [x for x in wanted if x not in rows]
    if missing:
        more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
        raise AssignmentError(f"no article with id {', '.join(map(repr, missing[:SHOWN]))}{more} in this project")
    have: set[int] = set()
    for chunk in _chunks(list(rows.values())):
        have.update(session.scalars(select(Assignment.article_id).where(Assignment.user_id == user.id, Assignment.article_id.in_(chunk))))
    new = [Assignment(user_id=user.id, article_id=aid) for aid in dict.fromkeys(rows[x] for x in external_ids) if aid not in have]
    _join(session, project_id, [user])
    session.add_all(new)
    session.flush()
    return len(new)


def expand_joined_ids(session: Session, project_id: int, values: list[str]) -> list[str]:
    """Ids as named, except that a value which is no id of the project but whose whitespace-separated parts all are
    stands for those parts: the `--articles "A B C"` of scripts written before one argument became one id (ids may
    hold spaces). An exact id always wins, and a value with any unknown part stays whole (its error names it)."""
    joined = [x for x in values if len(x.split()) > 1]
    if not joined:
        return values
    asked = list(dict.fromkeys(joined + [part for x in joined for part in x.split()]))
    known: set[str] = set()
    for chunk in _chunks(asked):
        known.update(session.scalars(select(Article.external_id).where(Article.project_id == project_id, Article.external_id.in_(chunk))))
    out: list[str] = []
    for x in values:
        parts = x.split()
        out.extend(parts if x not in known and len(parts) > 1 and all(p in known for p in parts) else [x])
    return out


# ---------------------------------------------------------------- re-balancing and choosing by hand
@dataclass
class RebalanceResult:
    removed: list[tuple[str, str]]  # (user, article external id): unstarted work of people no longer in the pool
    kept: list[tuple[str, str, int]]  # (user, article external id, labels and spans made): started work stays
    moved: list[tuple[str, str, str]]  # (from user, to user, article external id): unstarted work evened out
    created: int
    articles_short: int


def work_done(session: Session, project_id: int, article_id: int | None = None) -> Counter[tuple[int, int]]:
    """Labels plus spans per (user id, article id) in the project (or one article): above 0 is work started."""
    counts: Counter[tuple[int, int]] = Counter()
    where = [Article.project_id == project_id] + ([Article.id == article_id] if article_id is not None else [])
    labels = session.execute(
        select(Annotation.user_id, Sentence.article_id, func.count())
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(*where)
        .group_by(Annotation.user_id, Sentence.article_id)
    ).all()
    spans = session.execute(
        select(Span.user_id, Span.article_id, func.count())
        .join(Article, Article.id == Span.article_id)
        .where(*where)
        .group_by(Span.user_id, Span.article_id)
    ).all()
    for user_id, article_id, n in [*labels, *spans]:
        counts[(user_id, article_id)] += n
    return counts


def _finished(session: Session, project_id: int, pairs: set[tuple[int, int]]) -> frozenset[tuple[int, int]]:
    """The (article id, user id) of `pairs` ((user id, article id)) where the user labelled every sentence of the article."""
    if not pairs:
        return frozenset()
    sentences = dict(session.execute(
        select(Sentence.article_id, func.count()).join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id).group_by(Sentence.article_id)
    ).all())
    labelled = session.execute(
        select(Annotation.user_id, Sentence.article_id, func.count())
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id, Annotation.user_id.in_(sorted({user for user, _ in pairs})))
        .group_by(Annotation.user_id, Sentence.article_id)
    ).all()
    return frozenset((article, user) for user, article, n in labelled if (user, article) in pairs and n >= sentences.get(article, 0) > 0)


def rebalance(session: Session, project_id: int, per_article: int | None = None) -> RebalanceResult:
    """Hand work to the people who can do it, never taking away work already started.

    1. Assignments of users outside the pool (deactivated, no longer
       annotators, or no longer members of the project) are removed where they have not labelled or marked anything
       in that article; started ones stay and are listed.
    2. Every article is topped up to N annotators from the pool (assignments of
       people outside it do not count towards N).
    3. Unstarted assignments move from the most to the least loaded annotators
       until loads differ by at most one, so a newly added annotator gets a share.
    """
    project = session.get(Project, project_id)
    if project is None:
        raise AssignmentError(f"no project {project_id}")
    per = per_article if per_article is not None else project.annotators_per_article
    pool = project_annotators(session, project_id)
    names = {u.id: u.name for u in pool}
    work = work_done(session, project_id)
    rows = session.execute(
        select(Assignment.id, Assignment.user_id, Assignment.article_id, User.name, Article.external_id)
        .join(User, User.id == Assignment.user_id)
        .join(Article, Article.id == Assignment.article_id)
        .where(Article.project_id == project_id)
        .order_by(Article.id, User.name)
    ).all()
    removed: list[tuple[str, str]] = []
    kept: list[tuple[str, str, int]] = []
    gone: list[int] = []
    for assignment_id, user_id, article_id, user_name, external_id in rows:
        if user_id in names:
            continue
        done = work.get((user_id, article_id), 0)
        if done:
            kept.append((user_name, external_id, done))
        else:
            removed.append((user_name, external_id))
            gone.append(assignment_id)
    if gone:
        session.execute(delete(Assignment).where(Assignment.id.in_(gone)))
    if not pool:
        short = session.scalar(select(func.count()).select_from(Article).where(Article.project_id == project_id)) or 0
        return RebalanceResult(removed, kept, [], 0, short)
    # an article someone outside the pool finished has their whole work: it counts towards N (it asked for one more
    # annotator, a fourth on an article three had finished, once an annotator who had finished it left the project)
    finished = _finished(session, project_id, {(user_id, article_id) for assignment_id, user_id, article_id, _, _ in rows if user_id not in names})
    topped = assign_balanced(session, project_id, per, pool, count_only_pool=True, finished=finished)
    moved = _even_out(session, project_id, names, work)
    return RebalanceResult(removed, kept, moved, topped.created, topped.articles_short)


def _even_out(session: Session, project_id: int, names: dict[int, str], work: Counter[tuple[int, int]]) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(Assignment.id, Assignment.user_id, Assignment.article_id, Assignment.status, Article.external_id)
        .join(Article, Article.id == Assignment.article_id)
        .where(Article.project_id == project_id)
        .order_by(Article.id)
    ).all()
    articles_of: dict[int, set[int]] = {uid: set() for uid in names}
    movable: dict[int, list[tuple[int, int, str]]] = {uid: [] for uid in names}
    for assignment_id, user_id, article_id, status, external_id in rows:
        if user_id not in names:
            continue
        articles_of[user_id].add(article_id)
        if status == "assigned" and not work.get((user_id, article_id)):
            movable[user_id].append((assignment_id, article_id, external_id))
    moved: list[tuple[str, str, str]] = []
    while True:
        order = sorted(names, key=lambda uid: (len(articles_of[uid]), names[uid]))
        low = order[0]
        step = None
        for high in reversed(order):
            if len(articles_of[high]) - len(articles_of[low]) <= 1:
                break
            step = next(((i, m) for i, m in enumerate(movable[high]) if m[1] not in articles_of[low]), None)
            if step is not None:
                break
        if step is None:
            return moved
        i, (assignment_id, article_id, external_id) = step
        del movable[high][i]
        session.execute(update(Assignment).where(Assignment.id == assignment_id).values(user_id=low))
        articles_of[high].discard(article_id)
        articles_of[low].add(article_id)
        movable[low].append((assignment_id, article_id, external_id))
        moved.append((names[high], names[low], external_id))


@dataclass
class HandResult:
    added: list[str]
    removed: list[str]
    kept: list[str]  # unticked, but they have started: their work stays


def set_article_annotators(session: Session, article_id: int, user_ids: list[int]) -> HandResult:
    """Make exactly these annotators assigned to the article, except that started work is never taken away."""
    article = session.get(Article, article_id)
    if article is None:
        raise AssignmentError(f"no article {article_id}")
    wanted = list(dict.fromkeys(user_ids))
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    for uid in wanted:
        user = users.get(uid)
        if user is None:
            raise AssignmentError(f"no user {uid}")
        if user.role != "annotator":
            raise AssignmentError(f"{user.name} is {with_article(user.role)}, not an annotator")
        if not user.active:
            raise AssignmentError(f"{user.name} is deactivated")
    current = session.execute(
        select(Assignment.id, Assignment.user_id, User.name).join(User, User.id == Assignment.user_id).where(Assignment.article_id == article_id)
    ).all()
    have = {uid for _, uid, _ in current}
    work = work_done(session, article.project_id, article_id)
    result = HandResult([], [], [])
    for assignment_id, uid, name in sorted(current, key=lambda r: r[2]):
        if uid in wanted:
            continue
        if work.get((uid, article_id)):
            result.kept.append(name)
        else:
            session.execute(delete(Assignment).where(Assignment.id == assignment_id))
            result.removed.append(name)
    _join(session, article.project_id, [users[uid] for uid in wanted])
    for uid in wanted:
        if uid not in have:
            session.add(Assignment(user_id=uid, article_id=article_id, status="assigned"))
            result.added.append(users[uid].name)
    session.flush()
    return result


# ----------------------------------------------------------------- what the assignment pages show
def assignees(session: Session, article_ids: list[int]) -> dict[int, list[tuple[str, bool, str]]]:
    """Per article: (name, active, status) of everyone assigned to it, by name."""
    people: dict[int, list[tuple[str, bool, str]]] = {i: [] for i in article_ids}
    for article_id, name, active, status in session.execute(
        select(Assignment.article_id, User.name, User.active, Assignment.status)
        .join(User, User.id == Assignment.user_id)
        .where(Assignment.article_id.in_(article_ids))
        .order_by(User.name)
    ).all():
        people[article_id].append((name, bool(active), status))
    return people


def assigned_counts(session: Session, project_id: int | None = None) -> dict[int, int]:
    """Assignments per user id, in one project or (None) in all."""
    query = select(Assignment.user_id, func.count())
    if project_id is not None:
        query = query.join(Article, Article.id == Assignment.article_id).where(Article.project_id == project_id)
    return dict(session.execute(query.group_by(Assignment.user_id)).all())


def loads(session: Session, project_id: int) -> list[Any]:
    """Everyone with assignments in the project: (name, active, role, how many), by name."""
    return list(
        session.execute(
            select(User.name, User.active, User.role, func.count(Assignment.id))
            .join(Assignment, Assignment.user_id == User.id)
            .join(Article, Article.id == Assignment.article_id)
            .where(Article.project_id == project_id)
            .group_by(User.id, User.name, User.active, User.role)
            .order_by(User.name)
        ).all()
    )


def leaving(session: Session, project_id: int, pool: list[User], work: Counter[tuple[int, int]]) -> tuple[int, int]:
    """(unstarted, started) assignments of people outside the pool: deactivated, no longer annotators, or
    no longer members of the project (what a re-balance would move, and what it keeps)."""
    rows = session.execute(
        select(Assignment.user_id, Assignment.article_id)
        .join(Article, Article.id == Assignment.article_id)
        .where(Article.project_id == project_id, Assignment.user_id.not_in([u.id for u in pool]))
    ).all()
    started = sum(1 for u, a in rows if work.get((u, a)))
    return len(rows) - started, started


def article_assignees(session: Session, article_id: int) -> list[Any]:
    """The article's annotators: (id, name, active, role, status), by name."""
    return list(
        session.execute(
            select(User.id, User.name, User.active, User.role, Assignment.status)
            .join(Assignment, Assignment.user_id == User.id)
            .where(Assignment.article_id == article_id)
            .order_by(User.name)
        ).all()
    )
