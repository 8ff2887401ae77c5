"""What every write leaves besides its own row: AuditEntry rows, the assignment's progress, the automatic gold, the project's revision.

A single save does its bookkeeping at once (changed()). A batch of changes
(batch.py) runs its operations inside `deferred(session)`: changed() then only
notes what needs doing in a Pending kept in session.info (per session, hence
per request and per worker: never module state), and the batch's end does it
once, in the single saves' lock order: the assignment row, the article's gold
lock, the gold of the union of what changed, the project row last. audit()
keeps the batch's entries the same way, and its end inserts them together.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

from sqlalchemy import and_, bindparam, case, exists, select, update
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, Assignment, Sentence, utcnow
from annotator.db.prepared import Prepared, PreparedWrite
from annotator.domain.annotations.access import Access
from annotator.domain.annotations.statements import AUDIT_INSERT, BUMP_REVISION, START_ASSIGNMENT
from annotator.domain.gold import incremental as gold


def audit(
    session: Session,
    user_id: int | None,
    project_id: int | None,
    article_id: int | None,
    entity: str,
    entity_id: str | None,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one AuditEntry (the log is append-only in the database). `before`/`after` must be JSON-able.
    Inside `deferred(session)` (a batch) the entry is kept, and the batch's end inserts all of them in one statement."""
    entry = {
        "at": utcnow(),
        "user_id": user_id,
        "project_id": project_id,
        "article_id": article_id,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "before": before,
        "after": after,
    }
    pending = session.info.get(_PENDING)
    if pending is not None:
        pending.audits.append(entry)
        return
    AUDIT_INSERT.run(session, entry)


_assignments, _sentences, _annotations = (m.__table__ for m in (Assignment, Sentence, Annotation))
# _mark_progress's statements, built once (as statements.py's) and run on the driver's cursor: every label save runs them.
LOCK_ASSIGNMENT = Prepared(select(_assignments.c.status).where(_assignments.c.id == bindparam("assignment_id")).with_for_update())
# Whether the article has a sentence, and one without the caller's label. Each EXISTS stops at its first row: counting
# every sentence's labels looked each sentence up, two thirds of a label save's SQLite work on a 400-sentence article
# (bench/bench_write_lock.py), while the write lock is held. A walk from the article's first sentence to its first gap
# still looked up every sentence before the one written (an annotator working in order paid for the whole article
# behind them), so the sentences next to the one written are looked at first: the one written (a label removed leaves
# its gap there), the next (working forwards) and the previous (working backwards); only when those three are labelled
# does the walk run, and then it finds a gap where the annotator has not been, or the article done. The answer is the
# same either way: the first look only finds sooner a gap the walk would find.
def _all_labelled(article: str, user: str, sentence: str) -> tuple[Any, Any]:
    """(the article has a sentence, none of its sentences lacks the user's label), as SQL, in these parameter names;
    `sentence` names the sentence written, whose neighbours are looked at first (NULL: none)."""

    def gap(*where: Any) -> Any:  # a sentence of the article without the user's label
        return exists().where(
            _sentences.c.article_id == bindparam(article), *where,
            ~exists().where(_annotations.c.sentence_id == _sentences.c.id, _annotations.c.user_id == bindparam(user)),
        )

    written = select(_sentences.c.index).where(_sentences.c.id == bindparam(sentence)).scalar_subquery()
    near = gap(_sentences.c.index >= written - 1, _sentences.c.index <= written + 1)
    return exists().where(_sentences.c.article_id == bindparam(article)), and_(~near, ~gap())


ALL_LABELLED = Prepared(select(*_all_labelled("article_id", "user_id", "sentence_id")))
SET_ASSIGNMENT_STATUS = PreparedWrite(update(_assignments).where(_assignments.c.id == bindparam("assignment_id")).values(status=bindparam("new_status")))
# SQLite: the three above as one UPDATE (its writers run one at a time, so nothing can come between the read and the
# write). Not on PostgreSQL: after waiting for the row's lock, an UPDATE's subqueries still see what was committed
# before it began, so another tab's label could be missed; there the lock is taken first, then the sentences read.
# The parameter names are no column's (an UPDATE compiled for a column's name would SET it).
_WANTED = case((and_(*_all_labelled("of_article", "of_user", "of_sentence")), "done"), else_="in_progress")
MARK_PROGRESS = PreparedWrite(
    update(_assignments).where(_assignments.c.id == bindparam("assignment_id"), _assignments.c.status != _WANTED).values(status=_WANTED)
)


