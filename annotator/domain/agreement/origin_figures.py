"""Automation bias on the agreement page: per annotator, how much of their work began as a suggestion,
what they did with the suggestions, and agreement on their suggested and their manual annotations apart.

Only for a project that has suggestions at all (a suggestion row, or an annotation whose origin is
"suggested"): compute returns None otherwise, and a blind, unassisted project shows nothing new.

The splits, for one annotator A compared with every other annotator:
- labels: the sentences A labelled that another annotator labelled too, split by the origin of A's
  label; the figure is the pairwise observed agreement (the per-annotator "same label as another"
  of figures.py, on each part);
- spans: each span belongs to the sentence its first character is in; a sentence is on A's
  "suggested" side when any of A's spans there came from a suggestion, on the "manual" side when A
  marked spans there and none came from one. On each side A's spans and each other annotator's
  spans in those sentences are compared with the agreement module's span F1 (annotator.stats.agreement,
  the same matching as the span figures), each pair on the spans that count for it in the span figures
  (span_figures.PairScope: touching a sentence both labelled, so a suggestion A accepted ahead of where
  the other has got to is not counted as missed, which would lower the suggested side for progress, not
  for agreement), the pairs' counts added up (micro F1). Sentences where A marked no span are on neither side.
A side with fewer than `min_n` sentences (labels) or spans of A's (spans) has no figure, only its counts.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

import numpy as np
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, Assignment, Relation, Sentence, Span, Suggestion, SuggestionDecision, User
from annotator.domain.agreement.figures import MIN_N, category_counts, too_few
from annotator.domain.agreement.loaders import (
    ProjectLabels,
    ProjectSpans,
    SentenceRows,
    in_scope,
    load_labels,
    load_sentences,
    load_spans,
    span_sentence_rows,
)
from annotator.domain.agreement.span_figures import SPAN_MODES, PairScope, articles_by_user, pair_scope
from annotator.domain.project_head import ProjectHead
from annotator.stats import agreement as ag

SIDES = ("suggested", "manual")
KINDS = ("labels", "spans", "relations")


def _project_articles(head: ProjectHead) -> Any:
    return select(Article.id).where(*in_scope(head, None))


def suggestion_stamp(session: Session, head: ProjectHead) -> str:
    """What the figures depend on besides the project's revision: the suggestions and the decisions.

    A rejection changes no annotation, so it does not move the revision; the stamp moves instead
    (a decision's count, its newest time, how many say "accepted"; the suggestions' count and newest id).
    """
    articles = _project_articles(head)
    n, newest = session.execute(select(func.count(Suggestion.id), func.max(Suggestion.id)).where(Suggestion.article_id.in_(articles))).one()
    decided = session.execute(
        select(func.count(), func.max(SuggestionDecision.at), func.sum(case((SuggestionDecision.decision == "accepted", 1), else_=0)))
        .select_from(SuggestionDecision)
        .join(Suggestion, Suggestion.id == SuggestionDecision.suggestion_id)
        .where(Suggestion.article_id.in_(articles))
    ).one()
    return f"{n}.{newest}.{decided[0]}.{decided[1]}.{decided[2]}"


def has_suggestions(session: Session, head: ProjectHead) -> bool:
    """Any suggestion row, or any label, span or link that came from one."""
    articles = _project_articles(head)
    probes = (
        select(Suggestion.id).where(Suggestion.article_id.in_(articles)),
        select(Span.id).where(Span.origin == "suggested", Span.article_id.in_(articles)),
        select(Relation.id).where(Relation.origin == "suggested", Relation.article_id.in_(articles)),
        select(Annotation.id).join(Sentence, Sentence.id == Annotation.sentence_id)
        .where(Annotation.origin == "suggested", Sentence.article_id.in_(articles)),
    )
    return any(session.execute(probe.limit(1)).first() is not None for probe in probes)


# ----------------------------------------------------------------- counts from the database
def _origin_counts(session: Session, head: ProjectHead) -> dict[str, dict[int, dict[str, int]]]:
    """kind -> user -> {origin: count} for labels, spans and links."""
    articles = _project_articles(head)
    statements = {
        "labels": select(Annotation.user_id, Annotation.origin, func.count()).join(Sentence, Sentence.id == Annotation.sentence_id)
        .where(Sentence.article_id.in_(articles)).group_by(Annotation.user_id, Annotation.origin),
        "spans": select(Span.user_id, Span.origin, func.count()).where(Span.article_id.in_(articles)).group_by(Span.user_id, Span.origin),
        "relations": select(Relation.user_id, Relation.origin, func.count()).where(Relation.article_id.in_(articles))
        .group_by(Relation.user_id, Relation.origin),
    }
    out: dict[str, dict[int, dict[str, int]]] = {}
    for kind, statement in statements.items():
        out[kind] = defaultdict(dict)
        for user, origin, n in session.execute(statement).all():
            out[kind][user][origin] = int(n)
    return out


def _decision_counts(session: Session, head: ProjectHead) -> dict[int, dict[tuple[str, str], int]]:
    """user -> {(suggestion kind, decision): count}."""
    rows = session.execute(
        select(SuggestionDecision.user_id, Suggestion.kind, SuggestionDecision.decision, func.count())
        .select_from(SuggestionDecision)
        .join(Suggestion, Suggestion.id == SuggestionDecision.suggestion_id)
        .where(Suggestion.article_id.in_(_project_articles(head)))
        .group_by(SuggestionDecision.user_id, Suggestion.kind, SuggestionDecision.decision)
    ).all()
    out: dict[int, dict[tuple[str, str], int]] = defaultdict(dict)
    for user, kind, decision, n in rows:
        out[user][(kind, decision)] = int(n)
    return out


def _undecided(session: Session, head: ProjectHead) -> dict[int, int]:
    """user -> suggestions on the articles assigned to them that they neither accepted nor rejected."""
    decided = (SuggestionDecision.suggestion_id == Suggestion.id) & (SuggestionDecision.user_id == Assignment.user_id)
    rows = session.execute(
        select(Assignment.user_id, func.count(Suggestion.id))
        .select_from(Assignment)
        .join(Suggestion, Suggestion.article_id == Assignment.article_id)
        .outerjoin(SuggestionDecision, decided)
        .where(Assignment.article_id.in_(_project_articles(head)), SuggestionDecision.suggestion_id.is_(None))
        .group_by(Assignment.user_id)
    ).all()
    return {user: int(n) for user, n in rows}


def _share(counts: dict[str, int]) -> dict[str, Any]:
    n = sum(counts.values())
    suggested = counts.get("suggested", 0)
    return {"n": n, "n_suggested": suggested, "n_manual": n - suggested, "share_suggested": suggested / n if n else None}


def _decisions(by_kind: dict[tuple[str, str], int], undecided: int | None) -> dict[str, Any]:
    accepted = sum(n for (_, d), n in by_kind.items() if d == "accepted")
    rejected = sum(n for (_, d), n in by_kind.items() if d == "rejected")
    decided = accepted + rejected
    per_kind = {kind: {"accepted": by_kind.get((kind, "accepted"), 0), "rejected": by_kind.get((kind, "rejected"), 0)}
                for kind in ("label", "span", "relation")}
    return {
        "accepted": accepted,
        "rejected": rejected,
        "decided": decided,
        "acceptance_rate": accepted / decided if decided else None,
        "reason": None if decided else "no suggestion accepted or rejected",
        "undecided": undecided,
        "per_kind": per_kind,
    }


# ----------------------------------------------------------------- labels: observed agreement per side
def _suggested_labels(session: Session, head: ProjectHead, labels: ProjectLabels) -> np.ndarray:
    """(items, annotators) True where that annotator's label of that sentence came from a suggestion."""
    mask = np.zeros(labels.codes.shape, dtype=bool)
    rows = session.execute(
        select(Annotation.sentence_id, Annotation.user_id).join(Sentence, Sentence.id == Annotation.sentence_id)
        .where(Annotation.origin == "suggested", Sentence.article_id.in_(_project_articles(head)))
    ).all()
    if rows and len(labels.user_ids):
        items = labels.items_of(np.array([r[0] for r in rows], dtype=np.int64))
        users = np.array([r[1] for r in rows], dtype=np.int64)
        cols = np.minimum(np.searchsorted(labels.user_ids, users), len(labels.user_ids) - 1)
        ok = (items >= 0) & (labels.user_ids[cols] == users)
        mask[items[ok], cols[ok]] = True
    return mask


