"""What the adjudication page shows of a sentence: its neighbours, every annotator's work on it, and its gold.

Spans of a sentence are the spans overlapping it; links are those with an end
among them. Distinct spans and links list who made each one, so the form can
offer one checkbox per distinct span and link (keys as in keys.py). A link
may end in another sentence (a source named earlier): the spans there that a
reviewer's link could end at are listed apart, with their sentence, and so are
the gold quotes there whose gold link comes into this sentence (dropping its
source here can leave such a quote linked to nothing: the page warns before).
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, GoldLabel, GoldRelation, GoldSpan, Project, Relation, Sentence, Span, User
from annotator.domain.gold.keys import GoldError, SpanKey, check_sentence_id, link_key_str, span_key_str
from annotator.domain.gold.linking import unlinked


@dataclass(frozen=True)
class _Sentence:
    id: int
    article_id: int
    index: int
    start: int
    end: int
    text: str  # the article's
    title: str
    external_id: str

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and end > self.start

    def span_info(self, label: str, start: int, end: int) -> dict[str, Any]:
        return {"key": span_key_str(label, start, end), "label": label, "start": start, "end": end, "text": self.text[start:end],
                "in_sentence": self.overlaps(start, end)}

    def link_info(self, rtype: str, a: Any, b: Any) -> dict[str, Any]:
        """A link between spans a and b (rows with label, start, end)."""
        return {"key": link_key_str(rtype, (a.label, a.start, a.end), (b.label, b.start, b.end)), "type": rtype,
                "from": self.span_info(a.label, a.start, a.end), "to": self.span_info(b.label, b.start, b.end)}


def adjudication_context(session: Session, project_id: int, sentence_id: int) -> dict[str, Any]:
    """A sentence with its neighbours, every annotator's label, spans and links on it, and its gold."""
    sentence_id = check_sentence_id(sentence_id)
    row = session.execute(
        select(Sentence.id, Sentence.article_id, Sentence.index, Sentence.start, Sentence.end, Article.text, Article.title, Article.external_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Sentence.id == sentence_id, Article.project_id == project_id)
    ).first()
    if row is None:
        raise GoldError(f"no sentence {sentence_id} in this project", 404)
    s = _Sentence(*row)
    annotators, distinct_spans, distinct_links = _annotators(session, s)
    gold = _gold(session, s, session.scalar(select(Project.label_schema).where(Project.id == project_id)) or {})
    outside = _outside_spans(session, s, gold.pop("outside"), distinct_links)
    linked_in = set(gold.pop("linked_in"))
    return {
        "sentence": {"id": s.id, "index": s.index, "start": s.start, "end": s.end, "text": s.text[s.start:s.end]},
        "article": {"id": s.article_id, "title": s.title, "external_id": s.external_id, "text_length": len(s.text), "text": s.text},
        "context": _neighbours(session, s),
        "annotators": annotators,
        "distinct_spans": sorted(distinct_spans, key=lambda x: (x["start"], x["end"], x["label"])),
        "distinct_links": sorted(distinct_links, key=lambda x: (x["from"]["start"], x["to"]["start"], x["type"])),
        **gold,
        "outside_spans": outside,
        "gold_linked_in": [x for x in outside if x["key"] in linked_in],
    }


def _neighbours(session: Session, s: _Sentence) -> dict[str, str]:
    neighbours = session.execute(
        select(Sentence.index, Sentence.start, Sentence.end)
        .where(Sentence.article_id == s.article_id, Sentence.index.in_([s.index - 1, s.index + 1]))
    ).all()
    before = next((s.text[a:b] for i, a, b in neighbours if i == s.index - 1), "")
    after = next((s.text[a:b] for i, a, b in neighbours if i == s.index + 1), "")
    return {"before": before, "after": after}


def _annotators(session: Session, s: _Sentence) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Every annotator's label, spans and links on the sentence (by name), and the distinct spans and links with who made each."""
    labels = session.execute(
        select(User.id, User.name, Annotation.label, Annotation.seconds, Annotation.needs_review, Annotation.origin)
        .join(User, User.id == Annotation.user_id)
        .where(Annotation.sentence_id == s.id)
    ).all()
    spans = session.execute(
        select(Span.id, Span.user_id, User.name, Span.label, Span.start, Span.end, Span.origin)
        .join(User, User.id == Span.user_id)
        .where(Span.article_id == s.article_id)
    ).all()
    span_by_id = {x.id: x for x in spans}
    relations = session.execute(
        select(Relation.user_id, Relation.type, Relation.from_span_id, Relation.to_span_id).where(Relation.article_id == s.article_id)
    ).all()
    people: dict[int, dict[str, Any]] = {}

    def person(uid: int, name: str) -> dict[str, Any]:
        return people.setdefault(uid, {"user_id": uid, "name": name, "label": None, "label_suggested": False, "seconds": None, "needs_review": False,
                                         "spans": [], "links": []})

    for uid, name, label, seconds, needs_review, origin in labels:
        p = person(uid, name)
        p["label"], p["seconds"], p["needs_review"] = label, seconds, bool(needs_review)
        p["label_suggested"] = origin == "suggested"  # accepted from a suggester: the reviewer weighs it knowing so
    distinct_spans: dict[str, dict[str, Any]] = {}
    for x in spans:
        if s.overlaps(x.start, x.end):
            info = s.span_info(x.label, x.start, x.end)
            person(x.user_id, x.name)["spans"].append({**info, "suggested": x.origin == "suggested"})
            distinct_spans.setdefault(info["key"], {**info, "by": []})["by"].append(x.name)
    distinct_links: dict[str, dict[str, Any]] = {}
    for uid, rtype, f, t in relations:
        a, b = span_by_id.get(f), span_by_id.get(t)
        if a is None or b is None or not (s.overlaps(a.start, a.end) or s.overlaps(b.start, b.end)):
            continue
        link = s.link_info(rtype, a, b)
        person(uid, a.name)["links"].append(link)
        distinct_links.setdefault(link["key"], {**link, "by": []})["by"].append(a.name)
    annotators = sorted(people.values(), key=lambda p: p["name"])
    for p in annotators:
        p["spans"].sort(key=lambda x: (x["start"], x["end"], x["label"]))
    n = len([p for p in annotators if p["label"] is not None])
    for d in list(distinct_spans.values()) + list(distinct_links.values()):
        d["by"].sort()
        d["all"] = n >= 1 and len(set(d["by"])) >= n
    return annotators, list(distinct_spans.values()), list(distinct_links.values())


