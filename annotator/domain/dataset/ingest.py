"""Read article files (.txt, .jsonl, .csv) into records, exactly as written.

Text is decoded as UTF-8 (a leading BOM is dropped) with no newline
translation, so a CRLF file keeps its "\r\n" and offsets stay true to the file.
Every problem is an IngestError that names the file and the line.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from annotator.stats import strict_json, textcheck

FORMATS = (".txt", ".jsonl", ".csv")
STDIN = "-"
# Keys of the annotated article format; such files belong to import-annotations.
_ANNOTATION_KEYS = frozenset({"sentences", "annotations", "gold"})
_CORE_KEYS = frozenset({"id", "title", "text", "meta"})
_CSV_COLUMNS = frozenset({"id", "title", "text"})  # a CSV's other columns, "meta" included, go into meta
# A \u escape in a JSON text (a regex finds it several times faster than `in` does in non-ASCII text)
_UNICODE_ESCAPE = re.compile(r"\\u")
MAX_ID = 255  # an article id's characters (the column's length)
_KEYS_SHOWN = 8  # a line's keys named in a missing-key message, at most


class IngestError(ValueError):
    """A file or line that cannot be imported: `FILE:LINE: reason`."""

    def __init__(self, file: str, line: int | None, reason: str):
        self.file, self.line, self.reason = file, line, reason
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class ArticleRecord:
    external_id: str
    title: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    line: int | None = None  # where it came from, for error messages


def expand_paths(paths: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """Yield (path, explicit) for each file; folders give their importable files, sorted."""
    for raw in paths:
        if raw == STDIN:
            yield raw, True
            continue
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts):
                    yield str(child), False
        else:
            yield raw, True


def decode(data: bytes, name: str) -> str:
    """UTF-8 with the BOM dropped and nothing else changed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(name, line, f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8") from None
    return text


def read_path(name: str, stdin: io.BufferedIOBase | None = None) -> list[ArticleRecord]:
    """Read one file (or '-' for JSONL on stdin) into records; raise IngestError."""
    if name == STDIN:
        if stdin is None:
            raise IngestError(name, None, "no standard input")
        return parse_jsonl(decode(stdin.read(), "<stdin>"), "<stdin>")
    if textcheck.problem(name):  # a folder's file: the file system names it, and Python keeps bytes not UTF-8 as lone surrogates
        raise IngestError(os.fsencode(name).decode("utf-8", "backslashreplace"), None,
                          "the file's name is not valid UTF-8; rename the file (a .txt file's name is its article's id)")
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise IngestError(name, None, f"unknown format {suffix or '(no extension)'!r}; use .txt, .jsonl or .csv")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(name, None, f"cannot read: {exc.strerror}") from None
    return read_bytes(data, name)


def read_bytes(data: bytes, name: str) -> list[ArticleRecord]:
    """Parse a file's content already in memory (a browser upload); `name` picks the format and names errors."""
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise IngestError(name, None, f"unknown format {suffix or '(no extension)'!r}; use .txt, .jsonl or .csv")
    text = decode(data, name)
    if suffix == ".txt":
        return [parse_txt(text, name, Path(name).stem)]
    if suffix == ".jsonl":
        return parse_jsonl(text, name)
    return parse_csv(text, name)


def parse_txt(text: str, name: str, external_id: str) -> ArticleRecord:
    """One article; its first non-empty line is the title, the whole file is the text. The file's name is held to an id's
    rules, as a JSONL or CSV id is (_external_id): a browser sends any name, and one of 300 characters (a 500 on
    PostgreSQL) or of a space alone was stored as it came."""
    external_id = external_id.strip()
    if not external_id or len(external_id) > MAX_ID:
        raise IngestError(name, None, f"the file's name, the article's id, must be 1 to {MAX_ID} characters (its ends stripped)")
    reason = id_problem(external_id)
    if reason:
        raise IngestError(name, None, f"the file's name, the article's id, {reason}")
    _check_text(text, name, None)
    title = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return ArticleRecord(external_id=external_id, title=title, text=text, meta={}, line=1)


def jsonl_objects(text: str, file: str) -> Iterator[tuple[int, Any]]:
    """(line, object) for each non-empty line; FILE:LINE on invalid JSON.

    Splits on "\n" only: a JSON string cannot hold a raw newline, and "\r" before it is JSON whitespace.
    """
    for lineno, _line, obj in _jsonl_lines(text, file):
        yield lineno, obj


def _jsonl_lines(text: str, file: str) -> Iterator[tuple[int, str, Any]]:
    """(line number, line, object) for each non-empty line, as jsonl_objects."""
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line or line.isspace():
            continue
        try:
            obj = strict_json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(file, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        except strict_json.NotJson as exc:
            raise IngestError(file, lineno, f"invalid JSON: {exc}") from None
        yield lineno, line, obj


def parse_jsonl(text: str, name: str) -> list[ArticleRecord]:
    records: list[ArticleRecord] = []
    seen: dict[str, int] = {}
    stem = Path(name).stem
    for lineno, line, obj in _jsonl_lines(text, name):
        if not isinstance(obj, dict):
            raise IngestError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
        # Only a \u escape puts a NUL or a lone surrogate into a string: the text was decoded as strict UTF-8,
        # and JSON refuses raw control characters in strings. Without one, the line's strings need no check.
        records.append(_record(obj, name, lineno, default_id=f"{stem}-{lineno}", seen=seen,
                               storable=not _UNICODE_ESCAPE.search(line)))
    if not records:
        raise IngestError(name, None, "no articles in file")
    return records


def parse_json_array(text: str, name: str) -> list[ArticleRecord]:
    """A JSON array of article objects (the API's bulk add); each record's `line` is its 0-based index,
    and an error names the item: `NAME[3]: missing 'text'`."""
    try:
        data = strict_json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(name, None, f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})") from None
    except strict_json.NotJson as exc:
        raise IngestError(name, None, f"invalid JSON: {exc}") from None
    if not isinstance(data, list):
        raise IngestError(name, None, f"expected a JSON array of articles, got {type(data).__name__}")
    records: list[ArticleRecord] = []
    seen: dict[str, int] = {}
    for index, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise IngestError(f"{name}[{index}]", None, f"expected a JSON object, got {type(obj).__name__}")
        try:
            records.append(_record(obj, name, index, default_id=f"{Path(name).stem}-{index}", seen=seen, place="item"))
        except IngestError as exc:
            raise IngestError(f"{name}[{index}]", None, exc.reason) from None
    if not records:
        raise IngestError(name, None, "no articles in the array")
    return records


def parse_csv(text: str, name: str) -> list[ArticleRecord]:
    """Columns id, title, text; any other column goes to meta."""
    # strict: a quote left open runs to the end of the file (or into a later quote) instead of silently
    # swallowing the rows after it into one article's text
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)  # a quote never closed in the first row, say, is a csv.Error
    except csv.Error as exc:
        raise IngestError(name, 1, f"the header row is not valid CSV ({exc})") from None
    if not header or "text" not in header:
        raise IngestError(name, 1, "the header row must have a 'text' column (and optionally 'id', 'title')")
    # A dict keeps the last of two columns of one name: 'id,text,text' took the second cell as the text, silently.
    # Unnamed columns (a spreadsheet's trailing commas) are left alone: their cells go to meta under "" as before.
    named: set[str] = set()
    twice = next((column for column in header if column and (column in named or named.add(column))), None)  # type: ignore[func-returns-value]
    if twice is not None:
        raise IngestError(name, 1, f"the header row names the column {twice[:60]!r} twice; rename or drop one")
    records: list[ArticleRecord] = []
    seen: dict[str, int] = {}
    # `line` is where the row starts in the file, for its errors; `id_line` the number a file without ids has always
    # made its ids of, which does not count the empty lines before the row (re-importing such a file must find the
    # ids it stored), whereas an error named the empty line, one above the row
    line = id_line = reader.line_num + 1
    try:
        for cells in reader:
            if cells:  # an empty line is no row
                _check_cell_count(cells, header, name, line)
                row = dict(zip(header, cells, strict=True))
                obj: dict[str, Any] = {k: row[k] for k in ("id", "title", "text") if k in row}
                if not obj.get("id"):
                    obj.pop("id", None)
                obj["meta"] = {k: v for k, v in row.items() if k not in _CSV_COLUMNS}  # a column named "meta" too
                records.append(_record(obj, name, line, default_id=f"{Path(name).stem}-{id_line}", seen=seen))
                id_line = reader.line_num + 1
            line = reader.line_num + 1
    except csv.Error as exc:
        opened = _open_quote_line(text, line) if "end of data" in str(exc) or "expected after" in str(exc) else None
        if opened is not None:
            raise IngestError(name, opened, f"a quoted field opened on this line is never closed ({exc}); "
                                            "close the quote (a quote inside a field is written twice: \"\")") from None
        raise IngestError(name, line, f"malformed CSV: {exc}") from None
    if not records:
        raise IngestError(name, None, "no articles in file")
    return records


