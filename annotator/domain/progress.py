"""How far a project has come: per annotator, per article, per day, and the overview counts.

Plain queries over a session (no Flask), each a handful of grouped SELECTs
whatever the project's size, plus the geometry of the server-side SVG chart
(no chart library, no script: the page draws rectangles and a polyline).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Sequence

from sqlalchemy import Select, and_, bindparam, case, func, literal, select, tuple_
from sqlalchemy.orm import Bundle, Session

from annotator.db.models import Annotation, Article, Assignment, GoldLabel, Project, Relation, Sentence, Span, User, visible_articles

MAX_CHART_DAYS = 366
MAX_BAR_WIDTH = 36


def _sentence_counts(project_id: int) -> Any:
    return (
        select(Sentence.article_id, func.count().label("n"))
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id)
        .group_by(Sentence.article_id)
        .subquery()
    )


def _labelled(project_id: int) -> Any:
    """(user, article) -> sentences that user has labelled in that article."""
    return (
        select(Annotation.user_id, Sentence.article_id, func.count().label("n"), func.sum(case((Annotation.needs_review.is_(True), 1), else_=0)).label("review"))
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id)
        .group_by(Annotation.user_id, Sentence.article_id)
        .subquery()
    )


def annotator_progress(session: Session, project_id: int) -> list[dict[str, Any]]:
    """Everyone assigned in the project: articles done / assigned, sentences labelled / to label."""
    total = _sentence_counts(project_id)
    done = _labelled(project_id)
    rows = session.execute(
        select(
            User.id,
            User.name,
            User.active,
            User.role,
            func.count(Assignment.id),
            func.sum(case((Assignment.status == "done", 1), else_=0)),
            func.coalesce(func.sum(total.c.n), 0),
            func.coalesce(func.sum(done.c.n), 0),
            func.coalesce(func.sum(done.c.review), 0),
        )
        .select_from(Assignment)
        .join(User, User.id == Assignment.user_id)
        .join(Article, Article.id == Assignment.article_id)
        .outerjoin(total, total.c.article_id == Assignment.article_id)
        .outerjoin(done, and_(done.c.article_id == Assignment.article_id, done.c.user_id == Assignment.user_id))
        .where(Article.project_id == project_id)
        .group_by(User.id, User.name, User.active, User.role)
        .order_by(User.name)
    ).all()
    return [
        {
            "user_id": uid,
            "name": name,
            "active": bool(active),
            "role": role,
            "articles": n_articles,
            "articles_done": int(n_done or 0),
            "sentences": int(sentences),
            "labelled": int(labelled),
            "needs_review": int(review),
            "share": (int(labelled) / int(sentences)) if sentences else 0.0,
        }
        for uid, name, active, role, n_articles, n_done, sentences, labelled, review in rows
    ]


def project_articles(project_id: int) -> Select:
    """The project's articles in id order, one Bundle (id, external_id, title) a row: the lists the admin pages and the
    REST API page through (from `articles_after`), in the order of the index on (project_id, id)."""
    return (
        select(Bundle("article", Article.id, Article.external_id, Article.title))
        .where(Article.project_id == project_id)
        .order_by(Article.project_id, Article.id)
    )


def articles_after(dialect: str, project_id: int, after: int) -> Any:
    """The WHERE clause of the project's articles with an id above `after` (a keyset page, an export batch), as a
    seek in the index on (project_id, id), written for the `dialect`'s planner.

    With `id > after` PostgreSQL, taking project and id to be unrelated, read the primary key from `after` on and
    filtered by project, through every later article of other projects (the last page of a walk read them all): it
    gets a row comparison, which only that index can serve. SQLite seeks that index with `id > after` (and reads all
    of the project's articles with the row comparison).
    """
    if dialect == "postgresql":
        return and_(Article.project_id == project_id, tuple_(Article.project_id, Article.id) > tuple_(literal(project_id), literal(after)))
    return and_(Article.project_id == project_id, Article.id > after)


def sentence_counts(session: Session, article_ids: list[int]) -> dict[int, int]:
    """Sentences per article, for these articles only (a page of a list)."""
    if not article_ids:
        return {}
    return dict(
        session.execute(
            select(Sentence.article_id, func.count()).where(Sentence.article_id.in_(article_ids)).group_by(Sentence.article_id)
        ).all()
    )


def article_progress(session: Session, project_id: int, page: Sequence[Any]) -> list[dict[str, Any]]:
    """A page of `project_articles`, each with its sentence count and every assigned annotator's labelled count."""
    ids = [row[0] for row in page]
    sentences = sentence_counts(session, ids)
    done = _labelled(project_id)
    people: dict[int, list[dict[str, Any]]] = {aid: [] for aid in ids}
    if ids:
        for article_id, name, active, status, labelled in session.execute(
            select(Assignment.article_id, User.name, User.active, Assignment.status, func.coalesce(done.c.n, 0))
            .join(User, User.id == Assignment.user_id)
            .outerjoin(done, and_(done.c.article_id == Assignment.article_id, done.c.user_id == Assignment.user_id))
            .where(Assignment.article_id.in_(ids))
            .order_by(User.name)
        ).all():
            people[article_id].append({"name": name, "active": bool(active), "status": status, "labelled": int(labelled)})
    out = []
    for article_id, external_id, title in page:
        annotators = people[article_id]
        count = sentences.get(article_id, 0)
        expected = count * len(annotators)
        labelled = sum(a["labelled"] for a in annotators)
        out.append(
            {
                "article_id": article_id,
                "external_id": external_id,
                "title": title,
                "sentences": count,
                "annotators": annotators,
                "labelled": labelled,
                "expected": expected,
                "share": labelled / expected if expected else 0.0,
            }
        )
    return out


def _day(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, in each database's own terms."""
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def labels_per_day(session: Session, project_id: int, user_id: int | None = None) -> list[tuple[date, int]]:
    """Labels by the UTC day they were last changed (Annotation.updated_at), oldest first."""
    day = _day(session, Annotation.updated_at).label("day")
    query = (
        select(day, func.count())
        .join(Sentence, Sentence.id == Annotation.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == project_id)
        .group_by(day)
        .order_by(day)
    )
    if user_id is not None:
        query = query.where(Annotation.user_id == user_id)
    return [(value if isinstance(value, date) else date.fromisoformat(str(value)), n) for value, n in session.execute(query).all()]


@dataclass
class Chart:
    """Geometry of a bar chart (labels per day) with a cumulative line, in SVG user units."""

    width: int
    height: int
    bars: list[dict[str, Any]]
    line: str  # "x,y x,y ..." for a polyline of the running total
    max_daily: int
    total: int
    first: date
    last: date
    x_ticks: list[dict[str, Any]]


def chart(days: list[tuple[date, int]], width: int = 720, height: int = 180, pad: int = 28) -> Chart | None:
    """Bars for each day from the first to the last (empty days included), the last MAX_CHART_DAYS at most."""
    if not days:
        return None
    counts = dict(days)
    last = max(counts)
    first = max(min(counts), last - timedelta(days=MAX_CHART_DAYS - 1))
    span = (last - first).days + 1
    series = [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(span)]
    earlier = sum(n for d, n in counts.items() if d < first)
    max_daily = max(n for _, n in series) or 1
    total = earlier + sum(n for _, n in series)
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    step = inner_w / span
    bars, points, running = [], [], earlier
    for i, (day, n) in enumerate(series):
        x = pad + i * step
        h = inner_h * n / max_daily
        w = min(max(step * 0.8, 0.5), MAX_BAR_WIDTH)  # a single day is a bar, not a wall
        bars.append({"x": round(x + (step - w) / 2, 2), "y": round(pad + inner_h - h, 2), "w": round(w, 2), "h": round(h, 2), "day": day, "n": n})
        running += n
        points.append(f"{round(x + step / 2, 2)},{round(pad + inner_h - inner_h * running / (total or 1), 2)}")
    every = max(1, span // 6)
    ticks = [{"x": round(pad + i * step + step / 2, 2), "label": series[i][0].isoformat()} for i in range(0, span, every)]
    return Chart(width, height, bars, " ".join(points), max_daily, total, first, last, ticks)


def overview(session: Session, project_id: int) -> dict[str, Any]:
    """Counts for the project page, and the distribution of sentence labels in schema order with their colours."""
    project = session.get(Project, project_id)
    assert project is not None
    in_project = select(Article.id).where(Article.project_id == project_id)
    sentences_q = select(Sentence.id).where(Sentence.article_id.in_(in_project))

    def count(model: Any, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    statuses = dict(
        session.execute(
            select(Assignment.status, func.count()).where(Assignment.article_id.in_(in_project)).group_by(Assignment.status)
        ).all()
    )
    by_label = dict(
        session.execute(select(Annotation.label, func.count()).where(Annotation.sentence_id.in_(sentences_q)).group_by(Annotation.label)).all()
    )
    gold_by_label = dict(
        session.execute(select(GoldLabel.label, func.count()).where(GoldLabel.sentence_id.in_(sentences_q)).group_by(GoldLabel.label)).all()
    )
    labels = sum(by_label.values())
    schema_labels = project.label_schema.get("sentence_labels", [])
    known = {item["name"] for item in schema_labels}
    distribution = [
        {**item, "count": by_label.get(item["name"], 0), "gold": gold_by_label.get(item["name"], 0), "share": by_label.get(item["name"], 0) / labels if labels else 0.0}
        for item in schema_labels
    ] + [
        {"name": name, "description": "not in the schema", "color": "#999999", "key": None, "count": n, "gold": gold_by_label.get(name, 0), "share": n / labels}
        for name, n in sorted(by_label.items())
        if name not in known
    ]
    return {
        "articles": count(Article, Article.project_id == project_id),
        "sentences": count(Sentence, Sentence.article_id.in_(in_project)),
        "annotators": session.scalar(select(func.count(func.distinct(Assignment.user_id))).where(Assignment.article_id.in_(in_project))) or 0,
        "assignments": sum(statuses.values()),
        "statuses": {status: statuses.get(status, 0) for status in ("assigned", "in_progress", "done")},
        "labels": labels,
        "needs_review": count(Annotation, Annotation.sentence_id.in_(sentences_q), Annotation.needs_review.is_(True)),
        "gold": sum(gold_by_label.values()),
        "spans": count(Span, Span.article_id.in_(in_project)),
        "relations": count(Relation, Relation.article_id.in_(in_project)),
        "distribution": distribution,
    }


def project_overview(session: Session, only: set[int] | None = None) -> list[dict]:
    """Each project (or only those with these ids) with its article and sentence counts, in two grouped queries."""
    articles = dict(session.execute(select(Article.project_id, func.count()).group_by(Article.project_id)).all())
    sentences = dict(
        session.execute(
            select(Article.project_id, func.count(Sentence.id)).join(Sentence, Sentence.article_id == Article.id).group_by(Article.project_id)
        ).all()
    )
    chosen = select(Project).order_by(Project.name)
    if only is not None:
        chosen = chosen.where(Project.id.in_(sorted(only)))
    return [
        {"project": p, "articles": articles.get(p.id, 0), "sentences": sentences.get(p.id, 0)}
        for p in session.scalars(chosen)
    ]


def annotator_queue(session: Session, user_id: int) -> list[dict]:
    """The user's assigned articles with THEIR sentences labelled / total, in assignment order.

    Only this user's annotations are counted: an annotator never sees anyone
    else's progress. Article texts are not loaded (the home page lists titles).
    """
    # per assigned article, counted on the (article_id, index) index: no scan of other articles' sentences
    total = select(func.count()).where(Sentence.article_id == Assignment.article_id).correlate(Assignment).scalar_subquery()
    done = (
        select(
            Sentence.article_id,
            # a label put back for re-checking (its sentence was split or merged) is not done yet
            func.sum(case((Annotation.needs_review.is_(False), 1), else_=0)).label("n"),
            func.max(Annotation.updated_at).label("last"),
        )
        .join(Annotation, Annotation.sentence_id == Sentence.id)
        .where(Annotation.user_id == user_id)
        .group_by(Sentence.article_id)
        .subquery()
    )
    rows = session.execute(
        select(
            Assignment.status,
            Article.id,
            Article.title,
            Article.external_id,
            Project.name,
            total,
            func.coalesce(done.c.n, 0),
            done.c.last,
        )
        .join(Article, Assignment.article_id == Article.id)
        .join(Project, Article.project_id == Project.id)
        .outerjoin(done, done.c.article_id == Article.id)
        .where(Assignment.user_id == user_id)
        .order_by(Assignment.id)
    ).all()
    return [
        {"article_id": aid, "title": title or external_id, "external_id": external_id, "project": pname,
         "status": status, "total": t, "done": d, "last_worked": last}
        for status, aid, title, external_id, pname, t, d, last in rows
    ]


def started(row: dict) -> bool:
    """In progress as the home page says it: a label, or any other work (a span) that moved the assignment on."""
    return bool(row["done"]) or row["status"] != "assigned"


def next_to_continue(queue: list[dict]) -> dict | None:
    """Where Continue goes: the unfinished article worked on most recently, else the first one not started.

    An annotator in the middle of an article expects to go back to it, not to
    a fresh one that happens to come earlier in the queue (assignment order).
    """
    unfinished = [row for row in queue if row["done"] < row["total"]]
    begun = [row for row in unfinished if started(row)]
    if begun:
        # the latest label wins; work with no label yet (spans only) counts as older than any label
        return max(begun, key=lambda row: (row["last_worked"] is not None, row["last_worked"] or 0))
    return unfinished[0] if unfinished else None


@dataclass(frozen=True)
class PageProject:
    """What the annotation page shows of its project (the attribute names of Project)."""

    id: int
    name: str
    guidelines: str
    guidelines_version: int
    label_schema: dict[str, Any]
    suggestions_enabled: bool


@dataclass(frozen=True)
class QueuedArticle:
    """An article of an annotator's queue, and its place there: the `position`-th of `count`."""

    title: str | None
    external_id: str
    text: str
    project: PageProject
    position: int
    count: int


_assignments, _articles, _projects = (m.__table__ for m in (Assignment, Article, Project))
_mine = _assignments.alias("mine")
# The annotation page's one query, built once: the article, its project, and its place in the caller's queue.
QUEUED_ARTICLE = (
    select(
        _articles.c.title, _articles.c.external_id, _articles.c.text,
        _projects.c.id, _projects.c.name, _projects.c.guidelines, _projects.c.guidelines_version, _projects.c.label_schema,
        _projects.c.suggestions_enabled,
        select(func.count()).select_from(_mine).where(_mine.c.user_id == bindparam("user_id"), _mine.c.id <= _assignments.c.id)
        .scalar_subquery(),
        select(func.count()).select_from(_mine).where(_mine.c.user_id == bindparam("user_id")).scalar_subquery(),
    )
    .select_from(_assignments.join(_articles, _articles.c.id == _assignments.c.article_id).join(_projects, _projects.c.id == _articles.c.project_id))
    .where(_assignments.c.article_id == bindparam("article_id"), _assignments.c.user_id == bindparam("user_id"), visible_articles(_articles.c))
)


def queued_article(session: Session, user_id: int, article_id: int) -> QueuedArticle | None:
    """The article if it is assigned to the user, else None (missing and someone else's alike)."""
    row = session.connection().execute(QUEUED_ARTICLE, {"user_id": user_id, "article_id": article_id}).first()
    if row is None:
        return None
    return QueuedArticle(*row[:3], PageProject(*row[3:9]), row[9] or 0, row[10] or 0)
