"""The segmenter's rewritten hot paths find exactly the sentences the segmenter before them found (tests/segment_before):
on every text under tests/data/, on ../shared/corpus and the peerbench harness's articles when they are there,
and on random text."""
from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.stats.segment import segment
from tests import segment_before

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _strings(value: Any) -> Iterator[str]:
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


def _all_texts(folder: Path) -> list[str]:
    return [text for path in sorted(folder.rglob("*")) if path.is_file() and path.suffix != ".gz" for text in _texts_of(path.name, path.read_bytes())]


def _same(texts: list[str]) -> None:
    for text in texts:
        assert segment(text) == segment_before.segment(text), text[:200]


def test_every_text_under_tests_data():
    texts = _all_texts(DATA)
    assert len(texts) > 300
    _same(texts)


@pytest.mark.skipif(not SHARED.joinpath("corpus").is_dir(), reason="../shared/corpus is not there")
def test_shared_corpus():
    _same(_all_texts(SHARED / "corpus"))


@pytest.mark.skipif(not SHARED.joinpath("peerbench", "bench.py").is_file(), reason="the peerbench harness is not there")
def test_peerbench_articles():
    sys.path.insert(0, str(SHARED / "peerbench"))
    try:
        import bench as peerbench
    finally:
        sys.path.remove(str(SHARED / "peerbench"))
    _same([doc["text"] for doc in peerbench.gen_docs(1000, peerbench.DEFAULT_SEED)])


# Pieces of news text and of what breaks segmenters: terminators, quotes, brackets, abbreviations, ranks,
# initials, times, amounts, addresses, list markers, emoji, odd spaces and every kind of line break.
_PIECES = [
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
]
_NEWS = st.lists(st.sampled_from(_PIECES), max_size=80).map("".join)


@settings(max_examples=5000 if os.environ.get("ANNOTATOR_FUZZ") == "thorough" else 400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_NEWS, st.text(), st.lists(st.one_of(_NEWS, st.text()), max_size=6).map("".join)))
def test_property_same_as_before(text):
    assert segment(text) == segment_before.segment(text)


def test_the_golden_file_is_the_old_segmenters_answers():
    """tests/data/segment_golden.json.gz, which replaces this oracle, holds segment_before's sentences on its corpus."""
    from tests import segment_golden as golden

    stored = golden.load()
    for part, texts in (("data", golden.texts_under(golden.DATA)), ("shared", golden.texts_under(golden.SHARED_CORPUS))):
        assert {golden.key(t) for t in texts} == set(stored[part]), part
        for text in texts:
            assert golden.unflat(stored[part][golden.key(text)]) == segment_before.segment(text), (part, text[:200])
    generated = golden.generated_texts(stored["generated"]["seed"], stored["generated"]["count"])
    assert golden.corpus_digest(generated) == stored["generated"]["digest"]
    for text, offsets in zip(generated, stored["generated"]["sentences"], strict=True):
        assert golden.unflat(offsets) == segment_before.segment(text), text[:200]