def _check_cell_count(cells: list[str], header: list[str], name: str, line: int) -> None:
    """Every row has a cell for each column of the header. A row short of its text said "missing 'text'" of a file
    whose header has it, and one short of a meta column stored None there: the count says what is wrong."""
    if len(cells) != len(header):
        remedy = ("a comma inside a cell needs the cell in double quotes" if len(cells) > len(header)
                  else "an empty cell is still written, between its commas")
        count = f"{len(cells)} cell" + ("" if len(cells) == 1 else "s")
        raise IngestError(name, line, f"the row has {count} where the header has {len(header)}; {remedy}")


def missing_key(key: str, keys: Iterable[Any], place: str = "line") -> str:
    """`missing 'text' (the line has 'id', 'txt': did you mean 'text'?)`: a bare "missing 'text'" left a user
    hunting for the typo in a line they believed had it. One line whatever the keys hold (repr escapes breaks)."""
    return f"missing {key!r}{keys_hint(key, keys, place)}"


def keys_hint(key: str, keys: Iterable[Any], place: str = "line") -> str:
    """` (the line has 'id', 'txt': did you mean 'text'?)`, what a record without `key` has instead."""
    names = [str(k) for k in keys]
    if not names:
        return f" (the {place} has no keys)"
    shown = ", ".join(repr(k[:60]) for k in names[:_KEYS_SHOWN]) + (f" and {len(names) - _KEYS_SHOWN} more" if len(names) > _KEYS_SHOWN else "")
    near = difflib.get_close_matches(key, [k for k in names if k != key], n=1)
    return f" (the {place} has {shown}: did you mean {key!r}?)" if near else f" (the {place} has {shown})"


