"""Checking single values of an import record: each check returns the value or raises Bad with the reason (the caller adds FILE:LINE)."""
from __future__ import annotations

import difflib
from datetime import datetime, timezone
from typing import Any, Callable

from annotator.domain.annotations import AnnotationError
from annotator.domain.dataset.ingest import _unstorable
from annotator.domain.wording import plural

MAX_UID = 64


class Bad(Exception):
    """A reason; the caller adds FILE:LINE (`line`, when set: the line of the file the bad part came from, which a
    foreign reader's record spanning several lines knows better than the record's first line)."""

    line: int | None = None


def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def integer(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Bad(f"{what} must be an integer, not {type_name(value)}")
    return value


def string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise Bad(f"{what} must be a string, not {type_name(value)}")
    return value


def listed(obj: dict[str, Any], key: str, what: str) -> list[Any]:
    value = obj.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise Bad(f"{what}{key} must be a list, not {type_name(value)}")
    return value


def an_object(value: Any, what: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Bad(f"{what} must be an object, not {type_name(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        # a misspelt key ("txt") is named with the one it stands for, when that one is missing
        near = [m for k in unknown for m in difflib.get_close_matches(k, sorted(allowed - set(value)), n=1)]
        hint = f" (did you mean {', '.join(map(repr, dict.fromkeys(near)))}?)" if near else ""
        raise Bad(f"{what}: {plural(len(unknown), 'unknown key')} {', '.join(unknown)}{hint}")
    return value


def moment(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    string(value, what)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Bad(f"{what} must be an ISO 8601 time like 2026-11-24T10:00:00Z (got {value[:40]!r})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # year 1 at +14:00, year 9999 at -14:00: in range as written, not in UTC
        raise Bad(f"{what} is out of range: in UTC it falls outside the years 1 to 9999 (got {value[:40]!r})") from None


def an_id(value: Any, what: str) -> str:
    string(value, what)
    if not 1 <= len(value) <= MAX_UID or _unstorable(value):
        raise Bad(f"{what} must be 1 to {MAX_UID} characters")
    return value


def api(check: Callable[..., Any], where: str, *args: Any) -> Any:
    """Run one of annotations.py's checks; its message, prefixed with where it applies."""
    try:
        return check(*args)
    except AnnotationError as exc:
        raise Bad(f"{where}: {exc.message}") from None


def clip(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
