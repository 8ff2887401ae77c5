"""Suggestions measured against gold or one annotator, on the articles the reference worked on.

Only articles where the reference has at least one label, span or link are scored: a suggestion
on an article nobody annotated is neither right nor wrong yet. The figures are
annotator.stats.evaluation's (the agreement module's matching).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, GoldLabel, GoldRelation, GoldSpan, Relation, Sentence, Span, Suggestion
from annotator.stats.evaluation import Annotations, evaluate


def gold(session: Session, project_id: int) -> Annotations:
    """The project's gold labels, spans and links."""
    return _side(session, project_id, GoldLabel, GoldSpan, GoldRelation, (), (), ())


def annotator(session: Session, project_id: int, user_id: int) -> Annotations:
    """One annotator's own labels, spans and links."""
    return _side(session, project_id, Annotation, Span, Relation,
                 (Annotation.user_id == user_id,), (Span.user_id == user_id,), (Relation.user_id == user_id,))


def _side(session: Session, project_id: int, label_model: Any, span_model: Any, link_model: Any,
          label_where: tuple, span_where: tuple, link_where: tuple) -> Annotations:
    out = Annotations()
    rows = session.execute(
        select(Sentence.article_id, Sentence.index, label_model.label)
        .join(Sentence, Sentence.id == label_model.sentence_id).join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id, *label_where)
    )
    out.labels = {(a, i): label for a, i, label in rows}
    spans = {}
    for sid, a, label, start, end in session.execute(
        select(span_model.id, span_model.article_id, span_model.label, span_model.start, span_model.end)
        .join(Article, Article.id == span_model.article_id).where(Article.project_id == project_id, *span_where)
    ):
        spans[sid] = (a, label, start, end)
    out.spans = list(spans.values())
    for from_id, to_id in session.execute(
        select(link_model.from_span_id, link_model.to_span_id)
        .join(Article, Article.id == link_model.article_id).where(Article.project_id == project_id, *link_where)
    ):
        out.links.append((spans[from_id], spans[to_id]))
    return out


def suggested(session: Session, project_id: int, articles: set[Any], suggester: str | None = None) -> Annotations:
    """The stored suggestions of these articles (of one suggester, or all), as an evaluation side."""
    out = Annotations()
    chosen = select(Suggestion, Sentence.index).outerjoin(Sentence, Sentence.id == Suggestion.sentence_id).join(
        Article, Article.id == Suggestion.article_id).where(Article.project_id == project_id)
    if suggester is not None:
        chosen = chosen.where(Suggestion.suggester == suggester)
    spans: dict[tuple[int, str], tuple] = {}
    links = []
    for s, index in session.execute(chosen):
        if s.article_id not in articles:
            continue
        if s.kind == "label":
            out.labels[(s.article_id, index)] = s.label
        elif s.kind == "span":
            spans[(s.article_id, s.uid)] = (s.article_id, s.label, s.start, s.end)
        else:
            links.append((s.article_id, s.from_uid, s.to_uid))
    out.spans = list(spans.values())
    out.links = [(spans[(a, f)], spans[(a, t)]) for a, f, t in links if (a, f) in spans and (a, t) in spans]
    return out


def suggester_names(session: Session, project_id: int) -> list[str]:
    """The suggesters that have suggestions stored in the project, by name."""
    return sorted(session.scalars(
        select(Suggestion.suggester).join(Article, Article.id == Suggestion.article_id).where(Article.project_id == project_id).distinct()
    ))


def measure(session: Session, project_id: int, reference: Annotations, suggester: str | None = None) -> dict[str, Any]:
    """Suggestions against `reference`, on the articles it covers; with the number of articles scored."""
    covered = {a for a, _ in reference.labels} | {s[0] for s in reference.spans}
    figures = evaluate(suggested(session, project_id, covered, suggester), reference)
    return {"articles": len(covered), **figures}
