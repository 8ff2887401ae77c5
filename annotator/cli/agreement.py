"""`annotator agreement PROJECT [--json] [--by label|annotator|article]`: a project's agreement from the shell.

Same figures as the reviewer page (domain.agreement, cached per project
revision). A readable table by default; --json prints every count, interval
and reason. An unknown project exits non-zero with a one-line reason.
A project with suggestions also gets their figures (domain.agreement.suggestions):
the "suggestions" key of --json, and a second table with --by annotator.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import click
from flask.cli import with_appcontext

from annotator.db import db
from annotator.domain import agreement, projects
from annotator.domain.wording import counted

COEFFICIENTS = (
    ("percent_agreement", "Percent agreement"),
    ("fleiss_kappa", "Fleiss' kappa"),
    ("gwet_ac1", "Gwet's AC1"),
    ("krippendorff_alpha", "Krippendorff's alpha"),
)


def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def interval(ci: Iterable[float] | None) -> str:
    return "—" if not ci else "[" + ", ".join(f"{x:.3f}" for x in ci) + "]"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def table(headers: list[str], rows: list[list[Any]], right: set[int] | None = None) -> str:
    """Plain aligned columns (numbers to the right)."""
    right = right if right is not None else set(range(1, len(headers)))
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if k in right else c.ljust(w) for k, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def intervals_note(b: dict[str, Any]) -> str:
    """How the intervals were found, or why there are none (too few articles that carry agreement)."""
    if b["reason"]:
        return f"No 95% intervals: {b['reason']}."
    return f"95% intervals: percentile bootstrap over {b['n_articles']} articles, {b['n_resamples']} resamples, seed {b['seed']}."


def overall_text(s: dict[str, Any]) -> str:
    p = s["project"]
    lines = [
        f"{p['name']}: {s['n_sentences']:,} sentences, {s['n_items']:,} labelled, "
        f"{s['n_ratings']:,} labels by {counted(len(s['annotators']), 'annotator')}; figures after {counted(p['revision'], 'save')}",
        "",
    ]
    rows, notes = [], []
    for key, title in COEFFICIENTS:
        r = s["overall"][key]
        if key == "fleiss_kappa" and s["fleiss_n_raters"]:
            title = f"{title} ({s['fleiss_n_raters']} per sentence)"
        rows.append([title, number(r["value"]), interval(r["ci"]), f"{r['n_items_used']:,}", f"{r['n_left_out']:,}"])
        if r["reason"]:
            notes.append(f"  {title}: undefined: {r['reason']}")
        elif r["ci"] is None and (r.get("ci_info") or {}).get("reason") and not s["bootstrap"]["reason"]:
            notes.append(f"  {title}: no interval: {r['ci_info']['reason']}")  # its own articles (Fleiss' kappa)
    lines.append(table(["Coefficient", "Value", "95% CI", "Sentences", "Left out"], rows))
    lines += notes
    lines.append(intervals_note(s["bootstrap"]))
    gold = s["gold"]
    lines.append("Gold: " + ", ".join(f"{n} {k}" for k, n in gold.items()))
    names = s["cohen_kappa"]["annotators"]
    if len(names) >= 2:
        lines += ["", "Cohen's kappa per annotator pair:"]
        lines.append(table([""] + names, [[a] + [number(v) for v in row] for a, row in zip(names, s["cohen_kappa"]["matrix"], strict=True)]))
        lines.append(f"  —: undefined, or fewer than {agreement.MIN_N} shared sentences, too few for a figure (--json: the pair's reason)")
    spans = s["spans"]["pooled"]
    if spans:
        lines += ["", "Span F1 (all annotator pairs pooled, each pair on the sentences both labelled):"]
        lines.append(table(["Span label", "Exact F1", "Overlap F1", "Matched (overlap)", "Unmatched"],
                           [[label, number(m["exact"]["f1"]), number(m["overlap"]["f1"]), m["overlap"]["tp"], m["overlap"]["fp"] + m["overlap"]["fn"]]
                            for label, m in spans.items()]))
    rels = s["relations"]["pooled"]
    if rels:
        lines += ["", "Relations (pooled over pairs):"]
        lines.append(table(["Relation", "F1", "Attribution agreement", "Quotes both marked"],
                           [[name, number(m["f1"]["f1"]), percent(m["attribution"]["value"]), m["attribution"]["n_considered"]]
                            for name, m in rels.items()]))
    groups = s.get("article_labels") or []
    if groups:
        lines += ["", "Article labels (an item is an article: each annotator's answer counts once):"]
        lines.append(table(["Group", "Articles", "With 2+ answers", "Agreement", "Alpha", "Fleiss kappa"],
                           [[g["group"], g["n_articles"], g["n_pairable"], percent(g["percent_agreement"]["value"]),
                             number(g["krippendorff_alpha"]["value"]), number(g["fleiss_kappa"]["value"])] for g in groups]))
        lines += [f"  {g['group']}: {g['small_sample']}" for g in groups if g.get("small_sample")]
    return "\n".join(lines)


def by_label_text(s: dict[str, Any]) -> str:
    rows = [
        [r["label"], f"{r['n_ratings']:,}", percent(r["share"]), f"{r['n_sentences_unanimous']:,}", f"{r['n_sentences_split']:,}",
         number(r["alpha"]["value"]), interval(r["alpha"]["ci"])]
        for r in s["per_label"]
    ]
    out = table(["Label", "Labels", "Share", "Unanimous", "Split", "Alpha (1 vs rest)", "95% CI"], rows)
    notes = [f"  {r['label']}: {r['alpha']['reason']}" for r in s["per_label"] if r["alpha"]["reason"]]
    return "\n".join([out] + notes)


def by_annotator_text(s: dict[str, Any]) -> str:
    rows = []
    for r in s["annotator_figures"]:
        rows.append([
            r["annotator"], f"{r['n_items']:,}", number(r["median_seconds"], 1), percent(r["pair_agreement"]["value"]),
            number(r["mean_kappa"]["value"]), number(r["alpha_without"]["value"]), f"{r['gold']['n']:,}", percent(r["gold"]["value"]),
            f"{r['adjudicated']['n']:,}", percent(r["adjudicated"]["value"]),
        ])
    return table(["Annotator", "Sentences", "Median s", "Agrees w/ others", "Mean kappa", "Alpha without",
                  "Gold n", "Agrees w/ gold", "Adjudicated n", "Agrees w/ adjudicated"], rows)


def _label_side(sides: dict[str, Any] | None, side: str) -> str:
    return "—" if sides is None else f"{percent(sides[side]['value'])} (n={sides[side]['n_sentences']})"


def _span_side(sides: dict[str, Any] | None, side: str) -> str:
    return "—" if sides is None else f"{number(sides[side]['overlap']['f1'])} (n={sides[side]['n_spans']})"


def suggestions_text(doc: dict[str, Any]) -> str:
    """Per annotator: work from suggestions, decisions, and agreement on suggested and manual work apart."""
    rows = []
    for r in doc["annotators"]:
        decisions = r["decisions"]
        rows.append([
            r["annotator"], percent(r["labels"]["share_suggested"]), percent(r["spans"]["share_suggested"]),
            f"{decisions['accepted']:,}/{decisions['decided']:,}", percent(decisions["acceptance_rate"]),
            _label_side(r["label_agreement"], "suggested"), _label_side(r["label_agreement"], "manual"),
            _span_side(r["span_f1"], "suggested"), _span_side(r["span_f1"], "manual"),
        ])
    out = table(["Annotator", "Labels suggested", "Spans suggested", "Accepted/decided", "Acceptance",
                 "Same label: suggested", "manual", "Span F1 overlap: suggested", "manual"], rows)
    return out + f"\n— with n: fewer than {doc['min_n']} sentences (labels) or spans behind the figure."


def by_article_text(rows: list[dict[str, Any]]) -> str:
    body = [
        [r["external_id"], f"{r['n_sentences']:,}", f"{r['n_items']:,}", r["n_annotators"], percent(r["percent_agreement"]["value"]),
         number(r["krippendorff_alpha"]["value"]), r["krippendorff_alpha"]["reason"] or ""]
        for r in rows
    ]
    return table(["Article", "Sentences", "Labelled", "Annotators", "Agreement", "Alpha", "Why undefined"], body, right={1, 2, 3, 4, 5})


@click.command("agreement")
@click.argument("project")
@click.option("--json", "as_json", is_flag=True, help="Print every figure, count, interval and reason as JSON.")
@click.option("--by", "by", type=click.Choice(["label", "annotator", "article"]), help="Add a table per label, annotator or article.")
@with_appcontext
def agreement_command(project: str, as_json: bool, by: str | None) -> None:
    """Inter-annotator agreement of PROJECT (a name or an id), with 95% intervals."""
    try:
        head = agreement.project_head(db.session, projects.get_project(db.session, project).id)
    except projects.ProjectError as exc:
        raise click.ClickException(str(exc)) from None
    # The command stores what the agreement page shows (a page never writes), the rows per article included,
    # whatever it prints: without them the page computed those rows from every label on each view.
    figures = agreement.page_figures(db.session, head.id)  # from one read of the labels, whatever is not stored yet
    if as_json:  # the same document as GET /api/projects/<id>/agreement
        click.echo(json.dumps(figures.document(by_article=by == "article"), indent=2, ensure_ascii=False))
        return
    summary, origins, articles = figures.summary, figures.suggestions, figures.articles  # origins: None without suggestions
    click.echo(overall_text(summary))
    if by == "label":
        click.echo("\n" + by_label_text(summary))
    elif by == "annotator":
        click.echo("\n" + by_annotator_text(summary))
        if origins is not None:
            click.echo("\n" + suggestions_text(origins))
    elif by == "article":
        click.echo("\n" + by_article_text(articles))
