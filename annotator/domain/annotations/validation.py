"""What a client may send: the checks every write path runs (the API, the importer), and the error they raise.

Pure functions of the values and the project's label schema; no database.
"""
from __future__ import annotations

import math
import re
from typing import Any

from annotator.domain import labelschema
from annotator.stats.textcheck import MAX_DB_INT

# Client-generated ids for spans and relations (a uuid4 hex fits).
UID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}\Z")  # \Z: "$" also matches before a final newline
# Seconds one request may add to a label's time: a tab left open over lunch is not work.
MAX_SECONDS_PER_WRITE = 3600.0
# A label's seconds, summed over its writes, that an import may bring: past any real work (31 years), and far inside
# what the agreement figures read as whole milliseconds (a bigint): 1e300 imported made them a 500 on PostgreSQL.
MAX_LABEL_SECONDS = 1_000_000_000


class AnnotationError(ValueError):
    """A request that cannot be carried out; `status` is the HTTP status that fits, `extra` goes into the JSON reply."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def is_int(value: Any) -> bool:
    """True for real integers only: JSON true/false arrive as bools, which Python counts as ints."""
    return isinstance(value, int) and not isinstance(value, bool)


def show(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    if is_int(value) and abs(value) > 10**15:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def check_int(name: str, value: Any) -> int:
    if not is_int(value):
        raise AnnotationError(400, f"{name} must be an integer, not {_type_name(value)}")
    return value


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise AnnotationError(400, f"{name} must be a string, not {_type_name(value)}")
    return value


def check_uid(value: Any, name: str = "id") -> str:
    """A client-chosen id for a new span or relation."""
    check_str(name, value)
    if not UID_PATTERN.match(value):
        raise AnnotationError(400, f"{name} must be 8 to 64 letters, digits, '_' or '-' (got {show(value)})")
    return value


def taken(uid: str, what: str) -> str:
    """The 409 for a new span's or relation's id that is taken in the article: by one's own with other content or by
    another annotator's, in the same words (blind annotation: whose it is is not told)."""
    return f"{what} id {uid!r} is taken by other content; choose another id"


def check_ref(value: Any, name: str) -> str:
    """A reference to an existing span uid (imported spans may have shorter ids than new ones)."""
    check_str(name, value)
    if not 1 <= len(value) <= 64:
        raise AnnotationError(400, f"{name} must be a span id of 1 to 64 characters")
    return value


def check_label(schema: dict[str, Any], label: Any) -> str:
    """A sentence label the project's schema allows."""
    check_str("label", label)
    allowed = labelschema.names(schema, "sentence_labels")
    if label not in allowed:
        raise AnnotationError(422, f"unknown sentence label {show(label)} (this project's labels: {', '.join(allowed)})")
    return label


def check_span(schema: dict[str, Any], text_length: int, label: Any, start: Any, end: Any) -> tuple[str, int, int]:
    """A span label from the schema and code-point offsets with 0 <= start < end <= text_length."""
    check_str("label", label)
    check_int("start", start)
    check_int("end", end)
    allowed = labelschema.names(schema, "span_labels")
    if label not in allowed:
        raise AnnotationError(422, f"unknown span label {show(label)} (this project's span labels: {', '.join(allowed) or 'none'})")
    if not (0 <= start < end <= text_length):
        raise AnnotationError(
            422, f"span offsets must satisfy 0 <= start < end <= {text_length} (the text's length); got start={show(start)}, end={show(end)}"
        )
    return label, start, end


def check_relation(schema: dict[str, Any], rel_type: Any, from_label: str, to_label: str) -> str:
    """A relation type the schema allows between spans with these labels."""
    check_str("type", rel_type)
    reason = labelschema.relation_allows(schema, rel_type, from_label, to_label)
    if reason:
        raise AnnotationError(422, reason)
    return rel_type


def check_seconds(value: Any) -> float:
    """Time spent, finite and >= 0; more than MAX_SECONDS_PER_WRITE in one write is capped."""
    if not (is_int(value) or isinstance(value, float)):
        raise AnnotationError(400, f"seconds must be a number, not {_type_name(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise AnnotationError(400, "seconds must be a finite number")
    if value < 0:
        raise AnnotationError(422, f"seconds must be >= 0 (got {show(value)})")
    return MAX_SECONDS_PER_WRITE if value > MAX_SECONDS_PER_WRITE else float(value)


def check_version(value: Any) -> int | None:
    """The label version a client last saw (0: it saw no label), or None: last write wins."""
    if value is None:
        return None
    check_int("version", value)
    if not 0 <= value <= MAX_DB_INT:  # no label has one (a 32-bit column): a 409 "changed elsewhere" would mislead
        raise AnnotationError(400, f"version out of range: must be 0 to {MAX_DB_INT}, the label's version last seen")
    return value


def check_sentence_bounds(value: Any) -> tuple[int, int] | None:
    """The sentence's offsets as the client saw them, or None: no check.

    Clients address sentences by index; a reviewer may split or merge sentences
    while an article is open, so a label sent for "sentence 4" could land on a
    different stretch of text. A client that sends the bounds it saw gets a 409
    instead.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise AnnotationError(400, "sentence must be an object {\"start\": int, \"end\": int}")
    check_int("sentence.start", value["start"])
    check_int("sentence.end", value["end"])
    return value["start"], value["end"]

