"""The REST API's `?cursor=`: where the next page of a list starts, as the `next` link carries it.

A cursor names its list (the endpoint and its path values) and the id of the last item the page before
showed; the next page is the items after that id (domain/catalog.Window), so a walk along the `next` links
sees every item that exists for the whole walk exactly once, whatever is added or deleted meanwhile. It
also carries the page's number in the walk, which the answer reports as `page`.

It is opaque to clients (URL-safe base64 of a small JSON object) and not signed: a made-up cursor can at
most start a list the caller may read anyway at another item. Anything that is not a cursor this API gave
out for this list is a CursorError, which the API answers with a 400 saying so.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from annotator.stats.textcheck import MAX_DB_INT

MAX_LENGTH = 500  # a cursor is some 60-100 characters; more is not one of ours
MAX_NUMBER = MAX_DB_INT  # ids are INTEGER: a larger `after` was a 500 on PostgreSQL ("integer out of range")
VERSION = 1
ALPHABET = re.compile(r"[A-Za-z0-9_-]+")  # URL-safe base64 without its padding


class CursorError(ValueError):
    """Not a cursor of this list: garbled, made up, or from another list."""


@dataclass(frozen=True)
class Cursor:
    after: int  # the id of the last item of the page before
    page: int  # this page's number in the walk that began at page 1


def list_key(endpoint: str, path_values: dict[str, Any]) -> str:
    """The list a cursor belongs to: `rest_data.list_articles?project_id=7` (a cursor of project 7 is no cursor of 8)."""
    return endpoint + "?" + "&".join(f"{name}={path_values[name]}" for name in sorted(path_values))


def encode(key: str, cursor: Cursor) -> str:
    raw = json.dumps({"v": VERSION, "list": key, "after": cursor.after, "page": cursor.page}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= MAX_NUMBER


def decode(key: str, text: str) -> Cursor:
    """The cursor `text` for the list `key`; CursorError when it is not one `encode` made for that list."""
    garbled = CursorError("cursor is not one this API gave out: follow the `next` links as they come, "
                          "or leave cursor out to start at the first page")
    if len(text) > MAX_LENGTH or not ALPHABET.fullmatch(text):
        raise garbled
    try:
        doc = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("utf-8"))
    except (binascii.Error, ValueError):  # bad base64, bytes that are not UTF-8, text that is not JSON
        raise garbled from None
    if not (isinstance(doc, dict) and set(doc) == {"v", "list", "after", "page"} and doc["v"] == VERSION
            and isinstance(doc["list"], str) and _whole(doc["after"], 0) and _whole(doc["page"], 2)):
        raise garbled
    if doc["list"] != key:
        raise CursorError("cursor belongs to another list: a cursor only goes with the list whose `next` link gave it")
    return Cursor(doc["after"], doc["page"])
