"""Suggestions: what suggesters propose for an article, and each annotator's accept or reject.

A suggestion is nobody's annotation. `store` keeps one suggester's proposals for an article
(an unchanged proposal keeps its id, so annotators' decisions survive a re-run); `pending`
lists what one annotator has not yet decided; `accept` turns suggestions into that
annotator's own labels, spans and links through the same operations as the annotation
page (same checks, same audit trail), marked `origin: "suggested"` with the suggester's
name and version; `reject` records a no. Another annotator's decisions are never read.

Only labels, span labels and link types the project's schema allows are stored.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, Project, Relation, Sentence, Span, Suggestion, SuggestionDecision, utcnow
from annotator.domain import annotations as ops
from annotator.domain import labelschema

_CHUNK = 500  # ids per IN (...), well under every database's limit
SEPARATOR = "/"  # "name/version" is how a suggester is named in exports and on the command line


@dataclass
class Proposal:
    """One suggester's proposals for one article, with code-point offsets into the article's text.

    labels: (sentence index, label, score); spans: (key, label, start, end, score), the key naming
    the span within this proposal; relations: (type, from key, to key, score).
    versions: an item's own version where it is not `version` (an export re-imported: a suggestion
    a newer run left unchanged keeps the version that first proposed it), keyed ("label", index,
    label), ("span", key) or ("relation", type, from key, to key).
    """

    suggester: str
    version: str
    labels: list[tuple[int, str, float]] = field(default_factory=list)
    spans: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    relations: list[tuple[str, str, str, float]] = field(default_factory=list)
    versions: dict[tuple, str] = field(default_factory=dict)


class SuggestionError(ValueError):
    """A suggestion request that cannot be done; `status` is the HTTP status that fits."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _uid(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def _score(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def rows_for(proposal: Proposal, article_id: int, text_length: int, schema: dict[str, Any], sentence_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The suggestion rows of a proposal, keeping only what the schema allows and the text holds."""
    name, version, versions = proposal.suggester, proposal.version, proposal.versions
    rows: list[dict[str, Any]] = []
    base = {"article_id": article_id, "suggester": name, "version": version, "created_at": utcnow(),
            "sentence_id": None, "start": None, "end": None, "from_uid": None, "to_uid": None}
    sentence_labels = set(labelschema.names(schema, "sentence_labels"))
    for index, label, score in proposal.labels:
        if label in sentence_labels and 0 <= index < len(sentence_ids):
            rows.append({**base, "uid": _uid(name, "label", sentence_ids[index], label), "kind": "label", "label": label,
                         "sentence_id": sentence_ids[index], "score": _score(score)})
            if versions:
                rows[-1]["version"] = versions.get(("label", index, label), version)
    span_labels = set(labelschema.names(schema, "span_labels"))
    kept: dict[str, tuple[str, str]] = {}  # proposal key -> (uid, label)
    for key, label, start, end, score in proposal.spans:
        if label in span_labels and 0 <= start < end <= text_length:
            uid = _uid(name, "span", label, start, end)
            kept[key] = (uid, label)
            rows.append({**base, "uid": uid, "kind": "span", "label": label, "start": start, "end": end, "score": _score(score)})
            if versions:
                rows[-1]["version"] = versions.get(("span", key), version)
    for rtype, source, target, score in proposal.relations:
        if source in kept and target in kept and labelschema.relation_allows(schema, rtype, kept[source][1], kept[target][1]) is None:
            a, b = kept[source][0], kept[target][0]
            rows.append({**base, "uid": _uid(name, "relation", rtype, a, b), "kind": "relation", "label": rtype,
                         "from_uid": a, "to_uid": b, "score": _score(score)})
            if versions:
                rows[-1]["version"] = versions.get(("relation", rtype, source, target), version)
    return _unique(rows)


