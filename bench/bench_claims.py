"""Claim classifier benchmark: training and prediction speed, stored size, held-out quality.

    python bench/bench_claims.py

Prints, each next to its target, with PASS/FAIL:
  * the CPU time of `train()` on about 5,000 labelled sentences (tests/claims_data.py: synthetic
    news-like sentences, 400 articles; target: under 5 s), best of three;
  * the CPU time of `predict()` on 10,000 sentences of real news text (the project's own test
    articles, segmented, repeated to 10,000; target: under 1 s), best of three, for the trained model
    and for the same model loaded back from its JSON document (which must predict identically);
  * the size of the JSON document and the time to load it, for the trained model and for a model
    at the feature caps (random numbers: the largest document a project can store; reference);
  * 5-fold cross-validation by article on the same 5,000 sentences: macro-F1 and accuracy next to the
    majority-class baseline's (target: macro-F1 at least 0.3 above the baseline's).
Exits non-zero when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import describe, report  # noqa: E402

from annotator.stats.claims import (  # noqa: E402
    CLASSIFIER,
    FEATURES,
    FORMAT,
    NAME,
    ClaimModel,
    cross_validate,
    train,
)
from annotator.stats.segment import segment  # noqa: E402
from tests.claims_data import articles  # noqa: E402

SEED = 20261205
TRAIN_ARTICLES = 400  # about 5,000 sentences
PREDICT_SENTENCES = 10_000
TARGET_TRAIN_S = 5.0
TARGET_PREDICT_S = 1.0
TARGET_MARGIN = 0.3
RUNS = 3


def news_sentences() -> list[str]:
    """Every sentence of the project's own test articles (tests/data), in order."""
    texts = []
    data = ROOT / "tests" / "data"
    for path in sorted((data / "attribution").glob("*.jsonl")) + [data / "segmentation_news.jsonl"]:
        texts += [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += [p.read_text(encoding="utf-8") for p in sorted((data / "articles").glob("*.txt"))]
    return [t[a:b] for t in texts for a, b in segment(t)]


def best(fn, *args):
    """Least CPU time of RUNS calls (CPU, not wall: the machine may be shared), all times, the result."""
    times, result = [], None
    for _ in range(RUNS):
        started = time.process_time()
        result = fn(*args)
        times.append(time.process_time() - started)
    return min(times), times, result


def capped_model() -> ClaimModel:
    """A three-class model with as many features as FEATURES allows, its numbers random."""
    rng, caps = random.Random(SEED), FEATURES["max_features"]
    words = sorted({"".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 10))) for _ in range(2 * caps["word"])})
    chars = sorted({"".join(rng.choices(string.ascii_lowercase + " 0", k=rng.randint(3, 5))) for _ in range(2 * caps["char"])})
    words, chars = words[:caps["word"]], chars[:caps["char"]]
    n = len(words) + len(chars)
    return ClaimModel.from_json({
        "format": FORMAT, "name": NAME, "features": FEATURES, "classifier": CLASSIFIER, "sklearn_version": "-",
        "trained_on": {}, "classes": ["CFS", "NFS", "UFS"],
        "word": {"vocabulary": words, "idf": [1 + round(rng.random() * 8, 6) for _ in words]},
        "char": {"vocabulary": chars, "idf": [1 + round(rng.random() * 8, 6) for _ in chars]},
        "coef": [[round(rng.gauss(0, 1), 6) for _ in range(n)] for _ in range(3)], "intercept": [0.1, -0.2, 0.1]})


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    print(f"machine: {describe()}")
    ok = True
    examples = articles(random.Random(SEED), TRAIN_ARTICLES)
    print(f"training set: {len(examples)} sentences in {TRAIN_ARTICLES} articles")
    train([(f"warm-{i // 10}", s, y) for i, (_, s, y) in enumerate(examples[:200])])  # imports scikit-learn
    t_train, runs, model = best(train, examples)
    print(f"  train(): runs {', '.join(f'{t:.2f}' for t in runs)} s; "
          f"{len(model.word_vocabulary)} word and {len(model.char_vocabulary)} character features")
    ok &= report("train, ~5,000 sentences", t_train, TARGET_TRAIN_S, "s")

    distinct = news_sentences()
    sentences = (distinct * (PREDICT_SENTENCES // len(distinct) + 1))[:PREDICT_SENTENCES]
    print(f"prediction set: {len(sentences)} sentences ({len(distinct)} distinct, "
          f"{sum(map(len, sentences)) / len(sentences):.0f} characters on average)")
    t_pred, runs, predicted = best(model.predict, sentences)
    print(f"  predict(): runs {', '.join(f'{t:.3f}' for t in runs)} s ({len(sentences) / t_pred:,.0f} sentences/s)")
    ok &= report("predict, 10,000 sentences", t_pred, TARGET_PREDICT_S, "s")

    text = json.dumps(model.to_json())
    t_load, _, loaded = best(lambda: ClaimModel.from_json(json.loads(text)))
    print(f"JSON document: {len(text) / 1e6:.2f} MB, loads in {t_load * 1000:.0f} ms (reference); version {model.version}")
    big = capped_model()
    big_text = json.dumps(big.to_json())
    t_big, _, _ = best(lambda: ClaimModel.from_json(json.loads(big_text)))
    t_big_pred, _, _ = best(big.predict, sentences)
    print(f"JSON document at the feature caps ({len(big.word_vocabulary)} + {len(big.char_vocabulary)} features): "
          f"{len(big_text) / 1e6:.2f} MB, loads in {t_big * 1000:.0f} ms, predicts 10,000 sentences in {t_big_pred:.3f} s (reference)")
    t_loaded, _, again = best(loaded.predict, sentences)
    same = again == predicted
    ok &= report("predict from the JSON model, 10,000 sentences", t_loaded, TARGET_PREDICT_S, "s")
    print(f"  same labels and scores as the trained model: {'yes' if same else 'NO'}")
    ok &= same

    started = time.process_time()
    cv = cross_validate(examples)
    print(f"cross-validation ({time.process_time() - started:.1f} s CPU): {cv['scheme']}")
    for fold in cv["folds"]:
        print(f"  fold {fold['fold']}: {fold['articles']} articles, {fold['sentences']} sentences, "
              f"macro-F1 {fold['macro_f1']:.3f}, accuracy {fold['accuracy']:.3f}")
    base = cv["baseline"]
    print(f"  model    macro-F1 {cv['macro_f1']:.3f}  accuracy {cv['accuracy']:.3f}  per class "
          + ", ".join(f"{c} {s['f1']:.3f}" for c, s in cv["per_class"].items()))
    print(f"  baseline macro-F1 {base['macro_f1']:.3f}  accuracy {base['accuracy']:.3f}  ({base['predicts']})")
    ok &= report("macro-F1 above the majority baseline", cv["macro_f1"] - base["macro_f1"], TARGET_MARGIN, "",
                 lower_is_better=False)
    print("ALL TARGETS MET" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
