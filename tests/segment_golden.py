"""The segmenter's sentences on a fixed corpus, kept as golden data: a change to them must be on purpose.

    python -m tests.segment_golden      (from the checkout) rewrites tests/data/segment_golden.json.gz

tests/test_segment_golden.py compares segment() with the file. The corpus: every text under tests/data (each file's
whole text and, in JSON, JSONL and zip files, every string in it), GENERATED_COUNT texts generated from a fixed seed
(pieces of news text and of what breaks segmenters, and random characters), and the texts of ../shared/corpus when
it is there. The file holds each text's sentences under a hash of the text, not the text: tests/data has the texts,
the generator makes them again, and ../shared's text is not to be copied into the project. When first written, the
file was checked equal to the answers of the segmenter before its hot paths were rewritten (48c40d4), the frozen copy
it replaces as the tests' oracle (tests/segment_before, until 2026-12).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import sys
import zipfile
from pathlib import Path
from typing import Iterator

from annotator.stats.segment import segment

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GOLDEN = DATA / "segment_golden.json.gz"
SHARED_CORPUS = ROOT.parent / "shared" / "corpus"
REGENERATE = "python -m tests.segment_golden"

GENERATED_SEED = 20261206
GENERATED_COUNT = 8000

# Pieces of news text and of what breaks segmenters: terminators, quotes, brackets, abbreviations, ranks,
# initials, times, amounts, addresses, list markers, emoji, odd spaces and every kind of line break.
PIECES = (
    " ", "  ", "\t", "\u00a0", "\u2009", "\u3000", "\n", "\r\n", "\r", "\u2028", "\x0b", "\x85",
    ".", ". ", "? ", "! ", "… ", "‽ ", "...", ". . .", ". . . .", "?!", ".” ", ".) ", ".’ ", ".' ", ".\" ", "»",
    "(", ")", "[", "]", "“", "”", "‘", "’", "'", "\"", "«", "—", "–", "-", ",", ";", ":",
    "word", "Word", "words", "said", "told", "asked", "she", "The", "It", "It's", "don't", "joined", "was", "has",
    "Dr", "Dr.", "Mr.", "Sen.", "Maj.-Gen.", "Lt. Col.", "Inc.", "Co.", "St.", "Mass.", "Jr.", "etc.", "vs.", "e.g.",
    "U.S.", "U.S", "U.N.", "E.U.", "J.", "J. P.", "I", "a.m.", "p.m.", "Monday", "EST", "No.", "no.", "Jan.", "p.",
    "approx.", "est.", "Approx.", "Nov.", "5", "3.5", "1,000", "$5", "US$1.2", "€40", "USD 5", "10%",
    "iPhone", "Canada", "Senate", "Supreme", "Court", "envoy", "Pierre", "Officials", "However",
    "http://x.y/z", "www.example.org", "x@y.co", "example.org/a.html", "desk@example.co.",
    "1.", "2.", "a)", "b)", "•", "*", "👍🏽", "🇺🇦", "🎉", "e\u0301", "\ud800",
)
_ASCII = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-\n\r\t"


def key(text: str) -> str:
    """The text's name in the golden file (lone surrogates, which news files can hold, hash as themselves)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


# --------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _texts_of(name: str, data: bytes) -> Iterator[str]:
    """The file's whole text, and every string in it when it is JSON or JSONL (a zip: each member's)."""
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from _texts_of(member, archive.read(member))
        return
    text = data.decode("utf-8-sig")
    yield text
    if name.endswith(".json"):
        yield from _strings(json.loads(text))
    elif name.endswith(".jsonl"):
        for line in text.splitlines():
            if line.strip():
                yield from _strings(json.loads(line))


