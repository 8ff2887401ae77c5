"""Automatic gold spans and relations of a batch of articles: exact spans and links every rater made.

A span (label, start, end) is wanted when every annotator who labelled ALL
the sentences it overlaps (at least head.min_raters of them) marked exactly
it, and none of those sentences has human gold; a relation when both its
spans are wanted and every rater of both made the link. Human gold spans and
relations are never touched, nor the automatic spans a human relation uses.
Called by refresh.py within its transaction, batch by batch. Who rated what is
tallied from the batch's NumPy arrays (_votes), or for one article from plain
rows (one_article.py: a rater's save, without NumPy); from the tally on
(wanted_gold, settle_auto_spans) both take the same code, which needs no NumPy.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from sqlalchemy import bindparam, delete, insert
from sqlalchemy.orm import Session

from annotator.db.models import GoldRelation, GoldSpan
from annotator.db.prepared import PreparedWrite
from annotator.domain.gold.rows import GoldRelationRow, GoldSpanRow
from annotator.domain.gold.writes import delete_rows, is_auto, new_uid, now, write_rows
from annotator.domain.project_head import ProjectHead
from annotator.stats.gold import AUTO_PROVENANCE

if TYPE_CHECKING:
    from annotator.domain.agreement.loaders import ArticleRange, ProjectLabels, ProjectSpans, SentenceRows
    from annotator.domain.gold.inputs import BatchInputs
    from annotator.domain.gold.refresh import RefreshResult


Key = tuple[int, str, int, int]  # (article, label, start, end)
LinkKey = tuple[int, str, Key, Key]  # (article, type, from span, to span)
# The writes, prebuilt (a refresh that changes something runs inside an annotator's save): by id for a few rows, an
# IN for many (writes.delete_rows).
_gold_spans, _gold_relations = GoldSpan.__table__, GoldRelation.__table__
_DELETE_AUTO_SPAN = PreparedWrite(delete(_gold_spans).where(_gold_spans.c.id == bindparam("gid"), is_auto(_gold_spans.c.provenance)))
_DELETE_AUTO_SPANS = delete(_gold_spans).where(_gold_spans.c.id.in_(bindparam("ids", expanding=True)), is_auto(_gold_spans.c.provenance))
_DELETE_AUTO_RELATION = PreparedWrite(
    delete(_gold_relations).where(_gold_relations.c.id == bindparam("gid"), is_auto(_gold_relations.c.provenance)))
_DELETE_AUTO_RELATIONS = delete(_gold_relations).where(
    _gold_relations.c.id.in_(bindparam("ids", expanding=True)), is_auto(_gold_relations.c.provenance))
_INSERT_SPANS, _INSERT_RELATIONS = PreparedWrite(insert(_gold_spans)), PreparedWrite(insert(_gold_relations))


def _popcount(x: int) -> int:
    return bin(x).count("1")


@dataclass
class _Votes:
    """Who marked each exact span (bit j: annotator column j), and who rated every sentence it overlaps."""

    column_of: dict[int, int]  # user id -> column
    key_of: dict[int, Key]  # annotator span id -> its key
    markers: dict[Key, int]
    raters: dict[Key, int | None]  # None: a sentence it overlaps is unrated or has human gold


@dataclass
class _Existing:
    """The batch's gold spans and relations as they are."""

    spans: list[Any]
    relations: list[Any]

    def __post_init__(self) -> None:
        self.key = {g.id: (g.article_id, g.label, g.start, g.end) for g in self.spans}
        self.uid = {g.id: g.uid for g in self.spans}
        self.human_keys = {self.key[g.id] for g in self.spans if g.provenance not in AUTO_PROVENANCE}
        self.auto = {self.key[g.id]: g for g in self.spans if g.provenance in AUTO_PROVENANCE}

    def link_key(self, r: Any) -> LinkKey:
        return (r.article_id, r.type, self.key[r.from_span_id], self.key[r.to_span_id])


def refresh_auto_spans(
    session: Session,
    head: ProjectHead,
    articles: ArticleRange,
    batch: BatchInputs,
    human_sentences: set[int],
    audit: list[dict[str, Any]],
    result: RefreshResult,
) -> None:
    """The batch's automatic gold spans and relations made what the rule gives; audit entries go to `audit`."""
    from annotator.domain.gold.inputs import auto_gold_spans  # (with NumPy: the batch path only)

    votes = _votes(batch.labels, batch.sentences, batch.spans, human_sentences)
    settle_auto_spans(session, head, votes, batch.spans.relations, batch.gold_spans, batch.gold_relations,
                      lambda: auto_gold_spans(session, head, articles), audit, result)


