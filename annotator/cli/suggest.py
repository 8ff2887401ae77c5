"""`annotator suggest ...`: suggested annotations from the command line.

`annotator suggest text [FILE|-]` prints the attribution suggester's QUOTE /
SOURCE / CUE spans and links for a `.txt` article or a `.jsonl` file of
`{"id", "text"}` lines, one JSON line per article, with code-point offsets
(like `annotator segment`).  The whole input is read and checked before
anything is printed: a bad line exits non-zero with `FILE:LINE: reason`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from annotator.domain.dataset.ingest import IngestError, decode, jsonl_objects
from annotator.stats.attribution import DEFAULT_THRESHOLD, suggest

STDIN_ID = "stdin"


@click.group("suggest")
def suggest_group() -> None:
    """Suggested annotations (the attribution suggester)."""


@suggest_group.command("text")
@click.argument("file", default="-")
@click.option("--threshold", type=click.FloatRange(0, 1), default=DEFAULT_THRESHOLD, show_default=True,
              help="Keep suggestions scoring at least this much.")
def text_command(file: str, threshold: float) -> None:
    """Suggest quotes, sources, cues and links for FILE (.txt or .jsonl; '-' or nothing: stdin).

    Stdin is read as JSONL when it starts with '{', else as one article.
    Prints {"id", "spans", "relations"} per article.
    """
    try:
        articles = read_articles(file)
    except IngestError as exc:
        raise click.ClickException(str(exc)) from None
    out = sys.stdout
    for article_id, text in articles:
        row = {"id": article_id, **suggest(text, threshold=threshold).to_dict()}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_articles(file: str) -> list[tuple[str, str]]:
    """(id, text) of each article in FILE; IngestError names the file and line."""
    if file == "-":
        name = "<stdin>"
        text = decode(sys.stdin.buffer.read(), name)
        if text.lstrip().startswith("{"):
            return parse_jsonl(text, name)
        return [(STDIN_ID, _article_text(text, name))]
    suffix = Path(file).suffix.lower()
    if suffix not in (".txt", ".jsonl"):
        raise IngestError(file, None, f"unknown format {suffix or '(no extension)'!r}; use .txt or .jsonl")
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise IngestError(file, None, f"cannot read: {exc.strerror}") from None
    text = decode(data, file)
    if suffix == ".txt":
        return [(Path(file).stem, _article_text(text, file))]
    return parse_jsonl(text, file)


def _article_text(text: str, name: str, line: int | None = None) -> str:
    if not text.strip():
        raise IngestError(name, line, "empty text")
    return text


def parse_jsonl(text: str, name: str) -> list[tuple[str, str]]:
    """`{"id", "text"}` per line (other keys are ignored); the id defaults to FILE-LINE, as on import."""
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for lineno, obj in jsonl_objects(text, name):
        if not isinstance(obj, dict):
            raise IngestError(name, lineno, f"expected a JSON object, got {type(obj).__name__}")
        if "text" not in obj:
            raise IngestError(name, lineno, "missing 'text'")
        if not isinstance(obj["text"], str):
            raise IngestError(name, lineno, f"'text' must be a string, got {type(obj['text']).__name__}")
        raw_id = obj.get("id", f"{Path(name).stem}-{lineno}")
        if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
            raise IngestError(name, lineno, "'id' must be a string or an integer")
        article_id = str(raw_id)
        if article_id in seen:
            raise IngestError(name, lineno, f"duplicate id {article_id!r} (first on line {seen[article_id]})")
        seen[article_id] = lineno
        out.append((article_id, obj["text"]))
    if not out:
        raise IngestError(name, None, "no articles in file")
    return out


SUGGEST_COMMANDS = (suggest_group,)
