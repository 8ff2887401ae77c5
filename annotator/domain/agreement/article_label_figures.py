"""Agreement on article-level labels: one row per article label group, each article counted once.

An item is an article, a rating one annotator's answer in the group (never copied onto
sentences, so a document class counts once, not once per sentence). The answer is the
category: for a `multiple` group the whole set of values, so two annotators agree only
on the same set. The coefficients are stats.agreement's (Krippendorff's alpha, nominal,
with missing answers; Fleiss' kappa over the articles with the most common number of
answers; percent agreement), with their counts and reasons when undefined.

A group's figures rest on one item per article, so a project has far fewer of them than of
sentences: a group with answers from two or more annotators on fewer than MIN_ARTICLES articles
gets a `small_sample` note saying so (the figures are still given, as the sentence figures are
given with their interval), the threshold of the suggestion figures (origin_figures.MIN_N).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article, ArticleLabel, User, visible_articles
from annotator.domain import labelschema
from annotator.domain.project_head import ProjectHead
from annotator.stats import agreement as ag

MIN_ARTICLES = 10  # fewer articles with two or more answers than this: the figures come with a note that they say little


def article_label_figures(session: Session, head: ProjectHead) -> list[dict[str, Any]]:
    """Per article label group of the schema: the coefficients over the project's articles (an empty list without groups)."""
    groups = labelschema.article_groups(head.schema)
    if not groups:
        return []
    rows = session.execute(
        select(ArticleLabel.group, ArticleLabel.article_id, User.name, ArticleLabel.values)
        .join(Article, Article.id == ArticleLabel.article_id)
        .join(User, User.id == ArticleLabel.user_id)
        .where(Article.project_id == head.id, visible_articles())
    ).all()
    answers: dict[str, dict[tuple[int, str], str]] = {name: {} for name in groups}
    for group, article_id, user, values in rows:
        if group in answers:
            answers[group][(article_id, user)] = " + ".join(sorted(values))
    return [_group_row(name, groups[name]["multiple"], answers[name]) for name in groups]


def _group_row(name: str, multiple: bool, answers: dict[tuple[int, str], str]) -> dict[str, Any]:
    articles = sorted({a for a, _ in answers})
    people = sorted({u for _, u in answers})
    categories = sorted(set(answers.values()))
    codes = np.full((len(articles), len(people)), -1, dtype=np.int64)
    row_of = {a: i for i, a in enumerate(articles)}
    col_of = {u: j for j, u in enumerate(people)}
    code_of = {c: k for k, c in enumerate(categories)}
    for (article, user), answer in answers.items():
        codes[row_of[article], col_of[user]] = code_of[answer]
    matrix = ag.LabelMatrix(codes, people, categories)
    m = (codes >= 0).sum(axis=1)
    counts = np.bincount(m[m >= 2]) if (m >= 2).any() else np.zeros(0)
    n_raters = int(counts.argmax()) if counts.size else None
    return {
        "group": name,
        "multiple": bool(multiple),
        "n_articles": len(articles),
        "n_answers": len(answers),
        "n_pairable": int((m >= 2).sum()),
        "small_sample": small_sample(int((m >= 2).sum())),
        "annotators": people,
        "answers": {c: int((codes == k).sum()) for k, c in enumerate(categories)},
        "percent_agreement": ag.percent_agreement(matrix).to_dict(),
        "krippendorff_alpha": ag.krippendorff_alpha(matrix).to_dict(),
        "fleiss_kappa": ag.fleiss_kappa(matrix, n_raters=n_raters).to_dict() if n_raters else
        {"value": None, "reason": "no article has answers from two or more annotators"},
    }


def small_sample(n_pairable: int, min_articles: int = MIN_ARTICLES) -> str | None:
    """The note for a group whose figures rest on fewer than `min_articles` articles with two or more answers, else None."""
    if n_pairable >= min_articles:
        return None
    return (f"{n_pairable} article{'' if n_pairable == 1 else 's'} with answers from two or more annotators: "
            f"fewer than {min_articles}, too few for these figures to mean much")
