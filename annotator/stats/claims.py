"""Claim-label suggestions learned from a project's own labelled sentences.

    >>> model = train(examples)            # [(article_key, sentence, label), ...]
    >>> model.predict(["Rents rose 12% in 2023."])
    [('CFS', 0.87)]
    >>> ClaimModel.from_json(model.to_json()).version == model.version
    True

A linear model over TF-IDF features: word 1-2 grams and character 3-5 grams of
each word (digits read as 0, so "12%" and "37%" look alike), each block scaled
to unit length, and a logistic regression with balanced class weights
(scikit-learn).  A project's few hundred labels are too few for anything that
needs more, and a linear model is fast, small and can be stored as numbers.

Stored as plain JSON (vocabulary, idf, coefficients), never as a pickle: a
database write must not be able to become code execution.  The JSON model
predicts with numpy alone, through the same code the trained model uses, so a
loaded model gives exactly the trained model's labels and scores.

Below MIN_SENTENCES labelled sentences, or with a class under MIN_PER_CLASS,
``train`` refuses with NotEnoughLabels, whose message says what is missing:
the caller suggests nothing rather than guess.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import chain, pairwise
from typing import Any

import numpy as np
from scipy import sparse

NAME = "claims-linear"
FORMAT = 1
MIN_SENTENCES = 100
MIN_PER_CLASS = 10
DEFAULT_FOLDS = 5
SIGNIFICANT = 7  # digits kept of each stored number

# What a sentence becomes; stored with the model, which is refused if this code featurises otherwise.
FEATURES = {
    "tokens": "lowercase; digits as 0; words, numbers and % $ € £ ¥ signs",
    "word_ngrams": [1, 2],
    "char_ngrams": [3, 5],
    "min_df": 2,
    "max_features": {"word": 20000, "char": 30000},
    "tf": "1 + ln(count)",
    "idf": "1 + ln((1 + n) / (1 + df))",
    "norm": "l2 per block",
}
# Fixed, not tuned per project: a project's labels are too few to tune on as well as to evaluate.
CLASSIFIER = {"model": "logistic regression", "C": 4.0, "class_weight": "balanced", "solver": "newton-cg"}

_DIGIT = re.compile(r"[1-9]")
_TOKEN = re.compile(r"[^\W\d_]+|\d+(?:[.,]\d+)*|[%$€£¥]")
Example = tuple[str, str, str]


class NotEnoughLabels(ValueError):
    """Too few labels to learn from; the message says what is missing.

    `problems` lists each shortfall ("class 'UFS' has 4 sentences (10 needed)"); the message joins them.
    """

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


# --------------------------------------------------------------------------- features

def tokens(text: str) -> list[str]:
    """The words, numbers and currency or percent signs of `text`, lowercased, every digit read as 0."""
    return _TOKEN.findall(_DIGIT.sub("0", text.lower()))


def _char_grams(token: str) -> list[str]:
    low, high = FEATURES["char_ngrams"]
    padded = f" {token} "
    return [padded[i:i + n] for n in range(low, high + 1) for i in range(len(padded) - n + 1)]


def _word_grams(toks: list[str]) -> list[str]:
    return toks + [f"{a} {b}" for a, b in pairwise(toks)]


def _counts(rows: list[list[int]], width: int) -> sparse.csr_matrix:
    """(rows, width) matrix counting how often each column is listed in each row."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    indices = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(indptr[-1]))
    m = sparse.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(len(rows), width))
    m.sum_duplicates()
    return m


def _feature_counts(sentences: Sequence[str], word: Callable[[str], int | None], char: Callable[[str], int | None],
                    widths: tuple[int, int] | None = None) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Word and character feature counts of each sentence; `word` and `char` give a feature's column
    (None: not a feature), `widths` the number of columns (default: one more than the largest given).

    Character n-grams are counted per distinct word and multiplied out (sentences x words @ words x
    n-grams), so each word is cut into n-grams once per call, not once per occurrence.
    """
    ids: dict[str, int] = {}
    word_rows, token_rows = [], []
    for sentence in sentences:
        toks = tokens(sentence)
        word_rows.append([c for c in map(word, _word_grams(toks)) if c is not None])
        token_rows.append([ids.setdefault(t, len(ids)) for t in toks])
    char_rows = [[c for c in map(char, _char_grams(t)) if c is not None] for t in ids]
    if widths is None:
        widths = (1 + max(chain.from_iterable(word_rows), default=-1), 1 + max(chain.from_iterable(char_rows), default=-1))
    words = _counts(word_rows, widths[0])
    chars = (_counts(token_rows, len(ids)) @ _counts(char_rows, widths[1])).tocsr()
    chars.sort_indices()
    return words, chars


def _tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear TF times IDF, each row scaled to unit length (all-zero rows stay zero)."""
    m = counts.copy()
    m.data = (1.0 + np.log(m.data)) * idf[m.indices]
    norms = np.sqrt(np.bincount(np.repeat(np.arange(m.shape[0]), np.diff(m.indptr)), weights=m.data ** 2, minlength=m.shape[0]))
    norms[norms == 0] = 1.0
    m.data /= np.repeat(norms, np.diff(m.indptr))
    return m


