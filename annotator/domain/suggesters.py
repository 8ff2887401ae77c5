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
from annotator.domain import projects, suggestions
from annotator.domain.suggestions import Proposal, SuggestionError
from annotator.stats import attribution

if TYPE_CHECKING:
    from annotator.stats import claims

ENTRY_POINT_GROUP = "annotator.suggesters"
BATCH = 50  # articles stored together (a few statements per batch, memory of one batch); the pipelined CLI run hands them to its workers
CLAIM_THRESHOLD = 0.5  # a claim label is suggested only when the model gives it at least this probability
SCHEMA_CHANGED = ("the project's label schema changed while suggestions were computed (a label renamed or the schema "
                  "edited): the articles of this batch and those after it got none (those before kept theirs); run the "
                  "suggesters again")


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
    schema = project_schema(session, project_id)
    chosen = select(Article.id).where(Article.project_id == project_id).order_by(Article.id)
    if article_ids is not None:
        chosen = chosen.where(Article.id.in_(list(article_ids)))
    ids = list(session.scalars(chosen))
    suggesters = list(suggesters) if suggesters is not None else for_project(session, project_id)
    counts = {"articles": 0, "suggestions": 0, "new": 0}
    for start in range(0, len(ids), BATCH):
        items = read(session, ids[start:start + BATCH])
        add_counts(counts, store(session, project_id, schema, [s.name for s in suggesters], items, propose(suggesters, items)))
        if progress:
            progress(counts["articles"], len(ids))
    return counts


Item = tuple[int, str, list[int], list[tuple[int, int]]]  # (article id, text, sentence ids, sentence (start, end))


def project_schema(session: Session, project_id: int) -> dict[str, Any]:
    return session.execute(select(Project.label_schema).where(Project.id == project_id)).scalar_one()


def read(session: Session, article_ids: Sequence[int]) -> list[Item]:
    """What the suggesters read of these articles: text and sentences, in id order."""
    texts = dict(session.execute(select(Article.id, Article.text).where(Article.id.in_(list(article_ids)))).all())
    sentences = _sentences(session, sorted(texts))
    return [(a, texts[a], *sentences.get(a, ([], []))) for a in sorted(texts)]


def propose(suggesters: Sequence[Suggester], items: Sequence[Item]) -> list[list[Proposal]]:
    """Each suggester's proposal for each article. Pure (no database): it may run in another process."""
    return [[suggester.propose(text, bounds) for suggester in suggesters] for _, text, _, bounds in items]


def store(session: Session, project_id: int, schema: dict[str, Any], names: Sequence[str], items: Sequence[Item],
          proposals: Sequence[Sequence[Proposal]]) -> dict[str, int]:
    """Keep what the schema allows of each proposal as the named suggesters' suggestions (in the caller's write transaction).

    `schema` is the one the caller read before the proposals were computed (which takes a while), and what is kept
    of them is what it allows: SuggestionError (409) and nothing stored when the project's schema is another by now. A label renamed meanwhile
    would otherwise be stored under its old name, which the schema no longer has (PostgreSQL, or a pipelined run that
    read the schema once). From the check on, the articles' and the project's rows are held (projects.schema_unchanged),
    so a rename or schema edit that comes later waits for this transaction and renames what it stored."""
    if not projects.schema_unchanged(session, project_id, schema, articles=[item[0] for item in items]):
        raise SuggestionError(409, SCHEMA_CHANGED)
    counts = {"articles": len(items), "suggestions": 0, "new": 0}
    for k, name in enumerate(names):
        rows = {article_id: suggestions.rows_for(by_suggester[k], article_id, len(text), schema, sentence_ids)
                for (article_id, text, sentence_ids, _), by_suggester in zip(items, proposals, strict=True)}
        counts["new"] += suggestions.store_many(session, name, rows)
        counts["suggestions"] += sum(len(r) for r in rows.values())
    return counts


def add_counts(total: dict[str, int], more: dict[str, int]) -> None:
    for key in total:
        total[key] += more[key]


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
            add_counts(counts, run(session, project_id, ids[start:start + BATCH], suggesters))
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