def _mark_progress(session: Session, access: Access, user_id: int, labels_changed: bool, sentence_id: int | None = None) -> None:
    """assigned -> in_progress on the first write; done exactly when every sentence has a label. `sentence_id`: a
    sentence whose label was written (the access's when not given), whose neighbours are looked at first."""
    if sentence_id is None:
        sentence_id = access.sentence_id
    if not labels_changed:
        if access.assignment_status == "assigned":
            START_ASSIGNMENT.run(session, {"assignment_id": access.assignment_id})
        return
    if session.get_bind().dialect.name == "sqlite":
        MARK_PROGRESS.run(session, {"assignment_id": access.assignment_id, "of_article": access.article_id, "of_user": user_id,
                                    "of_sentence": sentence_id})
        return
    # Lock the assignment first so two label writes of one user count after each other (PostgreSQL).
    status = LOCK_ASSIGNMENT.scalar(session, {"assignment_id": access.assignment_id})
    any_sentence, all_labelled = ALL_LABELLED.rows(session, {"user_id": user_id, "article_id": access.article_id, "sentence_id": sentence_id})[0]
    wanted = "done" if any_sentence and all_labelled else "in_progress"
    if status != wanted:
        SET_ASSIGNMENT_STATUS.run(session, {"assignment_id": access.assignment_id, "new_status": wanted})


def changed(
    session: Session, access: Access, user_id: int, labels_changed: bool = False, gold_of: Literal["label", "rater", "article"] | None = None
) -> None:
    """After a write: the assignment's progress, the automatic gold of what changed (`gold_of`: "label", a label's value
    on the access's sentence; "rater", a label created or removed there; "article", a span or link of the article;
    None: nothing gold depends on), then the project revision bump (caches keyed by the old one go stale).
    Inside `deferred(session)` (a batch) it only notes them, for the batch's end."""
    pending = session.info.get(_PENDING)
    if pending is not None:
        pending.note(access, user_id, labels_changed, gold_of)
        return
    _mark_progress(session, access, user_id, labels_changed)
    if gold_of in ("label", "rater"):
        assert access.sentence_id is not None
        gold.label_changed(session, access.project_id, access.article_id, access.sentence_id, raters_changed=gold_of == "rater")
    elif gold_of == "article":
        gold.article_changed(session, access.project_id, access.article_id)
    BUMP_REVISION.run(session, {"project_id": access.project_id})  # last: the project row is the most contended lock


_PENDING = "annotator.trail.pending"  # session.info key: the batch running in this session


@dataclass
class Pending:
    """What the writes of a batch left to do, noted by changed(): one article of one annotator (a batch's scope)."""

    access: Access | None = None  # the first write's (its assignment, article, project; its sentence is not used)
    user_id: int | None = None
    labels_changed: bool = False
    labelled_sentence: int | None = None  # the last sentence whose label was created or removed (progress looks there first)
    label_sentences: set[int] = field(default_factory=set)  # a label's value changed there
    rater_sentences: set[int] = field(default_factory=set)  # a label was created or removed there
    article: bool = False  # a span or a relation changed
    audits: list[dict[str, Any]] = field(default_factory=list)  # the operations' audit entries, in their order

    def note(self, access: Access, user_id: int, labels_changed: bool, gold_of: str | None) -> None:
        if self.access is None:
            self.access, self.user_id = access, user_id
        elif (access.article_id, user_id) != (self.access.article_id, self.user_id):
            raise ValueError("a batch of changes is one annotator's on one article")
        self.labels_changed |= labels_changed
        if labels_changed and access.sentence_id is not None:
            self.labelled_sentence = access.sentence_id
        if gold_of in ("label", "rater"):
            assert access.sentence_id is not None
            (self.label_sentences if gold_of == "label" else self.rater_sentences).add(access.sentence_id)
        elif gold_of == "article":
            self.article = True

    def settle(self, session: Session) -> None:
        """What every noted write would have done, once: the audit entries (one statement), progress, gold, one revision
        bump (nothing when nothing changed)."""
        if self.audits:
            AUDIT_INSERT.run(session, self.audits if len(self.audits) > 1 else self.audits[0])
        access = self.access
        if access is None or self.user_id is None:
            return  # every operation was a repeat or changed nothing: as their single saves, no bookkeeping
        _mark_progress(session, access, self.user_id, self.labels_changed, self.labelled_sentence)
        if self.article or self.label_sentences or self.rater_sentences:
            gold.writes_changed(session, access.project_id, access.article_id, self.label_sentences, self.rater_sentences, self.article)
        BUMP_REVISION.run(session, {"project_id": access.project_id})  # last: the project row is the most contended lock


@contextmanager
def deferred(session: Session) -> Iterator[Pending]:
    """Run a batch's writes with their bookkeeping noted, and do it once when the block ends without an error
    (after an error the caller rolls the transaction back: nothing to do). Not nested."""
    if _PENDING in session.info:
        raise RuntimeError("a batch of changes is already running in this session")
    pending = session.info[_PENDING] = Pending()
    try:
        yield pending
    finally:
        del session.info[_PENDING]  # before settling: the settling is not noted again
    pending.settle(session)
