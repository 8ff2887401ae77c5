"""The disagreement queue: the project's disputed sentences, least agreement first, and what its page shows of them.

A sentence is disputed when two or more annotators labelled it and they
disagree on its label, on a span or on a link. The rows are cached per
project revision (cache.disagreements); the page then reads the text of the
sentences it shows (sentence_texts).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Sentence
from annotator.domain.agreement.figures import category_counts, item_gold
from annotator.domain.agreement.loaders import ProjectLabels, ProjectSpans, SentenceRows, load_sentences, span_sentence_rows
from annotator.domain.project_head import ProjectHead
from annotator.stats import gold as gold_rules

Marks = dict[tuple[int, tuple], int]  # (item, span or link key) -> bit mask of the annotators who made it


def disagreement_rows(session: Session, head: ProjectHead, labels: ProjectLabels, data: ProjectSpans) -> list[dict[str, Any]]:
    """Sentences labelled by two or more annotators who disagree on the label, a span or a link,
    least agreement first.

    A span (label, start, end) belongs to one sentence, the first it overlaps
    that two or more annotators labelled (so a quote that runs into the next
    sentence is one dispute, not one per sentence); it is disputed there
    unless every annotator who labelled that sentence marked exactly it. A
    link belongs to the sentence its first span (the quote) belongs to; it is
    disputed unless every annotator of the sentence made the same link (same
    type, same two spans exactly). Order: label agreement
    (share of agreeing annotator pairs) ascending, then disputed spans + links
    descending, then article and position.
    """
    codes = labels.codes
    counts = category_counts(codes, len(labels.matrix.categories))
    m = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        agree = np.where(m >= 2, (counts * (counts - 1)).sum(axis=1) / (m * (m - 1)), np.nan)
    sentences = load_sentences(session, head)
    item_of_row = labels.items_of(sentences.ids)
    home = _span_homes(sentences, item_of_row, m, data)
    span_marks, link_marks = _marks(labels, data, home)
    rater_cache: dict[int, int] = {}
    span_disputes = _disputes(span_marks, codes, m, rater_cache)
    link_disputes = _disputes(link_marks, codes, m, rater_cache)
    disputed = (m >= 2) & ((agree < 1) | (span_disputes > 0) | (link_disputes > 0))
    gold, provenance = item_gold(session, head, labels)
    prov_name = {v: k for k, v in gold_rules.PROVENANCE_CODES.items()}
    row_of_item = np.full(len(m), -1, dtype=np.int64)
    ok = item_of_row >= 0
    row_of_item[item_of_row[ok]] = np.flatnonzero(ok)
    rows = []
    categories = labels.matrix.categories
    for item in np.flatnonzero(disputed).tolist():
        pos = int(row_of_item[item])
        rows.append(
            {
                "sentence_id": int(labels.sentence_ids[item]),
                "article_id": int(labels.article_ids[item]),
                "index": int(sentences.index[pos]) if pos >= 0 else None,
                "n_annotators": int(m[item]),
                "label_agreement": float(agree[item]),
                "labels": {categories[c]: int(counts[item, c]) for c in range(len(categories)) if counts[item, c]},
                "span_disputes": int(span_disputes[item]),
                "link_disputes": int(link_disputes[item]),
                "gold": categories[gold[item]] if gold[item] >= 0 else None,
                "gold_provenance": prov_name[int(provenance[item])] or None,
            }
        )
    rows.sort(key=lambda r: (r["label_agreement"], -(r["span_disputes"] + r["link_disputes"]), r["article_id"], r["index"] or 0))
    return rows


def _span_homes(sentences: SentenceRows, item_of_row: np.ndarray, m: np.ndarray, data: ProjectSpans) -> dict[int, int]:
    """Span id -> the one item (sentence) it counts in: the first it overlaps that two or more annotators labelled."""
    home: dict[int, int] = {}
    if data.spans:
        cols = list(zip(*data.spans, strict=True))
        span_k, rows = span_sentence_rows(sentences, np.array(cols[1]), np.array(cols[4]), np.array(cols[5]))
        # (span, sentence) pairs come span by span, each span's sentences in text order
        for k, item in zip(span_k.tolist(), item_of_row[rows].tolist(), strict=True):
            sid = data.spans[k][0]
            if item >= 0 and m[item] >= 2 and sid not in home:
                home[sid] = item
    return home


def _marks(labels: ProjectLabels, data: ProjectSpans, home: dict[int, int]) -> tuple[Marks, Marks]:
    """Who marked each span and made each link, in the item the span (the link's first span) counts in."""
    column_of = {int(u): j for j, u in enumerate(labels.user_ids.tolist())}
    span_marks: Marks = defaultdict(int)
    for sid, _art, user, label, start, end in data.spans:
        item = home.get(sid)
        if item is not None:
            bit = 1 << column_of[user] if user in column_of else 0
            span_marks[(item, (label, start, end))] |= bit
    by_id = {s[0]: s for s in data.spans}
    link_marks: Marks = defaultdict(int)
    for _art, user, rtype, f, t in data.relations:
        if f not in by_id or t not in by_id:
            continue
        item = home.get(f)
        if item is None:
            continue
        a, b = by_id[f], by_id[t]
        key = (rtype, a[3:6], b[3:6])
        bit = 1 << column_of[user] if user in column_of else 0
        link_marks[(item, key)] |= bit
    return span_marks, link_marks


def _disputes(marks: Marks, codes: np.ndarray, m: np.ndarray, rater_cache: dict[int, int]) -> np.ndarray:
    """Per item, the spans (or links) that not every annotator of the item made."""
    disputes = np.zeros(len(m), dtype=np.int64)
    for (item, _key), mask in marks.items():
        if m[item] < 2:
            continue
        r = rater_cache.get(item)
        if r is None:
            r = rater_cache[item] = sum(1 << j for j in np.flatnonzero(codes[item] >= 0).tolist())
        if r & ~mask:
            disputes[item] += 1
    return disputes


def sentence_texts(session: Session, sentence_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """Sentence id -> (its text, its article's external id, title), for the queue rows a page shows."""
    if not sentence_ids:
        return {}
    return {
        sid: (text, external_id, title)
        for sid, text, external_id, title in session.execute(
            select(Sentence.id, func.substr(Article.text, Sentence.start + 1, Sentence.end - Sentence.start), Article.external_id, Article.title)
            .join(Article, Article.id == Sentence.article_id)
            .where(Sentence.id.in_(sentence_ids))
        )
    }


def article_names(session: Session, project_id: int, article_ids: list[int]) -> dict[int, str]:
    """Article id -> external id, for the queue's article filter: only the project's (an id from the address may be
    any article's)."""
    if not article_ids:
        return {}
    return dict(session.execute(
        select(Article.id, Article.external_id).where(Article.id.in_(article_ids), Article.project_id == project_id)
    ).all())
