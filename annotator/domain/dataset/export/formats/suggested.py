"""The suggestions of a run of exported articles, in one query per run (for Label Studio's predictions)."""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Sentence, Suggestion
from annotator.domain.dataset.export.load import BATCH_SIZE


def with_suggestions(
    session: Session, project_id: int, records: Iterable[dict[str, Any]], batch_size: int = BATCH_SIZE
) -> Iterator[tuple[dict[str, Any], list[tuple]]]:
    """(article record, its suggestions) in the records' order; the suggestions of each run of
    `batch_size` records are read with one query, so memory stays bounded by the run."""
    run: list[dict[str, Any]] = []
    for record in records:
        run.append(record)
        if len(run) >= batch_size:
            yield from _paired(session, project_id, run)
            run = []
    if run:
        yield from _paired(session, project_id, run)


def _paired(session: Session, project_id: int, run: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], list[tuple]]]:
    found = suggestions_of(session, project_id, [record["id"] for record in run])
    for record in run:
        yield record, found.get(record["id"], [])


def suggestions_of(session: Session, project_id: int, external_ids: list[str]) -> dict[str, list[tuple]]:
    """External article id -> its suggestions as
    (suggester, version, kind, label, sentence index or None, start, end, uid, from_uid, to_uid, score),
    in a content order (suggester, kind, offsets, label, uid): never the database's order."""
    out: dict[str, list[tuple]] = defaultdict(list)
    if not external_ids:
        return out
    query = (
        select(
            Article.external_id, Suggestion.suggester, Suggestion.version, Suggestion.kind, Suggestion.label, Sentence.index,
            Suggestion.start, Suggestion.end, Suggestion.uid, Suggestion.from_uid, Suggestion.to_uid, Suggestion.score,
        )
        .join(Article, Article.id == Suggestion.article_id)
        .outerjoin(Sentence, Sentence.id == Suggestion.sentence_id)
        .where(Article.project_id == project_id, Article.external_id.in_(external_ids))
    )
    for external_id, *row in session.execute(query):
        out[external_id].append(tuple(row))
    for rows in out.values():
        rows.sort(key=_content_order)
    return out


def _content_order(row: tuple) -> tuple:
    suggester, version, kind, label, index, start, end, uid = row[:8]
    return (suggester, version, kind, index if index is not None else -1, start or 0, end or 0, label, uid)
