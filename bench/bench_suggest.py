"""Attribution suggester benchmark: speed against the segmenter, and quality.

    python bench/bench_suggest.py

Prints, each next to its target, with PASS/FAIL:
  * the CPU time of `suggest()` on a 1 MB news text file (one call on the whole
    file, as `annotator suggest text FILE` does; it segments the text itself)
    and of `segment()` on the same file, median of five runs each, interleaved,
    and their ratio (target: at most 10x);
  * the same ratio with one call per article (about 3 KB each), for reference;
  * quality on the hand-annotated evaluation set (tests/data/attribution):
    precision / recall / F1 on the held-out half (targets: QUOTE overlap F1 >= 0.80,
    SOURCE exact >= 0.75, CUE exact >= 0.85, link >= 0.75, precision >= 0.85 on
    each) and on the dev and blind sets the rules were written or fixed on (reference).
Exits non-zero when a target is missed.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from annotator.stats.attribution import suggest  # noqa: E402
from annotator.stats.segment import segment  # noqa: E402
from tests.attribution_eval import BLIND, DEV, HELDOUT, PRECISION_TARGET, TARGETS, evaluate, load  # noqa: E402

TARGET_RATIO = 10.0
FILE_CHARS = 1_000_000
RUNS = 5
SEED = 20261205


def make_file(rng: random.Random) -> list[str]:
    """About 1 MB of news text: paragraphs of the evaluation articles (rich in
    quotes and speech verbs) shuffled into new articles, and the segmentation
    benchmark's generated articles, half and half."""
    from bench_segment import make_articles

    paragraphs = [p for a in load(DEV) + load(HELDOUT) + load(BLIND) for p in a["text"].split("\n")[1:] if p.strip()]
    generated = make_articles(random.Random(SEED))
    articles, total = [], 0
    while total < FILE_CHARS:
        if rng.random() < 0.5:
            body = rng.sample(paragraphs, 14)
            article = "\n".join([body[0].split(",")[0], *body])
        else:
            article = rng.choice(generated)
        articles.append(article)
        total += len(article) + 1
    return articles


def cpu(fn, *args) -> float:
    started = time.process_time()
    fn(*args)
    return time.process_time() - started


def report(name: str, value: str, target: str, ok: bool) -> bool:
    print(f"{name:<44} {value:>16}   target {target:<10} {'PASS' if ok else 'FAIL'}", flush=True)
    return ok


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    print(f"machine: processor={platform.processor() or platform.machine()!r}, nproc={os.cpu_count()}, python {platform.python_version()}")
    ok = True
    rng = random.Random(SEED)
    articles = make_file(rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "news.txt"
        path.write_text("\n".join(articles), encoding="utf-8")
        text = path.read_text(encoding="utf-8")
    print(f"text: {len(text) / 1e6:.2f} MB, {len(articles)} articles, {len(segment(text))} sentences, "
          f"{len(suggest(text).spans)} suggested spans")

    seg, sug = [], []
    for _ in range(RUNS):
        seg.append(cpu(segment, text))
        sug.append(cpu(suggest, text))
    t_seg, t_sug = statistics.median(seg), statistics.median(sug)
    print(f"  segment(): median {t_seg:.2f} s CPU ({len(text) / t_seg / 1e6:.2f} MB/s); suggest(): median {t_sug:.2f} s CPU "
          f"({len(text) / t_sug / 1e6:.2f} MB/s); runs: {', '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(seg, sug, strict=True))}")
    ok &= report("suggest / segment, 1 MB file, one call", f"{t_sug / t_seg:.1f}x", f"<={TARGET_RATIO:g}x", t_sug / t_seg <= TARGET_RATIO)

    seg_a = cpu(lambda: [segment(a) for a in articles])
    sug_a = cpu(lambda: [suggest(a) for a in articles])
    print(f"{'suggest / segment, one call per article':<44} {f'{sug_a / seg_a:.1f}x':>16}   (reference; "
          f"{seg_a:.2f} s / {sug_a:.2f} s, {len(articles) / sug_a:.0f} articles/s)")

    for name, path, is_target in (("held-out", HELDOUT, True), ("dev", DEV, False), ("blind", BLIND, False)):
        scores = evaluate(load(path))
        note = "" if is_target else ", reference: rules were written or fixed on these"
        print(f"quality on the {name} articles ({len(load(path))}){note}:")
        for line in scores.lines():
            print(f"  {line}")
        if is_target:
            for metric, target in TARGETS.items():
                r = scores.figures[metric]
                ok &= report(f"  {metric} F1 / precision", f"{r.f1:.3f} / {r.precision:.3f}",
                             f">={target:g} / >={PRECISION_TARGET:g}", r.f1 >= target and r.precision >= PRECISION_TARGET)
    print("ALL TARGETS MET" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
