"""A reviewer's gold for one sentence: its label, spans and links, checked, then stored as `adjudicated`.

adjudicate() checks everything first (the sentence, the label, the reason,
each span and link against the project's schema and the sentence), then
writes under the project's gold lock: the label, the spans and links of the
sentence made exactly those asked for, every change audited, the project's
revision bumped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Article, GoldLabel, GoldRelation, GoldSpan, Project, Sentence, User
from annotator.domain import labelschema
from annotator.domain.gold.context import sentences_of
from annotator.domain.gold.keys import GoldError, LinkKey, SpanKey, check_sentence_id, link_key_str, span_key_str
from annotator.domain.gold.linking import left_unlinked
from annotator.domain.gold.stamps import check_seen, sentence_stamp
from annotator.domain.gold.writes import audit_many, bump_revision, lock_articles, lock_project, new_uid, now
from annotator.stats.gold import AUTO_PROVENANCE

MAX_REASON = 5000


@dataclass(frozen=True)
class _Target:
    """The sentence adjudicated, with what checking the input needs."""

    sentence_id: int
    article_id: int
    start: int
    end: int
    project_id: int
    text: str
    schema: dict[str, Any]

    def overlaps(self, key: SpanKey) -> bool:
        return key[1] < self.end and key[2] > self.start


@dataclass(frozen=True)
class _Wanted:
    spans: set[SpanKey]  # the sentence's gold spans, as asked
    links: set[LinkKey]
    outside: set[SpanKey]  # link ends in other sentences: they become gold spans too


def adjudicate(
    session: Session,
    reviewer: User | int,
    sentence: Sentence | int,
    label: str,
    spans: Iterable[SpanKey] = (),
    relations: Iterable[LinkKey] = (),
    reason: str | None = None,
    seen: str | None = None,
) -> dict[str, Any]:
    """Store a reviewer's gold for one sentence: its label, its spans, its links (provenance `adjudicated`).

    The sentence's gold spans are the gold spans overlapping it: afterwards they
    are exactly `spans` (plus link ends, see below); its gold links (those with
    an end among those spans) exactly `relations`. A link is (type, from span,
    to span); both ends become gold spans too, also when one lies in another
    sentence (a source named earlier in the article). Spans and links kept from
    automatic gold turn `adjudicated`. Every change is audited; the project
    revision is bumped. The caller opens the write transaction and commits.
    The answer's `unlinked` names the gold quotes left with no link (linking.py), with the sentence each is in
    (its id and 0-based index: a quote of another sentence is linked on that sentence's page), for the reviewer
    to see: it warns, it does not refuse. `seen`: the stamp of the decision the reviewer's page showed (stamps.py);
    GoldError 409 when the stored one differs now.
    """
    reviewer_id = reviewer if isinstance(reviewer, int) else reviewer.id
    target = _target(session, check_sentence_id(sentence if isinstance(sentence, int) else sentence.id))
    reason = _checked_label_and_reason(target, label, reason)
    wanted = _wanted(target, spans, relations)
    lock_project(session, target.project_id)
    lock_articles(session, [target.article_id])  # an annotator's save recomputing this article's automatic gold waits
    check_seen(seen, sentence_stamp(session, target.sentence_id))  # after the locks: another reviewer's save is done or waits
    writer = _Writer(session, reviewer_id, target)
    _store_label(writer, label, reason)
    article = _ArticleGold.read(session, target)
    kept_links = _drop_unwanted(writer, article, wanted)
    id_of = _store_spans(writer, article, wanted)
    _store_links(writer, kept_links, wanted.links, id_of)
    audit_many(session, writer.changes)
    bump_revision(session, target.project_id)
    session.flush()
    return {"sentence_id": target.sentence_id, "label": label, "provenance": "adjudicated", "reviewer_id": reviewer_id, "reason": reason,
            "spans": len(wanted.spans), "relations": len(wanted.links), "changes": len(writer.changes),
            "unlinked": _left_unlinked(session, target, article, wanted)}


def _left_unlinked(session: Session, target: _Target, article: _ArticleGold, wanted: _Wanted) -> list[dict[str, Any]]:
    """The gold quotes this save leaves linked to nothing, each with its sentence: the sentence's, and those of other
    sentences whose link into it was dropped (a source unchosen here must not cost another sentence's quote its link
    silently)."""
    mine, key_of = article.mine, article.key_of
    linked_in = {key_of[r.from_span_id] for r in article.relations if r.from_span_id not in mine and r.to_span_id in mine}
    untouched = [(r.type, key_of[r.from_span_id], key_of[r.to_span_id]) for r in article.relations
                 if r.from_span_id not in mine and r.to_span_id not in mine]
    keys = left_unlinked(target.schema, wanted.spans, wanted.links, linked_in, untouched)
    where = sentences_of(session, target.article_id, keys)
    return [{"label": k[0], "start": k[1], "end": k[2], "text": target.text[k[1]:k[2]], "sentence_id": where[k][0], "sentence": where[k][1]}
            for k in keys]


# ----------------------------------------------------------------- checks (nothing is written before they pass)
def _target(session: Session, sentence_id: int) -> _Target:
    """The sentence with its article and project; the article's key locked first (PostgreSQL), before any gold row
    takes the sentence's or the article's key: a delete or a text update of the article, or a segmentation
    correction, locks the article FOR UPDATE first, so the two wait for each other whole (with the sentence's key
    taken first, a gold span's insert then waited for the article the delete held while it waited for the
    sentence: a deadlock). Every answer does the same (annotations' access read)."""
    row = session.execute(
        select(Sentence.id, Sentence.article_id, Sentence.start, Sentence.end, Article.project_id, Article.text, Project.label_schema)
        .join(Article, Article.id == Sentence.article_id)
        .join(Project, Project.id == Article.project_id)
        .where(Sentence.id == sentence_id)
        .with_for_update(key_share=True, of=[Article, Project])  # the project's row: a label rename waits, or is waited for
    ).first()
    if row is None:
        raise GoldError(f"no sentence {sentence_id}", 404)
    return _Target(*row)


def _checked_label_and_reason(target: _Target, label: str, reason: str | None) -> str | None:
    """The reason as stored (stripped, None when empty); GoldError for a label the schema lacks or a reason too long."""
    names = labelschema.names(target.schema, "sentence_labels")
    if not isinstance(label, str) or label not in names:
        raise GoldError(f"unknown sentence label {label!r} (this project's labels: {', '.join(names)})")
    if reason is not None:
        reason = reason.strip() or None
        if reason and len(reason) > MAX_REASON:
            raise GoldError(f"the reason is longer than {MAX_REASON} characters")
    return reason


def _checked_span(target: _Target, span_labels: list[str], key: Any, what: str) -> SpanKey:
    try:
        lab, start, end = key
    except (TypeError, ValueError):
        raise GoldError(f"{what}: a span is (label, start, end)", 400) from None
    if lab not in span_labels:
        raise GoldError(f"{what}: unknown span label {lab!r} (this project's span labels: {', '.join(span_labels) or 'none'})")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(target.text)):
        raise GoldError(f"{what}: offsets must satisfy 0 <= start < end <= {len(target.text)} (got {start}, {end})")
    return lab, start, end


def _wanted(target: _Target, spans: Iterable[SpanKey], relations: Iterable[LinkKey]) -> _Wanted:
    span_labels = labelschema.names(target.schema, "span_labels")
    wanted = _Wanted(set(), set(), set())
    for key in spans:
        key = _checked_span(target, span_labels, key, f"span {key!r}")
        if not target.overlaps(key):
            raise GoldError(f"span {span_key_str(*key)} does not overlap this sentence (characters {target.start}-{target.end})")
        wanted.spans.add(key)
    for link in relations:
        try:
            rtype, a, b = link
        except (TypeError, ValueError):
            raise GoldError("a link is (type, from span, to span)", 400) from None
        a, b = _checked_span(target, span_labels, a, f"link {rtype}"), _checked_span(target, span_labels, b, f"link {rtype}")
        if a == b:
            raise GoldError(f"link {rtype}: a link joins two different spans")
        problem = labelschema.relation_allows(target.schema, rtype, a[0], b[0])
        if problem:
            raise GoldError(problem)
        if not (target.overlaps(a) or target.overlaps(b)):
            raise GoldError(f"link {link_key_str(rtype, a, b)} has no end in this sentence")
        for end in (a, b):
            (wanted.spans if target.overlaps(end) else wanted.outside).add(end)
        wanted.links.add((rtype, a, b))
    return wanted


# ----------------------------------------------------------------- writes
@dataclass
class _Writer:
    """The reviewer's writes on one sentence, with the audit entries they make."""

    session: Session
    reviewer_id: int
    target: _Target
    at: datetime = field(default_factory=now)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def audit(self, entity: str, entity_id: str, action: str, before: Any, after: Any) -> None:
        self.changes.append({"user_id": self.reviewer_id, "project_id": self.target.project_id, "article_id": self.target.article_id,
                             "entity": entity, "entity_id": entity_id, "action": action, "before": before, "after": after})


@dataclass
class _ArticleGold:
    """The article's gold spans and links as they are, before the adjudication."""

    spans: list[Any]
    relations: list[Any]
    key_of: dict[int, SpanKey]
    uid_of: dict[int, str]
    mine: set[int]  # the sentence's gold spans (those overlapping it)

    @classmethod
    def read(cls, session: Session, target: _Target) -> _ArticleGold:
        spans = session.execute(
            select(GoldSpan.id, GoldSpan.uid, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance, GoldSpan.reviewer_id)
            .where(GoldSpan.article_id == target.article_id)
        ).all()
        relations = session.execute(
            select(GoldRelation.id, GoldRelation.uid, GoldRelation.type, GoldRelation.from_span_id, GoldRelation.to_span_id,
                   GoldRelation.provenance, GoldRelation.reviewer_id)
            .where(GoldRelation.article_id == target.article_id)
        ).all()
        key_of = {g.id: (g.label, g.start, g.end) for g in spans}
        return cls(spans, relations, key_of, {g.id: g.uid for g in spans}, {g.id for g in spans if target.overlaps(key_of[g.id])})

    def unwanted(self, wanted: _Wanted) -> set[int]:
        """The sentence's gold spans the reviewer did not ask for: they go."""
        return {i for i in self.mine if self.key_of[i] not in wanted.spans}


def _gold_label_doc(sentence_id: int, label: str, provenance: str, reviewer_id: int | None, reason: str | None) -> dict[str, Any]:
    return {"sentence_id": sentence_id, "label": label, "provenance": provenance, "reviewer_id": reviewer_id, "reason": reason}


def _span_doc(uid: str, key: SpanKey, prov: str) -> dict[str, Any]:
    return {"id": uid, "label": key[0], "start": key[1], "end": key[2], "provenance": prov}


def _rel_doc(uid: str, rtype: str, f: str, t: str, prov: str) -> dict[str, Any]:
    return {"id": uid, "type": rtype, "from": f, "to": t, "provenance": prov}


def _store_label(w: _Writer, label: str, reason: str | None) -> None:
    sentence_id, reviewer_id = w.target.sentence_id, w.reviewer_id
    current = w.session.execute(
        select(GoldLabel.id, GoldLabel.label, GoldLabel.provenance, GoldLabel.reviewer_id, GoldLabel.reason)
        .where(GoldLabel.sentence_id == sentence_id).with_for_update()
    ).first()
    after = _gold_label_doc(sentence_id, label, "adjudicated", reviewer_id, reason)
    if current is None:
        w.session.execute(insert(GoldLabel).values(sentence_id=sentence_id, label=label, provenance="adjudicated",
                                                   reviewer_id=reviewer_id, reason=reason, updated_at=w.at))
        w.audit("gold_label", str(sentence_id), "create", None, after)
    else:
        w.session.execute(update(GoldLabel).where(GoldLabel.id == current.id).values(
            label=label, provenance="adjudicated", reviewer_id=reviewer_id, reason=reason, updated_at=w.at))
        w.audit("gold_label", str(sentence_id), "update", _gold_label_doc(sentence_id, *current[1:]), after)


def _drop_unwanted(w: _Writer, article: _ArticleGold, wanted: _Wanted) -> dict[LinkKey, Any]:
    """Delete the sentence's gold spans and links not wanted (a link at most once); the links kept, by key."""
    key_of, uid_of = article.key_of, article.uid_of
    drop_span_ids = article.unwanted(wanted)
    kept_links: dict[LinkKey, Any] = {}
    for r in article.relations:
        if r.from_span_id not in article.mine and r.to_span_id not in article.mine:
            continue
        key = (r.type, key_of[r.from_span_id], key_of[r.to_span_id])
        if key in wanted.links and r.from_span_id not in drop_span_ids and r.to_span_id not in drop_span_ids and key not in kept_links:
            kept_links[key] = r
            continue
        w.session.execute(delete(GoldRelation).where(GoldRelation.id == r.id))
        w.audit("gold_relation", r.uid, "delete", _rel_doc(r.uid, r.type, uid_of[r.from_span_id], uid_of[r.to_span_id], r.provenance), None)
    for g in article.spans:
        if g.id in drop_span_ids:  # its links were deleted (and audited) above: every one has an end in `mine`
            w.session.execute(delete(GoldSpan).where(GoldSpan.id == g.id))
            w.audit("gold_span", g.uid, "delete", _span_doc(g.uid, key_of[g.id], g.provenance), None)
    return kept_links


def _store_spans(w: _Writer, article: _ArticleGold, wanted: _Wanted) -> dict[SpanKey, tuple[int, str]]:
    """Keep, convert or create the wanted spans and the link ends outside the sentence: (id, uid) by key."""
    id_of: dict[SpanKey, tuple[int, str]] = {}
    by_key: dict[SpanKey, Any] = {}
    dropped = article.unwanted(wanted)
    for g in article.spans:
        if g.id not in dropped:
            by_key.setdefault(article.key_of[g.id], g)
    for key in sorted(wanted.spans | wanted.outside):
        g = by_key.get(key)
        if g is None:
            uid = new_uid()
            new_id = w.session.execute(
                insert(GoldSpan).values(uid=uid, article_id=w.target.article_id, label=key[0], start=key[1], end=key[2],
                                        provenance="adjudicated", reviewer_id=w.reviewer_id, updated_at=w.at).returning(GoldSpan.id)
            ).scalar_one()
            id_of[key] = (new_id, uid)
            w.audit("gold_span", uid, "create", None, _span_doc(uid, key, "adjudicated"))
            continue
        id_of[key] = (g.id, g.uid)
        if g.provenance in AUTO_PROVENANCE or (key in wanted.spans and (g.provenance != "adjudicated" or g.reviewer_id != w.reviewer_id)):
            w.session.execute(update(GoldSpan).where(GoldSpan.id == g.id).values(provenance="adjudicated", reviewer_id=w.reviewer_id, updated_at=w.at))
            w.audit("gold_span", g.uid, "update", _span_doc(g.uid, key, g.provenance), _span_doc(g.uid, key, "adjudicated"))
    return id_of


def _store_links(w: _Writer, kept_links: dict[LinkKey, Any], wanted_links: set[LinkKey], id_of: dict[SpanKey, tuple[int, str]]) -> None:
    for key in sorted(wanted_links):
        rtype, a, b = key
        r = kept_links.get(key)
        if r is None:
            uid = new_uid()
            w.session.execute(insert(GoldRelation).values(uid=uid, article_id=w.target.article_id, type=rtype, from_span_id=id_of[a][0],
                                                          to_span_id=id_of[b][0], provenance="adjudicated", reviewer_id=w.reviewer_id))
            w.audit("gold_relation", uid, "create", None, _rel_doc(uid, rtype, id_of[a][1], id_of[b][1], "adjudicated"))
        elif r.provenance != "adjudicated" or r.reviewer_id != w.reviewer_id:
            w.session.execute(update(GoldRelation).where(GoldRelation.id == r.id).values(provenance="adjudicated", reviewer_id=w.reviewer_id))
            w.audit("gold_relation", r.uid, "update", _rel_doc(r.uid, rtype, id_of[a][1], id_of[b][1], r.provenance),
                    _rel_doc(r.uid, rtype, id_of[a][1], id_of[b][1], "adjudicated"))