def label_sides(labels: ProjectLabels, suggested: np.ndarray, j: int, min_n: int) -> dict[str, dict[str, Any]]:
    """Annotator j's pairwise observed agreement with the others, on their suggested and their manual labels apart."""
    codes = labels.codes
    counts = category_counts(codes, len(labels.matrix.categories))
    m = (codes >= 0).sum(axis=1)
    mine = codes[:, j]
    shared = (mine >= 0) & (m >= 2)
    out = {}
    for side, part in zip(SIDES, (suggested[:, j], ~suggested[:, j]), strict=True):
        rows = shared & part
        n_sentences = int(rows.sum())
        n_pairs = int((m[rows] - 1).sum())
        n_agreeing = int((counts[rows, mine[rows]] - 1).sum()) if n_sentences else 0
        reason = None
        if n_sentences == 0:
            reason = f"no {side} label of theirs is on a sentence another annotator labelled"
        elif n_sentences < min_n:
            reason = too_few(n_sentences, "sentence", min_n)
        out[side] = {"value": n_agreeing / n_pairs if reason is None else None, "n_sentences": n_sentences,
                     "n_pairs": n_pairs, "n_agreeing_pairs": n_agreeing, "reason": reason}
    return out


# ----------------------------------------------------------------- spans: span F1 per side
def _span_sentences(sentences: SentenceRows, data: ProjectSpans) -> dict[int, int]:
    """span id -> id of the sentence its first character is in (spans outside every sentence are left out)."""
    if not data.spans:
        return {}
    arr = np.array([s[1:2] + s[4:6] for s in data.spans], dtype=np.int64)
    span_index, rows = span_sentence_rows(sentences, arr[:, 0], arr[:, 1], arr[:, 2])
    first_of, first = np.unique(span_index, return_index=True)  # rows run in text order for each span
    return {data.spans[k][0]: int(sentences.ids[rows[f]]) for k, f in zip(first_of.tolist(), first.tolist(), strict=True)}


