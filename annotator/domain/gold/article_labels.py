"""Article labels in review: the articles whose annotators disagree on a group, and a reviewer's gold decision on them.

The automatic gold of an article label group is the sentences' rule over whole answers, computed
whenever read (domain.dataset.export.article_labels), never stored. A reviewer's decision is
stored (GoldArticleLabel, provenance `adjudicated`), wins over that rule and is never
overwritten by it, as a sentence's adjudicated gold is. Like adjudicate(): checked first, then
written under the project's gold lock, audited (entity gold_article_label, id
"<article id>:<group>"), the project's revision bumped.

A group of an article is disputed when two or more annotators answered it and their answers (the
whole set of values, for a `multiple` group) are not all the same.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Text, cast, func, insert, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Article, ArticleLabel, GoldArticleLabel, Project, User, visible_articles
from annotator.domain import labelschema
from annotator.domain.gold.adjudication import MAX_REASON
from annotator.domain.gold.keys import GoldError
from annotator.domain.gold.stamps import article_stamp, check_seen
from annotator.domain.gold.writes import audit_many, bump_revision, lock_project, now

ENTITY = "gold_article_label"


def article_label_disputes(session: Session, project_id: int, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The (article, group) pairs answered by two or more annotators who disagree, least agreement first: each with
    its answers ({"a + b": count}), the share of agreeing annotator pairs, and its human gold decision if any."""
    groups = labelschema.article_groups(schema)
    if not groups:
        return []
    # The database counts each stored answer's text per (article, group); only where two texts differ are they read
    # as JSON (the same values may be spelled two ways): most groups are agreed, and reading every answer dominated.
    stored = cast(ArticleLabel.values, Text)
    texts: dict[tuple[int, str], dict[str, int]] = {}
    for article_id, group, text, n in session.execute(
        select(ArticleLabel.article_id, ArticleLabel.group, stored, func.count())
        .join(Article, Article.id == ArticleLabel.article_id)
        .where(Article.project_id == project_id, visible_articles())
        .group_by(ArticleLabel.article_id, ArticleLabel.group, stored)
    ):
        if group in groups:
            texts.setdefault((article_id, group), {})[text] = n
    decided = human_gold(session, project_id)
    rows = []
    for (article_id, group), spelled in texts.items():
        if len(spelled) < 2:
            continue
        counts: dict[str, int] = {}
        for text, n in spelled.items():
            answer = answer_text(json.loads(text))
            counts[answer] = counts.get(answer, 0) + n
        m = sum(counts.values())
        if len(counts) < 2:
            continue
        gold = decided.get((article_id, group))
        rows.append({
            "article_id": article_id, "group": group, "n_annotators": m,
            "label_agreement": sum(n * (n - 1) for n in counts.values()) / (m * (m - 1)),
            "answers": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            "gold": answer_text(gold["values"]) if gold else None,
            "gold_provenance": gold["provenance"] if gold else None,
        })
    rows.sort(key=lambda r: (r["label_agreement"], r["article_id"], r["group"]))
    return rows


def answer_text(values: list[str]) -> str:
    """An answer as the pages show it: its values, sorted, joined by ' + '."""
    return " + ".join(sorted(values))


def human_gold(session: Session, project_id: int, article_ids: list[int] | None = None) -> dict[tuple[int, str], dict[str, Any]]:
    """(article id, group) -> the stored gold decision: values, provenance, reviewer (name or None), reason."""
    query = (
        select(GoldArticleLabel.article_id, GoldArticleLabel.group, GoldArticleLabel.values, GoldArticleLabel.provenance, User.name,
               GoldArticleLabel.reason)
        .join(Article, Article.id == GoldArticleLabel.article_id)
        .outerjoin(User, User.id == GoldArticleLabel.reviewer_id)
        .where(Article.project_id == project_id)
    )
    if article_ids is not None:
        query = query.where(GoldArticleLabel.article_id.in_(article_ids))
    return {(a, g): {"values": sorted(v), "provenance": p, "reviewer": r, "reason": why} for a, g, v, p, r, why in session.execute(query)}


