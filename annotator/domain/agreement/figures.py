"""A project's agreement figures: per label, per annotator, per article, and gold counts.

The statistics are annotator.stats.agreement's; this module shapes them for
the reviewer page and the CLI (compute_summary is everything the page shows;
cache.py keeps it per project revision).

Gold in the figures = human gold (adjudicated, imported) from gold_labels,
plus automatic gold computed here from the same label matrix by the rule in
annotator.stats.gold: the figures never depend on whether
gold.ensure_auto_gold has run yet.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from annotator.db.models import Article, GoldLabel, Sentence
from annotator.domain.agreement.article_label_figures import article_label_figures
from annotator.domain.agreement.loaders import ProjectLabels, dense_ids, load_labels, load_sentences, load_spans
from annotator.domain.agreement.span_figures import span_figures
from annotator.domain.project_head import N_BOOT, SEED, ProjectHead, project_head
from annotator.stats import agreement as ag
from annotator.stats import gold as gold_rules

CONFIDENCE = 0.95
# Fewer sentences (or spans) than this behind a figure of a few of them: counts only, no figure. A pair's Cohen's kappa
# from one shared sentence is 0 when the two differ (or undefined when they agree): read as complete disagreement, it
# says nothing. The pair heatmap, each annotator's mean kappa and the suggestion figures (origin_figures) all use it.
MIN_N = 10


def too_few(n: int, one: str, least: int = MIN_N) -> str:
    """Why a figure of `n` sentences (or spans: `one` names one of them) is not given."""
    return f"{n} {one}{'' if n == 1 else 's'}: fewer than {least}, too few for a figure"


def fleiss_raters(labels: ProjectLabels, annotators_per_article: int) -> int | None:
    """Fleiss' kappa needs a fixed number of labels per sentence (not the same annotators):
    the project's annotators per article when sentences have that many, else the most
    common number of labels among sentences with two or more."""
    m = (labels.codes >= 0).sum(axis=1)
    if annotators_per_article >= 2 and (m == annotators_per_article).any():
        return int(annotators_per_article)
    counts = np.bincount(m[m >= 2]) if (m >= 2).any() else np.zeros(0)
    return int(counts.argmax()) if counts.size else None


# ----------------------------------------------------------------- gold
def item_gold(session: Session, head: ProjectHead, labels: ProjectLabels) -> tuple[np.ndarray, np.ndarray]:
    """Gold code and provenance code of every item: human gold from the table, automatic gold by the rule (annotator.stats.gold)."""
    gold, provenance = gold_rules.auto_gold_labels(labels.codes, head.majority_threshold, head.min_raters)
    code_of = {c: i for i, c in enumerate(labels.matrix.categories)}
    rows = session.execute(
        select(GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance)
        .join(Sentence, Sentence.id == GoldLabel.sentence_id)
        .join(Article, Article.id == Sentence.article_id)
        .where(Article.project_id == head.id, GoldLabel.provenance.in_(gold_rules.HUMAN_PROVENANCE))
    ).all()
    if rows:
        items = labels.items_of(np.array([r[0] for r in rows], dtype=np.int64))
        for item, (_, label, prov) in zip(items.tolist(), rows, strict=True):
            if item >= 0 and label in code_of:
                gold[item] = code_of[label]
                provenance[item] = gold_rules.PROVENANCE_CODES[prov]
    return gold, provenance


# ----------------------------------------------------------------- label figures
EXPLANATIONS = {
    "percent_agreement": (
        "Share of annotator pairs that gave a sentence the same label, averaged over sentences with two or more labels. "
        "Not corrected for chance: with one very common label it is high even when annotators guess. "
        "Undefined when no sentence has two labels."
    ),
    "fleiss_kappa": (
        "Chance-corrected agreement (1 perfect, 0 chance level, below 0 worse than chance) over the sentences labelled "
        "by exactly {r} annotators (others are left out). Undefined when no sentence has {r} labels or only one label is used."
    ),
    "gwet_ac1": (
        "Chance-corrected agreement whose chance term does not collapse when one label dominates (check-worthy "
        "claims are rare); counts every label of the schema as possible. Undefined when no sentence has two labels."
    ),
    "krippendorff_alpha": (
        "Chance-corrected agreement that allows missing labels (nominal): 1 perfect, 0 chance level, below 0 "
        "systematic disagreement; 0.8 or more is usually taken as reliable, 0.667 as the lowest acceptable. "
        "Undefined when only one label is used or no sentence has two labels."
    ),
}


# What each coefficient's item count counts, in the agreement page's words: (items used, items left out).
# An item is a labelled sentence; {r} is the number of annotators per sentence Fleiss' kappa takes.
ITEM_COUNTS = {
    "percent_agreement": ("sentences labelled by two or more annotators", "labelled by one annotator only"),
    "fleiss_kappa": ("sentences labelled by exactly {r} annotators", "labelled, but not labelled by exactly {r}"),
    "gwet_ac1": ("sentences labelled by two or more annotators", "labelled by one annotator only"),
    "krippendorff_alpha": ("sentences labelled by two or more annotators", "labelled by one annotator only"),
}
ITEMS_NOTE = (
    "An item is a sentence with at least one label. A coefficient compares annotators, so it uses the sentences "
    "labelled by two or more of them (Fleiss' kappa: by exactly {r}, as it needs the same number on every sentence); "
    "a sentence labelled by one annotator only has nothing to agree with and is left out."
)


def label_figures(labels: ProjectLabels, head: ProjectHead, n_boot: int = N_BOOT, seed: int = SEED) -> tuple[dict[str, Any], ag.LabelReport]:
    """Overall coefficients with bootstrap CIs over articles, per label figures and the Cohen's kappa matrix."""
    r = fleiss_raters(labels, head.annotators_per_article)
    report = ag.label_report(labels.matrix, n_raters=r, groups=labels.article_ids, n_boot=n_boot, seed=seed, confidence=CONFIDENCE)
    doc = report.to_dict()
    overall = {
        key: {**doc[key], "explanation": EXPLANATIONS[key].format(r=r if r is not None else "N")}
        for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha")
    }
    codes = labels.codes
    K = len(labels.matrix.categories)
    rated = codes >= 0
    m = rated.sum(axis=1)
    counts = category_counts(codes, K)
    ratings_per_label = counts.sum(axis=0)
    total = int(ratings_per_label.sum())
    pairable = m >= 2
    per_label = []
    alpha_rows = {row["label"]: row for row in doc["alpha_per_label"]}
    for c, name in enumerate(labels.matrix.categories):
        used = counts[:, c] > 0
        per_label.append(
            {
                "label": name,
                "n_ratings": int(ratings_per_label[c]),
                "share": (int(ratings_per_label[c]) / total) if total else None,
                "n_sentences_used": int(used.sum()),
                "n_sentences_unanimous": int((pairable & (counts[:, c] == m)).sum()),
                "n_sentences_split": int((pairable & used & (counts[:, c] < m)).sum()),
                "alpha": alpha_rows[name],
            }
        )
    pairs = [few_shared(p) for p in doc["cohen_kappa"]["pairs"]]
    pos = {name: k for k, name in enumerate(labels.names)}
    matrix: list[list[float | None]] = [[None] * len(labels.names) for _ in labels.names]
    for p in pairs:
        matrix[pos[p["a"]]][pos[p["b"]]] = matrix[pos[p["b"]]][pos[p["a"]]] = p["value"]
    figures = {
        "n_items": report.n_items,
        "n_ratings": report.n_ratings,
        "n_pairable": int(pairable.sum()),
        "annotators": labels.names,
        "categories": list(labels.matrix.categories),
        "fleiss_n_raters": r,
        "overall": overall,
        "per_label": per_label,
        "cohen_kappa": {"annotators": labels.names, "matrix": matrix, "pairs": pairs},
    }
    return figures, report