def rows_for_many(proposals: Sequence[Proposal], article_id: int, text_length: int, schema: dict[str, Any],
                  sentence_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The rows of several proposals of one suggester for one article: what two propose alike is kept once, at its best score."""
    return _unique([row for proposal in proposals for row in rows_for(proposal, article_id, text_length, schema, sentence_ids)])


def drop_outside_schema(session: Session, project_id: int, schema: dict[str, Any]) -> int:
    """Delete the project's suggestions a new schema does not allow (a label, span label or link type it dropped, a
    link whose ends' labels it no longer takes); returns how many. Only what the schema allows is stored (rows_for):
    the rest could never be accepted. Their decisions go by ON DELETE CASCADE. Call inside a write transaction."""
    table = Suggestion.__table__
    in_project = select(Article.id).where(Article.project_id == project_id).scalar_subquery()
    allowed = {"label": labelschema.names(schema, "sentence_labels"), "span": labelschema.names(schema, "span_labels")}
    gone = 0
    for kind, names in allowed.items():
        gone += session.execute(
            delete(table).where(table.c.article_id.in_(in_project), table.c.kind == kind, table.c.label.not_in(names))
        ).rowcount or 0
    ends = Suggestion.__table__.alias("from_span"), Suggestion.__table__.alias("to_span")
    links = session.execute(
        select(table.c.id, table.c.label, ends[0].c.label, ends[1].c.label)
        .select_from(table)
        .outerjoin(ends[0], and_(ends[0].c.article_id == table.c.article_id, ends[0].c.uid == table.c.from_uid, ends[0].c.kind == "span"))
        .outerjoin(ends[1], and_(ends[1].c.article_id == table.c.article_id, ends[1].c.uid == table.c.to_uid, ends[1].c.kind == "span"))
        .where(table.c.article_id.in_(in_project), table.c.kind == "relation")
    ).all()
    # a link to a span suggestion already gone (its label dropped just now) has a null end: the schema cannot allow it
    refused = [i for i, rtype, start, end in links
               if start is None or end is None or labelschema.relation_allows(schema, rtype, start, end) is not None]
    for chunk in (refused[i:i + _CHUNK] for i in range(0, len(refused), _CHUNK)):
        gone += session.execute(delete(table).where(table.c.id.in_(chunk))).rowcount or 0
    return gone


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["uid"] not in seen or row["score"] > seen[row["uid"]]["score"]:
            seen[row["uid"]] = row
    return list(seen.values())


def store(session: Session, article_id: int, suggester: str, rows: list[dict[str, Any]]) -> int:
    """Replace one suggester's suggestions for an article with `rows`; returns how many are new."""
    return store_many(session, suggester, {article_id: rows})


def store_many(session: Session, suggester: str, rows_by_article: dict[int, list[dict[str, Any]]]) -> int:
    """Replace one suggester's suggestions for these articles; returns how many are new.

    Rows whose uid is already stored stay (with their decisions); the suggester's others on these
    articles go. A few statements for the whole batch (Core executemany), so a run over a big
    import costs little more than the suggester itself. Call inside a write transaction.
    """
    table = Suggestion.__table__
    stored: dict[tuple[int, str], int] = {}
    ids = sorted(rows_by_article)
    for chunk in (ids[i:i + _CHUNK] for i in range(0, len(ids), _CHUNK)):
        stored.update({(a, u): i for a, u, i in session.execute(
            select(table.c.article_id, table.c.uid, table.c.id).where(table.c.article_id.in_(chunk), table.c.suggester == suggester)
        )})
    wanted = {(a, row["uid"]) for a, rows in rows_by_article.items() for row in rows}
    gone = [i for key, i in stored.items() if key not in wanted]
    for chunk in (gone[i:i + _CHUNK] for i in range(0, len(gone), _CHUNK)):
        session.execute(delete(table).where(table.c.id.in_(chunk)))
    new = [row for a, rows in rows_by_article.items() for row in rows if (a, row["uid"]) not in stored]
    if new:
        _insert(session, new)
    if new or gone:
        _touch_projects(session, ids)
    return len(new)


def _touch_projects(session: Session, article_ids: list[int]) -> None:
    """Move the articles' projects' revision on: the article export carries suggestions, and its ETag is keyed by it."""
    for chunk in (article_ids[i:i + _CHUNK] for i in range(0, len(article_ids), _CHUNK)):
        projects = select(Article.project_id).where(Article.id.in_(chunk))
        session.execute(update(Project).where(Project.id.in_(projects)).values(revision=Project.revision + 1))


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert suggestion rows (all with the same keys) in one executemany.

    On SQLite the rows go to the driver as tuples: SQLAlchemy's per-row parameter handling cost
    more than SQLite's own insert (54,000 rows, a 1,000-article import: 1.2 s against 0.75 s of
    CPU), and `import --suggest` must stay quick. Values pass through each column's own bind
    processor (only the timestamp has one), so what is stored is what the ORM would store.
    """
    table = Suggestion.__table__
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite" or dialect.paramstyle != "qmark":
        session.execute(insert(table), rows)
        return
    names = list(rows[0])
    get = itemgetter(*names)
    converted = [(i, process) for i, name in enumerate(names)
                 if (process := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    memo: dict[int, tuple[Any, Any]] = {}  # the rows of one proposal share one timestamp object: convert it once
    params = []
    for row in rows:
        values = list(get(row))
        for i, process in converted:
            raw = values[i]
            if raw is not None:
                if id(raw) not in memo:
                    memo[id(raw)] = (raw, process(raw))  # the object is kept, so its id is not reused meanwhile
                values[i] = memo[id(raw)][1]
        params.append(tuple(values))
    columns = ", ".join(dialect.identifier_preparer.quote(name) for name in names)
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) VALUES ({', '.join('?' * len(names))})", params)


# ----------------------------------------------------------------- reading
def _decided(user_id: int) -> Any:
    return select(SuggestionDecision.suggestion_id).where(SuggestionDecision.user_id == user_id)


def pending(session: Session, user_id: int, article_id: int, text: str, sentence_index: dict[int, int]) -> dict[str, Any]:
    """This annotator's undecided suggestions for the article, as the annotation page reads them.

    A relation is listed only while both its spans are still pending or accepted by this annotator;
    a span the annotator already marked by hand with the same label and offsets is left out.
    """
    rows = session.execute(
        select(Suggestion).where(Suggestion.article_id == article_id, Suggestion.id.not_in(_decided(user_id))).order_by(Suggestion.id)
    ).scalars().all()
    own = set(session.execute(select(Span.label, Span.start, Span.end).where(Span.article_id == article_id, Span.user_id == user_id)).all())
    out: dict[str, Any] = {"labels": [], "spans": [], "relations": []}
    span_ids = set()
    for s in rows:
        if s.kind == "span" and (s.label, s.start, s.end) not in own:
            span_ids.add(s.uid)
            out["spans"].append({"id": s.uid, "label": s.label, "start": s.start, "end": s.end, "text": text[s.start:s.end],
                                 "score": s.score, "suggester": f"{s.suggester}{SEPARATOR}{s.version}"})
        elif s.kind == "label" and s.sentence_id in sentence_index:
            out["labels"].append({"id": s.uid, "sentence": sentence_index[s.sentence_id], "label": s.label, "score": s.score,
                                  "suggester": f"{s.suggester}{SEPARATOR}{s.version}"})
    for s in rows:
        if s.kind == "relation" and (s.from_uid in span_ids or s.to_uid in span_ids):
            out["relations"].append({"id": s.uid, "type": s.label, "from": s.from_uid, "to": s.to_uid, "score": s.score,
                                     "suggester": f"{s.suggester}{SEPARATOR}{s.version}"})
    return out


# ----------------------------------------------------------------- deciding
def _load(session: Session, article_id: int, uids: Iterable[Any]) -> dict[str, Suggestion]:
    wanted = []
    for uid in uids:
        if not isinstance(uid, str) or not ops.UID_PATTERN.match(uid):
            raise SuggestionError(422, f"ids: {ops.show(uid)} is not a suggestion id")
        wanted.append(uid)
    if not wanted:
        raise SuggestionError(422, "ids: name at least one suggestion")
    found = {s.uid: s for s in session.execute(
        select(Suggestion).where(Suggestion.article_id == article_id, Suggestion.uid.in_(wanted))
    ).scalars()}
    missing = [uid for uid in wanted if uid not in found]
    if missing:
        raise SuggestionError(404, f"no suggestion {missing[0]!r} in article {article_id}")
    return found


def _decide(session: Session, user_id: int, suggestions: Iterable[Suggestion], decision: str) -> None:
    ids = [s.id for s in suggestions]
    if not ids:
        return
    session.execute(delete(SuggestionDecision).where(SuggestionDecision.user_id == user_id, SuggestionDecision.suggestion_id.in_(ids)))
    now = utcnow()
    session.execute(insert(SuggestionDecision), [{"suggestion_id": i, "user_id": user_id, "decision": decision, "at": now} for i in ids])


def _mark(session: Session, model: Any, where: Any, s: Suggestion) -> None:
    session.execute(update(model).where(where).values(origin="suggested", suggester=s.suggester, suggester_version=s.version))


def reject(session: Session, user_id: int, article_id: int, uids: Iterable[Any]) -> dict[str, Any]:
    """Record that this annotator said no to these suggestions (a rejected span takes its links with it)."""
    ops.writable_article(session, user_id, article_id)  # the same access rule as any write
    found = _load(session, article_id, uids)
    spans = {s.uid for s in found.values() if s.kind == "span"}
    if spans:
        links = session.execute(select(Suggestion).where(
            Suggestion.article_id == article_id, Suggestion.kind == "relation",
            (Suggestion.from_uid.in_(spans)) | (Suggestion.to_uid.in_(spans)),
        )).scalars().all()
        found.update({s.uid: s for s in links})
    _decide(session, user_id, found.values(), "rejected")
    return {"rejected": sorted(found)}


def accept(session: Session, user_id: int, article_id: int, uids: Iterable[Any]) -> dict[str, Any]:
    """Make these suggestions the annotator's own (a link brings its two spans); returns what was created.

    Goes through the annotation operations, so the schema, the assignment and the audit trail are
    checked as for a hand-made annotation. A span the annotator already has (same label and offsets)
    is reused; a suggested label replaces the annotator's label on that sentence.
    """
    found = _load(session, article_id, uids)
    ends = {u for s in found.values() if s.kind == "relation" for u in (s.from_uid, s.to_uid)} - set(found)
    if ends:
        found.update(_load(session, article_id, ends))
    order = {"span": 0, "label": 1, "relation": 2}
    created: dict[str, list[dict[str, Any]]] = {"labels": [], "spans": [], "relations": []}
    span_of: dict[str, str] = {}  # suggestion uid -> the annotator's span uid
    for s in sorted(found.values(), key=lambda s: (order[s.kind], s.id)):
        if s.kind == "span":
            span_of[s.uid] = _accept_span(session, user_id, article_id, s, created)
        elif s.kind == "label":
            _accept_label(session, user_id, article_id, s, created)
        else:
            _accept_relation(session, user_id, article_id, s, span_of, created)
    _decide(session, user_id, found.values(), "accepted")
    return created


def _accept_span(session: Session, user_id: int, article_id: int, s: Suggestion, created: dict[str, list]) -> str:
    same = session.execute(select(Span.uid).where(
        Span.article_id == article_id, Span.user_id == user_id, Span.label == s.label, Span.start == s.start, Span.end == s.end
    )).scalar()
    if same is not None:
        return same
    span, _ = ops.create_span(session, user_id, article_id, s.label, s.start, s.end)
    _mark(session, Span, and_(Span.article_id == article_id, Span.uid == span["id"]), s)
    created["spans"].append({**span, "origin": "suggested", "suggester": s.suggester, "suggester_version": s.version})
    return span["id"]


def _accept_label(session: Session, user_id: int, article_id: int, s: Suggestion, created: dict[str, list]) -> None:
    index = session.execute(select(Sentence.index).where(Sentence.id == s.sentence_id, Sentence.article_id == article_id)).scalar()
    if index is None:
        raise SuggestionError(409, "the sentence of this suggestion is gone (segmentation was corrected): run the suggester again")
    label = ops.put_label(session, user_id, article_id, index, s.label)
    _mark(session, Annotation, and_(Annotation.user_id == user_id, Annotation.sentence_id == s.sentence_id), s)
    created["labels"].append({**label, "origin": "suggested", "suggester": s.suggester, "suggester_version": s.version})


def _accept_relation(session: Session, user_id: int, article_id: int, s: Suggestion, span_of: dict[str, str], created: dict[str, list]) -> None:
    source, target = span_of[s.from_uid], span_of[s.to_uid]
    ends = dict(session.execute(select(Span.uid, Span.id).where(Span.article_id == article_id, Span.uid.in_([source, target]))).all())
    if session.execute(select(Relation.id).where(
        Relation.from_span_id == ends[source], Relation.to_span_id == ends[target], Relation.type == s.label
    )).first() is not None:
        return  # the annotator already linked these two spans so
    rel, _ = ops.create_relation(session, user_id, article_id, s.label, source, target)
    _mark(session, Relation, and_(Relation.article_id == article_id, Relation.uid == rel["id"]), s)
    created["relations"].append({**rel, "origin": "suggested", "suggester": s.suggester, "suggester_version": s.version})


def article_sentences(session: Session, article_id: int) -> tuple[str, list[int], list[tuple[int, int]]]:
    """(text, sentence ids in order, their (start, end)) of an article."""
    text = session.execute(select(Article.text).where(Article.id == article_id)).scalar_one()
    rows = session.execute(select(Sentence.id, Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.index)).all()
    return text, [r[0] for r in rows], [(r[1], r[2]) for r in rows]