def article_label_context(session: Session, project_id: int, article_id: int) -> dict[str, Any]:
    """What the article label adjudication page shows: the article, and per group of the schema each annotator's answer
    and the stored gold decision. GoldError 404 for an article not in the project (or not published)."""
    row = session.execute(
        select(Article.id, Article.external_id, Article.title, Article.text, Project.label_schema)
        .join(Project, Project.id == Article.project_id)
        .where(Article.id == article_id, Article.project_id == project_id, visible_articles())
    ).first()
    if row is None:
        raise GoldError(f"no article {article_id} in this project", 404)
    groups = labelschema.article_groups(row.label_schema or {})
    given: dict[str, list[tuple[str, list[str]]]] = {name: [] for name in groups}
    for name, group, values in session.execute(
        select(User.name, ArticleLabel.group, ArticleLabel.values)
        .join(User, User.id == ArticleLabel.user_id)
        .where(ArticleLabel.article_id == article_id)
        .order_by(User.name)
    ):
        if group in given:
            given[group].append((name, sorted(values)))
    decided = human_gold(session, project_id, [article_id])
    return {
        "article": {"id": row.id, "external_id": row.external_id, "title": row.title, "text": row.text},
        "groups": [{"name": name, "values": list(spec["values"]), "multiple": bool(spec["multiple"]), "answers": given[name],
                    "counts": {value: sum(value in values for _, values in given[name]) for value in spec["values"]},
                    "gold": decided.get((article_id, name))} for name, spec in groups.items()],
    }


def adjudicate_article_labels(
    session: Session, reviewer_id: int, project_id: int, article_id: int, decisions: dict[str, list[str]], reason: str | None = None,
    seen: str | None = None,
) -> dict[str, Any]:
    """Store a reviewer's gold for article label groups of one article ({group: values}; the groups left out are left
    alone), provenance `adjudicated`. Every problem is checked before anything is written; the caller opens the write
    transaction and commits. `seen`: the stamp of the decisions the page showed (stamps.py); GoldError 409 when the
    stored ones differ now."""
    schema = session.scalar(select(Project.label_schema).join(Article, Article.project_id == Project.id).where(
        Article.id == article_id, Article.project_id == project_id, visible_articles())
        .with_for_update(key_share=True, of=[Article, Project]))  # as an answer's read: a label rename and this take turns
    if schema is None:
        raise GoldError(f"no article {article_id} in this project", 404)
    if not decisions:
        raise GoldError("choose the gold value of at least one group")
    problems = [problem for group, values in decisions.items() if (problem := labelschema.check_article_values(schema, group, values))]
    if problems:
        raise GoldError("; ".join(problems), problems=problems)
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_REASON:
        raise GoldError(f"the reason is longer than {MAX_REASON} characters")
    lock_project(session, project_id)
    check_seen(seen, article_stamp(session, article_id))
    current = {r.group: r for r in session.execute(
        select(GoldArticleLabel.id, GoldArticleLabel.group, GoldArticleLabel.values, GoldArticleLabel.provenance,
               GoldArticleLabel.reviewer_id, GoldArticleLabel.reason)
        .where(GoldArticleLabel.article_id == article_id).with_for_update()
    )}
    at, changes = now(), []
    for group in sorted(decisions):
        values = sorted(decisions[group])
        after = _doc(article_id, group, values, "adjudicated", reviewer_id, reason)
        old = current.get(group)
        if old is None:
            session.execute(insert(GoldArticleLabel).values(article_id=article_id, group=group, values=values, provenance="adjudicated",
                                                            reviewer_id=reviewer_id, reason=reason, updated_at=at))
            before, action = None, "create"
        else:
            session.execute(update(GoldArticleLabel).where(GoldArticleLabel.id == old.id).values(
                values=values, provenance="adjudicated", reviewer_id=reviewer_id, reason=reason, updated_at=at))
            before, action = _doc(article_id, group, sorted(old.values), old.provenance, old.reviewer_id, old.reason), "update"
        changes.append({"user_id": reviewer_id, "project_id": project_id, "article_id": article_id, "entity": ENTITY,
                        "entity_id": f"{article_id}:{group}", "action": action, "before": before, "after": after})
    audit_many(session, changes)
    bump_revision(session, project_id)
    session.flush()
    return {"article_id": article_id, "groups": sorted(decisions), "provenance": "adjudicated", "reviewer_id": reviewer_id, "reason": reason}


def _doc(article_id: int, group: str, values: list[str], provenance: str, reviewer_id: int | None, reason: str | None) -> dict[str, Any]:
    return {"article_id": article_id, "group": group, "values": values, "provenance": provenance, "reviewer_id": reviewer_id, "reason": reason}