def span_sides(
    data: ProjectSpans, suggested_ids: set[int], sentence_of: dict[int, int], worked: dict[int, set[int]], scope: PairScope,
    span_labels: list[str], min_n: int,
) -> dict[int, dict[str, dict[str, Any]]]:
    """user -> side -> span F1 (exact and overlap) of that user's spans against every other annotator's, on that side's sentences."""
    by_user: dict[int, list[tuple]] = defaultdict(list)  # user -> [(sentence, suggested, span id, (article, label, start, end))]
    for sid, art, user, label, start, end in data.spans:
        if sid in sentence_of:
            by_user[user].append((sentence_of[sid], sid in suggested_ids, sid, (art, label, start, end)))
    out = {}
    for user, mine in by_user.items():
        assisted = {s for s, sugg, _, _ in mine if sugg}
        sides = {"suggested": assisted, "manual": {s for s, _, _, _ in mine} - assisted}
        out[user] = {side: _span_side(user, mine, (side, sentences), by_user, worked, scope, span_labels, min_n)
                     for side, sentences in sides.items()}
    return out


def _span_side(
    user: int, mine: list[tuple], side: tuple[str, set[int]], by_user: dict[int, list[tuple]], worked: dict[int, set[int]],
    scope: PairScope, span_labels: list[str], min_n: int,
) -> dict[str, Any]:
    """One side's span F1 for `user`, pooled over the other annotators (micro: their tp / fp / fn added up); with each
    other annotator, only the spans that count for the pair in the span figures (scope: sentences both labelled)."""
    name, sentences = side
    results: dict[str, list[ag.F1Result]] = {mode: [] for mode in SPAN_MODES}
    compared: set[int] = set()
    for other, articles in worked.items():  # as the span figures: everyone who worked on a shared article, spans or not
        shared = worked.get(user, set()) & articles
        if other == user or not shared:
            continue
        counted = scope.counted(user, other, shared)
        a = [(sid, span) for s, _, sid, span in mine if s in sentences and sid in counted]
        b = [span for s, _, sid, span in by_user.get(other, []) if s in sentences and sid in counted]
        compared.update(sid for sid, _ in a)
        for mode in SPAN_MODES:  # the span figures' own computation: per label, then micro over labels
            results[mode].append(ag.combine_f1(ag.span_f1_per_label([span for _, span in a], b, mode, labels=span_labels).values()))
    n_spans = len(compared)
    reason = None
    if not results["exact"]:
        reason = "shares no article with another annotator"
    elif n_spans == 0:
        reason = f"no {name} span of theirs where another annotator labelled the sentence too"
    elif n_spans < min_n:
        reason = too_few(n_spans, "span", min_n)
    doc: dict[str, Any] = {"n_sentences": len(sentences), "n_spans": n_spans, "reason": reason}
    for mode in SPAN_MODES:
        pooled = ag.combine_f1(results[mode]) if results[mode] else None
        doc[mode] = {"f1": pooled.f1 if pooled is not None and reason is None else None,
                     "tp": pooled.tp if pooled else 0, "fp": pooled.fp if pooled else 0, "fn": pooled.fn if pooled else 0}
    return doc


