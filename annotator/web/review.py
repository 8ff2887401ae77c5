"""Reviewer pages: agreement figures, the disagreement queue, adjudication into gold.

Thin views: the figures and the queue come from domain.agreement (cached per
project revision), gold and the adjudication data from domain.gold. Reviewers and admins
only; annotators get 403 (they must not see each other's work or names).
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError, OperationalError
from wtforms import HiddenField, RadioField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Length

from annotator.db import db
from annotator.db.transactions import disk_full, transaction
from annotator.domain import gold, labelschema, progress, projects
from annotator.domain.project_head import ProjectHead, ProjectNotFound, project_head
from annotator.stats.gold import HUMAN_PROVENANCE
from annotator.stats.numbers import LARGEST_ID, whole_number
from annotator.web.paging import page_arg
from annotator.web.security import require_project, roles_required

bp = Blueprint("review", __name__, url_prefix="/review")
REVIEW_ROLES = ("reviewer", "admin")
PAGE_SIZE = 50
STATUSES = ("open", "adjudicated", "all")
ARTICLES_SHOWN = 25  # the agreement page's per-article table: the least agreeing ones; the command line lists all
# Quote marks a span text may open or close with (as static/js/quotes.js has them, for the page's script).
OPENING = "“\"«„‘‚‹"
CLOSING = "”\"»“’‘›"


# ----------------------------------------------------------------- helpers
def _head(project_id: int) -> ProjectHead:
    require_project(project_id)
    try:
        return project_head(db.session, project_id)
    except ProjectNotFound:
        abort(404, f"There is no project {project_id}.")


def ago(iso: str, now: datetime | None = None) -> str:
    """'just now', 'a minute ago', '3 hours ago', '2 days ago' for an ISO 8601 UTC time (…Z)."""
    then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = max(0.0, ((now or datetime.now(timezone.utc)) - then).total_seconds())
    for size, one, many in ((86400, "a day", "days"), (3600, "an hour", "hours"), (60, "a minute", "minutes")):
        n = int(seconds // size)
        if n >= 1:
            return f"{one} ago" if n == 1 else f"{n} {many} ago"
    return "just now" if seconds < 45 else "a minute ago"


def kappa_colour(value: float | None) -> tuple[str, str]:
    """(cell fill, text fill) on a diverging scale: red below 0, white at 0, blue up to 1."""
    if value is None:
        return "#e3e3e8", "#55555c"
    v = max(-1.0, min(1.0, value))
    base, target = (247, 247, 247), ((33, 102, 172) if v >= 0 else (178, 24, 43))
    t = abs(v)
    rgb = tuple(round(b + (c - b) * t) for b, c in zip(base, target, strict=True))
    return "#%02x%02x%02x" % rgb, ("#ffffff" if t > 0.55 else "#1d1d1f")


def kappa_heatmap(cohen: dict[str, Any], cell: int = 56) -> dict[str, Any]:
    """Geometry of the pairwise Cohen's kappa heatmap, drawn as inline SVG by the template."""
    names = cohen["annotators"]
    pairs = {(p["a"], p["b"]): p for p in cohen["pairs"]}
    margin = 16 + 8 * max((len(n) for n in names), default=4)
    cells = []
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            value = cohen["matrix"][i][j]
            pair = pairs.get((a, b)) or pairs.get((b, a))
            if i == j:
                fill, ink, text, title = "#ffffff", "#9a9aa0", "·", a
            else:
                fill, ink = kappa_colour(value)
                text = "—" if value is None else f"{value:.2f}"
                n = pair["n_items_used"] if pair else 0
                title = f"{a} × {b}: " + (f"κ = {value:.3f} on {n} shared sentences" if value is not None else (pair or {}).get("reason", "undefined"))
                if pair and pair.get("ci"):
                    title += f" (95% CI {pair['ci'][0]:.3f} to {pair['ci'][1]:.3f})"
            cells.append({"x": margin + j * cell, "y": margin + i * cell, "fill": fill, "ink": ink, "text": text, "title": title})
    size = margin + cell * len(names)
    legend = [{"value": v, "fill": kappa_colour(v)[0]} for v in (-1.0, -0.5, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    width = max(size, margin + 34 * len(legend)) + 8
    # the cells' counts and intervals as a list too, least agreement first (undefined last): a cell's title shows only
    # on hover, so on a touch screen (or to a screen reader) they were nowhere
    listed = sorted(cohen["pairs"], key=lambda p: (p.get("value") is None, p.get("value") if p.get("value") is not None else 0.0, p["a"], p["b"]))
    return {"names": names, "cells": cells, "cell": cell, "margin": margin, "width": width, "height": size + 8, "legend": legend,
            "pairs": listed}


@bp.app_template_filter("quoted")
def quoted(text: str, limit: int = 80) -> str:
    """The span text on one line, cut to `limit` characters with "…", in curly quotes but not twice: a text that opens
    (or closes) with a quote mark of its own keeps that one (“Nobody wants to”, not ““Nobody wants to””). The page's
    script quotes the spans it adds with static/js/quotes.js, by the same rule."""
    shown = " ".join(text.split())
    if len(shown) > limit:
        shown = shown[:limit - 1] + "…"
    opens = bool(shown) and shown[0] in OPENING
    closes = len(shown) > 1 and shown[-1] in CLOSING and (shown[-1] != "’" or shown[0] == "‘")
    return f"{'' if opens else '“'}{shown}{'' if closes else '”'}"


def segments(sentence: dict[str, Any], spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sentence cut at span boundaries: [{text, labels}] (spans clipped to the sentence)."""
    start, end, text = sentence["start"], sentence["end"], sentence["text"]
    cuts = {start, end}
    for s in spans:
        cuts.update((min(max(s["start"], start), end), min(max(s["end"], start), end)))
    cuts = sorted(cuts)
    out = []
    for a, b in pairwise(cuts):
        labels = [s["label"] for s in spans if s["start"] < b and s["end"] > a]
        out.append({"text": text[a - start:b - start], "labels": labels})
    return out


def _filters() -> dict[str, Any]:
    """Queue filters from the query string (bad values are ignored, not errors)."""
    status = request.args.get("status", "open")
    article = request.args.get("article", "")
    return {
        "label": request.args.get("label", "").strip()[:64],
        "article": whole_number(article, LARGEST_ID),
        "status": status if status in STATUSES else "open",
    }


def _query(filters: dict[str, Any], **extra: Any) -> str:
    params = {k: v for k, v in {**filters, **extra}.items() if v not in (None, "", "open") or k == "page" and v}
    return urlencode(params)


def _apply_article_rows(rows: list[dict[str, Any]], filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The article label disputes the queue's article and status filters keep (the label filter is the sentences')."""
    return _apply(rows, {**filters, "label": ""})


def _apply(rows: list[dict[str, Any]], filters: dict[str, Any]) -> list[dict[str, Any]]:
    human = HUMAN_PROVENANCE
    if filters["label"]:
        rows = [r for r in rows if filters["label"] in r["labels"]]
    if filters["article"] is not None:
        rows = [r for r in rows if r["article_id"] == filters["article"]]
    if filters["status"] == "open":
        rows = [r for r in rows if r["gold_provenance"] not in human]
    elif filters["status"] == "adjudicated":
        rows = [r for r in rows if r["gold_provenance"] in human]
    return rows


# ----------------------------------------------------------------- pages
@bp.route("/")
@roles_required(*REVIEW_ROLES)
def index():
    return render_template("review/index.html", projects=progress.project_overview(db.session, projects.visible_project_ids(db.session, current_user)))


@bp.route("/<int:project_id>/agreement")
@roles_required(*REVIEW_ROLES)
def agreement(project_id: int):
    # The figures (NumPy) are imported by the first page that shows them: a worker that only serves annotators never loads them.
    # The name `agreement` is this page's.
    from annotator.domain import agreement as project_agreement

    head = _head(project_id)
    # the rows per article too, as `annotator agreement --by article` prints them: the page had per label and per
    # pair, and a reviewer looking for the articles annotators read differently had only the command line
    figures = project_agreement.page_figures(db.session, head.id, store=False)  # a GET never writes: a miss is computed, not stored
    summary, origins, article_rows = figures.summary, figures.suggestions, figures.articles
    colours = {s["name"]: s["color"] for s in head.schema.get("sentence_labels", [])}
    r = summary.get("fleiss_n_raters") or "N"
    return render_template(
        "review/agreement.html",
        head=head,
        s=summary,
        computed_ago=ago(summary["computed_at"]),
        origins=origins,
        origins_ago=ago(origins["computed_at"]) if origins else None,
        item_counts={k: (used.format(r=r), left.format(r=r)) for k, (used, left) in project_agreement.ITEM_COUNTS.items()},
        items_note=project_agreement.ITEMS_NOTE.format(r=r),
        heatmap=kappa_heatmap(summary["cohen_kappa"]),
        coefficients=[("percent_agreement", "Percent agreement"), ("fleiss_kappa", "Fleiss' kappa"), ("gwet_ac1", "Gwet's AC1"),
                      ("krippendorff_alpha", "Krippendorff's alpha")],
        colours=colours,
        article_min=project_agreement.ARTICLE_MIN,
        min_n=project_agreement.MIN_N,
        article_rows=article_rows,
        articles_shown=ARTICLES_SHOWN,
    )


@bp.route("/<int:project_id>/queue")
@roles_required(*REVIEW_ROLES)
def queue(project_id: int):
    from annotator.domain import agreement as project_agreement  # the figures: on first use, as in agreement()

    head = _head(project_id)
    filters = _filters()
    all_rows = project_agreement.disagreements(db.session, head.id, store=False)
    rows = _apply(all_rows, filters)
    pages = max(1, math.ceil(len(rows) / PAGE_SIZE))
    page = page_arg(pages)
    shown = rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    all_article_rows = gold.article_label_disputes(db.session, head.id, head.schema)
    article_rows = _apply_article_rows(all_article_rows, filters)
    disputed_articles = {r["article_id"] for r in all_rows} | {r["article_id"] for r in all_article_rows}
    # the article filtered by is a choice too, disputed or not (the agreement page links every article here)
    chosen = {filters["article"]} if filters["article"] is not None else set()
    article_names = project_agreement.article_names(db.session, head.id, sorted(disputed_articles | chosen))
    return render_template(
        "review/queue.html",
        head=head,
        rows=shown,
        texts=project_agreement.sentence_texts(db.session, [r["sentence_id"] for r in shown]),
        n_rows=len(rows),
        n_all=len(all_rows),
        page=page,
        pages=pages,
        filters=filters,
        query=lambda **kw: _query(filters, **kw),
        labels=head.categories,
        articles=sorted(article_names.items()),
        article_names=article_names,
        article_rows=article_rows[:PAGE_SIZE],  # a save goes on to the next one: the first page is what a reviewer works from
        n_article_rows=len(article_rows),
        n_article_rows_all=len(all_article_rows),
        statuses=STATUSES,
    )


class AdjudicationForm(FlaskForm):
    label = RadioField("Gold label", choices=[], validators=[InputRequired(message="Choose the gold label.")])
    spans = SelectMultipleField("Gold spans", choices=[], validate_choice=False)
    typed_spans = TextAreaField("More spans, typed in", validators=[Length(max=5000)])
    links = SelectMultipleField("Gold links", choices=[], validate_choice=False)
    reason = TextAreaField("Reason", validators=[Length(max=gold.MAX_REASON)])
    filters = HiddenField()
    seen = HiddenField()  # the stamp of the stored decision the page showed (gold.sentence_stamp): a save over a newer one is refused


def _open_after(rows: list[dict[str, Any]], key: str, current: int) -> int | None:
    """The first open dispute after the current one in the queue's order (which no gold decision changes), round to the
    top: a reviewer who passed over a hard one to come back to it later was sent back to it after every save (the first
    open one of the whole queue came next), and now comes to it after the last."""
    at = next((i for i, r in enumerate(rows) if r[key] == current), len(rows) - 1)
    return next((r[key] for r in rows[at + 1:] + rows[:at + 1] if r[key] != current and r["gold_provenance"] not in HUMAN_PROVENANCE), None)


def _next_open(project_id: int, filters: dict[str, Any], current: int) -> int | None:
    from annotator.domain import agreement as project_agreement  # the figures: on first use, as in agreement()

    return _open_after(_apply(project_agreement.disagreements(db.session, project_id), {**filters, "status": "all"}), "sentence_id", current)


@bp.route("/<int:project_id>/sentences/<int:sentence_id>", methods=["GET", "POST"])
@roles_required(*REVIEW_ROLES)
def sentence(project_id: int, sentence_id: int):
    head = _head(project_id)
    stored = gold.sentence_stamp(db.session, sentence_id)  # before the page's data: a save in between conflicts, never slips by
    try:
        ctx = gold.adjudication_context(db.session, head.id, sentence_id)
    except gold.GoldError as exc:
        abort(exc.status, exc.message)
    filters = _filters()
    form = AdjudicationForm()
    form.label.choices = [(name, name) for name in head.categories]
    error, status, problems = None, 200, []
    if form.validate_on_submit():
        error, status, problems, unlinked = _save(head, ctx, form, sentence_id)
        if error is None:
            response = _to_next_open(head, ctx, filters, sentence_id)
            if unlinked:
                _flash_unlinked(head, ctx, unlinked)
            return response
        if status == 409:  # another save came first: show what is stored now, keep the reviewer's choices
            form.seen.data = gold.sentence_stamp(db.session, sentence_id)
            ctx = gold.adjudication_context(db.session, head.id, sentence_id)
            error = f"{error} {_stored_now(ctx)}"
    elif request.method == "POST":
        error = "; ".join(m for messages in form.errors.values() for m in messages) or "The form could not be read; reload and try again."
        status = 422
    if request.method == "GET":
        _prefill(form, ctx)
        form.seen.data = stored
    return _sentence_page(head, ctx, form, filters, error, problems), status


def _save(
    head: ProjectHead, ctx: dict[str, Any], form: AdjudicationForm, sentence_id: int
) -> tuple[str | None, int, list[str], list[dict[str, Any]]]:
    """Store the submitted gold: (None, 200, [], its spans linked to nothing) when saved, else (error, status, problems, [])."""
    try:
        spans = [gold.parse_span_key(v) for v in form.spans.data or []] + gold.parse_span_lines(
            form.typed_spans.data or "", labelschema.names(head.schema, "span_labels"), ctx["article"]["text_length"],
            (ctx["sentence"]["start"], ctx["sentence"]["end"]))
        links = [gold.parse_link_key(v) for v in form.links.data or []]
        with transaction(db.session):
            saved = gold.adjudicate(db.session, current_user.id, sentence_id, form.label.data, spans, links, form.reason.data,
                                    seen=_seen(form))
    except gold.GoldError as exc:
        return exc.message, exc.status, exc.problems, []
    except (IntegrityError, OperationalError) as exc:  # another reviewer saved this sentence at the same moment, or the database is busy
        if disk_full(exc):
            raise  # not busy: the app's handler says "disk full" (507) and logs it
        return "The gold could not be saved just now (another change came first or the database is busy). Check the page and save again.", 409, [], []
    return None, 200, [], saved["unlinked"]


def _seen(form: AdjudicationForm | ArticleLabelForm) -> str:
    """The stamp the page sent; a form without one (an old page, a script) is taken to have seen no decision, so it
    may decide where there is none but is refused over one (it replaced it silently before)."""
    return form.seen.data or gold.NO_DECISION


def _stored_now(ctx: dict[str, Any]) -> str:
    """The stored gold label, one line, for a refused save's message."""
    g = ctx["gold"]
    if g is None:
        return "Stored now: no gold."
    by = f" by {g['reviewer']}" if g["reviewer"] else ""
    return f"Stored now: {g['label']} ({g['provenance']}{by})" + (f": “{g['reason']}”." if g["reason"] else ".")


def _flash_unlinked(head: ProjectHead, ctx: dict[str, Any], spans: list[dict[str, Any]]) -> None:
    """Saved, but a gold quote has no link to its source: say which, each with the way to its own sentence's page (a quote
    of another sentence that lost its link here is linked there), as a warning: the guidelines link a quote only when
    the article names its source."""
    def excerpt(text: str) -> str:
        return text if len(text) <= 60 else text[:57] + "…"

    shown = Markup("; ").join(
        Markup('{} “{}” ({}–{}) in <a href="{}">sentence {}</a>').format(
            s["label"], excerpt(s["text"]), s["start"], s["end"],
            url_for("review.sentence", project_id=head.id, sentence_id=s["sentence_id"]), s["sentence"] + 1)
        for s in spans)
    one = len(spans) == 1
    flash(Markup("Gold of sentence {} saved with {} linked to nothing: {}. Link {} there if the article names {} source.").format(
        ctx["sentence"]["index"] + 1, "1 span" if one else f"{len(spans)} spans", shown, "it" if one else "them", "its" if one else "their"),
        "warning")


def _to_next_open(head: ProjectHead, ctx: dict[str, Any], filters: dict[str, Any], sentence_id: int):
    """After a save: on to the next open disputed sentence with the same filters, or back to the queue."""
    query = _query(filters)
    following = _next_open(head.id, filters, sentence_id)
    if following is None:
        flash("Gold saved. No disputed sentence is left open with these filters.", "success")
        return redirect(url_for("review.queue", project_id=head.id) + ("?" + query if query else ""))
    flash(f"Gold saved for sentence {ctx['sentence']['index'] + 1} of {ctx['article']['external_id']}. Next disputed sentence:", "success")
    return redirect(url_for("review.sentence", project_id=head.id, sentence_id=following) + ("?" + query if query else ""))


def _sentence_page(
    head: ProjectHead, ctx: dict[str, Any], form: AdjudicationForm, filters: dict[str, Any], error: str | None, problems: list[str]
) -> str:
    counts = _label_counts(ctx)
    spans = _span_choices(ctx, form)
    return render_template(
        "review/sentence.html",
        head=head,
        ctx=ctx,
        form=form,
        error=error,
        problems=problems,
        filters=filters,
        query=_query(filters),
        span_choices=spans,
        link_choices=_link_choices(ctx, form, spans),
        unlinked_now=_unlinked_now(head, ctx, form, spans),
        relations=[{"name": r["name"], "key": r.get("key", ""), "from": r["from"], "to": r["to"], "description": r.get("description", "")}
                   for r in head.schema.get("relation_types", [])],
        selected_spans=set(form.spans.data or []),
        selected_links=set(form.links.data or []),
        label_counts=counts,
        n_labelled=sum(counts.values()),
        segments={p["name"]: segments(ctx["sentence"], p["spans"]) for p in ctx["annotators"]},
        gold_segments=segments(ctx["sentence"], ctx["gold_spans"]),
        span_colours={s["name"]: s["color"] for s in head.schema.get("span_labels", [])},
        label_colours={s["name"]: s["color"] for s in head.schema.get("sentence_labels", [])},
        label_keys={s["name"]: s.get("key", "") for s in head.schema.get("sentence_labels", [])},
        relation_types=labelschema.names(head.schema, "relation_types"),
        span_labels=[{"name": x["name"], "key": x.get("key", ""), "color": x.get("color", "#888888"), "description": x.get("description", "")}
                     for x in head.schema.get("span_labels", [])],
    )


def _label_counts(ctx: dict[str, Any]) -> dict[str, int]:
    """How many annotators gave each label (in the order first seen)."""
    counts: dict[str, int] = {}
    for p in ctx["annotators"]:
        if p["label"]:
            counts[p["label"]] = counts.get(p["label"], 0) + 1
    return counts


def _prefill(form: AdjudicationForm, ctx: dict[str, Any]) -> None:
    """Start from the stored gold, else from what every annotator agreed on (label: the most given)."""
    if ctx["gold"] is not None:
        form.label.data = ctx["gold"]["label"]
        form.reason.data = ctx["gold"]["reason"] or ""
        form.spans.data = [s["key"] for s in ctx["gold_spans"] if s["in_sentence"]]
        form.links.data = [link["key"] for link in ctx["gold_links"]]
        return
    best = sorted(_label_counts(ctx).items(), key=lambda kv: -kv[1])
    if best and (len(best) == 1 or best[0][1] > best[1][1]):
        form.label.data = best[0][0]
    form.spans.data = [s["key"] for s in ctx["distinct_spans"] if s["all"]]
    # an annotator's link comes with the spans it joins: keeping a quote and its source keeps the relation
    agreed = {link["key"] for link in ctx["distinct_links"] if link["all"]}
    form.links.data = sorted(agreed | set(gold.links_with_spans(ctx["distinct_links"], set(form.spans.data))))


def _span_choices(ctx: dict[str, Any], form: AdjudicationForm) -> list[dict[str, Any]]:
    """One checkbox per distinct span: the annotators', the stored gold ones, and those the reviewer marked (a page shown
    again after a refused save keeps them)."""
    choices = {s["key"]: {**s, "gold": None} for s in ctx["distinct_spans"]}
    for g in ctx["gold_spans"]:
        if g["in_sentence"]:
            choices.setdefault(g["key"], {**g, "by": [], "all": False}).update(gold=g["provenance"], reviewer=g["reviewer"])
    for key in form.spans.data or []:
        if key not in choices and (info := _reviewers_span(ctx, key)) is not None and info["in_sentence"]:
            choices[key] = {**info, "by": [], "all": False, "gold": None, "yours": True}
    return sorted(choices.values(), key=lambda s: (s["start"], s["end"], s["label"]))


def _link_choices(ctx: dict[str, Any], form: AdjudicationForm, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One checkbox per distinct link: the annotators', the stored gold ones, and those the reviewer made."""
    choices = {link["key"]: {**link, "gold": None} for link in ctx["distinct_links"]}
    for g in ctx["gold_links"]:
        choices.setdefault(g["key"], {**g, "by": [], "all": False}).update(gold=g["provenance"], reviewer=g["reviewer"])
    known = {s["key"]: s for s in spans} | {s["key"]: s for s in ctx["outside_spans"]}
    for key in form.links.data or []:
        if key in choices:
            continue
        try:
            rtype, a, b = gold.parse_link_key(key)
        except gold.GoldError:
            continue
        ends = [known.get(gold.span_key_str(*k)) or _reviewers_span(ctx, gold.span_key_str(*k)) for k in (a, b)]
        if all(ends):
            choices[key] = {"key": key, "type": rtype, "from": ends[0], "to": ends[1], "by": [], "all": False, "gold": None, "yours": True}
    return sorted(choices.values(), key=lambda x: (x["from"]["start"], x["to"]["start"], x["type"]))


def _reviewers_span(ctx: dict[str, Any], key: str) -> dict[str, Any] | None:
    """A span the reviewer sent that nobody else made, or None for a key that is not one."""
    try:
        label, start, end = gold.parse_span_key(key)
    except gold.GoldError:
        return None
    s = ctx["sentence"]
    return {"key": key, "label": label, "start": start, "end": end, "text": ctx["article"]["text"][start:end],
            "in_sentence": start < s["end"] and end > s["start"]}


def _unlinked_now(head: ProjectHead, ctx: dict[str, Any], form: AdjudicationForm, spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gold quotes a save of the form as it is would leave linked to nothing, as the page shows them before a save:
    the chosen spans, and the other sentences' gold quotes whose links into this sentence are unchosen (gold.left_unlinked)."""
    try:
        chosen = [gold.parse_span_key(v) for v in form.spans.data or []]
        links = [gold.parse_link_key(v) for v in form.links.data or []]
    except gold.GoldError:
        return []
    by_key = {s["key"]: s for s in spans} | {s["key"]: s for s in ctx["gold_linked_in"]}
    keys = gold.left_unlinked(head.schema, chosen, links, [gold.parse_span_key(s["key"]) for s in ctx["gold_linked_in"]],
                              [gold.parse_link_key(k) for k in ctx["gold_links_elsewhere"]])
    return [by_key[k] for k in (gold.span_key_str(*key) for key in keys) if k in by_key]


# ----------------------------------------------------------------- article labels
class ArticleLabelForm(FlaskForm):
    """The CSRF token and the reason; each group's values come as gold-<group> fields (the schema names the groups)."""

    reason = TextAreaField("Reason", validators=[Length(max=gold.MAX_REASON)])
    seen = HiddenField()  # the stamp of the stored decisions the page showed (gold.article_stamp)


@bp.route("/<int:project_id>/articles/<int:article_id>/labels", methods=["GET", "POST"])
@roles_required(*REVIEW_ROLES)
def article_labels(project_id: int, article_id: int):
    """A reviewer's gold for an article's label groups, as the sentence page's for a sentence: the annotators' answers
    side by side, a choice per group, a reason; saved as `adjudicated`, then on to the next open dispute."""
    head = _head(project_id)
    stored = gold.article_stamp(db.session, article_id)  # before the page's data, as on the sentence page
    try:
        ctx = gold.article_label_context(db.session, head.id, article_id)
    except gold.GoldError as exc:
        abort(exc.status, exc.message)
    filters = _filters()
    form = ArticleLabelForm()
    error, status = None, 200
    chosen = {g["name"]: [v for v in request.form.getlist(f"gold-{g['name']}") if v] for g in ctx["groups"]}
    if form.validate_on_submit():
        try:
            with transaction(db.session):
                gold.adjudicate_article_labels(db.session, current_user.id, head.id, article_id,
                                               {name: values for name, values in chosen.items() if values}, form.reason.data,
                                               seen=_seen(form))
        except gold.GoldError as exc:
            error, status = exc.message, exc.status
            if status == 409:  # another reviewer's decision came first: show it, keep this reviewer's choices
                form.seen.data = gold.article_stamp(db.session, article_id)
                ctx = gold.article_label_context(db.session, head.id, article_id)
        except (IntegrityError, OperationalError) as exc:  # another reviewer's decision came first, or the database is busy
            if disk_full(exc):
                raise
            error, status = "The gold could not be saved just now (another change came first or the database is busy). Check the page and save again.", 409
        else:
            return _to_next_open_article(head, ctx, filters)
    elif request.method == "POST":
        error = "; ".join(m for messages in form.errors.values() for m in messages) or "The form could not be read; reload and try again."
        status = 422
    if request.method == "GET":
        chosen = {g["name"]: _article_prefill(g) for g in ctx["groups"]}
        decided = [g["gold"]["reason"] for g in ctx["groups"] if g["gold"] and g["gold"]["reason"]]
        form.reason.data = decided[0] if decided else ""
        form.seen.data = stored
    return render_template("review/article_labels.html", head=head, ctx=ctx, form=form, error=error, chosen=chosen,
                           query=_query(filters)), status


def _article_prefill(group: dict[str, Any]) -> list[str]:
    """Start from the stored decision, else, where the answers differ, from the one most annotators gave (none when two
    tie); a group whose annotators agree starts undecided, so that a save leaves its automatic gold as it is."""
    if group["gold"] is not None:
        return group["gold"]["values"]
    counts: dict[tuple[str, ...], int] = {}
    for _, values in group["answers"]:
        counts[tuple(values)] = counts.get(tuple(values), 0) + 1
    best = sorted(counts.items(), key=lambda kv: -kv[1])
    return list(best[0][0]) if len(best) >= 2 and best[0][1] > best[1][1] else []


def _to_next_open_article(head: ProjectHead, ctx: dict[str, Any], filters: dict[str, Any]):
    """After a save: on to the next article whose label groups are disputed and not decided, or back to the queue."""
    query = _query(filters)
    rows = _apply_article_rows(gold.article_label_disputes(db.session, head.id, head.schema), {**filters, "status": "all"})
    following = _open_after(rows, "article_id", ctx["article"]["id"])
    name = ctx["article"]["external_id"]
    if following is None:
        flash(f"Gold saved for the article labels of {name}. No article label dispute is left open with these filters.", "success")
        return redirect(url_for("review.queue", project_id=head.id) + ("?" + query if query else "") + "#article-label-queue")
    flash(f"Gold saved for the article labels of {name}. Next disputed article:", "success")
    return redirect(url_for("review.article_labels", project_id=head.id, article_id=following) + ("?" + query if query else ""))
