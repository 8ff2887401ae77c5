"""Who annotates what: balanced automatic assignment and assignment by hand."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Article, Assignment, User


class AssignmentError(ValueError):
    """An assignment that cannot be made; the message says why."""


@dataclass
class AssignResult:
    created: int
    articles_short: int  # articles that still have fewer than N annotators (not enough people)


def project_annotators(session: Session, project_id: int) -> list[User]:
    """Active annotators: everyone with the annotator role (the pool for automatic assignment)."""
    return list(session.scalars(select(User).where(User.role == "annotator", User.active.is_(True)).order_by(User.name)))


def assign_balanced(session: Session, project_id: int, per_article: int, annotators: list[User] | None = None) -> AssignResult:
    """Give every article `per_article` distinct annotators, least-loaded first.

    Idempotent: existing assignments are kept (work already started is never
    taken away) and only the missing ones are added.
    """
    if per_article < 1:
        raise AssignmentError("annotators per article must be at least 1")
    pool = annotators if annotators is not None else project_annotators(session, project_id)
    if not pool:
        raise AssignmentError("there are no active annotators to assign")
    pool_ids = {u.id: u.name for u in pool}
    article_ids = list(session.scalars(select(Article.id).where(Article.project_id == project_id).order_by(Article.id)))
    existing = session.execute(
        select(Assignment.article_id, Assignment.user_id).join(Article).where(Article.project_id == project_id)
    ).all()
    assigned: dict[int, set[int]] = {a: set() for a in article_ids}
    load: Counter[int] = Counter({uid: 0 for uid in pool_ids})
    for article_id, user_id in existing:
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
        raise AssignmentError(f"{user.name} is a {user.role}, not an annotator")
    if not user.active:
        raise AssignmentError(f"{user.name} is deactivated")
    rows = dict(
        session.execute(
            select(Article.external_id, Article.id).where(Article.project_id == project_id, Article.external_id.in_(external_ids))
        ).all()
    )
    missing = [x for x in external_ids if x not in rows]
    if missing:
        raise AssignmentError(f"no article with id {', '.join(map(repr, missing))} in this project")
    have = set(session.scalars(select(Assignment.article_id).where(Assignment.user_id == user.id, Assignment.article_id.in_(rows.values()))))
    new = [Assignment(user_id=user.id, article_id=aid) for aid in dict.fromkeys(rows[x] for x in external_ids) if aid not in have]
    session.add_all(new)
    session.flush()
    return len(new)