def few_shared(pair: dict[str, Any]) -> dict[str, Any]:
    """A pair's Cohen's kappa, none from fewer than MIN_N shared sentences (its counts, p_o and p_e stay)."""
    n = pair["n_items_used"]
    if not n or n >= MIN_N:
        return pair
    return {**pair, "value": None, "ci": None, "reason": too_few(n, "shared sentence")}


def category_counts(codes: np.ndarray, K: int) -> np.ndarray:
    """(items, K) how many annotators gave each label."""
    n = codes.shape[0]
    if n == 0 or codes.shape[1] == 0 or K == 0:
        return np.zeros((n, K), dtype=np.int64)
    flat = (codes.astype(np.int64) + 1) + (np.arange(n, dtype=np.int64) * (K + 1))[:, None]
    return np.bincount(flat.ravel(), minlength=n * (K + 1)).reshape(n, K + 1)[:, 1:]


def _weighted_kappa(pairs: list[ag.Result | None]) -> dict[str, Any]:
    """An annotator's mean Cohen's kappa with the others, each pair's kappa weighed by the sentences the pair
    shares: a pair with one sentence in common (kappa 0 or undefined from one label) must not count as much as
    one with hundreds; fewer than MIN_N sentences in all give no figure."""
    defined = [r for r in pairs if r is not None and r.value is not None and r.n_items_used]
    weight = sum(r.n_items_used for r in defined)
    reason = None
    if not weight:
        reason = "no defined Cohen's kappa with another annotator"
    elif weight < MIN_N:  # as a pair's own kappa: no figure from a handful of sentences
        reason = too_few(weight, "shared sentence")
    return {
        "value": sum(r.value * r.n_items_used for r in defined) / weight if reason is None else None,
        "n_pairs": len(pairs),
        "n_defined": len(defined),
        "n_sentences": weight,
        "reason": reason,
    }