def _rounded(a: np.ndarray) -> np.ndarray:
    """`a` to SIGNIFICANT digits: the stored document is half the size, the scores change by about 1e-7."""
    return np.array([float(f"{x:.{SIGNIFICANT}g}") for x in a.ravel()]).reshape(a.shape)


def _vocabulary(counts: sparse.csr_matrix, features: list[str], limit: int) -> tuple[list[str], np.ndarray]:
    """The features in at least min_df sentences (the `limit` in most), in sorted order, and their idf."""
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    kept = sorted((i for i in range(len(features)) if df[i] >= FEATURES["min_df"]), key=lambda i: (-df[i], features[i]))[:limit]
    kept.sort(key=features.__getitem__)
    n = counts.shape[0]
    idf = _rounded(np.array([1.0 + math.log((1 + n) / (1 + df[i])) for i in kept]))
    return [features[i] for i in kept], idf


# --------------------------------------------------------------------------- the model

@dataclass(frozen=True, eq=False)
class ClaimModel:
    """A trained claim classifier: everything needed to predict, as plain arrays."""

    classes: tuple[str, ...]
    word_vocabulary: tuple[str, ...]
    word_idf: np.ndarray
    char_vocabulary: tuple[str, ...]
    char_idf: np.ndarray
    coef: np.ndarray  # (1, features) for two classes (the second class's log-odds), else (classes, features)
    intercept: np.ndarray
    trained_on: dict[str, Any]
    sklearn_version: str

    name = NAME

    @cached_property
    def _columns(self) -> tuple[dict[str, int], dict[str, int]]:
        return ({f: i for i, f in enumerate(self.word_vocabulary)}, {f: i for i, f in enumerate(self.char_vocabulary)})

    def features(self, sentences: Sequence[str]) -> sparse.csr_matrix:
        """The feature matrix of `sentences`: the word block, then the character block."""
        word, char = self._columns
        words, chars = _feature_counts(sentences, word.get, char.get, (len(word), len(char)))
        return sparse.hstack([_tfidf(words, self.word_idf), _tfidf(chars, self.char_idf)], format="csr")

    def probabilities(self, sentences: Sequence[str]) -> np.ndarray:
        """(sentences, classes) probabilities, as scikit-learn's predict_proba gives them."""
        if not sentences:
            return np.zeros((0, len(self.classes)))
        z = np.asarray(self.features(sentences) @ self.coef.T) + self.intercept
        if len(self.classes) == 2:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1.0 - p, p])
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, sentences: Sequence[str]) -> list[tuple[str, float]]:
        """(label, probability of that label) for each sentence."""
        p = self.probabilities(list(sentences))
        best = p.argmax(axis=1)
        return [(self.classes[b], float(p[i, b])) for i, b in enumerate(best)]

    @cached_property
    def version(self) -> str:
        """A short hash of the stored document: two models that could predict differently never share it."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        """The model as a plain JSON document (floats written as Python's repr, so they load back exactly)."""
        return {
            "format": FORMAT,
            "name": NAME,
            "sklearn_version": self.sklearn_version,
            "features": FEATURES,
            "classifier": CLASSIFIER,
            "classes": list(self.classes),
            "trained_on": self.trained_on,
            "word": {"vocabulary": list(self.word_vocabulary), "idf": self.word_idf.tolist()},
            "char": {"vocabulary": list(self.char_vocabulary), "idf": self.char_idf.tolist()},
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
        }

    @classmethod
    def from_json(cls, doc: Any) -> ClaimModel:
        """The model stored by `to_json`; ValueError, saying what is wrong, for any other document."""
        if not isinstance(doc, dict):
            raise ValueError(f"a claim model is a JSON object, got {type(doc).__name__}")
        if doc.get("format") != FORMAT:
            raise ValueError(f"claim model format {doc.get('format')!r} cannot be read (this version reads format {FORMAT})")
        for key, expected in (("name", NAME), ("features", FEATURES), ("classifier", CLASSIFIER)):
            if doc.get(key) != expected:
                raise ValueError(f"claim model {key} {doc.get(key)!r} is not this code's {expected!r}")
        classes = _strings(doc.get("classes"), "classes")
        if len(classes) < 2:
            raise ValueError(f"classes: {len(classes)} class(es), 2 or more needed")
        word, char = _block(doc.get("word"), "word"), _block(doc.get("char"), "char")
        rows = 1 if len(classes) == 2 else len(classes)
        width = len(word[0]) + len(char[0])
        coef = _numbers(doc.get("coef"), "coef", (rows, width))
        intercept = _numbers(doc.get("intercept"), "intercept", (rows,))
        trained_on, version = doc.get("trained_on"), doc.get("sklearn_version")
        if not isinstance(trained_on, dict) or not isinstance(version, str):
            raise ValueError("trained_on must be an object and sklearn_version a string")
        return cls(classes=classes, word_vocabulary=word[0], word_idf=word[1], char_vocabulary=char[0],
                   char_idf=char[1], coef=coef, intercept=intercept, trained_on=trained_on, sklearn_version=version)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(x, str) and x for x in value):
        raise ValueError(f"{where}: expected a list of non-empty strings")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: duplicate entries")
    return tuple(value)


