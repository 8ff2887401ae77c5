"""The claim classifier (annotator/stats/claims.py): thresholds, the JSON document, article folds."""
from __future__ import annotations

import ast
import json
import math
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from annotator.stats import claims
from annotator.stats.claims import (
    MIN_PER_CLASS,
    MIN_SENTENCES,
    ClaimModel,
    NotEnoughLabels,
    article_folds,
    cross_validate,
    train,
)

from .claims_data import LABELS, articles

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def data() -> list[tuple[str, str, str]]:
    return articles(random.Random(20261205), 40)  # about 500 sentences


@pytest.fixture(scope="module")
def fitted(data):
    return claims._fit(data)


@pytest.fixture(scope="module")
def unseen() -> list[str]:
    return [s for _, s, _ in articles(random.Random(99), 20, prefix="new")] + [
        "", "   ", "2024", "¿Qué pasa?", "Unemployment rose to 7.5% in 2023.", "I think this is wonderful.", "x" * 2000]


def labelled(counts: dict[str, int]) -> list[tuple[str, str, str]]:
    """Examples with exactly `counts` sentences of each label, ten to an article."""
    rng = random.Random(5)
    by_label: dict[str, list[str]] = defaultdict(list)
    while any(len(by_label[label]) < n for label, n in counts.items()):
        for _, sentence, label in articles(rng, 1, noise=0.0):
            by_label[label].append(sentence)
    out = [(sentence, label) for label, n in counts.items() for sentence in by_label[label][:n]]
    return [(f"a{i // 10}", sentence, label) for i, (sentence, label) in enumerate(out)]


# ---------------------------------------------------------------- thresholds

def test_too_few_sentences_are_refused_saying_how_many():
    with pytest.raises(NotEnoughLabels) as e:
        train(labelled({"CFS": 30, "NFS": 34}))
    assert str(e.value) == "only 64 labelled sentences (100 needed)"
    assert e.value.problems == ["only 64 labelled sentences (100 needed)"]
    assert isinstance(e.value, ValueError)


def test_a_class_with_too_few_sentences_is_refused_by_name():
    with pytest.raises(NotEnoughLabels) as e:
        train([(k, s, "CLAIM" if y == "UFS" else y) for k, s, y in labelled({"CFS": 60, "NFS": 60, "UFS": 4})])
    assert str(e.value) == "class 'CLAIM' has 4 sentences (10 needed)"
    with pytest.raises(NotEnoughLabels, match=r"^class 'UFS' has 1 sentence \(10 needed\)$"):
        train(labelled({"CFS": 60, "NFS": 60, "UFS": 1}))


def test_every_shortfall_is_named_and_a_project_class_without_labels_counts():
    with pytest.raises(NotEnoughLabels) as e:
        train(labelled({"CFS": 50, "NFS": 9}), classes=LABELS)
    assert e.value.problems == ["only 59 labelled sentences (100 needed)", "class 'UFS' has 0 sentences (10 needed)",
                                "class 'NFS' has 9 sentences (10 needed)"]  # in the project's order of classes
    assert str(e.value) == "; ".join(e.value.problems)
    with pytest.raises(NotEnoughLabels, match=r"^only 1 class among the labels \(2 needed\)$"):
        train(labelled({"CFS": 150}))
    with pytest.raises(ValueError, match="labels outside the project's classes: 'UFS'"):
        train(labelled({"CFS": 60, "NFS": 60, "UFS": 20}), classes=["CFS", "NFS"])


def test_exactly_at_the_thresholds_a_model_is_trained():
    examples = labelled({"CFS": MIN_PER_CLASS, "NFS": MIN_SENTENCES - 2 * MIN_PER_CLASS, "UFS": MIN_PER_CLASS})
    assert len(examples) == MIN_SENTENCES
    model = train(examples, classes=LABELS)
    assert model.classes == ("CFS", "NFS", "UFS")
    assert model.trained_on == {"sentences": 100, "articles": 10, "per_class": {"CFS": 10, "NFS": 80, "UFS": 10}}


def test_cross_validation_refuses_too_few_labels_and_too_few_articles():
    with pytest.raises(NotEnoughLabels, match="^only 64 labelled sentences"):
        cross_validate(labelled({"CFS": 30, "NFS": 34}))
    few_articles = [("a" if i % 2 else "b", s, y) for i, (_, s, y) in enumerate(labelled({"CFS": 60, "NFS": 60}))]
    with pytest.raises(NotEnoughLabels, match=r"^only 2 labelled articles \(5 needed for 5 folds by article\)$"):
        cross_validate(few_articles)


