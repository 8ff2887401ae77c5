"""Reviewer pages: who may open them, what the agreement page shows, the disagreement queue's
order, filters and pages, and adjudication through the form (CSRF on)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Assignment, AuditEntry, CacheEntry, GoldLabel, GoldRelation, GoldSpan, Project, Suggestion
from annotator.domain import agreement
from annotator.web import review

from .conftest import Browser, add_member, add_user
from .test_project_agreement import add_spans, random_ratings, seed

PASSWORD = "correct horse"


@pytest.fixture
def project(app):
    ratings = [
        {"ann": "CFS", "ben": "NFS"},  # 0: no agreement
        {"ann": "UFS", "ben": "UFS", "cat": "NFS"},  # 1: 1/3
        {"ann": "NFS", "ben": "NFS"},  # 2: agree on the label, spans differ
        {"ann": "CFS", "ben": "CFS"},  # 3: full agreement
        {"ann": "UFS", "ben": "CFS", "cat": "CFS"},  # 4: 1/3, other article
        {"ann": "UFS", "ben": "NFS"},  # 5: no agreement, other article
    ]
    seeded = seed(app, ratings, [0, 0, 0, 0, 1, 1], annotators_per_article=2)
    (s2, _), (s3, _) = seeded.offsets[2], seeded.offsets[3]
    add_spans(app, seeded, [("ann", 0, "QUOTE", s2, s2 + 6), ("ben", 0, "QUOTE", s2, s2 + 9), ("ann", 0, "SOURCE", s3, s3 + 4)],
              [("attributed_to", 0, 2)])
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    add_user(app, "root", "admin", PASSWORD)
    add_user(app, "alice", "annotator", PASSWORD)
    return seeded


def login(browser, name):
    response = browser.login(name, PASSWORD)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser


def review_urls(seeded):
    p = seeded.project_id
    return ["/review/", f"/review/{p}/agreement", f"/review/{p}/queue", f"/review/{p}/sentences/{seeded.sentences[0]}"]


# ----------------------------------------------------------------- roles
def test_every_review_route_is_for_reviewers_and_admins_only(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("review.")]
    assert {r.endpoint for r in rules} == {"review.index", "review.agreement", "review.queue", "review.sentence", "review.article_labels"}
    for rule in rules:
        assert app.view_functions[rule.endpoint].allowed_roles == ("reviewer", "admin"), rule.endpoint


def test_anonymous_is_sent_to_login(browser, project):
    for url in review_urls(project):
        response = browser.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
    response = browser.post(review_urls(project)[-1], {"label": "CFS"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_annotators_get_403_everywhere(browser, project):
    login(browser, "alice")
    for url in review_urls(project):
        assert browser.get(url).status_code == 403, url
    assert browser.post(review_urls(project)[-1], {"label": "CFS"}).status_code == 403
    assert "nav-review" not in browser.get("/").get_data(as_text=True)
    with browser.client.application.app_context():
        assert db.session.scalars(select(GoldLabel)).all() == []


@pytest.mark.parametrize("who", ["rita", "root"])
def test_reviewers_and_admins_get_every_page(browser, project, who):
    login(browser, who)
    for url in review_urls(project):
        response = browser.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert " style=" not in html and "<script>" not in html  # CSP: no inline styles or scripts
    assert 'class="nav-review"' in browser.get("/").get_data(as_text=True)


def test_unknown_project_and_foreign_sentence_are_404(app, browser, project):
    other = seed(app, [{"ann": "CFS", "ben": "UFS"}], name="other")
    add_member(app, other.project_id, "rita")
    login(browser, "rita")
    # a reviewer gets the same 403 for a project that does not exist as for one they are not a member of
    # (so project ids tell them nothing); an admin, who may open every project, gets the 404
    assert browser.get("/review/999/agreement").status_code == 403
    assert browser.get("/review/999/queue").status_code == 403
    admin = Browser(browser.client.application.test_client())
    admin.login("root", PASSWORD)
    assert admin.get("/review/999/agreement").status_code == 404
    assert admin.get("/review/999/queue").status_code == 404
    assert browser.get(f"/review/{project.project_id}/sentences/{other.sentences[0]}").status_code == 404
    assert browser.get(f"/review/{project.project_id}/sentences/99999999999").status_code == 404


# ----------------------------------------------------------------- agreement page
def test_agreement_page_shows_coefficients_intervals_counts_and_heatmap(app, browser, project):
    login(browser, "rita")
    response = browser.get(f"/review/{project.project_id}/agreement")
    html = response.get_data(as_text=True)
    with app.app_context():
        s = agreement.summary(db.session, project.project_id)
    for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha"):
        r = s["overall"][key]
        row = re.search(rf'<tr id="coef-{key}">(.*?)</tr>', html, re.S).group(1)
        assert f"{r['value']:.3f}" in row and r["ci"] is None and '<td data-label="95 % interval" class="num">—</td>' in row, key
        assert f">{r['n_items_used']}<" in row and "What it means" in html and r["explanation"][:40] in row
        assert "No interval" not in row  # said once, under the table
    # two articles: no intervals, and the note says why instead of describing a bootstrap that was not run
    note = re.search(r'<p class="note" id="intervals-note">(.*?)</p>', html, re.S).group(1)
    assert "No 95 % intervals:" in note and "only 2 articles have a sentence labelled by two or more annotators" in note
    assert "at least 10" in note and "percentile bootstrap over" not in note
    assert "Cohen&#39;s kappa per annotator pair" in html or "Cohen's kappa per annotator pair" in html
    svg = re.search(r"<svg class=\"heatmap\".*?</svg>", html, re.S).group(0)
    assert svg.count("<rect") >= 9 and 'fill="#' in svg and "style" not in svg
    assert s["cohen_kappa"]["matrix"][0][1] is None  # ann and ben share 6 sentences: too few for a figure (see below)
    assert ">—<" in svg and "ann × ben: 6 shared sentences: fewer than 10, too few for a figure" in svg
    assert 'data-annotator="ann"' in html and "QUOTE" in html
    # links as people read them, not the schema's name for them (which tells several types apart: see below)
    relations = html[html.index('id="relations"'):]
    assert '<th scope="row">QUOTE → SOURCE</th>' in relations and "attributed_to" not in relations
    assert "Content-Security-Policy" in response.headers


def test_agreement_page_names_a_relation_type_when_the_schema_has_several(app, browser, project):
    from .test_adjudication_links import add_a_second_relation_type

    add_a_second_relation_type(app, project.project_id)
    login(browser, "rita")
    relations = browser.get(f"/review/{project.project_id}/agreement").get_data(as_text=True).split('id="relations"')[1]
    rows = re.findall(r'<th scope="row">([^<]*)</th>', relations.split("Per annotator pair")[0])
    assert rows == ["QUOTE → SOURCE (attributed_to)", "QUOTE → SOURCE (contradicts)"]


def test_agreement_page_lists_every_pairs_count_and_interval_outside_the_chart(app, browser, project):
    """Found by the walk helper: each pair's shared sentences and interval were only in the heatmap cells' hover titles,
    which a touch screen never shows. The list under the chart has them, least agreement first."""
    login(browser, "rita")
    html = browser.get(f"/review/{project.project_id}/agreement").get_data(as_text=True)
    with app.app_context():
        pairs = agreement.summary(db.session, project.project_id)["cohen_kappa"]["pairs"]
    listing = re.search(r'<details id="pair-list">(.*?)</details>', html, re.S).group(1)
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</th>(.*?)</tr>", listing, re.S)
    assert len(rows) == len(pairs) >= 3 and not any(p.get("ci") for p in pairs)  # two articles: no intervals (see the next test)
    for pair in pairs:
        cells = next(rest for name, rest in rows if name == f"{pair['a']} × {pair['b']}")
        assert f">{pair['n_items_used']:,}<" in cells
        if pair["value"] is not None:
            assert f"{pair['value']:.3f}" in cells
        if pair.get("ci"):
            assert f"{pair['ci'][0]:.3f} – {pair['ci'][1]:.3f}" in cells
    values = [p["value"] for p in sorted(pairs, key=lambda p: [name for name, _ in rows].index(f"{p['a']} × {p['b']}")) if p["value"] is not None]
    assert values == sorted(values)


def test_a_pairs_kappa_from_too_few_shared_sentences_is_no_figure_on_the_page_the_command_or_the_json(app, browser, runner):
    """Left open by the last session: cat shares one sentence with ann and with ben, and labelled it otherwise; Cohen's
    kappa of one sentence is 0, and the heatmap showed "0.00", complete disagreement, to a reviewer who reads the chart
    and not the list. Below figures.MIN_N shared sentences a pair has no figure anywhere, only its count and why."""
    import json

    ratings = [{"ann": "CFS" if i % 3 else "NFS", "ben": "CFS" if i % 3 or i == 3 else "NFS"} for i in range(12)]
    ratings[0]["cat"] = "UFS"
    seeded = seed(app, ratings, [i // 4 for i in range(12)], name="Few", annotators_per_article=2)
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    with app.app_context():
        s = agreement.summary(db.session, seeded.project_id)
    pairs = {(p["a"], p["b"]): p for p in s["cohen_kappa"]["pairs"]}
    few = pairs[("ann", "cat")]
    assert few["n_items_used"] == 1 and few["value"] is None and few["ci"] is None
    assert few["reason"] == "1 shared sentence: fewer than 10, too few for a figure"
    assert few["details"]["p_o"] == 0.0  # the counts behind it stay
    assert pairs[("ann", "ben")]["n_items_used"] == 12 and pairs[("ann", "ben")]["value"] is not None
    names = s["cohen_kappa"]["annotators"]
    assert s["cohen_kappa"]["matrix"][names.index("ann")][names.index("cat")] is None
    cat = next(r for r in s["annotator_figures"] if r["annotator"] == "cat")
    assert cat["mean_kappa"]["value"] is None and cat["mean_kappa"]["n_sentences"] == 2
    assert cat["mean_kappa"]["reason"] == "2 shared sentences: fewer than 10, too few for a figure"

    login(browser, "rita")
    html = browser.get(f"/review/{seeded.project_id}/agreement").get_data(as_text=True)
    svg = re.search(r"<svg class=\"heatmap\".*?</svg>", html, re.S).group(0)
    cells = re.findall(r"<title>(.*?)</title>.*?<text[^>]*>(.*?)</text>", svg, re.S)
    cell = dict(cells)
    assert cell["ann × cat: 1 shared sentence: fewer than 10, too few for a figure"] == "—"
    assert cell["ben × cat: 1 shared sentence: fewer than 10, too few for a figure"] == "—"
    assert "0.00" not in svg and f"{pairs[('ann', 'ben')]['value']:.2f}" in cell.values()
    listing = re.search(r'<details id="pair-list">(.*?)</details>', html, re.S).group(1)
    assert "1 shared sentence: fewer than 10, too few for a figure" in listing
    assert "fewer than 10 shared sentences" in re.search(r'<section class="card" id="pairs">(.*?)<svg', html, re.S).group(1)

    out = runner.invoke(args=["agreement", "Few"]).output
    matrix = out.split("Cohen's kappa per annotator pair:")[1]
    assert "0.000" not in matrix and "fewer than 10 shared sentences" in matrix
    doc = json.loads(runner.invoke(args=["agreement", "Few", "--json"]).output)
    assert next(p for p in doc["cohen_kappa"]["pairs"] if p["b"] == "cat")["value"] is None


def test_agreement_page_shows_intervals_from_ten_articles_on(app, browser):
    """Ten articles with sentences labelled by two or more annotators: every coefficient and pair has its interval on
    the page, and the note says how they were found."""
    names = ["ann", "ben", "cat"]
    seeded = seed(app, random_ratings(60, names, 0.1), [i // 6 for i in range(60)], name="Ten", annotators_per_article=3)
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    login(browser, "rita")
    html = browser.get(f"/review/{seeded.project_id}/agreement").get_data(as_text=True)
    with app.app_context():
        s = agreement.summary(db.session, seeded.project_id)
    assert s["bootstrap"]["n_informative"] == 10 and s["bootstrap"]["reason"] is None
    for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha"):
        r = s["overall"][key]
        row = re.search(rf'<tr id="coef-{key}">(.*?)</tr>', html, re.S).group(1)
        assert f"{r['ci'][0]:.3f} – {r['ci'][1]:.3f}" in row, key
    listing = re.search(r'<details id="pair-list">(.*?)</details>', html, re.S).group(1)
    for pair in s["cohen_kappa"]["pairs"]:
        assert f"{pair['ci'][0]:.3f} – {pair['ci'][1]:.3f}" in listing
    note = re.search(r'<p class="note" id="intervals-note">(.*?)</p>', html, re.S).group(1)
    assert "percentile bootstrap over 10 articles (1000 resamples, seed 13)" in note and "No 95" not in note


def traced(app, call):
    """call()'s result and the statements it ran, whitespace squeezed."""
    statements: list[str] = []

    def count(conn, cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(" ".join(statement.split()))

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            return call(), statements
        finally:
            event.remove(db.engine, "before_cursor_execute", count)


def test_after_annotator_agreement_the_page_reads_only_what_it_stored(app, browser, project):
    """`annotator agreement` is what stores the figures a page shows (a GET never writes). It stored the summary and the
    suggestion figures but the per-article rows only with --by article, so after a plain run the page still read every
    label and the articles and computed those rows on each view. Counted in statements: after the command (text or
    --json), the page's reads are the project's head, the suggestion stamp and the cache entries, no labels."""
    for args in (["agreement", str(project.project_id)], ["agreement", str(project.project_id), "--json"]):
        with app.app_context():
            db.session.execute(CacheEntry.__table__.delete())
            db.session.commit()
        result = app.test_cli_runner().invoke(args=args)
        assert result.exit_code == 0, result.output
        login(browser, "rita")
        response, statements = traced(app, lambda: browser.get(f"/review/{project.project_id}/agreement"))
        assert response.status_code == 200
        label_reads = [s_ for s_ in statements if re.search(r"\bFROM annotations\b|\bJOIN annotations\b", s_)]
        assert label_reads == [], (args, label_reads)
        assert sum("cache_entries" in s_ for s_ in statements) == 3, (args, statements)


@pytest.mark.parametrize("suggested", [False, True])
def test_with_nothing_cached_the_page_reads_the_labels_once(app, browser, project, suggested):
    """The page asked for the summary, the suggestions' figures and the rows per article one after the other, and on
    a miss each read every label of the project: twice with nothing cached, three times in a project with
    suggestions. Counted in statements: one read of the labels (the query that turns each label into its code)."""
    if suggested:
        with app.app_context():
            s = db.session
            s.add(Suggestion(uid="l0", article_id=project.articles[0], suggester="rules", version="1", kind="label", label="CFS",
                             score=0.9, sentence_id=project.sentences[0]))
            s.commit()
    login(browser, "rita")
    response, statements = traced(app, lambda: browser.get(f"/review/{project.project_id}/agreement"))
    assert response.status_code == 200
    label_reads = [s_ for s_ in statements if "CASE annotations.label WHEN" in s_]
    assert len(label_reads) == 1, label_reads
    assert ("1 suggestion stored for this project" in response.get_data(as_text=True)) == suggested


def test_agreement_page_shows_each_article_least_agreement_first_linked_to_its_disagreements(app, browser, project, monkeypatch):
    """Found walking the review pages: the agreement page had figures per label and per annotator pair but none per
    article (only `annotator agreement --by article` had them), so a reviewer could not see on the web which articles
    annotators read differently. Article 1 (1/3 and no agreement) before article 0 (none, 1/3, then two agreed)."""
    login(browser, "rita")
    url = f"/review/{project.project_id}/agreement"
    html = browser.get(url).get_data(as_text=True)
    with app.app_context():
        expected = agreement.articles(db.session, project.project_id, store=False)
    table = re.search(r'<table[^>]*id="article-figures".*?</table>', html, re.S).group(0)
    rows = re.findall(r'<tr data-article="(\d+)">(.*?)</tr>', table, re.S)
    assert [int(a) for a, _ in rows] == [r["article_id"] for r in expected] == [project.articles[1], project.articles[0]]
    for (_, row), r in zip(rows, expected, strict=True):
        assert f'href="/review/{project.project_id}/queue?article={r["article_id"]}"' in row
        assert f"{100 * r['percent_agreement']['value']:.1f}&nbsp;%" in row and f">{r['krippendorff_alpha']['value']:.3f}<" in row
        assert f'data-label="Sentences" class="num">{r["n_sentences"]}<' in row
    assert f"{100 * 2 / 12:.1f}&nbsp;%" in rows[0][1] and f"{100 * 7 / 12:.1f}&nbsp;%" in rows[1][1]
    queue = browser.get(f"/review/{project.project_id}/queue?article={project.articles[1]}").get_data(as_text=True)
    assert queue_ids(queue) == [project.sentences[5], project.sentences[4]]
    monkeypatch.setattr(review, "ARTICLES_SHOWN", 1)
    table = re.search(r'<section class="card" id="articles">.*?</section>', browser.get(url).get_data(as_text=True), re.S).group(0)
    assert table.count("<tr data-article=") == 1 and "The 1 articles of 2 with the least agreement" in table and "--by article" in table


def test_agreement_page_says_when_and_after_how_many_saves_in_plain_words(app, browser, project):
    login(browser, "rita")
    with app.app_context():
        revision = db.session.get(Project, project.project_id).revision
    assert revision > 0
    html = browser.get(f"/review/{project.project_id}/agreement").get_data(as_text=True)
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", re.search(r'<p class="lead" id="agreement-summary">(.*?)</p>', html, re.S).group(1)))
    assert "revision" not in summary.lower()
    assert f"Computed just now, after {revision} save{'' if revision == 1 else 's'} " in summary, summary
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', html)  # the exact time is kept for a hover
    # each coefficient's count says what its items are, and what was left out
    rows = {key: re.sub(r"\s+", " ", re.search(rf'<tr id="coef-{key}">(.*?)</tr>', html, re.S).group(1))
            for key in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha")}
    for key in ("percent_agreement", "gwet_ac1", "krippendorff_alpha"):
        assert "sentences labelled by two or more annotators" in rows[key], key
        assert "labelled by one annotator only" in rows[key], key
    assert "sentences labelled by exactly 2 annotators" in rows["fleiss_kappa"]
    assert "not labelled by exactly 2" in rows["fleiss_kappa"]
    assert "An item is a sentence" in html


@pytest.mark.parametrize("seconds, words", [(5, "just now"), (70, "a minute ago"), (150, "2 minutes ago"), (3600, "an hour ago"),
                                             (3 * 3600 + 5, "3 hours ago"), (86400 * 2 + 1, "2 days ago"), (-30, "just now")])
def test_time_ago_in_words(seconds, words):
    from datetime import datetime, timedelta, timezone

    now = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert review.ago((now - timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"), now) == words


def test_agreement_page_shows_why_a_figure_is_undefined(app, browser, project):
    one = seed(app, [{"ann": "NFS", "ben": "NFS"}, {"ann": "NFS", "ben": "NFS"}], [0, 1], name="all NFS")
    add_member(app, one.project_id, "rita")
    login(browser, "rita")
    html = browser.get(f"/review/{one.project_id}/agreement").get_data(as_text=True)
    row = re.search(r'<tr id="coef-krippendorff_alpha">(.*?)</tr>', html, re.S).group(1)
    assert "—" in row and "Undefined here" in row and "only one category is used" in row
    assert "label &#39;CFS&#39; does not occur" in html or "label 'CFS' does not occur" in html


# ----------------------------------------------------------------- queue
def queue_ids(html):
    return [int(x) for x in re.findall(r'<tr data-sentence="(\d+)">', html)]


def test_queue_orders_least_agreement_first_and_filters(browser, project):
    login(browser, "rita")
    base = f"/review/{project.project_id}/queue"
    s = project.sentences
    html = browser.get(base).get_data(as_text=True)
    # 0 and 5 (no agreement; article order), then 1 and 4 (1/3), then the label agreed but spans or links not:
    # 2 (two quotes differ, ann's link) before 3 (ann's source only)
    assert queue_ids(html) == [s[0], s[5], s[1], s[4], s[2], s[3]]
    assert "6 sentences shown of 6" in html
    assert queue_ids(browser.get(base + "?label=CFS").get_data(as_text=True)) == [s[0], s[4], s[3]]
    assert queue_ids(browser.get(f"{base}?article={project.articles[1]}").get_data(as_text=True)) == [s[5], s[4]]
    assert queue_ids(browser.get(f"{base}?article={project.articles[1]}&label=NFS").get_data(as_text=True)) == [s[5]]
    assert queue_ids(browser.get(base + "?label=NOPE").get_data(as_text=True)) == []
    assert browser.get(base + "?page=abc&article=x&status=zzz").status_code == 200  # bad filters are ignored
    # ... also digits int() cannot read ('²' passes isdigit()) and 5000 of them (both were 500s), on the queue and
    # on the adjudication page that keeps the filters
    for article in ("\u00b2", "9" * 5000):
        for url in (base, f"/review/{project.project_id}/sentences/{s[0]}"):
            response = browser.get(url, query_string={"article": article})
            assert response.status_code == 200, (url, article[:5])
    assert queue_ids(browser.get(base, query_string={"article": "\u00b2"}).get_data(as_text=True)) == queue_ids(html)


def test_the_queue_filtered_by_an_article_without_disputes_says_so_in_its_article_choice(app, browser):
    """Found in a newcomer's walk: the agreement page links every article to its disagreements, and an article with
    none opened the queue filtered by it, empty, while the Article choice said "any" (it listed only disputed
    articles). The article filtered by is chosen there; one of another project is neither listed nor named."""
    seeded = seed(app, [{"ann": "CFS", "ben": "NFS"}, {"ann": "CFS", "ben": "CFS"}], [0, 1], name="calm")
    other = seed(app, [{"ann": "CFS", "ben": "NFS"}], [0], name="elsewhere")
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    login(browser, "rita")
    base = f"/review/{seeded.project_id}/queue"
    calm = seeded.articles[1]
    html = browser.get(f"{base}?article={calm}").get_data(as_text=True)
    assert queue_ids(html) == [] and "0 sentences shown of 1" in html
    assert re.search(rf'<option value="{calm}" selected>a1</option>', html), re.search(r'<select name="article">.*?</select>', html, re.S).group(0)
    assert '<option value="" selected' not in html.split('name="article"')[1].split("</select>")[0]
    assert f'<option value="{calm}"' not in browser.get(base).get_data(as_text=True)  # unfiltered: the disputed ones only
    foreign = other.articles[0]
    html = browser.get(f"{base}?article={foreign}").get_data(as_text=True)
    assert f'<option value="{foreign}"' not in html


def test_queue_pages(browser, project, monkeypatch):
    monkeypatch.setattr(review, "PAGE_SIZE", 2)
    login(browser, "rita")
    base = f"/review/{project.project_id}/queue"
    s = project.sentences
    first = browser.get(base).get_data(as_text=True)
    assert queue_ids(first) == [s[0], s[5]] and "Page 1 of 3" in first and 'rel="next"' in first
    assert queue_ids(browser.get(base + "?page=2").get_data(as_text=True)) == [s[1], s[4]]
    last = browser.get(base + "?page=3").get_data(as_text=True)
    assert queue_ids(last) == [s[2], s[3]] and 'rel="next"' not in last and 'rel="prev"' in last
    assert queue_ids(browser.get(base + "?page=99").get_data(as_text=True)) == [s[2], s[3]]


# ----------------------------------------------------------------- adjudication
def test_adjudication_page_shows_annotators_side_by_side(browser, project):
    login(browser, "rita")
    html = browser.get(f"/review/{project.project_id}/sentences/{project.sentences[2]}").get_data(as_text=True)
    for name in ("ann", "ben"):
        assert f'data-annotator="{name}"' in html
    s2 = project.offsets[2][0]
    assert f'value="QUOTE:{s2}:{s2 + 6}"' in html and f'value="QUOTE:{s2}:{s2 + 9}"' in html
    assert 'name="csrf_token"' in html and 'value="NFS" checked' in html  # both said NFS: preselected


def test_adjudication_stores_gold_with_provenance_reason_and_goes_to_next(app, browser, project):
    login(browser, "rita")
    s = project.sentences
    s2, _ = project.offsets[2]
    s3, _ = project.offsets[3]
    url = f"/review/{project.project_id}/sentences/{s[2]}"
    browser.get(url)
    response = browser.post(url, {
        "label": "NFS",
        "spans": [f"QUOTE:{s2}:{s2 + 6}"],
        "typed_spans": f"CUE {s2 + 10} {s2 + 13}",
        "links": [f"attributed_to|QUOTE:{s2}:{s2 + 6}|SOURCE:{s3}:{s3 + 4}"],
        "reason": "ben's quote takes in the verb",
    })
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/review/{project.project_id}/sentences/{s[3]}")  # the next one in the queue's order
    with app.app_context():
        gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == s[2]))
        assert (gold.label, gold.provenance, gold.reason, gold.reviewer.name) == ("NFS", "adjudicated", "ben's quote takes in the verb", "rita")
        spans = {(g.label, g.start, g.end, g.provenance) for g in db.session.scalars(select(GoldSpan))}
        assert spans == {("QUOTE", s2, s2 + 6, "adjudicated"), ("CUE", s2 + 10, s2 + 13, "adjudicated"), ("SOURCE", s3, s3 + 4, "adjudicated")}
        assert [(r.from_span.label, r.to_span.label) for r in db.session.scalars(select(GoldRelation))] == [("QUOTE", "SOURCE")]
        entities = {e.entity for e in db.session.scalars(select(AuditEntry).where(AuditEntry.user_id == gold.reviewer_id))}
        assert entities == {"gold_label", "gold_span", "gold_relation"}
    # it leaves the open queue and shows as adjudicated; the figures show it as adjudicated gold
    base = f"/review/{project.project_id}/queue"
    assert s[2] not in queue_ids(browser.get(base).get_data(as_text=True))
    adjudicated = browser.get(base + "?status=adjudicated").get_data(as_text=True)
    assert queue_ids(adjudicated) == [s[2]] and "NFS (adjudicated)" in adjudicated
    html = browser.get(f"/review/{project.project_id}/agreement").get_data(as_text=True)
    ann = re.search(r'<tr data-annotator="ann">(.*?)</tr>', html, re.S).group(1)
    assert 'class="num adjudicated-n">1</td>' in ann and 'class="num adjudicated-agree">100.0&nbsp;%</td>' in ann
    # a figure and its "%" never part at the end of a line (a narrow column showed "100.0" over "%")
    assert re.findall(r'<td [^>]*class="num[^"]*">[^<]*\d&nbsp;%', html) and not re.findall(r'<td [^>]*class="num[^"]*">[^<]*\d %', html)


def test_a_save_goes_on_to_the_next_open_sentence_after_it_and_a_passed_one_comes_after_the_last(browser, project):
    """Found walking the queue as a reviewer: passing over the first, hard sentence to come back to it later, every save
    sent the reviewer back to it (the first open sentence of the whole queue came "next"), so the queue could only be
    worked from its top. A save now goes on to the next open sentence after the one saved, round to the top at the end."""
    login(browser, "rita")
    s = project.sentences  # the queue: s0, s5, s1, s4, s2, s3

    def save(sentence, label):
        url = f"/review/{project.project_id}/sentences/{sentence}"
        browser.get(url)
        response = browser.post(url, {"label": label})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        return int(response.headers["Location"].rsplit("/", 1)[1])

    assert save(s[5], "NFS") == s[1]  # s0 passed over: not back to it
    assert save(s[1], "UFS") == s[4]
    assert save(s[3], "CFS") == s[0]  # the last one: round to the top, to the one passed over
    assert save(s[0], "CFS") == s[4]  # ... and on after it to what is still open
    assert save(s[4], "CFS") == s[2]


def test_adjudicating_the_last_open_sentence_returns_to_the_queue(app, browser, project):
    login(browser, "rita")
    s = project.sentences
    url = f"/review/{project.project_id}/sentences/{s[5]}?article={project.articles[1]}"
    browser.get(url)
    assert browser.post(url, {"label": "UFS"}).headers["Location"].endswith(f"/sentences/{s[4]}?article={project.articles[1]}")
    url = f"/review/{project.project_id}/sentences/{s[4]}?article={project.articles[1]}"
    response = browser.post(url, {"label": "CFS"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/queue?article={project.articles[1]}")


def made_by(html: str) -> dict[str, str]:
    """Each gold span and link checkbox's value -> what the page says of who made it."""
    rows = re.findall(r'<input type="checkbox" name="(?:spans|links)" value="([^"]+)".*?<span class="muted made-by">(.*?)</span></label>', html, re.S)
    return {value.replace("&gt;", ">"): who for value, who in rows}


def test_gold_a_reviewer_added_is_theirs_not_nobodys(app, browser, project):
    """A span and a link that no annotator made but a reviewer added in adjudication say so, with the reviewer's name;
    the annotators' spans name them and the reviewer who made them gold."""
    login(browser, "rita")
    s = project.sentences
    s2, _ = project.offsets[2]
    url = f"/review/{project.project_id}/sentences/{s[2]}"
    browser.get(url)
    cue, quote = f"CUE:{s2 + 10}:{s2 + 13}", f"QUOTE:{s2}:{s2 + 6}"
    response = browser.post(url, {"label": "NFS", "spans": [quote, cue], "links": [f"attributed_to|{quote}|{cue.replace('CUE', 'SOURCE')}"],
                                  "typed_spans": f"SOURCE {s2 + 10} {s2 + 13}"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    html = browser.get(url).get_data(as_text=True)
    who = made_by(html)
    assert "nobody" not in html.split('id="adjudicate"')[1]
    assert who[cue] == "added in adjudication by rita; gold (adjudicated)"
    assert who[quote] == "marked by ann; gold (adjudicated by rita)"
    assert who[f"attributed_to|{quote}|SOURCE:{s2 + 10}:{s2 + 13}"] == "added in adjudication by rita; gold (adjudicated)"


def test_a_refused_save_shows_the_reviewers_own_spans_as_theirs(app, browser, project):
    login(browser, "rita")
    s2, _ = project.offsets[2]
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    browser.get(url)
    response = browser.post(url, {"spans": [f"CUE:{s2 + 10}:{s2 + 13}"]})  # no label: refused, the page shown again
    assert response.status_code == 422
    assert made_by(response.get_data(as_text=True))[f"CUE:{s2 + 10}:{s2 + 13}"] == "marked by you"


@pytest.mark.parametrize(
    "form, message, status",
    [
        ({}, "Choose the gold label", 422),
        ({"label": "MAYBE"}, "Not a valid choice", 422),
        ({"label": "NFS", "typed_spans": "QUOTE here there"}, "expected &#39;LABEL START END&#39;", 422),
        ({"label": "NFS", "typed_spans": "QUOTE 0 3"}, "does not overlap this sentence", 422),
        ({"label": "NFS", "spans": ["garbage"]}, "not a span", 400),  # only a tampered form sends that
        # tampered forms that were 500s: a digit int() cannot read, and a number past int()'s 4300 digits
        ({"label": "NFS", "spans": ["QUOTE:\u00b2:5"]}, "not a span", 400),
        ({"label": "NFS", "spans": ["QUOTE:0:" + "9" * 5000]}, "not a span", 400),
        ({"label": "NFS", "spans": ["QUOTE:\u0663:5"]}, "not a span", 400),
        ({"label": "NFS", "links": ["attributed_to|SOURCE:\u00b2:2|QUOTE:3:4"]}, "not a span", 400),
        ({"label": "NFS", "links": ["attributed_to|SOURCE:1:2|QUOTE:3:4"]}, "cannot start at a SOURCE", 422),
    ],
)
def test_bad_adjudication_is_a_4xx_and_stores_nothing(app, browser, project, form, message, status):
    login(browser, "rita")
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    browser.get(url)
    response = browser.post(url, form)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html and 'id="form-error"' in html
    with app.app_context():  # (opening the page made automatic gold: it has no reviewer)
        assert db.session.scalars(select(GoldLabel).where(GoldLabel.provenance == "adjudicated")).all() == []
        assert db.session.scalars(select(AuditEntry).where(AuditEntry.user_id.is_not(None))).all() == []


def test_typed_spans_report_every_problem_at_once_with_line_numbers(app, browser, project):
    login(browser, "rita")
    s2, e2 = project.offsets[2]
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    browser.get(url)
    typed = "\n".join([
        f"QUOTE {s2} {s2 + 4}",  # 1: fine
        "QUOTE here there",  # 2: not LABEL START END
        f"RUMOUR {s2} {s2 + 2}",  # 3: no such span label
        f"CUE {s2 + 5} {s2 + 5}",  # 4: empty
        "",
        "SOURCE 0 3",  # 6: outside this sentence
        f"CUE {s2} 99999999",  # 7: past the article's end
    ])
    response = browser.post(url, {"label": "NFS", "typed_spans": typed})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    problems = re.findall(r'<li class="problem">(.*?)</li>', html, re.S)
    assert [p.split(":")[0] for p in problems] == ["Line 2", "Line 3", "Line 4", "Line 6", "Line 7"], problems
    assert "RUMOUR" in problems[1] and "QUOTE, SOURCE, CUE" in problems[1]
    assert f"{s2}–{e2}" in problems[3]  # says where this sentence is
    assert "(&#39;" not in html and "&#39;QUOTE here there&#39;" not in html and "&#39;RUMOUR&#39;" not in html  # no Python reprs
    assert f"QUOTE {s2} {s2 + 4}" in html  # the typed text is kept for correcting
    with app.app_context():
        assert db.session.scalars(select(GoldLabel).where(GoldLabel.provenance == "adjudicated")).all() == []


def test_typed_offsets_in_other_digits_are_refused_with_what_to_type(app, browser, project):
    """'QUOTE ١٢٠ ١٦٤' (Arabic-Indic digits) was stored as QUOTE 120 164, where the API takes JSON integers only."""
    login(browser, "rita")
    s2, _ = project.offsets[2]
    arabic_indic = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    browser.get(url)
    typed = f"QUOTE {str(s2).translate(arabic_indic)} {str(s2 + 4).translate(arabic_indic)}\nCUE {s2} {str(s2 + 3).translate(full_width)}"
    response = browser.post(url, {"label": "NFS", "typed_spans": typed})
    assert response.status_code == 422
    problems = re.findall(r'<li class="problem">(.*?)</li>', response.get_data(as_text=True), re.S)
    assert [p.split(":")[0] for p in problems] == ["Line 1", "Line 2"], problems
    assert all("with the digits 0–9" in p for p in problems) and str(s2 + 3).translate(full_width) in problems[1]
    with app.app_context():
        assert db.session.scalars(select(GoldLabel).where(GoldLabel.provenance == "adjudicated")).all() == []
        assert db.session.scalars(select(GoldSpan)).all() == []


def test_queue_and_adjudication_number_sentences_from_1(app, browser, project):
    login(browser, "rita")
    html = browser.get(f"/review/{project.project_id}/queue?status=all").get_data(as_text=True)
    row = re.search(rf'<tr data-sentence="{project.sentences[0]}">(.*?)</tr>', html, re.S).group(1)
    assert '<span class="muted">#1</span>' in row  # index 0 in the data
    html = browser.get(f"/review/{project.project_id}/sentences/{project.sentences[1]}").get_data(as_text=True)
    assert "· sentence 2</span>" in html


def test_adjudication_needs_the_csrf_token(app, browser, project):
    login(browser, "rita")
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    response = browser.client.post(url, data={"label": "NFS"})
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(GoldLabel).where(GoldLabel.provenance == "adjudicated")).all() == []


def test_queue_writes_no_gold_the_label_writes_do(app, browser, project):
    """Issue 16: the queue used to refresh automatic gold on GET; now each label write keeps its sentence's gold current.
    (The fixture's labels went into the database behind the write path's back, so they have no gold until a write.)"""
    login(browser, "rita")
    assert browser.get(f"/review/{project.project_id}/queue").status_code == 200
    with app.app_context():
        assert db.session.execute(select(GoldLabel.sentence_id)).all() == []
        db.session.add(Assignment(article_id=project.articles[0], user_id=project.users["ben"]))
        db.session.commit()
        annotations.write(db.session, lambda: annotations.put_label(db.session, project.users["ben"], project.articles[0], 0, "CFS"))
        rows = db.session.execute(select(GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance)).all()
    # ann and ben now agree on sentence 1: its gold came with the write (another value of a label: that sentence alone)
    assert rows == [(project.sentences[0], "CFS", "unanimous")]


def test_big_queue_is_paginated_by_default(app, browser):
    seeded = seed(app, random_ratings(130, ["x", "y"], 0.0, seed_=11), [i // 10 for i in range(130)], name="big")
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    login(browser, "rita")
    html = browser.get(f"/review/{seeded.project_id}/queue").get_data(as_text=True)
    assert len(queue_ids(html)) == min(review.PAGE_SIZE, int(re.search(r"(\d+) sentences shown", html).group(1)))


def test_review_index_links_to_every_reviewer_tool_and_each_link_answers(browser, project):
    """Downloads and segmentation correction were reachable only by typing their URLs."""
    import re

    login(browser, "rita")
    html = browser.get("/review/").get_data(as_text=True)
    links = [link.replace("&amp;", "&") for link in re.findall(r'href="([^"]+)"', html)]
    p = project.project_id
    wanted = [f"/review/{p}/agreement", f"/review/{p}/queue", f"/segmentation/projects/{p}",
              f"/projects/{p}/export.jsonl?unit=sentence", f"/projects/{p}/export.jsonl?unit=article",
              f"/projects/{p}/export.jsonl?unit=sentence&gold_only=1"]
    for url in wanted:
        assert url in links, url
        assert browser.get(url).status_code == 200, url


def test_queue_lists_a_span_across_sentences_once(app, browser):
    """ann's quote runs from sentence 0 into sentence 1, ben marked none: one disputed span, one row (sentence 0)."""
    seeded = seed(app, [{"ann": "CFS", "ben": "CFS"}, {"ann": "CFS", "ben": "CFS"}], annotators_per_article=2)
    (s0, _), (s1, _) = seeded.offsets
    add_spans(app, seeded, [("ann", 0, "QUOTE", s0 + 9, s1 + 8)])
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, seeded.project_id, "rita")
    login(browser, "rita")
    html = browser.get(f"/review/{seeded.project_id}/queue").get_data(as_text=True)
    assert queue_ids(html) == [seeded.sentences[0]]
    assert "1 sentence shown of 1" in html


def test_adjudication_marks_what_an_annotator_accepted_from_a_suggestion(app, browser, project):
    """Found walking the app: the export and the agreement page tell suggested work from manual work, but the
    adjudication page showed an accepted suggestion like the annotator's own; the reviewer deciding gold should know."""
    from annotator.db.models import Annotation, Span

    with app.app_context():
        ann = project.users["ann"]
        span = db.session.scalars(select(Span).where(Span.user_id == ann, Span.label == "QUOTE")).one()
        span.origin, span.suggester, span.suggester_version = "suggested", "rules", "1"
        label = db.session.scalars(select(Annotation).where(Annotation.user_id == ann, Annotation.sentence_id == project.sentences[2])).one()
        label.origin, label.suggester, label.suggester_version = "suggested", "rules", "1"
        db.session.commit()
    login(browser, "rita")
    html = browser.get(f"/review/{project.project_id}/sentences/{project.sentences[2]}").get_data(as_text=True)
    cards = dict(re.findall(r'<article class="card annotator" data-annotator="(\w+)">(.*?)</article>', html, re.S))
    assert cards["ann"].count('class="origin-suggested"') == 2  # her label and her QUOTE
    assert "origin-suggested" not in cards["ben"]  # ben's QUOTE, same place, marked by hand


@pytest.mark.parametrize(("who", "target"), [("rita", "/review/{p}/agreement"), ("root", "/admin/projects/{p}")])
def test_home_page_links_each_project_to_the_page_that_role_uses_for_it(browser, project, who, target):
    """The reviewer's and the admin's home pages listed the project names as plain text, so they led nowhere."""
    login(browser, who)
    html = browser.get("/").get_data(as_text=True)
    cell = re.search(r'<td class="project-name">(.*?)</td>', html, re.S).group(1)
    url = target.format(p=project.project_id)
    assert re.fullmatch(rf'\s*<a href="{re.escape(url)}">[^<]+</a>\s*', cell), cell
    assert browser.get(url).status_code == 200


def test_review_index_names_the_downloads_as_the_admin_project_page_does(browser, project):
    """The review index said "sentences · articles · gold only" with no word that the gold file is empty until some
    gold exists, while the admin project page said "All sentences", "All articles" and carried that hint."""
    def downloads(html):
        texts = re.findall(r'<a href="/projects/\d+/export\.jsonl[^"]*" download>([^<]+)</a>', html)
        hint = re.search(r'<p class="hint downloads-hint">(.*?)</p>', html, re.S)
        return texts, hint and hint.group(1)

    login(browser, "root")
    review_texts, review_hint = downloads(browser.get("/review/").get_data(as_text=True))
    admin_texts, admin_hint = downloads(browser.get(f"/admin/projects/{project.project_id}").get_data(as_text=True))
    assert review_texts == admin_texts == ["All sentences", "All articles", "Gold sentences only"]
    assert review_hint == admin_hint and "an empty file until some are agreed or adjudicated" in review_hint


# ----------------------------------------------------------------- two reviewers at once
def seen_on(html: str) -> str:
    return re.search(r'<input type="hidden" name="seen" id="seen" value="([^"]*)">', html).group(1)


def test_a_save_over_a_decision_made_since_the_page_opened_is_refused_and_shows_it(app, browser, project):
    """rita and root open the same sentence; rita saves first: root's save is a 409 that names rita's gold, saves nothing,
    keeps root's choices; saved again from that page it goes through, and then rita's stale page is refused in turn."""
    login(browser, "rita")
    other = login(Browser(app.test_client()), "root")
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    rita_seen, root_seen = seen_on(browser.get(url).get_data(as_text=True)), seen_on(other.get(url).get_data(as_text=True))
    assert rita_seen == root_seen == "none"  # only automatic gold (both said NFS): no decision yet
    assert browser.post(url, {"label": "NFS", "reason": "rita's", "seen": rita_seen}).status_code == 302
    refused = other.post(url, {"label": "CFS", "reason": "root's", "seen": root_seen})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "Another reviewer saved a decision here" in html and "Stored now: NFS (adjudicated by rita): “rita’s”." in html.replace("&#39;", "’")
    assert 'value="CFS" checked' in html and "root&#39;s</textarea>" in html  # root's choices kept
    with app.app_context():
        gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == project.sentences[2]))
        assert (gold.label, gold.reason, gold.reviewer.name) == ("NFS", "rita's", "rita")
    fresh = seen_on(html)
    assert fresh not in ("", "none")
    assert other.post(url, {"label": "CFS", "reason": "root's", "seen": fresh}).status_code == 302  # seen it: replaces it
    stale = browser.post(url, {"label": "UFS", "reason": "rita again", "seen": fresh})  # rita's page saw the decision root replaced
    assert stale.status_code == 409 and "Stored now: CFS (adjudicated by root)" in stale.get_data(as_text=True).replace("&#39;", "’")
    with app.app_context():
        gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == project.sentences[2]))
        assert (gold.label, gold.reason, gold.reviewer.name) == ("CFS", "root's", "root")


@pytest.mark.parametrize("sent", [{}, {"seen": ""}, {"seen": "x" * 5000}, {"seen": "0" * 16}, {"seen": "99999999999"}])
def test_a_save_without_the_stamp_of_the_decision_it_replaces_is_refused(app, browser, project, sent):
    """A save that sends no stamp (a form without it, an old page, a script) or a made-up one over a reviewer's decision
    is a 409 that stores nothing: without a stamp it was saved over rita's decision silently."""
    login(browser, "rita")
    other = login(Browser(app.test_client()), "root")
    url = f"/review/{project.project_id}/sentences/{project.sentences[2]}"
    assert browser.post(url, {"label": "NFS", "reason": "rita's", "seen": seen_on(browser.get(url).get_data(as_text=True))}).status_code == 302
    other.get(url)
    refused = other.post(url, {"label": "CFS", "reason": "root's", **sent})
    assert refused.status_code == 409 and "Another reviewer saved a decision here" in refused.get_data(as_text=True)
    with app.app_context():
        gold = db.session.scalar(select(GoldLabel).where(GoldLabel.sentence_id == project.sentences[2]))
        assert (gold.label, gold.reason, gold.reviewer.name) == ("NFS", "rita's", "rita")


def test_the_sentence_page_quotes_a_span_text_once(app, browser):
    """The adjudication page put curly quotes around every span text it lists, so an annotator's quote that took in
    its own marks read ““Nobody wants to pay more””; the `quoted` filter keeps the text's own marks, as the page's
    script does for the spans it adds (static/js/quotes.js)."""
    from annotator.db.models import Annotation, Article, Sentence, Span, User
    from annotator.domain import projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    text = "Rents rose again. The mayor said \u201cNobody wants to pay more\u201d at noon. Ferries still run daily."
    quote = "\u201cNobody wants to pay more\u201d"
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "rents")
        articles.store_articles(s, project, [ArticleRecord("r1", "Rents", text)], "test")
        users = [User(name=name, role="annotator") for name in ("ann", "ben")]
        s.add_all(users)
        s.flush()
        sentence = s.scalar(select(Sentence).join(Article).where(Sentence.index == 1))
        for user, label in zip(users, ("CFS", "UFS"), strict=True):
            s.add(Annotation(user_id=user.id, sentence_id=sentence.id, label=label, seconds=1.0, guidelines_version=1))
        start = text.index(quote)
        s.add(Span(article_id=sentence.article_id, user_id=users[0].id, label="QUOTE", start=start, end=start + len(quote)))
        s.commit()
        pid, sid = project.id, sentence.id
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, pid, "rita")
    login(browser, "rita")
    html = browser.get(f"/review/{pid}/sentences/{sid}").get_data(as_text=True)
    assert f"</span> <bdi dir=\"ltr\">{quote}</bdi> <span" in html
    assert "\u201c\u201c" not in html and "\u201d\u201d" not in html


@pytest.mark.parametrize(("text", "shown"), [
    ("plain words", "\u201cplain words\u201d"),
    ("\u201cNobody wants to\u201d", "\u201cNobody wants to\u201d"),
    ("the players\u2019", "\u201cthe players\u2019\u201d"),
    ("a  b\nc", "\u201ca b c\u201d"),
    ("x" * 100, "\u201c" + "x" * 79 + "\u2026\u201d"),
])
def test_quoted_keeps_a_texts_own_quote_marks(text, shown):
    assert review.quoted(text) == shown