def _numbers(value: Any, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """`value` as a float array of `shape`; ValueError for another shape, a non-number or a non-finite number."""
    def flat(v: Any, dims: tuple[int, ...], at: str) -> list:
        if not isinstance(v, list) or len(v) != dims[0]:
            got = f"{len(v)} entries" if isinstance(v, list) else type(v).__name__
            raise ValueError(f"{at}: expected a list of {dims[0]} entries, got {got}")
        if len(dims) > 1:
            return [x for i, row in enumerate(v) for x in flat(row, dims[1:], f"{at}[{i}]")]
        if not all(type(x) in (int, float) for x in v):
            raise ValueError(f"{at}: expected numbers")
        return v

    array = np.array(flat(value, shape, where), dtype=float).reshape(shape)
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: non-finite number")
    return array


def _block(value: Any, where: str) -> tuple[tuple[str, ...], np.ndarray]:
    if not isinstance(value, dict) or set(value) != {"vocabulary", "idf"}:
        raise ValueError(f"{where}: expected an object with 'vocabulary' and 'idf'")
    vocabulary = _strings(value["vocabulary"], f"{where}.vocabulary")
    idf = _numbers(value["idf"], f"{where}.idf", (len(vocabulary),))
    if (idf < 1.0).any():
        raise ValueError(f"{where}.idf: idf below 1")
    return vocabulary, idf


# --------------------------------------------------------------------------- training

def check_labels(examples: Sequence[Example], classes: Sequence[str] | None = None) -> None:
    """NotEnoughLabels unless there are MIN_SENTENCES labelled sentences and MIN_PER_CLASS of each class.

    `classes` are the labels a project may use (all of them need examples); by default those seen.
    """
    counts = Counter(label for _, _, label in examples)
    problems = []
    if len(examples) < MIN_SENTENCES:
        problems.append(f"only {len(examples)} labelled sentence{'s' * (len(examples) != 1)} ({MIN_SENTENCES} needed)")
    wanted = list(classes) if classes is not None else sorted(counts)
    unknown = sorted(set(counts) - set(wanted))
    if unknown:
        raise ValueError(f"labels outside the project's classes: {', '.join(map(repr, unknown))}")
    if len(wanted) < 2:
        problems.append(f"only {len(wanted)} class{'es' * (len(wanted) != 1)} among the labels (2 needed)")
    for label in wanted:
        if counts[label] < MIN_PER_CLASS:
            n = counts[label]
            problems.append(f"class {label!r} has {n} sentence{'s' * (n != 1)} ({MIN_PER_CLASS} needed)")
    if problems:
        raise NotEnoughLabels(problems)


def _examples(examples: Iterable[Example]) -> list[Example]:
    rows = list(examples)
    for row in rows:
        if len(row) != 3 or not all(isinstance(x, str) for x in row[1:]) or not row[2]:
            raise ValueError(f"an example is (article_key, sentence, label) with a non-empty label, got {row!r}")
    return rows


def _fit(examples: list[Example]):
    """The model and the fitted scikit-learn classifier with its training matrix (for tests and evaluation)."""
    import sklearn
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    sentences = [s for _, s, _ in examples]
    labels = [y for _, _, y in examples]
    seen_words: dict[str, int] = {}
    seen_chars: dict[str, int] = {}
    words, chars = _feature_counts(sentences, lambda f: seen_words.setdefault(f, len(seen_words)),
                                   lambda f: seen_chars.setdefault(f, len(seen_chars)))
    word_vocab, word_idf = _vocabulary(words, list(seen_words), FEATURES["max_features"]["word"])
    char_vocab, char_idf = _vocabulary(chars, list(seen_chars), FEATURES["max_features"]["char"])
    counts = Counter(labels)
    model = ClaimModel(
        classes=tuple(sorted(counts)), word_vocabulary=tuple(word_vocab), word_idf=word_idf,
        char_vocabulary=tuple(char_vocab), char_idf=char_idf, coef=np.zeros((0, 0)), intercept=np.zeros(0),
        trained_on={"sentences": len(examples), "articles": len({k for k, _, _ in examples}),
                    "per_class": {c: counts[c] for c in sorted(counts)}},
        sklearn_version=sklearn.__version__,
    )
    # The matrix the classifier learns from is the one prediction computes, by the same code.
    x = model.features(sentences)
    clf = LogisticRegression(C=CLASSIFIER["C"], class_weight="balanced", solver="newton-cg", max_iter=1000)
    # One BLAS thread: on a problem this small, more threads only contend (10x slower on a busy machine).
    with threadpool_limits(limits=1):
        clf.fit(x, labels)
    assert tuple(clf.classes_) == model.classes
    model = replace(model, coef=_rounded(np.asarray(clf.coef_, dtype=float)),
                    intercept=_rounded(np.asarray(clf.intercept_, dtype=float)))
    return model, clf, x


def train(examples: Iterable[Example], classes: Sequence[str] | None = None) -> ClaimModel:
    """A model learned from (article_key, sentence, label) examples; NotEnoughLabels below the thresholds."""
    rows = _examples(examples)
    check_labels(rows, classes)
    return _fit(rows)[0]


# --------------------------------------------------------------------------- evaluation

def article_folds(article_keys: Sequence[str], folds: int = DEFAULT_FOLDS) -> list[int]:
    """The fold (0 .. folds-1) of each example: all sentences of an article in one fold, folds of about
    equal sentence counts (scikit-learn's GroupKFold, which is deterministic)."""
    from sklearn.model_selection import GroupKFold

    articles = len(set(article_keys))
    if folds < 2 or articles < folds:
        raise NotEnoughLabels([(f"only {articles} labelled article{'s' * (articles != 1)} "
                                f"({max(folds, 2)} needed for {folds} folds by article)")])
    assignment = [0] * len(article_keys)
    for fold, (_, test) in enumerate(GroupKFold(n_splits=folds).split(article_keys, groups=article_keys)):
        for i in test:
            assignment[i] = fold
    return assignment


def scores(truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over `classes` and each class's precision, recall, F1 and support."""
    per_class, f1s = {}, []
    for c in classes:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == c and p == c)
        guessed, support = sum(1 for p in predicted if p == c), sum(1 for t in truth if t == c)
        precision = tp / guessed if guessed else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[c] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        f1s.append(f1)
    correct = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    return {"accuracy": correct / len(truth) if truth else 0.0, "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
            "per_class": per_class}


def _majority(labels: Sequence[str]) -> str:
    counts = Counter(labels)
    return min(counts, key=lambda c: (-counts[c], c))


def cross_validate(examples: Iterable[Example], folds: int = DEFAULT_FOLDS,
                   classes: Sequence[str] | None = None) -> dict[str, Any]:
    """Held-out quality by article folds: each fold's articles are predicted by a model trained on the
    others, and so by the majority-class baseline (the training folds' most common label).

    Scores are over the pooled held-out predictions; `folds` lists each fold's size and scores.
    NotEnoughLabels below the training thresholds or with fewer articles than folds.
    """
    rows = _examples(examples)
    check_labels(rows, classes)
    labels = sorted({y for _, _, y in rows} | set(classes or ()))
    assignment = article_folds([k for k, _, _ in rows], folds)
    truth = [y for _, _, y in rows]
    predicted, baseline = [""] * len(rows), [""] * len(rows)
    for fold in range(folds):
        train_rows = [r for r, f in zip(rows, assignment, strict=True) if f != fold]
        test_at = [i for i, f in enumerate(assignment) if f == fold]
        majority = _majority([y for _, _, y in train_rows])
        if len({y for _, _, y in train_rows}) < 2:
            fold_pred = [majority] * len(test_at)
        else:
            fold_pred = [label for label, _ in _fit(train_rows)[0].predict([rows[i][1] for i in test_at])]
        for i, label in zip(test_at, fold_pred, strict=True):
            predicted[i], baseline[i] = label, majority
    fold_rows = []
    for fold in range(folds):
        at = [i for i, f in enumerate(assignment) if f == fold]
        fold_scores = scores([truth[i] for i in at], [predicted[i] for i in at], labels)
        fold_rows.append({"fold": fold, "articles": len({rows[i][0] for i in at}), "sentences": len(at),
                          "accuracy": fold_scores["accuracy"], "macro_f1": fold_scores["macro_f1"]})
    return {
        "scheme": f"{folds}-fold cross-validation by article (GroupKFold): no article in both training and test",
        "fold_count": folds, "sentences": len(rows), "articles": len({k for k, _, _ in rows}), "classes": labels,
        **scores(truth, predicted, labels),
        "baseline": {"predicts": "the training folds' most common label", **scores(truth, baseline, labels)},
        "folds": fold_rows,
    }