def test_malformed_examples_are_refused():
    with pytest.raises(ValueError, match="non-empty label"):
        train([("a", "A sentence.", "")] * 120)
    with pytest.raises(ValueError, match=r"\(article_key, sentence, label\)"):
        train([("a", None, "CFS")] * 120)


# ---------------------------------------------------------------- the model

def test_the_model_computes_what_scikit_learn_computes(fitted, data):
    model, clf, x = fitted
    sentences = [s for _, s, _ in data]
    assert (model.features(sentences) != x).nnz == 0  # the classifier learned from the prediction code's matrix
    ours, theirs = model.probabilities(sentences), clf.predict_proba(x)
    assert np.abs(ours - theirs).max() < 1e-5  # stored numbers keep 7 significant digits
    sure = np.sort(theirs, axis=1)[:, -1] - np.sort(theirs, axis=1)[:, -2] > 1e-4
    assert [label for (label, _), s in zip(model.predict(sentences), sure, strict=True) if s] == [y for y, s in zip(clf.predict(x), sure, strict=True) if s]


def test_tf_idf_is_scikit_learns(fitted, data):
    """The word block is scikit-learn's TfidfVectorizer (sublinear tf, smoothed idf, l2) over the same n-grams."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    sentences = [s for _, s, _ in data]
    model = fitted[0]
    vectorizer = TfidfVectorizer(analyzer=lambda s: claims._word_grams(claims.tokens(s)), min_df=2, sublinear_tf=True)
    theirs = vectorizer.fit_transform(sentences)
    assert list(vectorizer.get_feature_names_out()) == list(model.word_vocabulary)
    assert np.allclose(vectorizer.idf_, model.word_idf, rtol=1e-6, atol=0)
    ours = model.features(sentences)[:, :len(model.word_vocabulary)]
    assert abs(ours - theirs).max() < 1e-6


def test_features(fitted):
    assert claims.tokens("Rents rose 12.5% in 2023, to $1,200 a month — a record!") == [
        "rents", "rose", "00.0", "%", "in", "0000", "to", "$", "0,000", "a", "month", "a", "record"]
    model = fitted[0]
    assert model.features(["Rents rose 12% in 2023."]).shape == (1, len(model.word_vocabulary) + len(model.char_vocabulary))
    # Digits read as 0: two figures of the same shape are the same sentence to the model.
    a, b = model.probabilities(["Crime fell 12% in 2019.", "Crime fell 47% in 2008."])
    assert np.array_equal(a, b)


def test_predict_gives_a_label_of_the_project_and_its_probability(fitted, unseen):
    model = fitted[0]
    predicted = model.predict(unseen)
    assert len(predicted) == len(unseen)
    p = model.probabilities(unseen)
    assert np.allclose(p.sum(axis=1), 1.0)
    for (label, score), row in zip(predicted, p, strict=True):
        assert label in model.classes and score == row.max() and 1 / 3 <= score <= 1
    assert model.predict([]) == [] and model.probabilities([]).shape == (0, 3)
    assert model.name == "claims-linear"


def test_two_classes_use_the_logistic_function(data):
    binary = [(k, s, "CFS" if y == "CFS" else "OTHER") for k, s, y in data]
    model, clf, x = claims._fit(binary)
    assert model.coef.shape == (1, x.shape[1])
    assert np.abs(model.probabilities([s for _, s, _ in binary]) - clf.predict_proba(x)).max() < 1e-5
    loaded = ClaimModel.from_json(json.loads(json.dumps(model.to_json())))
    assert loaded.predict([s for _, s, _ in binary]) == model.predict([s for _, s, _ in binary])


# ---------------------------------------------------------------- the JSON document

def test_the_json_document_loads_back_to_the_same_predictions(fitted, unseen, data):
    model = fitted[0]
    doc = model.to_json()
    text = json.dumps(doc)
    assert "NaN" not in text and "Infinity" not in text
    loaded = ClaimModel.from_json(json.loads(text))
    assert loaded.predict(unseen) == model.predict(unseen)
    assert np.abs(loaded.probabilities(unseen) - model.probabilities(unseen)).max() <= 1e-9
    assert loaded.to_json() == doc and loaded.version == model.version
    assert len(model.version) == 12 and int(model.version, 16) >= 0
    assert doc["format"] == claims.FORMAT and doc["classes"] == ["CFS", "NFS", "UFS"]
    assert doc["sklearn_version"] == __import__("sklearn").__version__
    assert doc["trained_on"] == {"sentences": len(data), "articles": 40, "per_class": dict(sorted(Counter(y for _, _, y in data).items()))}
    assert len(doc["coef"]) == 3 and len(doc["coef"][0]) == len(doc["word"]["vocabulary"]) + len(doc["char"]["vocabulary"])


def test_another_training_has_another_version(fitted, data):
    a = fitted[0]
    assert train(data[:-30]).version != a.version
    assert train(data).version == a.version  # the same labels give the same model


def _mutations():
    def set_(path, value):
        def apply(doc):
            target = doc
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        return apply

    return [
        pytest.param(set_(["format"], 2), "format 2 cannot be read", id="format-2"),
        pytest.param(lambda d: d.pop("format"), "format None cannot be read", id="no-format"),
        pytest.param(set_(["name"], "other"), "name 'other' is not", id="name"),
        pytest.param(lambda d: d["features"].__setitem__("min_df", 1), "features", id="features"),
        pytest.param(lambda d: d["coef"].pop(), r"coef: expected a list of 3 entries, got 2", id="coef-rows"),
        pytest.param(lambda d: d["coef"][1].pop(), r"coef\[1\]: expected a list of \d+ entries", id="coef-width"),
        pytest.param(lambda d: d["intercept"].append(0.5), "intercept: expected a list of 3", id="intercept"),
        pytest.param(lambda d: d["word"]["idf"].pop(), r"word.idf: expected a list of \d+ entries", id="idf-length"),
        pytest.param(lambda d: d["char"]["vocabulary"].append("zzz"), "char.idf: expected", id="vocabulary-longer"),
        pytest.param(lambda d: d["coef"][0].__setitem__(3, math.nan), "coef: non-finite number", id="nan"),
        pytest.param(lambda d: d["char"]["idf"].__setitem__(0, math.inf), "char.idf: non-finite number", id="inf"),
        pytest.param(lambda d: d["intercept"].__setitem__(0, "1.0"), "intercept: expected numbers", id="string"),
        pytest.param(lambda d: d["intercept"].__setitem__(0, True), "intercept: expected numbers", id="bool"),
        pytest.param(lambda d: d["word"]["idf"].__setitem__(0, 0.5), "idf below 1", id="idf-below-1"),
        pytest.param(lambda d: d["word"]["vocabulary"].__setitem__(1, d["word"]["vocabulary"][0]), "duplicate", id="dup"),
        pytest.param(set_(["classes"], ["CFS", "NFS"]), "coef: expected a list of 1 entries", id="classes-vs-coef"),
        pytest.param(set_(["classes"], ["CFS"]), "1 class", id="one-class"),
        pytest.param(set_(["classes"], ["CFS", "NFS", 3]), "classes: expected a list of non-empty strings", id="class-type"),
        pytest.param(lambda d: d.pop("word"), "word: expected an object", id="no-word-block"),
        pytest.param(set_(["trained_on"], None), "trained_on", id="trained-on"),
    ]


@pytest.fixture(scope="module")
def stored(fitted) -> str:
    text = json.dumps(fitted[0].to_json())
    ClaimModel.from_json(json.loads(text))  # the unmodified document loads
    return text


@pytest.mark.parametrize("mutate, message", _mutations())
def test_a_malformed_document_is_refused_saying_why(stored, mutate, message):
    doc = json.loads(stored)
    mutate(doc)
    with pytest.raises(ValueError, match=message):
        ClaimModel.from_json(doc)


@pytest.mark.parametrize("doc", [None, [], "{}", 1])
def test_a_document_that_is_not_an_object_is_refused(doc):
    with pytest.raises(ValueError, match="a claim model is a JSON object"):
        ClaimModel.from_json(doc)


# ---------------------------------------------------------------- cross-validation by article

def test_folds_never_split_an_article(data):
    keys = [k for k, _, _ in data]
    assignment = article_folds(keys, 5)
    folds_of = defaultdict(set)
    for key, fold in zip(keys, assignment, strict=True):
        folds_of[key].add(fold)
    assert all(len(f) == 1 for f in folds_of.values())
    sizes = Counter(assignment)
    assert sorted(sizes) == [0, 1, 2, 3, 4]
    assert max(sizes.values()) - min(sizes.values()) <= 20  # articles hold 6 to 20 sentences
    assert article_folds(keys, 5) == assignment  # deterministic


def test_cross_validation_beats_the_majority_baseline_on_held_out_articles(data):
    cv = cross_validate(data, folds=5)
    base = cv["baseline"]
    assert cv["macro_f1"] > base["macro_f1"] + 0.4 and cv["accuracy"] > base["accuracy"] + 0.3, cv
    majority = Counter(y for _, _, y in data).most_common(1)[0][0]
    assert base["per_class"][majority]["recall"] == 1.0 and base["accuracy"] == Counter(y for _, _, y in data)[majority] / len(data)
    assert set(cv["per_class"]) == set(LABELS) and all(cv["per_class"][c]["f1"] > 0.5 for c in LABELS)
    assert sum(cv["per_class"][c]["support"] for c in LABELS) == len(data) == cv["sentences"]
    # The reported folds are the article folds.
    assignment = article_folds([k for k, _, _ in data], 5)
    assert cv["fold_count"] == 5 and [f["sentences"] for f in cv["folds"]] == [assignment.count(i) for i in range(5)]
    assert [f["articles"] for f in cv["folds"]] == [len({k for (k, _, _), a in zip(data, assignment, strict=True) if a == i}) for i in range(5)]
    assert sum(f["articles"] for f in cv["folds"]) == cv["articles"] == 40
    json.dumps(cv)  # storable as it is


def test_an_article_seen_in_training_cannot_lift_its_own_score():
    """Each article has its own made-up word and one label, drawn at random: a sentence fold would
    learn the word and score near 1; article folds leave nothing to learn."""
    rng = random.Random(3)
    common = ["the", "a", "council", "said", "on", "report", "new", "plan", "city", "year", "people", "week", "local", "state"]
    rows = []
    for n in range(60):
        label, own = LABELS[n % 3], "".join(rng.choices("bcdfghjklmnpqrstvwxz", k=8))
        for _ in range(8):
            words = rng.sample(common, 6) + [own] * 2
            rng.shuffle(words)
            rows.append((f"a{n}", " ".join(words) + ".", label))
    cv = cross_validate(rows)
    assert cv["macro_f1"] < 0.6, cv["macro_f1"]
    leaky = claims._fit(rows)[0].predict([s for _, s, _ in rows])
    assert sum(p == y for (p, _), (_, _, y) in zip(leaky, rows, strict=True)) / len(rows) > 0.95  # what a split article would show


# ---------------------------------------------------------------- purity

def test_the_module_imports_nothing_of_the_app():
    tree = ast.parse((ROOT / "annotator" / "stats" / "claims.py").read_text(encoding="utf-8"))
    allowed = set(sys.stdlib_module_names) | {"numpy", "scipy", "sklearn", "threadpoolctl"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0 and (node.module or "").split(".")[0] in allowed, ast.dump(node)
        elif isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] in allowed for a in node.names), ast.dump(node)


def test_a_stored_model_predicts_without_scikit_learn_joblib_or_the_app(fitted, unseen, tmp_path):
    """Loading is reading numbers: neither scikit-learn nor joblib (so none of their pickles) is imported,
    and nothing of the app."""
    (tmp_path / "model.json").write_text(json.dumps(fitted[0].to_json()), encoding="utf-8")
    (tmp_path / "sentences.json").write_text(json.dumps(unseen), encoding="utf-8")
    code = ("import sys, json; sys.modules['sklearn'] = sys.modules['joblib'] = None; from annotator.stats.claims import ClaimModel; "
            f"m = ClaimModel.from_json(json.load(open({str(tmp_path / 'model.json')!r}))); "
            f"print(json.dumps(m.predict(json.load(open({str(tmp_path / 'sentences.json')!r}))))); "
            "print(sorted(m for m in sys.modules if m.startswith(('flask', 'sqlalchemy', 'annotator.'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    predicted, modules = out.stdout.splitlines()
    assert [tuple(x) for x in json.loads(predicted)] == fitted[0].predict(unseen)
    assert modules == "['annotator.stats', 'annotator.stats.claims']"
