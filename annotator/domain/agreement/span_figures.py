"""Span and relation agreement of a project: span F1 per label and annotator pair, relation F1, attribution.

Each pair of annotators is compared on the articles both of them worked on
(a label or a span there), and there on the sentences both of them labelled:
a span (a link: its quote) counts for the pair when it touches such a sentence,
so one annotator's spans ahead of where the other has got to are not counted as
missed (the disagreement queue's sentences, labelled by two or more). Where one
of the two labelled none of the article's sentences (spans-only work, from an
import), the whole article counts. The pooled figures add up the pairs' counts.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import User
from annotator.domain.agreement.loaders import ProjectLabels, ProjectSpans, SentenceRows, span_sentence_rows
from annotator.domain.project_head import ProjectHead
from annotator.stats import agreement as ag

SPAN_MODES = ("exact", "overlap")
_NO_SHARED_ARTICLE = "these annotators share no article"


def articles_by_user(labels: ProjectLabels, data: ProjectSpans) -> dict[int, set[int]]:
    """The articles each user worked on (a label or a span there)."""
    out: dict[int, set[int]] = defaultdict(set)
    for j, uid in enumerate(labels.user_ids.tolist()):
        out[uid].update(np.unique(labels.article_ids[labels.codes[:, j] >= 0]).tolist())
    for _, art, user, *_rest in data.spans:
        out[user].add(art)
    return out



@dataclass
class PairScope:
    """Which spans count when two annotators are compared (the span figures here, the suggestion figures'
    span sides in origin_figures.py): on their shared articles, those touching a sentence both labelled, or
    any in an article one of them labelled none of."""

    spans_of: dict[int, list[tuple]]  # user -> [(span id, (article, label, start, end))]
    items_of_span: dict[int, list[int]]  # span id -> the labelled sentences (items) it touches
    rated: dict[int, np.ndarray]  # user -> which items they labelled (users with labels only)
    labelled: dict[int, set[int]]  # user -> the articles they labelled a sentence of

    def counted(self, ua: int, ub: int, shared: set[int]) -> set[int]:
        """The span ids of a and b in their shared articles that count for the pair."""
        whole = shared - (self.labelled.get(ua, set()) & self.labelled.get(ub, set()))
        both = self.rated[ua] & self.rated[ub] if ua in self.rated and ub in self.rated else None
        return {
            sid
            for u in (ua, ub)
            for sid, span in self.spans_of.get(u, ())
            if span[0] in whole or (span[0] in shared and both is not None and any(both[i] for i in self.items_of_span.get(sid, ())))
        }


def pair_scope(labels: ProjectLabels, data: ProjectSpans, sentences: SentenceRows) -> PairScope:
    """Each annotator's spans, the labelled sentences each span touches, and what each annotator labelled."""
    spans_of: dict[int, list[tuple]] = defaultdict(list)
    for sid, art, user, label, start, end in data.spans:
        spans_of[user].append((sid, (art, label, start, end)))
    items_of_span: dict[int, list[int]] = defaultdict(list)
    if data.spans:
        cols = list(zip(*data.spans, strict=True))
        span_k, rows = span_sentence_rows(sentences, np.array(cols[1]), np.array(cols[4]), np.array(cols[5]))
        for k, item in zip(span_k.tolist(), labels.items_of(sentences.ids[rows]).tolist(), strict=True):
            if item >= 0:
                items_of_span[data.spans[k][0]].append(item)
    rated = {int(u): labels.codes[:, j] >= 0 for j, u in enumerate(labels.user_ids.tolist())}
    labelled = {u: set(np.unique(labels.article_ids[r]).tolist()) for u, r in rated.items()}
    return PairScope(spans_of, items_of_span, rated, labelled)


@dataclass
class _Work:
    """What each annotator did, in the shapes the pair comparisons take."""

    worked: dict[int, set[int]]  # user -> articles with a label or a span of theirs
    users: list[int]  # sorted by name
    names: dict[int, str]
    scope: PairScope
    rels_of: dict[tuple[int, str], list[tuple]]  # (user, type) -> [(quote's span id, ((article, label, start, end) of from, ... of to))]

    def name(self, user: int) -> str:
        return self.names.get(user, f"user {user}")


@dataclass
class _Pools:
    """Every pair's results, per span (label, mode) and per relation type, for the pooled figures."""

    spans: dict[tuple[str, str], list[ag.F1Result]] = field(default_factory=lambda: defaultdict(list))
    relations: dict[str, list[ag.F1Result]] = field(default_factory=lambda: defaultdict(list))
    attribution: dict[str, list[ag.AttributionResult]] = field(default_factory=lambda: defaultdict(list))


def _work(session: Session, labels: ProjectLabels, data: ProjectSpans, sentences: SentenceRows) -> _Work:
    worked = articles_by_user(labels, data)
    users = sorted(worked)
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(users))).all()) if users else {}
    users.sort(key=lambda u: names.get(u, ""))
    by_id = {s[0]: s for s in data.spans}
    rels_of: dict[tuple[int, str], list[tuple]] = defaultdict(list)
    for art, user, rtype, f, t in data.relations:
        if f in by_id and t in by_id:
            a, b = by_id[f], by_id[t]
            rels_of[(user, rtype)].append((f, ((art, a[3], a[4], a[5]), (art, b[3], b[4], b[5]))))
    return _Work(worked, users, names, pair_scope(labels, data, sentences), rels_of)


