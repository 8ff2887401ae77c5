"""A sentence label: set (last write wins, or a 409 on a stale version or moved sentence bounds) and delete."""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from annotator.db.models import Annotation, utcnow
from annotator.domain.annotations.access import Access, writable_article
from annotator.domain.annotations.idempotency import Request, once, request_fingerprint
from annotator.domain.annotations.statements import LOCK_LABEL, UPDATE_LABEL, insert_ignoring_conflict
from annotator.domain.annotations.trail import audit, changed
from annotator.domain.annotations.transaction import WRITE_ATTEMPTS
from annotator.domain.annotations.validation import (
    AnnotationError,
    check_label,
    check_seconds,
    check_sentence_bounds,
    check_str,
    check_uid,
    check_version,
)
from annotator.domain.records import label_json as label_dict


def _label_of(row: Any, sentence_index: int) -> dict[str, Any]:
    return label_dict(sentence_index, row.label, row.seconds, row.guidelines_version, row.version, row.updated_at, row.needs_review)



def _locked_label(session: Session, user_id: int, sentence_id: int) -> Any:
    return LOCK_LABEL.first(session, {"user_id": user_id, "sentence_id": sentence_id})


def put_label(
    session: Session,
    user_id: int,
    article_id: int,
    sentence_index: int,
    label: Any,
    seconds: Any = 0.0,
    version: Any = None,
    sentence: Any = None,
    request_id: Any = None,
) -> dict[str, Any]:
    """Set the caller's label on a sentence (last write wins; a stale `version` is a 409). Returns the label object.

    `sentence`, the {start, end} the client saw, guards against segmentation
    corrected meanwhile (409 with `sentences_changed`). `request_id`, the
    client's id for this save, makes a retry of it count once (idempotency.py).
    """
    added, expected, seen = _checked(label, seconds, version, sentence)
    if request_id is None:
        return _put_label(session, user_id, article_id, sentence_index, label, added, expected, seen)
    request = _request(user_id, article_id, sentence_index, label, added, expected, seen, request_id)
    # a repeat: the first answer, nothing written (the key is looked up with the access query, stored with the answer)
    return once(session, request, lambda: _put_label(session, user_id, article_id, sentence_index, label, added, expected, seen, request))


def label_request(
    user_id: int, article_id: int, sentence_index: int, label: Any, seconds: Any = 0.0, version: Any = None, sentence: Any = None,
    request_id: Any = None,
) -> Request | None:
    """The key put_label with these arguments stores its answer under (None without a request id), for write()'s
    `keyed`: only asked for when every attempt met a conflict, so the hot path checks its arguments once."""
    if request_id is None:
        return None
    return _request(user_id, article_id, sentence_index, label, *_checked(label, seconds, version, sentence), request_id)


def _checked(label: Any, seconds: Any, version: Any, sentence: Any) -> tuple[float, int | None, tuple[int, int] | None]:
    check_str("label", label)
    return check_seconds(seconds), check_version(version), check_sentence_bounds(sentence)


def _request(user_id: int, article_id: int, sentence_index: int, label: str, added: float, expected: int | None,
             seen: tuple[int, int] | None, request_id: Any) -> Request:
    return Request(user_id, check_uid(request_id, "request_id"), request_fingerprint(article_id, sentence_index, label, added, expected, seen),
                   article_id)


def _put_label(
    session: Session, user_id: int, article_id: int, sentence_index: int, label: str, added: float, expected: int | None,
    seen: tuple[int, int] | None, request: Request | None = None,
) -> dict[str, Any]:
    access = writable_article(session, user_id, article_id, sentence_index, request)
    if seen is not None and seen != access.sentence_bounds:
        raise AnnotationError(
            409,
            f"sentence {sentence_index} is no longer the text you labelled (a reviewer split or merged sentences); reload the article",
            sentences_changed=True,
        )
    check_label(access.schema, label)
    assert access.sentence_id is not None
    for _ in range(WRITE_ATTEMPTS):
        current = _locked_label(session, user_id, access.sentence_id)
        if expected is not None and expected != (current.version if current else 0):
            raise AnnotationError(
                409,
                "this label was changed elsewhere (another tab?) since you loaded it",
                current=_label_of(current, sentence_index) if current else None,
            )
        if current is not None:
            return _update_label(session, access, user_id, sentence_index, current, label, added)
        created = _create_label(session, access, user_id, sentence_index, label, added)
        if created is not None:
            return created
        # another request created it a moment ago: read it and update it instead
    raise AnnotationError(503, "the label kept changing under this request; try again")


def _create_label(session: Session, access: Access, user_id: int, sentence_index: int, label: str, seconds: float) -> dict[str, Any] | None:
    """Insert the caller's first label on the sentence; None when another request inserted one first."""
    now = utcnow()
    values = dict(
        user_id=user_id,
        sentence_id=access.sentence_id,
        label=label,
        seconds=seconds,
        guidelines_version=access.guidelines_version,
        version=1,
        needs_review=False,
        updated_at=now,
    )
    if insert_ignoring_conflict(session, Annotation, values) is None:
        return None
    after = label_dict(sentence_index, label, seconds, access.guidelines_version, 1, now, False)
    audit(session, user_id, access.project_id, access.article_id, "label", str(access.sentence_id), "create", None, after)
    changed(session, access, user_id, labels_changed=True, gold_of="rater")
    return after


def _update_label(session: Session, access: Access, user_id: int, sentence_index: int, current: Any, label: str, added: float) -> dict[str, Any]:
    """Overwrite the caller's label row `current` (locked): the time adds up, the version counts the write."""
    now = utcnow()
    before = _label_of(current, sentence_index)
    total = float(current.seconds) + added
    UPDATE_LABEL.run(
        session,
        {"row_id": current.id, "new_label": label, "new_seconds": total, "new_guidelines_version": access.guidelines_version,
         "new_version": current.version + 1, "now": now},
    )
    after = label_dict(sentence_index, label, total, access.guidelines_version, current.version + 1, now, False)
    audit(session, user_id, access.project_id, access.article_id, "label", str(access.sentence_id), "update", before, after)
    changed(session, access, user_id, gold_of="label" if label != current.label else None)  # more seconds alone: gold stays
    return after


def delete_label(session: Session, user_id: int, article_id: int, sentence_index: int, version: Any = None) -> None:
    """Remove the caller's label from a sentence (404 when there is none).

    `version`, the label version the client last saw, makes a removal over a label changed meanwhile (another tab)
    a 409 with `current`, as for a put: the page's undo removes a label it set, never one set elsewhere since.
    """
    expected = check_version(version)
    access = writable_article(session, user_id, article_id, sentence_index)
    assert access.sentence_id is not None
    current = _locked_label(session, user_id, access.sentence_id)
    if current is None:
        raise AnnotationError(404, f"sentence {sentence_index} has no label of yours")
    if expected is not None and expected != current.version:
        raise AnnotationError(409, "this label was changed elsewhere (another tab?) since you loaded it", current=_label_of(current, sentence_index))
    session.execute(delete(Annotation).where(Annotation.id == current.id))
    audit(session, user_id, access.project_id, article_id, "label", str(access.sentence_id), "delete", _label_of(current, sentence_index), None)
    changed(session, access, user_id, labels_changed=True, gold_of="rater")