def annotator_figures(labels: ProjectLabels, report: ag.LabelReport, gold: np.ndarray, provenance: np.ndarray) -> list[dict[str, Any]]:
    """Per annotator: work done, time, agreement with the others and with gold."""
    codes = labels.codes
    K = len(labels.matrix.categories)
    counts = category_counts(codes, K)
    m = (codes >= 0).sum(axis=1)
    alpha_all = report.krippendorff_alpha.value
    human = provenance >= gold_rules.PROVENANCE_CODES["adjudicated"]
    out = []
    for j, name in enumerate(labels.names):
        mine = codes[:, j]
        rated = mine >= 0
        n_done = int(rated.sum())
        seconds = labels.seconds[rated, j] if labels.seconds is not None else np.zeros(0)
        # pairs (this annotator, another) on shared sentences, and how many agree
        with_others = rated & (m >= 2)
        same = counts[with_others, mine[with_others]] - 1 if with_others.any() else np.zeros(0)
        n_pairs = int((m[with_others] - 1).sum())
        kappas = [report.cohen_kappa.get(name, other) for other in labels.names if other != name]
        mean_kappa = _weighted_kappa(kappas)
        others = [k for k in range(len(labels.names)) if k != j]
        if others:
            alpha_without = ag.krippendorff_alpha(ag.LabelMatrix(codes[:, others], [labels.names[k] for k in others], labels.matrix.categories))
        else:
            alpha_without = ag.Result("krippendorff_alpha", None, "no other annotator")
        out.append(
            {
                "annotator": name,
                "user_id": int(labels.user_ids[j]),
                "n_items": n_done,
                "median_seconds": float(np.median(seconds)) if seconds.size else None,
                "label_counts": {c: int((mine == k).sum()) for k, c in enumerate(labels.matrix.categories)},
                "n_items_shared": int(with_others.sum()),
                "pair_agreement": {
                    "value": float(same.sum()) / n_pairs if n_pairs else None,
                    "n_pairs": n_pairs,
                    "n_agreeing_pairs": int(same.sum()),
                    "reason": None if n_pairs else "no sentence labelled by this annotator and another",
                },
                "mean_kappa": mean_kappa,
                "alpha_without": {**alpha_without.to_dict(), "alpha_all": alpha_all,
                                  "delta": (alpha_all - alpha_without.value) if alpha_all is not None and alpha_without.value is not None else None},
                "gold": _against_gold(mine, gold, name, labels.matrix.categories),
                "adjudicated": _against_gold(mine, np.where(human, gold, -1), name, labels.matrix.categories),
            }
        )
    return out


def _against_gold(mine: np.ndarray, gold: np.ndarray, name: str, categories: list) -> dict[str, Any]:
    both = (mine >= 0) & (gold >= 0)
    n = int(both.sum())
    agree = int((mine[both] == gold[both]).sum())
    kappa = ag.cohen_kappa(ag.LabelMatrix(np.stack([mine[both], gold[both]], axis=1), [name, "\x00gold"], categories), name, "\x00gold")
    return {
        "n": n,
        "n_agree": agree,
        "value": agree / n if n else None,
        "kappa": kappa.value,
        "kappa_reason": (kappa.reason or "").replace("'\x00gold'", "gold") or None,
        "reason": None if n else "no sentence this annotator labelled has gold of this kind",
    }


def gold_counts(labels: ProjectLabels, provenance: np.ndarray) -> dict[str, int]:
    names = {v: k for k, v in gold_rules.PROVENANCE_CODES.items()}
    counts = np.bincount(provenance, minlength=len(names)) if len(provenance) else np.zeros(len(names), dtype=np.int64)
    return {names[k]: int(counts[k]) for k in range(1, len(names))}