def _gold(session: Session, s: _Sentence, schema: dict[str, Any]) -> dict[str, Any]:
    """The sentence's gold label, the gold spans and links of the article on it, its gold quotes with no link, the links
    of other sentences' quotes linked into it that have no end here, and (under "outside" and "linked_in", for
    adjudication_context) the article's gold spans in other sentences and the keys of those quotes."""
    gold = session.execute(
        select(GoldLabel.label, GoldLabel.provenance, GoldLabel.reason, GoldLabel.updated_at, User.name)
        .outerjoin(User, User.id == GoldLabel.reviewer_id)
        .where(GoldLabel.sentence_id == s.id)
    ).first()
    # the reviewer's name with each gold span and link: one a reviewer added that no annotator made is theirs, not "nobody's"
    gold_spans = session.execute(
        select(GoldSpan.id, GoldSpan.label, GoldSpan.start, GoldSpan.end, GoldSpan.provenance, User.name.label("reviewer"))
        .outerjoin(User, User.id == GoldSpan.reviewer_id)
        .where(GoldSpan.article_id == s.article_id)
    ).all()
    gold_span_by_id = {g.id: g for g in gold_spans}
    gold_rels = session.execute(
        select(GoldRelation.type, GoldRelation.from_span_id, GoldRelation.to_span_id, GoldRelation.provenance, User.name)
        .outerjoin(User, User.id == GoldRelation.reviewer_id)
        .where(GoldRelation.article_id == s.article_id)
    ).all()
    gold_links, link_keys, elsewhere = [], [], []
    for rtype, f, t, prov, reviewer in gold_rels:
        a, b = gold_span_by_id.get(f), gold_span_by_id.get(t)
        if a is None or b is None:  # saved with its spans after they were read (PostgreSQL: another statement), as
            continue  # the annotators' links above: it shows on the next read
        if s.overlaps(a.start, a.end) or s.overlaps(b.start, b.end):
            gold_links.append({**s.link_info(rtype, a, b), "provenance": prov, "reviewer": reviewer})
            link_keys.append((rtype, (a.label, a.start, a.end), (b.label, b.start, b.end)))
        else:
            elsewhere.append((rtype, a, b))
    mine = [g for g in gold_spans if s.overlaps(g.start, g.end)]
    # the other sentences' gold quotes linked into this one, and their links that do not touch it (a save here keeps those)
    linked_in = {link["from"]["key"] for link in gold_links if not link["from"]["in_sentence"]}
    elsewhere = [s.link_info(rtype, a, b)["key"] for rtype, a, b in elsewhere if span_key_str(a.label, a.start, a.end) in linked_in]
    return {
        "gold": None if gold is None else {"label": gold.label, "provenance": gold.provenance, "reason": gold.reason,
                                           "updated_at": gold.updated_at, "reviewer": gold.name},
        "gold_spans": [{**s.span_info(g.label, g.start, g.end), "provenance": g.provenance, "reviewer": g.reviewer} for g in mine],
        "gold_links": gold_links,
        "gold_unlinked": [s.span_info(*key) for key in unlinked(schema, [(g.label, g.start, g.end) for g in mine], link_keys)],
        "gold_links_elsewhere": sorted(elsewhere),
        "outside": [s.span_info(g.label, g.start, g.end) for g in gold_spans if not s.overlaps(g.start, g.end)],
        "linked_in": sorted(linked_in),
    }


def _outside_spans(session: Session, s: _Sentence, gold_outside: list[dict[str, Any]], links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spans in other sentences a gold link may end at: the article's gold spans there, and the ends there of the
    annotators' links on this sentence; each with the 0-based `sentence` it is in (sentences_of), by offset."""
    spans = {x["key"]: x for x in gold_outside}
    for link in links:
        for end in (link["from"], link["to"]):
            if not end["in_sentence"]:
                spans.setdefault(end["key"], end)
    if not spans:
        return []
    ordered = sorted(spans.values(), key=lambda x: (x["start"], x["end"], x["label"]))
    where = sentences_of(session, s.article_id, [(x["label"], x["start"], x["end"]) for x in ordered])
    return [{**x, "sentence": where[(x["label"], x["start"], x["end"])][1]} for x in ordered]


def sentences_of(session: Session, article_id: int, keys: Iterable[SpanKey]) -> dict[SpanKey, tuple[int, int]]:
    """The sentence each span is in, as (sentence id, 0-based index): the first it overlaps, whose adjudication page
    shows it; for a span over nothing but the whitespace between two sentences, the one before (else the first)."""
    keys = list(keys)
    if not keys:
        return {}
    rows = session.execute(
        select(Sentence.id, Sentence.index, Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.start)
    ).all()
    ends = [row.end for row in rows]
    where = {}
    for key in keys:
        at = min(bisect_right(ends, key[1]), len(rows) - 1)  # the first sentence ending after the span starts
        if rows[at].start >= key[2] and at > 0:
            at -= 1
        where[key] = (rows[at].id, rows[at].index)
    return where
