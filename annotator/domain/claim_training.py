"""Training the claim-label suggester on a project's own labels, and loading the model it stored.

Each sentence's training label is its gold label where there is one, else the label a strict
majority of its annotators gave (a tie teaches nothing and is left out). Articles are the folds'
groups, so the reported macro-F1 is on articles the model never saw. The model is stored as a
JSON document (annotator.stats.claims), versioned by its content: never a pickle.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, GoldLabel, Project, Sentence, SuggesterModel, utcnow
from annotator.domain import labelschema
from annotator.stats import claims


def examples(session: Session, project_id: int) -> list[tuple[str, str, str]]:
    """(article key, sentence text, label) of every sentence with gold or a strict annotators' majority."""
    text_of = dict(session.execute(select(Article.id, Article.text).where(Article.project_id == project_id)).all())
    sentences = {
        sid: (article, start, end)
        for sid, article, start, end in session.execute(
            select(Sentence.id, Sentence.article_id, Sentence.start, Sentence.end)
            .join(Article, Article.id == Sentence.article_id).where(Article.project_id == project_id)
        )
    }
    gold = dict(session.execute(
        select(GoldLabel.sentence_id, GoldLabel.label).join(Sentence, Sentence.id == GoldLabel.sentence_id)
        .join(Article, Article.id == Sentence.article_id).where(Article.project_id == project_id)
    ).all())
    votes: dict[int, Counter] = defaultdict(Counter)
    for sid, label in session.execute(
        select(Annotation.sentence_id, Annotation.label).join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id).where(Article.project_id == project_id, Annotation.needs_review.is_(False))
    ):
        votes[sid][label] += 1
    out = []
    for sid, (article, start, end) in sorted(sentences.items()):
        label = gold.get(sid) or _majority(votes.get(sid))
        if label:
            out.append((str(article), text_of[article][start:end], label))
    return out


def _majority(counts: Counter | None) -> str | None:
    if not counts:
        return None
    (top, n), *rest = counts.most_common(2) + [(None, 0)]
    return top if n * 2 > sum(counts.values()) and (not rest or rest[0][1] < n) else None


def train(session: Session, project_id: int, folds: int = claims.DEFAULT_FOLDS) -> SuggesterModel:
    """Cross-validate, fit on everything, and store the model (call inside a write transaction).

    NotEnoughLabels (from annotator.stats.claims) says what is missing when the project is too young.
    """
    schema = session.execute(select(Project.label_schema).where(Project.id == project_id)).scalar_one()
    classes = labelschema.names(schema, "sentence_labels")
    rows = examples(session, project_id)
    metrics = claims.cross_validate(rows, folds=folds, classes=classes)
    model = claims.train(rows, classes=classes)
    stored = session.execute(select(SuggesterModel).where(
        SuggesterModel.project_id == project_id, SuggesterModel.name == model.name, SuggesterModel.version == model.version
    )).scalar()
    if stored is None:
        stored = SuggesterModel(project_id=project_id, name=model.name, version=model.version, document=model.to_json(), metrics=metrics)
        session.add(stored)
    else:  # the same labels again: the same model; keep it, with the fresh figures
        stored.metrics, stored.trained_at = metrics, utcnow()
    session.flush()
    return stored


def latest(session: Session, project_id: int) -> tuple[SuggesterModel, claims.ClaimModel] | None:
    """The project's most recently trained claim model, loaded; None before any training."""
    row = session.execute(
        select(SuggesterModel).where(SuggesterModel.project_id == project_id, SuggesterModel.name == claims.NAME)
        .order_by(SuggesterModel.trained_at.desc(), SuggesterModel.id.desc()).limit(1)
    ).scalar()
    return None if row is None else (row, claims.ClaimModel.from_json(row.document))


def summary(row: SuggesterModel) -> dict[str, Any]:
    """What `annotator suggest train` prints: the version and the held-out figures against the baseline."""
    m = row.metrics
    return {
        "suggester": row.name, "version": row.version, "sentences": m["sentences"], "articles": m["articles"],
        "scheme": m["scheme"], "macro_f1": m["macro_f1"], "accuracy": m["accuracy"],
        "baseline": {"macro_f1": m["baseline"]["macro_f1"], "accuracy": m["baseline"]["accuracy"]},
    }