# ----------------------------------------------------------------- per article
def article_figures(session: Session, head: ProjectHead, labels: ProjectLabels) -> list[dict[str, Any]]:
    """Per article: sentences, annotators, percent agreement and nominal alpha (vectorised over articles)."""
    codes = labels.codes
    K = len(labels.matrix.categories)
    counts = category_counts(codes, K).astype(float)
    m = counts.sum(axis=1)
    pairable = m >= 2
    art, g = dense_ids(labels.article_ids)
    G = len(art)
    with np.errstate(divide="ignore", invalid="ignore"):
        agree_i = np.where(pairable, ((counts * (counts - 1)).sum(axis=1)) / (m * (m - 1)), 0.0)
        o_i = np.where(pairable, ((counts * (counts - 1)).sum(axis=1)) / (m - 1), 0.0)
    n_items = np.bincount(g, minlength=G)
    n_pairable = np.bincount(g, weights=pairable.astype(float), minlength=G)
    pa_sum = np.bincount(g, weights=agree_i, minlength=G)
    n_val = np.bincount(g, weights=np.where(pairable, m, 0.0), minlength=G)
    o_diag = np.bincount(g, weights=o_i, minlength=G)
    nc = np.zeros((G, K))
    for c in range(K):
        nc[:, c] = np.bincount(g, weights=np.where(pairable, counts[:, c], 0.0), minlength=G)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_e = n_val * n_val - (nc * nc).sum(axis=1)
        alpha = 1.0 - (n_val - 1.0) * (n_val - o_diag) / d_e
        percent = pa_sum / n_pairable
    raters = np.zeros(G, dtype=np.int64)
    for j in range(codes.shape[1]):
        raters += np.bincount(g[codes[:, j] >= 0], minlength=G) > 0
    info = dict(
        (r[0], r[1:]) for r in session.execute(select(Article.id, Article.external_id, Article.title).where(Article.project_id == head.id))
    )
    totals = dict(
        session.execute(
            select(Sentence.article_id, func.count()).join(Article, Article.id == Sentence.article_id).where(Article.project_id == head.id).group_by(Sentence.article_id)
        ).all()
    )
    out = []
    for k, aid in enumerate(art.tolist()):
        reason_pa = reason_alpha = None
        if n_pairable[k] == 0:
            reason_pa = reason_alpha = "no sentence of this article has labels from two or more annotators"
        elif d_e[k] == 0:
            reason_alpha = "only one label is used in this article, so expected disagreement is 0 and alpha is undefined"
        external_id, title = info.get(aid, (str(aid), ""))
        out.append(
            {
                "article_id": aid,
                "external_id": external_id,
                "title": title,
                "n_sentences": int(totals.get(aid, 0)),
                "n_items": int(n_items[k]),
                "n_pairable": int(n_pairable[k]),
                "n_annotators": int(raters[k]),
                "percent_agreement": {"value": _finite(percent[k]), "reason": reason_pa},
                "krippendorff_alpha": {"value": _finite(alpha[k]) if reason_alpha is None else None, "reason": reason_alpha},
            }
        )
    out.sort(key=lambda row: (math.inf if row["krippendorff_alpha"]["value"] is None else row["krippendorff_alpha"]["value"], row["external_id"]))
    return out


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------- what the agreement page shows
def compute_summary(session: Session, head: ProjectHead, n_boot: int = N_BOOT, seed: int = SEED,
                    labels: ProjectLabels | None = None) -> dict[str, Any]:
    """Everything the agreement page shows, as plain JSON-able data; `labels`: the project's (load_labels, with
    seconds), when the caller read them already."""
    if labels is None:
        labels = load_labels(session, head)
    figures, report = label_figures(labels, head, n_boot, seed)
    gold, provenance = item_gold(session, head, labels)
    spans = load_spans(session, head)
    span_doc, rel_doc = span_figures(session, head, labels, spans, load_sentences(session, head))
    n_sentences = session.scalar(
        select(func.count(Sentence.id)).join(Article, Article.id == Sentence.article_id).where(Article.project_id == head.id)
    )
    return {
        "project": {"id": head.id, "name": head.name, "revision": head.revision},
        "computed_at": now_iso(),
        "n_sentences": int(n_sentences or 0),
        **figures,
        "annotator_figures": annotator_figures(labels, report, gold, provenance),
        "gold": gold_counts(labels, provenance),
        "spans": span_doc,
        "relations": rel_doc,
        "article_labels": article_label_figures(session, head),
        "bootstrap": {"n_resamples": n_boot, "seed": seed, "confidence": CONFIDENCE, "unit": "article",
                      "n_articles": int(len(np.unique(labels.article_ids))),
                      **intervals_reason(report.krippendorff_alpha.ci_info)},
    }


def intervals_reason(ci_info: dict[str, Any]) -> dict[str, Any]:
    """The articles that carry agreement, the fewest that give intervals, and why there are none (None when there are)."""
    n, least = ci_info["n_informative"], ci_info["min_articles"]
    return {"n_informative": n, "min_articles": least, "reason": ag.few_articles(n, least) if n < least else None}


def label_metrics(session: Session, project_id: int) -> ag.LabelReport:
    """All label metrics (no intervals) straight from the database: the benchmarked path."""
    head = project_head(session, project_id)
    labels = load_labels(session, head, with_seconds=False)
    return ag.label_report(labels.matrix, n_raters=fleiss_raters(labels, head.annotators_per_article))


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