def texts_under(folder: Path) -> dict[str, str]:
    """Every distinct text of the folder's files -> the file it was first found in (relative to the checkout)."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path != GOLDEN:
            for text in _texts_of(path.name, path.read_bytes()):
                found.setdefault(text, os.path.relpath(path, ROOT))
    return found


def generated_texts(seed: int = GENERATED_SEED, count: int = GENERATED_COUNT) -> list[str]:
    """`count` texts from a seeded generator: runs of PIECES, random characters, and mixes of both."""
    rng = random.Random(seed)
    return [_generated(rng) for _ in range(count)]


def _generated(rng: random.Random) -> str:
    kind = rng.randrange(3)
    if kind == 0:
        return _news(rng)
    if kind == 1:
        return _characters(rng)
    return "".join(_news(rng) if rng.random() < 0.5 else _characters(rng) for _ in range(rng.randrange(7)))


def _news(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randrange(81)))


def _characters(rng: random.Random) -> str:
    """Mostly ASCII letters, punctuation and line breaks, else any code point but a surrogate."""
    out = []
    for _ in range(rng.randrange(41)):
        if rng.random() < 0.7:
            out.append(rng.choice(_ASCII))
        else:
            code = rng.randrange(0x110000 - 0x800)
            out.append(chr(code + 0x800 if code >= 0xD800 else code))
    return "".join(out)


def corpus_digest(texts: list[str]) -> str:
    return hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:20]


# --------------------------------------------------------------------------
# The golden file
# --------------------------------------------------------------------------


def flat(spans: list[tuple[int, int]]) -> list[int]:
    return [offset for span in spans for offset in span]


def unflat(offsets: list[int]) -> list[tuple[int, int]]:
    return list(zip(offsets[::2], offsets[1::2], strict=True))


def load() -> dict:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def build(previous: dict | None) -> dict:
    """The golden data from the segmenter as it is now. Without ../shared, its texts' sentences are kept from
    `previous` (they cannot be found again here)."""
    generated = generated_texts()
    if SHARED_CORPUS.is_dir():
        shared = {key(text): flat(segment(text)) for text in texts_under(SHARED_CORPUS)}
    else:
        shared = dict((previous or {}).get("shared", {}))
    return {
        "about": f"segment()'s sentences as [start, end, start, end, ...]; written by tests/segment_golden.py ({REGENERATE})",
        "data": {key(text): flat(segment(text)) for text in texts_under(DATA)},
        "generated": {"seed": GENERATED_SEED, "count": GENERATED_COUNT, "digest": corpus_digest(generated),
                      "sentences": [flat(segment(text)) for text in generated]},
        "shared": shared,
    }


def write(golden: dict) -> None:
    """Byte for byte the same file for the same data (no time stamp in the gzip header, keys sorted)."""
    payload = json.dumps(golden, sort_keys=True, separators=(",", ":")).encode()
    with open(GOLDEN, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0, compresslevel=9) as fh:
        fh.write(payload)


def _changed(old: dict, new: dict) -> dict[str, int]:
    """How many of the new file's texts have other sentences than in the old file (or were not in it)."""
    counts = {part: sum(old.get(part, {}).get(k) != v for k, v in new[part].items()) for part in ("data", "shared")}
    before = old.get("generated", {})
    same_corpus = before.get("digest") == new["generated"]["digest"]
    counts["generated"] = (sum(a != b for a, b in zip(before["sentences"], new["generated"]["sentences"], strict=True))
                           if same_corpus else len(new["generated"]["sentences"]))
    return counts


def main() -> None:
    previous = load() if GOLDEN.exists() else {}
    golden = build(previous)
    write(golden)
    changed = _changed(previous, golden)
    print(f"wrote {GOLDEN.relative_to(ROOT)} ({GOLDEN.stat().st_size:,} bytes): {len(golden['data'])} texts under tests/data, "
          f"{GENERATED_COUNT} generated, {len(golden['shared'])} of ../shared/corpus; "
          f"new or changed sentences: {changed['data']} + {changed['generated']} + {changed['shared']}")
    if not SHARED_CORPUS.is_dir():
        print(f"{SHARED_CORPUS} is not there: its texts' sentences are kept from the previous file", file=sys.stderr)


if __name__ == "__main__":
    main()
