"""Correcting sentence boundaries after import: split a sentence, merge it with the next, undo.

Article offsets never move: Article.text, spans, relations and gold spans are
not touched; only Sentence rows (start, end, index) change. Labels follow fixed
rules, so none disappears silently:

- split: each annotator's label goes to BOTH halves, flagged `needs_review`.
  The annotator judged the whole text, so each half starts from that judgement
  and comes back to them to confirm. The left half keeps the original row (its
  id, time spent, version + 1); the right half gets a copy with 0 seconds. A
  gold label cannot be split with certainty: it is removed (kept in the audit
  entry) and both halves go back to adjudication.
- merge: an annotator who gave both parts the same label keeps it on the
  merged sentence (times added, `needs_review` if either part had it). One who
  gave different labels, or labelled only one part, loses both from the
  annotations table: the merged sentence is back in their queue unlabelled,
  their old labels are kept in the audit entry (`relabel`, listed in the
  correction history). Gold likewise: the same label on both parts is kept,
  anything else is removed and kept in the audit entry.

Every correction appends one AuditEntry(entity="segmentation", action "split" or
"merge"); `before` holds the full rows it replaced (sentences, annotations,
gold labels), `after` the rows it left and what moved. `undo()` puts `before`
back exactly (same ids, offsets, labels, times, versions) while the affected
sentences and their labels are still as `after` left them; otherwise it refuses
rather than drop work done since.

Plain functions over a session, no Flask: the caller runs each inside
`transaction(session)` (db/transactions.py), which commits it or, on
ResegmentError, rolls it back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Article, Assignment, AuditEntry, GoldLabel, Sentence, User, utcnow
from annotator.domain.gold import incremental as auto_gold
from annotator.domain.projects import bump_revision

ENTITY = "segmentation"
CORRECTIONS = ("split", "merge")


class ResegmentError(ValueError):
    """A correction that cannot be made; the message says why (HTTP 400/409 in the views)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Correction:
    """What a correction (or undo) did, as recorded in its audit entry."""

    entry_id: int
    action: str
    article_id: int
    sentences: list[dict[str, Any]]  # the sentences it left, in order
    moved: list[dict[str, Any]] = field(default_factory=list)  # labels that followed the text
    relabel: list[dict[str, Any]] = field(default_factory=list)  # labels taken away: sentence back in the queue
    gold_removed: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------- snapshots
def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


_ANNOTATION_COLUMNS = (
    Annotation.id,
    Annotation.user_id,
    Annotation.sentence_id,
    Annotation.label,
    Annotation.seconds,
    Annotation.guidelines_version,
    Annotation.version,
    Annotation.needs_review,
    Annotation.updated_at,
)
_GOLD_COLUMNS = (
    GoldLabel.id,
    GoldLabel.sentence_id,
    GoldLabel.label,
    GoldLabel.provenance,
    GoldLabel.reviewer_id,
    GoldLabel.reason,
    GoldLabel.updated_at,
)


def _sentences(session: Session, article_id: int) -> list[dict[str, Any]]:
    """The article's sentences in order, locked until commit: one correction at a time per article."""
    rows = session.execute(
        select(Sentence.id, Sentence.index, Sentence.start, Sentence.end)
        .where(Sentence.article_id == article_id)
        .order_by(Sentence.index)
        .with_for_update()
    ).mappings()
    return [dict(row) for row in rows]


def _annotations(session: Session, sentence_ids: list[int]) -> list[dict[str, Any]]:
    rows = session.execute(
        select(*_ANNOTATION_COLUMNS)
        .where(Annotation.sentence_id.in_(sentence_ids))
        .order_by(Annotation.sentence_id, Annotation.user_id)
        .with_for_update()
    ).mappings()
    return [{**row, "seconds": float(row["seconds"]), "needs_review": bool(row["needs_review"]), "updated_at": _iso(row["updated_at"])} for row in rows]


