"""The segmenter finds the sentences the golden file holds (tests/segment_golden.py): on every text under tests/data,
on a seeded generated corpus, and on ../shared/corpus when it is there. A difference is a change of behaviour: if
it is on purpose, regenerate the file (`python -m tests.segment_golden`) and commit it with the change."""
from __future__ import annotations

import warnings

import pytest

from annotator.stats.segment import segment
from tests import segment_golden as golden


@pytest.fixture(scope="module")
def stored() -> dict:
    return golden.load()


def differences(texts: dict[str, str], expected: dict[str, list[int]]) -> list[str]:
    """One message per text (named by its source) whose sentences are not the golden ones."""
    found = []
    for text, source in texts.items():
        want, got = golden.unflat(expected[golden.key(text)]), segment(text)
        if got != want:
            found.append(describe(source, text, want, got))
    return found


def describe(source: str, text: str, want: list[tuple[int, int]], got: list[tuple[int, int]]) -> str:
    """The text, and the sentences from the first one that differs: the golden ones and the segmenter's."""
    first = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), min(len(want), len(got)))
    shown = text if len(text) <= 600 else text[:600] + "…"

    def sentences(spans: list[tuple[int, int]]) -> str:
        return "\n".join(f"    {s}:{e} {text[s:e]!r}" for s, e in spans[first:first + 4]) or "    (none)"

    return (f"{source}: {shown!r}\n  sentence {first + 1} on, golden:\n{sentences(want)}\n"
            f"  segment() now:\n{sentences(got)}")


def check(texts: dict[str, str], expected: dict[str, list[int]]) -> None:
    failures = differences(texts, expected)
    if failures:
        pytest.fail(f"{len(failures)} of {len(texts)} texts are segmented otherwise than the golden file says; the first:\n"
                    f"{failures[0]}\nIf the change is on purpose, run `{golden.REGENERATE}` and commit "
                    f"{golden.GOLDEN.relative_to(golden.ROOT)} with it.", pytrace=False)


def known(texts: dict[str, str], expected: dict[str, list[int]], where: str) -> dict[str, str]:
    """The texts the golden file has sentences for; the others are named in a warning (a file added to or
    changed in tests/data is not a change of the segmenter, so it does not fail the test)."""
    missing = [source for text, source in texts.items() if golden.key(text) not in expected]
    if missing:
        warnings.warn(f"{len(missing)} texts of {where} are not in the golden file (the first from {missing[0]}): "
                      f"run `{golden.REGENERATE}` to cover them", stacklevel=2)
    return {text: source for text, source in texts.items() if golden.key(text) in expected}


def test_every_text_under_tests_data(stored):
    texts = known(golden.texts_under(golden.DATA), stored["data"], "tests/data")
    assert len(texts) > 1000, f"only {len(texts)} texts under tests/data are in the golden file: run `{golden.REGENERATE}`"
    check(texts, stored["data"])


def test_generated_corpus(stored):
    texts = golden.generated_texts(stored["generated"]["seed"], stored["generated"]["count"])
    assert golden.corpus_digest(texts) == stored["generated"]["digest"], (
        f"the generator no longer makes the corpus the golden file was written from: run `{golden.REGENERATE}`")
    expected = {golden.key(text): offsets for text, offsets in zip(texts, stored["generated"]["sentences"], strict=True)}
    named: dict[str, str] = {}
    for i, text in enumerate(texts):
        named.setdefault(text, f"generated text {i} (seed {stored['generated']['seed']})")
    check(named, expected)


@pytest.mark.skipif(not golden.SHARED_CORPUS.is_dir(), reason="../shared/corpus is not there")
def test_shared_corpus(stored):
    texts = known(golden.texts_under(golden.SHARED_CORPUS), stored["shared"], "../shared/corpus")
    assert texts, f"the golden file has nothing of ../shared/corpus: run `{golden.REGENERATE}` where it is"
    check(texts, stored["shared"])