def settle_auto_spans(
    session: Session,
    head: ProjectHead,
    votes: _Votes,
    relations: Sequence[tuple[int, int, str, int, int]],
    gold_spans: list[GoldSpanRow],
    gold_relations: list[GoldRelationRow],
    auto_gold_spans: Callable[[], Iterable[tuple[int, str, int, str, int, int]]],
    audit: list[dict[str, Any]],
    result: RefreshResult,
) -> None:
    """The automatic gold spans and relations made what `votes` give. `auto_gold_spans()` reads the automatic gold
    spans as the span writes left them, (id, uid, article, label, start, end), when a link is to be made."""
    wanted_spans, wanted_links = wanted_gold(votes, relations, head.min_raters)
    existing = _Existing(gold_spans, gold_relations)
    wanted_spans -= existing.human_keys
    dropped = _drop_stale(session, head.id, existing, wanted_spans, wanted_links, audit, result)
    _create_spans(session, head.id, existing, wanted_spans, audit, result)
    kept_links = {existing.link_key(r) for r in existing.relations if r.id not in dropped}
    _create_links(session, head.id, auto_gold_spans, sorted(wanted_links - kept_links), audit, result)


def wanted_gold(votes: _Votes, relations: Sequence[tuple[int, int, str, int, int]], min_raters: int) -> tuple[set[Key], set[LinkKey]]:
    """The spans and links the rule wants from these votes (human gold spans not yet taken out)."""
    wanted_spans = {
        key for key, mask in votes.raters.items()
        if mask is not None and _popcount(mask) >= min_raters and not (mask & ~votes.markers.get(key, 0))
    }
    return wanted_spans, _wanted_links(relations, votes, wanted_spans, min_raters)


def _votes(labels: ProjectLabels, sentences: SentenceRows, data: ProjectSpans, human_sentences: set[int]) -> _Votes:
    """tally() from the batch's arrays: each span's sentences found by binary search among all the batch's."""
    import numpy as np

    from annotator.domain.agreement.loaders import span_sentence_rows

    item_of_row = labels.items_of(sentences.ids)
    rated = labels.codes >= 0
    human_rows = {int(p) for p in np.flatnonzero(np.isin(sentences.ids, list(human_sentences)))} if human_sentences else set()
    rater_mask: dict[int, int | None] = {}

    def raters(row: int) -> int | None:
        if row not in rater_mask:
            item = int(item_of_row[row])
            rater_mask[row] = None if row in human_rows or item < 0 else sum(1 << j for j in np.flatnonzero(rated[item]).tolist())
        return rater_mask[row]

    rows_of: dict[int, list[int]] = {}
    if data.spans:
        cols = list(zip(*data.spans, strict=True))
        span_k, span_rows = span_sentence_rows(sentences, np.array(cols[1]), np.array(cols[4]), np.array(cols[5]))
        for k, r in zip(span_k.tolist(), span_rows.tolist(), strict=True):
            rows_of.setdefault(k, []).append(r)
    column_of = {int(u): j for j, u in enumerate(labels.user_ids.tolist())}
    return tally(data.spans, column_of, lambda k: rows_of.get(k, []), raters)


def tally(
    spans: Sequence[tuple[int, int, int, str, int, int]],
    column_of: dict[int, int],
    sentences_of: Callable[[int], list[int]],
    raters: Callable[[int], int | None],
) -> _Votes:
    """Who marked each exact span, and who rated every sentence it overlaps. `spans`: (span id, article, user, label,
    start, end); `column_of`: each annotator who labelled a sentence there -> their bit; `sentences_of(k)`: the
    sentences span k overlaps (any keys `raters` takes); `raters(sentence)`: the bits of those who labelled it, None
    when nobody did or it has human gold."""
    votes = _Votes(column_of, {}, {}, {})
    for k, (sid, art, user, label, start, end) in enumerate(spans):
        key = (art, label, start, end)
        votes.key_of[sid] = key
        if key not in votes.raters:
            mask: int | None = None
            for sentence in sentences_of(k):
                got = raters(sentence)
                if got is None:
                    mask = None
                    break
                mask = got if mask is None else mask & got
            votes.raters[key] = mask
        if user in column_of:
            votes.markers[key] = votes.markers.get(key, 0) | (1 << column_of[user])
    return votes


def _wanted_links(relations: Sequence[tuple[int, int, str, int, int]], votes: _Votes, wanted_spans: set[Key], min_raters: int) -> set[LinkKey]:
    link_markers: dict[LinkKey, int] = {}
    for art, user, rtype, f, t in relations:
        if f in votes.key_of and t in votes.key_of and user in votes.column_of:
            key = (art, rtype, votes.key_of[f], votes.key_of[t])
            link_markers[key] = link_markers.get(key, 0) | (1 << votes.column_of[user])
    wanted: set[LinkKey] = set()
    for key, mask in link_markers.items():
        _art, _rtype, fk, tk = key
        if fk in wanted_spans and tk in wanted_spans:
            both = (votes.raters[fk] or 0) & (votes.raters[tk] or 0)
            if _popcount(both) >= min_raters and not (both & ~mask):
                wanted.add(key)
    return wanted