def span_figures(
    session: Session, head: ProjectHead, labels: ProjectLabels, data: ProjectSpans, sentences: SentenceRows
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Span F1 per span label and annotator pair (exact and overlap), and quote -> source
    relation F1 with attribution agreement per relation type, each pair compared on the
    articles both of them worked on, there on the sentences both labelled (see the module)."""
    span_labels = head.span_labels
    known = set(span_labels)
    span_labels = span_labels + sorted({s[3] for s in data.spans} - known)
    relation_types = head.schema.get("relation_types", [])
    work = _work(session, labels, data, sentences)
    span_pairs, rel_pairs = [], []
    pools = _Pools()
    for i, ua in enumerate(work.users):
        for ub in work.users[i + 1:]:
            shared = work.worked[ua] & work.worked[ub]
            pair = {"a": work.name(ua), "b": work.name(ub), "n_shared_articles": len(shared)}
            if not shared:
                span_pairs.append({**pair, "reason": _NO_SHARED_ARTICLE})
                rel_pairs.append({**pair, "reason": _NO_SHARED_ARTICLE})
                continue
            counted = work.scope.counted(ua, ub, shared)
            sa = [span for sid, span in work.scope.spans_of.get(ua, ()) if sid in counted]
            sb = [span for sid, span in work.scope.spans_of.get(ub, ()) if sid in counted]
            span_pairs.append(_span_pair(pair, sa, sb, span_labels, pools))
            rel_pairs.append(_relation_pair(pair, work, (ua, ub), counted, (sa, sb), relation_types, pools))
    span_doc = {
        "labels": span_labels,
        "modes": list(SPAN_MODES),
        "n_spans": len(data.spans),
        "pooled": {
            label: {mode: _pool(pools.spans[(label, mode)], mode, label) for mode in SPAN_MODES} for label in span_labels
        },
        "pairs": span_pairs,
    }
    rel_doc = {
        "types": [{"name": r["name"], "from": r["from"], "to": r["to"]} for r in relation_types],
        "n_relations": len(data.relations),
        "pooled": {
            r["name"]: {"f1": _pool(pools.relations[r["name"]], "relation", None),
                        "attribution": _pool_attribution(pools.attribution[r["name"]])}
            for r in relation_types
        },
        "pairs": rel_pairs,
    }
    return span_doc, rel_doc


def _span_pair(pair: dict[str, Any], sa: list[tuple], sb: list[tuple], span_labels: list[str], pools: _Pools) -> dict[str, Any]:
    """One pair's span F1, overall and per label, in both modes."""
    entry: dict[str, Any] = {**pair, "overall": {}, "per_label": {}}
    for mode in SPAN_MODES:
        per_label = ag.span_f1_per_label(sa, sb, mode, labels=span_labels)
        # spans only match within a label, so the overall (micro) counts are the labels' counts added up
        entry["overall"][mode] = ag.combine_f1(per_label.values()).to_dict()
        for label, res in per_label.items():
            entry["per_label"].setdefault(label, {})[mode] = res.to_dict()
            pools.spans[(label, mode)].append(res)
    return entry


def _relation_pair(
    pair: dict[str, Any],
    work: _Work,
    users: tuple[int, int],
    counted: set[int],
    spans: tuple[list[tuple], list[tuple]],
    relation_types: list[dict[str, Any]],
    pools: _Pools,
) -> dict[str, Any]:
    """One pair's relation F1 and attribution agreement per relation type (the links whose quote counts for the pair)."""
    (ua, ub), (sa, sb) = users, spans
    rentry: dict[str, Any] = {**pair, "per_type": {}}
    for rel in relation_types:
        rtype = rel["name"]
        ra = [r for quote, r in work.rels_of[(ua, rtype)] if quote in counted]
        rb = [r for quote, r in work.rels_of[(ub, rtype)] if quote in counted]
        f1 = ag.relation_f1(ra, rb)
        attribution = ag.attribution_agreement(
            ra, rb,
            quotes_a=[s for s in sa if s[1] in rel["from"]], quotes_b=[s for s in sb if s[1] in rel["from"]],
            sources_a=[s for s in sa if s[1] in rel["to"]], sources_b=[s for s in sb if s[1] in rel["to"]],
        )
        rentry["per_type"][rtype] = {"f1": f1.to_dict(), "attribution": attribution.to_dict()}
        pools.relations[rtype].append(f1)
        pools.attribution[rtype].append(attribution)
    return rentry


def _pool(results: list[ag.F1Result], mode: str, label: Any) -> dict[str, Any]:
    """Micro F1 over annotator pairs (tp / fp / fn added up)."""
    if not results:
        return {"mode": mode, "f1": None, "precision": None, "recall": None, "tp": 0, "fp": 0, "fn": 0, "n_a": 0, "n_b": 0,
                "label": label, "reason": "no pair of annotators shares an article"}
    return ag.combine_f1(results).to_dict()


def _pool_attribution(results: list[ag.AttributionResult]) -> dict[str, Any]:
    same = sum(r.n_same_source for r in results)
    considered = sum(r.n_considered for r in results)
    reason = None
    if not results:
        reason = "no pair of annotators shares an article"
    elif not considered:
        reason = "no quote was marked by two annotators"
    return {
        "value": same / considered if considered else None,
        "reason": reason,
        "n_considered": considered,
        "n_same_source": same,
        "n_different_source": sum(r.n_different_source for r in results),
        "n_both_unattributed": sum(r.n_both_unattributed for r in results),
        "n_quotes_matched": sum(r.n_quotes_matched for r in results),
    }
