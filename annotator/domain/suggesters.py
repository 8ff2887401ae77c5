"""The suggesters a project runs, and running them over articles.

Built in: the attribution rules (annotator.stats.attribution: QUOTE / SOURCE / CUE spans and
attributed_to links). A package adds its own through the `annotator.suggesters` entry-point
group: each entry point names a callable that returns an object with `name`, `version` and
`propose(text, sentences) -> Proposal` (sentences as (start, end) code-point offsets).
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Project, Sentence, SuggesterModel
from annotator.db.transactions import transaction
from annotator.domain import suggestions
from annotator.domain.suggestions import Proposal, SuggestionError
from annotator.stats import attribution

if TYPE_CHECKING:
    from annotator.stats import claims

ENTRY_POINT_GROUP = "annotator.suggesters"
BATCH = 200  # articles stored together: a few statements per batch, memory of one batch
CLAIM_THRESHOLD = 0.5  # a claim label is suggested only when the model gives it at least this probability


class Suggester(Protocol):
    name: str
    version: str

    def propose(self, text: str, sentences: Sequence[tuple[int, int]]) -> Proposal: ...


class AttributionRules:
    """The built-in attribution suggester."""

    name = attribution.NAME
    version = attribution.VERSION

    def propose(self, text: str, sentences: Sequence[tuple[int, int]]) -> Proposal:
        found = attribution.suggest(text, sentences)
        return Proposal(
            self.name, self.version,
            spans=[(s.id, s.label, s.start, s.end, s.score) for s in found.spans],
            relations=[(r.type, r.quote, r.source, r.score) for r in found.relations],
        )


class TrainedClaims:
    """The project's claim-label model (annotator suggest train): one label per sentence, with its probability."""

    def __init__(self, model: claims.ClaimModel, threshold: float = CLAIM_THRESHOLD):
        self.model, self.threshold = model, threshold
        self.name, self.version = model.name, model.version

    def propose(self, text: str, sentences: Sequence[tuple[int, int]]) -> Proposal:
        predicted = self.model.predict([text[a:b] for a, b in sentences]) if sentences else []
        labels = [(i, label, score) for i, (label, score) in enumerate(predicted) if score >= self.threshold]
        return Proposal(self.name, self.version, labels=labels)


def for_project(session: Session, project_id: int) -> list[Suggester]:
    """What runs on a project: the installed suggesters, plus its trained claim model if it has one."""
    found = installed()
    if session.scalar(select(SuggesterModel.id).where(SuggesterModel.project_id == project_id).limit(1)) is None:
        return found  # claim_training loads scipy (0.2 s): a project that never trained a model does not need it
    from annotator.domain import claim_training

    trained = claim_training.latest(session, project_id)
    if trained is not None:
        found.append(TrainedClaims(trained[1]))
    return found


def installed() -> list[Suggester]:
    """The built-in suggester, then those packages add through the entry-point group (sorted by name)."""
    found: list[Suggester] = [AttributionRules()]
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        found.append(_load(point))
    return found


def _load(point: Any) -> Suggester:
    """The suggester an entry point makes; SuggestionError (500) names the entry point when it cannot."""
    where = f"the {ENTRY_POINT_GROUP} entry point {point.name!r} ({point.value})"
    try:
        made = point.load()()
    except Exception as exc:  # a broken package must say which one it is, not fail somewhere deep
        raise SuggestionError(500, f"{where} failed: {type(exc).__name__}: {exc}") from exc
    missing = [attr for attr in ("name", "version", "propose") if not hasattr(made, attr)]
    if missing:
        raise SuggestionError(500, f"{where} made an object without {', '.join(missing)}")
    return made


def run(
    session: Session,
    project_id: int,
    article_ids: Iterable[int] | None = None,
    suggesters: Sequence[Suggester] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Compute and store suggestions for the project's articles (or only these); returns counts.

    One transaction per article batch is the caller's choice: this function only reads and
    stores through `suggestions.store`, so the caller wraps it in a write transaction.
    """
    schema = session.execute(select(Project.label_schema).where(Project.id == project_id)).scalar_one()
    chosen = select(Article.id, Article.text).where(Article.project_id == project_id).order_by(Article.id)
    if article_ids is not None:
        chosen = chosen.where(Article.id.in_(list(article_ids)))
    articles = session.execute(chosen).all()
    suggesters = list(suggesters) if suggesters is not None else for_project(session, project_id)
    sentences = _sentences(session, [a for a, _ in articles])
    counts = {"articles": 0, "suggestions": 0, "new": 0}
    for start in range(0, len(articles), BATCH):
        batch = articles[start:start + BATCH]
        for suggester in suggesters:
            rows = {
                article_id: suggestions.rows_for(suggester.propose(text, sentences.get(article_id, ([], []))[1]), article_id, len(text),
                                                 schema, sentences.get(article_id, ([], []))[0])
                for article_id, text in batch
            }
            counts["new"] += suggestions.store_many(session, suggester.name, rows)
            counts["suggestions"] += sum(len(r) for r in rows.values())
        counts["articles"] += len(batch)
        if progress:
            progress(counts["articles"], len(articles))
    return counts


def article_ids(session: Session, project_id: int, external_ids: Sequence[str] | None = None) -> list[int]:
    """The project's article ids in order, or those of these external ids; SuggestionError names one it lacks."""
    if external_ids is None:
        return list(session.scalars(select(Article.id).where(Article.project_id == project_id).order_by(Article.id)))
    found: dict[str, int] = {}
    wanted = list(dict.fromkeys(external_ids))
    for chunk in (wanted[i:i + 500] for i in range(0, len(wanted), 500)):
        found.update(session.execute(
            select(Article.external_id, Article.id).where(Article.project_id == project_id, Article.external_id.in_(chunk))
        ).all())
    missing = [x for x in wanted if x not in found]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise SuggestionError(404, f"no article with id {missing[0]!r} in this project{more}")
    return sorted(found[x] for x in wanted)


def run_in_batches(
    session: Session,
    project_id: int,
    ids: Sequence[int],
    suggesters: Sequence[Suggester] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """`run` over these articles with one write transaction per BATCH: the write lock is never held for a whole project.

    A failure keeps the batches already committed (a re-run replaces them, keeping decisions).
    """
    if suggesters is None:
        suggesters = for_project(session, project_id)
    counts = {"articles": 0, "suggestions": 0, "new": 0}
    for start in range(0, len(ids), BATCH):
        with transaction(session):
            done = run(session, project_id, ids[start:start + BATCH], suggesters)
        for key in counts:
            counts[key] += done[key]
        if progress:
            progress(counts["articles"], len(ids))
    return counts


def _sentences(session: Session, article_ids: list[int]) -> dict[int, tuple[list[int], list[tuple[int, int]]]]:
    out: dict[int, tuple[list[int], list[tuple[int, int]]]] = {}
    for chunk in (article_ids[i:i + 500] for i in range(0, len(article_ids), 500)):
        rows = session.execute(
            select(Sentence.article_id, Sentence.id, Sentence.start, Sentence.end)
            .where(Sentence.article_id.in_(chunk)).order_by(Sentence.article_id, Sentence.index)
        )
        for article_id, sid, start, end in rows:
            ids, bounds = out.setdefault(article_id, ([], []))
            ids.append(sid)
            bounds.append((start, end))
    return out
