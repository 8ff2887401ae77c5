"""Build dev.jsonl, heldout.jsonl and blind.jsonl from the hand-marked sources next to them.

    python tests/data/attribution/build.py

The marked files hold one article per `=== ID` block; the first line is the
title.  Spans are written inline as [[Qn|text]] (QUOTE), [[Sn|text]] (SOURCE)
and [[C|text]] (CUE); every QUOTE numbered n is attributed_to the SOURCE
numbered n in the same article.  The markup is removed from the text and the
spans get code-point offsets into what remains.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARK = re.compile(r"\[\[([QSC])(\d*)\|(.*?)\]\]", re.S)
LABELS = {"Q": "QUOTE", "S": "SOURCE", "C": "CUE"}


def build_article(article_id: str, marked: str) -> dict:
    text_parts: list[str] = []
    spans: list[dict] = []
    pos = last = 0
    quotes: list[tuple[str, str]] = []
    sources: dict[str, str] = {}
    for m in MARK.finditer(marked):
        before = marked[last:m.start()]
        text_parts.append(before)
        pos += len(before)
        kind, number, inner = m.groups()
        span_id = f"{article_id}-{len(spans) + 1}"
        spans.append({"id": span_id, "label": LABELS[kind], "start": pos, "end": pos + len(inner), "text": inner})
        if kind == "Q":
            quotes.append((span_id, number))
        elif kind == "S":
            if number in sources:
                sys.exit(f"{article_id}: two sources numbered {number}")
            sources[number] = span_id
        text_parts.append(inner)
        pos += len(inner)
        last = m.end()
    text_parts.append(marked[last:])
    text = "".join(text_parts)
    if "[[" in text or "]]" in text:
        sys.exit(f"{article_id}: unbalanced markup")
    relations = []
    for quote_id, number in quotes:
        if number not in sources:
            sys.exit(f"{article_id}: quote {quote_id} has no source numbered {number}")
        relations.append({"type": "attributed_to", "from": quote_id, "to": sources[number]})
    title = text.split("\n", 1)[0]
    return {"id": article_id, "title": title, "text": text, "spans": spans, "relations": relations}


def build(name: str) -> list[dict]:
    source = (HERE / f"{name}.marked.txt").read_text(encoding="utf-8")
    blocks = re.split(r"^=== (\S+)\n", source, flags=re.M)[1:]
    return [build_article(blocks[i], blocks[i + 1].rstrip("\n") + "\n") for i in range(0, len(blocks), 2)]


def main() -> None:
    for name in ("dev", "heldout", "blind"):
        articles = build(name)
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8") as out:
            for article in articles:
                out.write(json.dumps(article, ensure_ascii=False) + "\n")
        print(f"{name}: {len(articles)} articles, {sum(len(a['spans']) for a in articles)} spans")


if __name__ == "__main__":
    main()