# ----------------------------------------------------------------- the section
def compute_origin_figures(session: Session, head: ProjectHead, min_n: int = MIN_N,
                           read_labels: Callable[[], ProjectLabels] | None = None) -> dict[str, Any] | None:
    """Per annotator: shares from suggestions, decisions, and agreement on suggested and manual work apart; None without
    suggestions. `read_labels`: gives the project's labels when the caller shares one read of them with other figures
    (called only when there are suggestions)."""
    if not has_suggestions(session, head):
        return None
    labels = read_labels() if read_labels is not None else load_labels(session, head, with_seconds=False)
    data = load_spans(session, head)
    suggested_labels = _suggested_labels(session, head, labels)
    suggested_spans = set(session.execute(
        select(Span.id).where(Span.origin == "suggested", Span.article_id.in_(_project_articles(head)))
    ).scalars())
    sentences = load_sentences(session, head)
    spans = span_sides(data, suggested_spans, _span_sentences(sentences, data), articles_by_user(labels, data),
                       pair_scope(labels, data, sentences), head.span_labels, min_n)
    origins, decisions, undecided = _origin_counts(session, head), _decision_counts(session, head), _undecided(session, head)
    users = set(decisions) | {u for kind in KINDS for u in origins[kind]}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(sorted(users)))).all()) if users else {}
    column = {int(u): j for j, u in enumerate(labels.user_ids.tolist())}
    rows = []
    for user in sorted(users, key=lambda u: (names.get(u, ""), u)):
        j = column.get(user)
        rows.append({
            "annotator": names.get(user, f"user {user}"),
            "user_id": int(user),
            **{kind: _share(origins[kind].get(user, {})) for kind in KINDS},
            "decisions": _decisions(decisions.get(user, {}), undecided.get(user, 0)),
            "label_agreement": label_sides(labels, suggested_labels, j, min_n) if j is not None else None,
            "span_f1": spans.get(user),
        })
    n_suggestions = session.scalar(select(func.count(Suggestion.id)).where(Suggestion.article_id.in_(_project_articles(head))))
    return {"min_n": min_n, "n_suggestions": int(n_suggestions or 0), "annotators": rows}