def _open_quote_line(text: str, first: int) -> int | None:
    """The line (from `first`, where the failing row starts) on which a quoted field opens and is not closed on it:
    the first of the row's physical lines with an odd number of quote characters."""
    lines = text.split("\n")
    for number in range(first, min(len(lines), first + 1_000) + 1):
        row = lines[number - 1]
        if row.count('"') % 2 == 1:
            return number
    return None


def _record(obj: dict[str, Any], name: str, line: int, default_id: str, seen: dict[str, int], place: str = "line",
            storable: bool = False) -> ArticleRecord:
    """The record of one article object; `storable`: its strings are known to hold no NUL or lone surrogate."""
    if _ANNOTATION_KEYS & obj.keys():
        raise IngestError(name, line, "this line carries annotations; use 'annotator import-annotations'")
    text = obj.get("text")
    if text is None:
        raise IngestError(name, line, missing_key("text", obj, place) if "text" not in obj else "'text' must be a string, got null")
    if not isinstance(text, str):
        raise IngestError(name, line, f"'text' must be a string, got {type(text).__name__}")
    _check_text(text, name, line, storable)
    external_id = _external_id(obj.get("id", default_id), name, line, storable)
    if external_id in seen:
        raise IngestError(name, line, f"duplicate id {external_id!r} (first on {place} {seen[external_id]})")
    seen[external_id] = line
    title = obj.get("title", "")
    if title is None:
        title = ""
    if not isinstance(title, str):
        raise IngestError(name, line, "'title' must be a string")
    meta = obj.get("meta", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise IngestError(name, line, "'meta' must be a JSON object")
    extra = {k: v for k, v in obj.items() if k not in _CORE_KEYS}
    if extra:
        # {"meta": {"source": "wire"}, "source": "agency"} kept one of the two values without a word
        clash = next((k for k, v in extra.items() if k in meta and meta[k] != v), None)
        if clash is not None:
            raise IngestError(name, line, f"{clash[:60]!r} is given both as a field of the {place} and in 'meta', with other values; keep one")
        meta = {**meta, **extra}
    if storable:
        return ArticleRecord(external_id=external_id, title=title, text=text, meta=meta, line=line)
    meta_json = json.dumps(meta, ensure_ascii=False)
    for what, value in (("title", title), ("meta", meta_json)):
        reason = "contains a NUL character" if "\\u0000" in meta_json and what == "meta" else _unstorable(value)
        if reason:
            raise IngestError(name, line, f"{what} {reason}")
    return ArticleRecord(external_id=external_id, title=title, text=text, meta=meta, line=line)


def _external_id(raw_id: Any, name: str, line: int, storable: bool) -> str:
    """The record's id as stored; a NUL or lone surrogate in it is refused like one in the text (PostgreSQL failed the
    id's lookup with a 500 or a traceback, SQLite stored it)."""
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise IngestError(name, line, "'id' must be a string or an integer")
    external_id = str(raw_id).strip()
    if not external_id or len(external_id) > MAX_ID:
        raise IngestError(name, line, f"'id' must be 1 to {MAX_ID} characters")
    reason = (None if storable else _unstorable(external_id)) or id_problem(external_id)
    if reason:
        raise IngestError(name, line, f"'id' {reason}")
    return external_id


def id_problem(external_id: str) -> str | None:
    """Why an article id cannot be stored, or None. An id is one line of visible text: a line break in it (a JSON
    "\\n" escape, a quoted CSV field) made an article that `annotator assign --articles-from`, one id a line, cannot
    name, and a bidirectional control makes an id read as another. A tab inside is kept: a list names it."""
    where = textcheck.not_one_line(external_id, tabs=True)
    if where:
        return (f"{textcheck.shown(external_id)} holds a line break or control character ({where}): an article id "
                "is one line without control characters (a tab aside), so that a list of ids, one a line, can name it")
    return None


def _check_text(text: str, name: str, line: int | None, storable: bool = False) -> None:
    if not text or text.isspace():
        raise IngestError(name, line, "empty text")
    reason = None if storable else _unstorable(text)
    if reason:
        raise IngestError(name, line, f"text {reason}")


def _unstorable(value: str) -> str | None:
    """Characters no database stores faithfully: NUL, and lone surrogates from JSON escapes (see textcheck)."""
    return textcheck.problem(value)
