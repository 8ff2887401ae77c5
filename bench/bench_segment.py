"""Sentence segmentation benchmark: annotator.stats.segment against pysbd.

    python bench/bench_segment.py

Prints, each next to its target, with PASS/FAIL:
  * Golden Rules accuracy (48 English cases in ../shared/corpus), ours and pysbd's;
  * accuracy on the project's hand-split news paragraphs (tests/data), ours and pysbd's;
  * throughput relative to pysbd on ~5 MB of generated news-style text, one call
    per ~3 KB article, median of three runs (each run times both segmenters,
    interleaved, in CPU seconds, and takes the ratio of their characters per
    second; pysbd is slow, so it runs on a random subset of the same articles);
  * the wall time of `import annotator.stats.segment` plus the first call, in a
    fresh interpreter (median of five).
Exits non-zero when a target is missed.  pysbd is a test extra: it is used here
and in the tests only, never by annotator/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
NEWS_SET = ROOT / "tests" / "data" / "segmentation_news.jsonl"
sys.path.insert(0, str(ROOT))

from annotator.stats.segment import segment  # noqa: E402

TARGET_GOLDEN = 48  # of 48: keep every case
TARGET_RATIO = 50.0
TARGET_IMPORT_MS = 50.0
CORPUS_CHARS = 5_000_000
ARTICLE_CHARS = 3_000
PYSBD_ARTICLES = 40  # per run; ~1 s of pysbd with char spans
RUNS = 3
SEED = 20240611

# ---------------------------------------------------------------------------
# Generated news-style text (our own templates + sentences of the shared article)
# ---------------------------------------------------------------------------

PEOPLE = [
    "Sen. Alan Pierce", "Rep. Dana Liu", "Gov. Ellen Marsh", "Dr. Amina Yusuf", "Prof. Lars Eriksen",
    "Lt. Col. Sarah Brandt", "Maj.-Gen. Tomas Reyes", "J. P. Okafor", "Ms. Greer", "the mayor",
    "the U.S. envoy", "a U.N. spokeswoman", "the prime minister's office", "the finance minister",
    "a senior official who asked not to be named", "the company's chief executive", "the police chief",
]
VERBS = ["said", "told reporters", "wrote in a statement", "claimed", "announced", "warned", "insisted"]
PLACES = ["Washington", "Brussels", "Ft. Bragg", "St. Louis", "the capital", "the U.K. capital", "Jerusalem", "the border region"]
FACTS = [
    "spending on the programme rose by {p}% to ${m}bn last year, well above the government's own forecast",
    "the bridge, which opened in {y}, now carries {n:,} vehicles a day and needs urgent repairs",
    "unemployment fell to {p}% in the third quarter, its lowest level since {y}",
    "the new rules, which were drafted after months of consultation, take effect on Jan. {d}",
    "the contract was worth approx. €{m}m and had been awarded without a public tender",
    "the full report, published on Tuesday, is available at https://example.org/reports/{y}/summary.html",
    "hospital waiting lists have grown every month since the start of the year",
    "the ceasefire had been broken at least {d} times since it was agreed in the spring",
    "the vote on the budget was postponed until after the summer recess",
    "the two sides met for more than three hours but failed to agree on a joint statement",
    "No. {d} on the list of priorities was the reform of the courts",
]
TEMPLATES = [
    "{Who} {verb} on Monday that {fact}.",
    "“{Fact},” {who} {verb}.",
    "According to figures seen by reporters, {fact}.",
    "Critics, including several members of the ruling party, argued that {fact}, though the government disputed the figures.",
    "{Who} {verb} that {fact}, adding that more details would be released later this week.",
    "The announcement came as officials in {place} prepared for a second round of talks, which are expected to last until Friday.",
    "“We will not back down. This is about the safety of our families,” {who} {verb} at a rally in {place}.",
    "Asked whether the plan would survive a legal challenge, {who} said it was too early to tell.",
    "The figures were published in {place}. (They had been delayed for several weeks.)",
    "It was not the first time… but it mattered, officials said, because the deadline was approaching.",
    "“Why now?” one resident asked. “Nobody has explained any of this to us.”",
    "The meeting ended at {d} p.m. Tuesday without a deal, and negotiators are due to return to {place} next month.",
]


def _fill(rng: random.Random, template: str) -> str:
    fact = rng.choice(FACTS).format(
        p=round(rng.uniform(0.1, 20), 1), m=round(rng.uniform(1, 99), 1), n=rng.randint(1000, 99999),
        y=rng.randint(1990, 2024), d=rng.randint(1, 28), d2=rng.randint(0, 12),
    )
    who = rng.choice(PEOPLE)
    return template.format(
        who=who, Who=who[0].upper() + who[1:], verb=rng.choice(VERBS), fact=fact,
        Fact=fact[0].upper() + fact[1:], place=rng.choice(PLACES), d=rng.randint(1, 12),
    )


def shared_sentences() -> list[str]:
    path = CORPUS / "news_russia_israel.txt"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [text[a:b] for a, b in segment(text)[2:]]  # skip title and byline


def make_articles(rng: random.Random) -> list[str]:
    borrowed = shared_sentences()
    articles, total = [], 0
    while total < CORPUS_CHARS:
        headline = _fill(rng, "{Fact}").split(",")[0]
        lines = [headline[0].upper() + headline[1:], f"By {rng.choice(['Jane Roe', 'A. N. Other', 'Sam Park'])}, Staff Writer"]
        size = sum(map(len, lines))
        while size < ARTICLE_CHARS:
            para = []
            for _ in range(rng.randint(1, 3)):
                if borrowed and rng.random() < 0.5:
                    para.append(rng.choice(borrowed))
                else:
                    para.append(_fill(rng, rng.choice(TEMPLATES)))
            line = " ".join(para)
            lines.append(line)
            size += len(line) + 1
        article = ("\r\n" if rng.random() < 0.1 else "\n").join(lines)
        articles.append(article)
        total += len(article)
    return articles


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def golden_accuracy(fn) -> tuple[int, int, list[str]]:
    path = CORPUS / "golden_rules_en.json"
    if not path.exists():
        return 0, 0, []
    examples = json.loads(path.read_text(encoding="utf-8"))["examples"]
    failed = []
    for ex in examples:
        got = [s.strip() for s in fn(ex["text"]) if s.strip()]
        if got != ex["expected"]:
            failed.append(ex["id"])
    return len(examples) - len(failed), len(examples), failed


def news_accuracy(fn) -> tuple[int, int, list[str]]:
    """Paragraphs of the hand-split news evaluation set split exactly right."""
    records = [json.loads(line) for line in NEWS_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    failed = []
    for r in records:
        got = [s.strip() for s in fn(r["text"]) if s.strip()]
        if got != r["sentences"] and got not in r.get("also_right", []):
            failed.append(r["id"])
    return len(records) - len(failed), len(records), failed


def timed(fn, articles: list[str]) -> float:
    """CPU seconds to segment the articles one call each (CPU time, not wall
    time, so that other processes on the machine do not skew the ratio)."""
    started = time.process_time()
    for article in articles:
        fn(article)
    return time.process_time() - started


def measure_run(articles: list[str], subset: list[str], sbd_span, sbd_plain, slices: int = 10) -> tuple[float, float, float]:
    """One run: ours on all articles and pysbd on the subset, interleaved in
    `slices` rounds so that drifts in machine speed hit both alike.  Returns
    (ours, pysbd char_span, pysbd plain) in characters per CPU second."""
    t_ours = t_span = t_plain = 0.0
    for k in range(slices):
        t_ours += timed(segment, articles[k::slices])
        t_span += timed(sbd_span.segment, subset[k::slices])
        t_plain += timed(sbd_plain.segment, subset[k::slices * 2])
    n_plain = sum(len(a) for k in range(slices) for a in subset[k::slices * 2])
    return (
        sum(map(len, articles)) / t_ours,
        sum(map(len, subset)) / t_span,
        n_plain / t_plain,
    )


def import_ms(code: str, repeat: int = 5, setup: str = "") -> float:
    """Median wall time of `code` in a fresh interpreter, after the untimed `setup`."""
    script = (
        setup + "\nimport time; t = time.perf_counter()\n" + code + "\nprint((time.perf_counter() - t) * 1000)"
    )
    times = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def report(name: str, value: str, target: str, ok: bool) -> bool:
    print(f"{name:<44} {value:>16}   target {target:<10} {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    import pysbd  # test extra, bench only

    print(
        f"machine: processor={platform.processor() or platform.machine()!r}, nproc={os.cpu_count()}, "
        f"python {platform.python_version()} ({platform.python_implementation()}), {platform.system()} {platform.release()}"
    )
    try:
        from machine import describe  # bench/machine.py, when present

        print(f"machine: {describe()}")
    except Exception:  # noqa: BLE001 - optional helper
        pass
    if not CORPUS.exists():
        print(f"note: {CORPUS} is absent: Golden Rules are skipped and the text is built from templates only")

    ok = True
    sbd_span = pysbd.Segmenter(language="en", clean=False, char_span=True)
    sbd_plain = pysbd.Segmenter(language="en", clean=False)

    # -- accuracy
    ours = golden_accuracy(lambda t: [t[a:b] for a, b in segment(t)])
    theirs = golden_accuracy(lambda t: sbd_plain.segment(t))
    if ours[1]:
        ok &= report("Golden Rules exact, ours", f"{ours[0]}/{ours[1]}", f">={TARGET_GOLDEN}/48", ours[0] >= TARGET_GOLDEN)
        print(f"{'':<4}failed: {', '.join(ours[2]) or 'none'}")
        print(f"{'Golden Rules exact, pysbd 0.3.4 (reference)':<44} {f'{theirs[0]}/{theirs[1]}':>16}   failed: {', '.join(theirs[2]) or 'none'}")

    ours = news_accuracy(lambda t: [t[a:b] for a, b in segment(t)])
    theirs = news_accuracy(lambda t: sbd_plain.segment(t))
    ok &= report("news paragraphs (tests/data) exact, ours", f"{ours[0]}/{ours[1]}", "all", ours[0] == ours[1])
    print(f"{'':<4}failed: {', '.join(ours[2]) or 'none'}")
    print(f"{'news paragraphs exact, pysbd 0.3.4 (reference)':<44} {f'{theirs[0]}/{theirs[1]}':>16}")

    # -- throughput
    rng = random.Random(SEED)
    articles = make_articles(rng)
    chars = sum(map(len, articles))
    print(f"text: {len(articles)} articles, {chars / 1e6:.2f} MB, median {statistics.median(map(len, articles)):.0f} chars/article")
    ratios, ratios_plain, ours_cps = [], [], []
    for run in range(RUNS):
        subset = rng.sample(articles, PYSBD_ARTICLES)
        ours_rate, span_rate, plain_rate = measure_run(articles, subset, sbd_span, sbd_plain)
        ratios.append(ours_rate / span_rate)
        ratios_plain.append(ours_rate / plain_rate)
        ours_cps.append(ours_rate)
        print(
            f"  run {run + 1}: ours {ours_rate / 1e6:.2f} MB/s, pysbd(char_span) {span_rate / 1e3:.0f} kB/s, "
            f"pysbd(plain) {plain_rate / 1e3:.0f} kB/s -> {ratios[-1]:.0f}x / {ratios_plain[-1]:.0f}x"
        )
    ratio = statistics.median(ratios)
    ok &= report("speed vs pysbd (char_span=True), median", f"{ratio:.0f}x", f">={TARGET_RATIO:g}x", ratio >= TARGET_RATIO)
    print(f"{'speed vs pysbd (plain strings), median':<44} {f'{statistics.median(ratios_plain):.0f}x':>16}   (reference)")
    print(f"{'ours, median':<44} {f'{statistics.median(ours_cps) / 1e6:.2f} MB/s':>16}   ({statistics.median(ours_cps) / 1e6 * 1e3 / ARTICLE_CHARS * 1e3:.0f} articles/s)")

    # -- import + first call
    first_call = "s.segment('Title\\nBy A. Reporter\\nThe U.S. envoy said no. “Why?” she asked.')"
    total = import_ms("import annotator.stats.segment as s; " + first_call)
    package = import_ms("import annotator")
    alone = import_ms("import annotator.stats.segment as s; " + first_call, setup="import annotator.stats")
    ok &= report("import annotator.stats.segment + first call", f"{total:.1f} ms", f"<{TARGET_IMPORT_MS:g} ms", total < TARGET_IMPORT_MS)
    print(f"{'  of which `import annotator` (package)':<44} {f'{package:.1f} ms':>16}")
    print(f"{'  stats/segment/ alone + first call':<44} {f'{alone:.1f} ms':>16}")
    if total >= TARGET_IMPORT_MS > alone:
        print("  note: the time goes to annotator/__init__.py or annotator/stats/__init__.py, not to stats/segment/")

    print("ALL TARGETS MET" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