def _span_doc(uid: str, key: Key, prov: str) -> dict[str, Any]:
    return {"id": uid, "label": key[1], "start": key[2], "end": key[3], "provenance": prov}


def _rel_doc(uid: str, rtype: str, from_uid: str, to_uid: str, prov: str) -> dict[str, Any]:
    return {"id": uid, "type": rtype, "from": from_uid, "to": to_uid, "provenance": prov}


def _entry(project_id: int, entity: str, art: int, uid: str, action: str, before: Any, after: Any) -> dict[str, Any]:
    return {"user_id": None, "project_id": project_id, "article_id": art, "entity": entity, "entity_id": uid,
            "action": action, "before": before, "after": after}


def _drop_stale(
    session: Session, project_id: int, existing: _Existing, wanted_spans: set[Key], wanted_links: set[LinkKey],
    audit: list[dict[str, Any]], result: RefreshResult,
) -> set[int]:
    """Delete the automatic spans and relations the rule no longer gives (and the relations of those spans); their ids."""
    used_by_human = {i for r in existing.relations if r.provenance not in AUTO_PROVENANCE for i in (r.from_span_id, r.to_span_id)}
    drop_spans = [g for key, g in existing.auto.items() if key not in wanted_spans and g.id not in used_by_human]
    drop_span_ids = {g.id for g in drop_spans}
    # a human relation never has a dropped end: used_by_human keeps its spans
    drop_rels = [
        r for r in existing.relations
        if r.provenance in AUTO_PROVENANCE
        and (existing.link_key(r) not in wanted_links or r.from_span_id in drop_span_ids or r.to_span_id in drop_span_ids)
    ]
    delete_rows(session, _DELETE_AUTO_RELATION, _DELETE_AUTO_RELATIONS, [r.id for r in drop_rels])
    for r in drop_rels:
        audit.append(_entry(project_id, "gold_relation", r.article_id, r.uid, "delete",
                            _rel_doc(r.uid, r.type, existing.uid[r.from_span_id], existing.uid[r.to_span_id], r.provenance), None))
    delete_rows(session, _DELETE_AUTO_SPAN, _DELETE_AUTO_SPANS, sorted(drop_span_ids))
    for g in drop_spans:
        audit.append(_entry(project_id, "gold_span", g.article_id, g.uid, "delete", _span_doc(g.uid, existing.key[g.id], g.provenance), None))
    result.spans_deleted += len(drop_spans)
    result.relations_deleted += len(drop_rels)
    return {r.id for r in drop_rels}


def _create_spans(
    session: Session, project_id: int, existing: _Existing, wanted_spans: set[Key], audit: list[dict[str, Any]], result: RefreshResult
) -> None:
    at = now()
    new_rows = [{"uid": new_uid(), "article_id": k[0], "label": k[1], "start": k[2], "end": k[3], "provenance": "unanimous",
                 "reviewer_id": None, "updated_at": at} for k in sorted(wanted_spans - set(existing.auto))]
    write_rows(session, _INSERT_SPANS, new_rows)
    for row in new_rows:
        key = (row["article_id"], row["label"], row["start"], row["end"])
        audit.append(_entry(project_id, "gold_span", row["article_id"], row["uid"], "create", None, _span_doc(row["uid"], key, "unanimous")))
    result.spans_created += len(new_rows)


def _create_links(
    session: Session, project_id: int, auto_gold_spans: Callable[[], Iterable[tuple[int, str, int, str, int, int]]], todo: list[LinkKey],
    audit: list[dict[str, Any]], result: RefreshResult,
) -> None:
    """Insert the wanted relations not there yet, between the batch's automatic gold spans (as they now are)."""
    if not todo:
        return
    ids = {(art, label, start, end): (gid, uid) for gid, uid, art, label, start, end in auto_gold_spans()}
    rel_rows = []
    for art, rtype, fk, tk in todo:
        if fk in ids and tk in ids:
            rel_rows.append({"uid": new_uid(), "article_id": art, "type": rtype, "from_span_id": ids[fk][0], "to_span_id": ids[tk][0],
                             "provenance": "unanimous", "reviewer_id": None})
            audit.append(_entry(project_id, "gold_relation", art, rel_rows[-1]["uid"], "create", None,
                                _rel_doc(rel_rows[-1]["uid"], rtype, ids[fk][1], ids[tk][1], "unanimous")))
    write_rows(session, _INSERT_RELATIONS, rel_rows)
    result.relations_created += len(rel_rows)