def _gold(session: Session, sentence_ids: list[int]) -> list[dict[str, Any]]:
    rows = session.execute(
        select(*_GOLD_COLUMNS).where(GoldLabel.sentence_id.in_(sentence_ids)).order_by(GoldLabel.sentence_id).with_for_update()
    ).mappings()
    return [{**row, "updated_at": _iso(row["updated_at"])} for row in rows]


def _state(session: Session, sentences: list[dict[str, Any]]) -> dict[str, Any]:
    ids = [s["id"] for s in sentences]
    return {"sentences": sentences, "annotations": _annotations(session, ids), "gold": _gold(session, ids)}


def _article(session: Session, article_id: int) -> Article:
    """The article, locked FOR UPDATE until commit (PostgreSQL; SQLite's BEGIN IMMEDIATE already keeps other writers
    out) before any of its sentences: a delete of the article (catalog.delete_article) or an update of its text
    locks the same row first (article_work.locked_article_work), so one waits for the other. Locking the sentences
    first, a correction then took a key-share lock on the article (a new sentence, the audit entry) that a delete,
    holding the article and waiting for the sentences, kept from it: a deadlock. An article deleted while we waited
    is a 404."""
    article = session.scalars(
        select(Article).where(Article.id == article_id).with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if article is None:
        raise ResegmentError(f"no article {article_id}", 404)
    return article


def _sentence_in(sentences: list[dict[str, Any]], sentence_id: int) -> int:
    for position, row in enumerate(sentences):
        if row["id"] == sentence_id:
            return position
    raise ResegmentError(f"no sentence {sentence_id} in this article", 404)


def _article_of_sentence(session: Session, sentence_id: int) -> int:
    article_id = session.scalar(select(Sentence.article_id).where(Sentence.id == sentence_id))
    if article_id is None:
        raise ResegmentError(f"no sentence {sentence_id}", 404)
    return article_id


# ----------------------------------------------------------------- corrections
def split_sentence(session: Session, sentence_id: int, at: int, user_id: int | None) -> Correction:
    """Split a sentence before the code point at article offset `at` (strictly inside it).

    Whitespace at the cut is trimmed from both sides, so no sentence starts or
    ends with whitespace; a cut that leaves only whitespace on a side is refused.
    """
    if not isinstance(at, int) or isinstance(at, bool):
        raise ResegmentError("the split offset must be an integer")
    article = _article(session, _article_of_sentence(session, sentence_id))
    sentences = _sentences(session, article.id)
    position = _sentence_in(sentences, sentence_id)
    whole = sentences[position]
    start, end = whole["start"], whole["end"]
    if not start < at < end:
        raise ResegmentError(f"split at {at} is not strictly inside sentence {whole['index'] + 1} ({start}-{end})")
    head, tail = article.text[start:at], article.text[at:end]
    left_end = start + len(head.rstrip())
    right_start = at + (len(tail) - len(tail.lstrip()))
    if left_end <= start or right_start >= end:
        raise ResegmentError("that split would leave only whitespace on one side")
    before = _state(session, [whole])

    session.execute(update(Sentence).where(Sentence.id == whole["id"]).values(end=left_end))
    right_id = session.execute(
        insert(Sentence).values(article_id=article.id, index=_free_index(sentences), start=right_start, end=end).returning(Sentence.id)
    ).scalar_one()
    moved = []
    for row in before["annotations"]:
        session.execute(
            update(Annotation)
            .where(Annotation.id == row["id"])
            .values(needs_review=True, version=row["version"] + 1, updated_at=_when(row["updated_at"]))
        )
        session.execute(
            insert(Annotation).values(
                user_id=row["user_id"],
                sentence_id=right_id,
                label=row["label"],
                seconds=0.0,
                guidelines_version=row["guidelines_version"],
                version=1,
                needs_review=True,
                updated_at=_when(row["updated_at"]),
            )
        )
        moved.append({"user_id": row["user_id"], "label": row["label"], "from": [whole["id"]], "to": [whole["id"], right_id], "needs_review": True})
    gold_removed = before["gold"]
    if gold_removed:
        session.execute(delete(GoldLabel).where(GoldLabel.sentence_id == whole["id"]))
    return _finish(session, article, "split", whole["id"], [whole["id"], right_id], before, moved, [], gold_removed, {"at": at}, user_id)


def merge_with_next(session: Session, sentence_id: int, user_id: int | None) -> Correction:
    """Merge a sentence with the one after it: the merged sentence keeps the first one's id."""
    article = _article(session, _article_of_sentence(session, sentence_id))
    sentences = _sentences(session, article.id)
    position = _sentence_in(sentences, sentence_id)
    if position + 1 >= len(sentences):
        raise ResegmentError("this is the last sentence of the article: there is nothing after it to merge with")
    first, second = sentences[position], sentences[position + 1]
    before = _state(session, [first, second])

    by_user: dict[int, dict[int, dict[str, Any]]] = {}
    for row in before["annotations"]:
        by_user.setdefault(row["user_id"], {})[row["sentence_id"]] = row
    moved, relabel = [], []
    for uid, rows in sorted(by_user.items()):
        a, b = rows.get(first["id"]), rows.get(second["id"])
        if a is not None and b is not None and a["label"] == b["label"]:
            session.execute(delete(Annotation).where(Annotation.id == b["id"]))
            session.execute(
                update(Annotation)
                .where(Annotation.id == a["id"])
                .values(
                    seconds=a["seconds"] + b["seconds"],
                    needs_review=a["needs_review"] or b["needs_review"],
                    version=a["version"] + 1,
                    updated_at=max(_when(a["updated_at"]), _when(b["updated_at"])),  # type: ignore[type-var]
                )
            )
            moved.append({"user_id": uid, "label": a["label"], "from": [first["id"], second["id"]], "to": [first["id"]], "needs_review": a["needs_review"] or b["needs_review"]})
        else:
            gone = [r for r in (a, b) if r is not None]
            session.execute(delete(Annotation).where(Annotation.id.in_([r["id"] for r in gone])))
            relabel.append({"user_id": uid, "sentence_id": first["id"], "labels": [{"sentence_id": r["sentence_id"], "label": r["label"]} for r in gone]})
    gold = {row["sentence_id"]: row for row in before["gold"]}
    ga, gb = gold.get(first["id"]), gold.get(second["id"])
    gold_removed = []
    if ga is not None and gb is not None and ga["label"] == gb["label"]:
        session.execute(delete(GoldLabel).where(GoldLabel.id == gb["id"]))
        moved.append({"user_id": None, "gold": True, "label": ga["label"], "from": [first["id"], second["id"]], "to": [first["id"]]})
    elif ga is not None or gb is not None:
        gold_removed = [g for g in (ga, gb) if g is not None]
        session.execute(delete(GoldLabel).where(GoldLabel.id.in_([g["id"] for g in gold_removed])))
    session.execute(delete(Sentence).where(Sentence.id == second["id"]))
    session.execute(update(Sentence).where(Sentence.id == first["id"]).values(end=second["end"]))
    return _finish(session, article, "merge", first["id"], [first["id"]], before, moved, relabel, gold_removed, {}, user_id)


def _finish(
    session: Session,
    article: Article,
    action: str,
    sentence_id: int,
    result_ids: list[int],
    before: dict[str, Any],
    moved: list[dict[str, Any]],
    relabel: list[dict[str, Any]],
    gold_removed: list[dict[str, Any]],
    extra: dict[str, Any],
    user_id: int | None,
) -> Correction:
    renumber(session, article.id)
    # the sentences moved: their automatic gold and the spans' raters with them (before `after`, which undo compares)
    auto_gold.article_changed(session, article.project_id, article.id)
    now = {s["id"]: s for s in _sentences(session, article.id)}
    after = {
        **_state(session, [now[i] for i in result_ids]),
        "moved": moved,
        "relabel": relabel,
        "gold_removed": gold_removed,
        **extra,
    }
    entry_id = _audit(session, article, user_id, str(sentence_id), action, before, after)
    _refresh_assignments(session, article.id)
    bump_revision(session, article.project_id)
    return Correction(entry_id, action, article.id, after["sentences"], moved, relabel, gold_removed)


def undo(session: Session, entry_id: int, user_id: int | None) -> Correction:
    """Put back exactly what a split or merge replaced, if nothing has changed on those sentences since."""
    entry = session.get(AuditEntry, entry_id)
    if entry is None or entry.entity != ENTITY or entry.action not in CORRECTIONS or entry.article_id is None:
        raise ResegmentError(f"no segmentation correction {entry_id}", 404)
    if undone_by(session, [entry_id]):
        raise ResegmentError(f"correction {entry_id} has already been undone", 409)
    article = _article(session, entry.article_id)
    before, after = entry.before or {}, entry.after or {}
    current = {s["id"]: s for s in _sentences(session, article.id)}
    for s in after["sentences"]:
        now = current.get(s["id"])
        if now is None or (now["start"], now["end"]) != (s["start"], s["end"]):
            raise ResegmentError("these sentences were corrected again since; undo the later correction first", 409)
    state = _state(session, [current[s["id"]] for s in after["sentences"]])
    if _labels_key(state) != _labels_key(after):
        raise ResegmentError("labels on these sentences changed since the correction; undoing it now would drop them", 409)

    after_ids = [s["id"] for s in after["sentences"]]
    session.execute(delete(Annotation).where(Annotation.sentence_id.in_(after_ids)))
    session.execute(delete(GoldLabel).where(GoldLabel.sentence_id.in_(after_ids)))
    before_ids = {s["id"] for s in before["sentences"]}
    stale = [i for i in after_ids if i not in before_ids]
    if stale:
        session.execute(delete(Sentence).where(Sentence.id.in_(stale)))
    free = _free_index(list(current.values()))
    sentence_ids: dict[int, int] = {}
    for k, s in enumerate(before["sentences"]):
        if s["id"] in current:
            session.execute(update(Sentence).where(Sentence.id == s["id"]).values(start=s["start"], end=s["end"], index=free + k))
            sentence_ids[s["id"]] = s["id"]
        else:
            values = {"article_id": article.id, "index": free + k, "start": s["start"], "end": s["end"]}
            sentence_ids[s["id"]] = _insert_keeping_id(session, Sentence, s["id"], values)
    for row in before["annotations"]:
        values = {**row, "sentence_id": sentence_ids[row["sentence_id"]], "updated_at": _when(row["updated_at"])}
        _insert_keeping_id(session, Annotation, values.pop("id"), values)
    for row in before["gold"]:
        values = {**row, "sentence_id": sentence_ids[row["sentence_id"]], "updated_at": _when(row["updated_at"])}
        _insert_keeping_id(session, GoldLabel, values.pop("id"), values)
    renumber(session, article.id)
    auto_gold.article_changed(session, article.project_id, article.id)
    now = {s["id"]: s for s in _sentences(session, article.id)}
    restored = _state(session, [now[sentence_ids[s["id"]]] for s in before["sentences"]])
    new_id = _audit(session, article, user_id, str(entry_id), "undo", {**state, "undoes": entry_id}, {**restored, "undoes": entry_id})
    _refresh_assignments(session, article.id)
    bump_revision(session, article.project_id)
    return Correction(new_id, "undo", article.id, restored["sentences"])


def _labels_key(state: dict[str, Any]) -> tuple[Any, ...]:
    annotations = sorted((a["id"], a["user_id"], a["sentence_id"], a["label"], a["version"], a["needs_review"]) for a in state["annotations"])
    gold = sorted((g["id"], g["sentence_id"], g["label"], g["provenance"]) for g in state["gold"])
    return tuple(annotations), tuple(gold)


def _insert_keeping_id(session: Session, model: type, wanted_id: int, values: dict[str, Any]) -> int:
    """Insert a row under its old id when that id is still free (SQLite may have reused it: then a new one)."""
    if session.scalar(select(model.id).where(model.id == wanted_id)) is None:  # type: ignore[attr-defined]
        values = {"id": wanted_id, **values}
    return session.execute(insert(model).values(**values).returning(model.id)).scalar_one()  # type: ignore[attr-defined]


# ----------------------------------------------------------------- bookkeeping
def _free_index(sentences: list[dict[str, Any]]) -> int:
    """An index above every current one: a parking place that cannot collide with UNIQUE(article_id, index)."""
    return max((s["index"] for s in sentences), default=-1) + len(sentences) + 1


def renumber(session: Session, article_id: int) -> None:
    """Indexes 0..n-1 in text order, in two passes (park above every index, then settle) so UNIQUE holds throughout."""
    rows = session.execute(
        select(Sentence.id, Sentence.index).where(Sentence.article_id == article_id).order_by(Sentence.start)
    ).all()
    changes = [(sid, position) for position, (sid, index) in enumerate(rows) if index != position]
    if not changes:
        return
    park = max(index for _, index in rows) + len(rows) + 1
    for offset in (park, 0):
        for sid, position in changes:
            session.execute(update(Sentence).where(Sentence.id == sid).values(index=position + offset))


def _refresh_assignments(session: Session, article_id: int) -> None:
    """done exactly when every sentence has the annotator's label (a merge can take one away, a split adds one)."""
    total = session.scalar(select(func.count()).select_from(Sentence).where(Sentence.article_id == article_id)) or 0
    labelled = dict(
        session.execute(
            select(Annotation.user_id, func.count())
            .join(Sentence, Sentence.id == Annotation.sentence_id)
            .where(Sentence.article_id == article_id)
            .group_by(Annotation.user_id)
        ).all()
    )
    for assignment_id, uid, status in session.execute(
        select(Assignment.id, Assignment.user_id, Assignment.status).where(Assignment.article_id == article_id)
    ).all():
        n = labelled.get(uid, 0)
        wanted = "done" if total and n >= total else ("in_progress" if n or status != "assigned" else "assigned")
        if wanted != status:
            session.execute(update(Assignment).where(Assignment.id == assignment_id).values(status=wanted))


def _audit(session: Session, article: Article, user_id: int | None, entity_id: str, action: str, before: dict, after: dict) -> int:
    return session.execute(
        insert(AuditEntry)
        .values(
            at=utcnow(),
            user_id=user_id,
            project_id=article.project_id,
            article_id=article.id,
            entity=ENTITY,
            entity_id=entity_id,
            action=action,
            before=before,
            after=after,
        )
        .returning(AuditEntry.id)
    ).scalar_one()


# ----------------------------------------------------------------- reading
def undone_by(session: Session, entry_ids: list[int]) -> dict[int, int]:
    """{correction entry id: id of the entry that undid it} for those already undone."""
    if not entry_ids:
        return {}
    rows = session.execute(
        select(AuditEntry.entity_id, AuditEntry.id).where(
            AuditEntry.entity == ENTITY, AuditEntry.action == "undo", AuditEntry.entity_id.in_([str(i) for i in entry_ids])
        )
    ).all()
    return {int(target): undo_id for target, undo_id in rows}


def history(session: Session, article_id: int) -> list[dict[str, Any]]:
    """The article's corrections and undos, newest first, with who made them and whether they were undone."""
    entries = session.execute(
        select(AuditEntry, User.name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.entity == ENTITY, AuditEntry.article_id == article_id)
        .order_by(AuditEntry.id.desc())
    ).all()
    undone = undone_by(session, [e.id for e, _ in entries if e.action in CORRECTIONS])
    out = []
    for entry, name in entries:
        before, after = entry.before or {}, entry.after or {}
        out.append(
            {
                "id": entry.id,
                "at": entry.at,
                "user": name,
                "action": entry.action,
                "before": [(s["start"], s["end"]) for s in before.get("sentences", [])],
                "after": [(s["start"], s["end"]) for s in after.get("sentences", [])],
                "moved": after.get("moved", []),
                "relabel": after.get("relabel", []),
                "gold_removed": after.get("gold_removed", []),
                "undoes": after.get("undoes"),
                "undone_by": undone.get(entry.id),
            }
        )
    return out
