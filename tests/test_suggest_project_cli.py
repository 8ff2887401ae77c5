"""`annotator suggest run | train | evaluate` over the real database: thin commands over the suggestion domain."""
from __future__ import annotations

import json
import random

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as ops
from annotator.db import db
from annotator.db.models import Article, Project, SuggesterModel, Suggestion
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, projects, suggestion_quality
from annotator.stats import attribution, claims
from tests.claims_data import articles as claim_articles

QUOTED = "Ferry fares rise\n\u201cThe old prices did not cover fuel,\u201d said Tomas Berg, who runs the line.\nPassengers were not asked.\n"
INDIRECT = "Clinic to close\nDr. Ola Ek said the clinic would close in May.\nThe building is old.\n"
PLAIN = "Weather\nIt rained all day in the valley.\n"


def invoke(runner, *args, input=None):  # noqa: A002
    return runner.invoke(args=list(args), input=input)


def one_line_error(result) -> str:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def import_texts(runner, tmp_path, project: str, texts: dict[str, str]) -> None:
    path = tmp_path / f"{project}-{len(texts)}.jsonl"
    path.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()), encoding="utf-8")
    result = invoke(runner, "import", project, str(path))
    assert result.exit_code == 0, result.output


@pytest.fixture
def news(runner, tmp_path):
    assert invoke(runner, "projects", "create", "News").exit_code == 0
    import_texts(runner, tmp_path, "News", {"quoted": QUOTED, "indirect": INDIRECT, "plain": PLAIN})
    return runner


def stored(app, external_id: str | None = None) -> list[tuple]:
    with app.app_context():
        chosen = select(Article.external_id, Suggestion.suggester, Suggestion.kind, Suggestion.label, Suggestion.start, Suggestion.end).join(
            Article, Article.id == Suggestion.article_id)
        if external_id is not None:
            chosen = chosen.where(Article.external_id == external_id)
        return sorted(db.session.execute(chosen).all(), key=repr)


# ---------------------------------------------------------------- suggest run
def test_run_stores_the_rules_suggestions_for_every_article_and_a_rerun_adds_none(app, news):
    result = invoke(news, "suggest", "run", "News")
    assert result.exit_code == 0, result.output
    rows = stored(app)
    expected = {(s.label, s.start, s.end) for s in attribution.suggest(QUOTED).spans}
    assert {(label, a, b) for k, _, kind, label, a, b in rows if k == "quoted" and kind == "span"} == expected
    assert {k for k, *_ in rows} == {"quoted", "indirect"}  # the plain article has nothing to suggest
    assert all(name == attribution.NAME for _, name, *_ in rows)
    assert result.output.strip().splitlines() == [
        f"{len(rows)} suggestions, {len(rows)} new, for 3 articles of News "
        "(suggestions are off for this project: annotators see none until an admin turns them on); "
        f"suggesters: {attribution.NAME}/{attribution.VERSION}"
    ]
    again = invoke(news, "suggest", "run", "News")
    assert again.exit_code == 0 and again.output.startswith(f"{len(rows)} suggestions, 0 new, for 3 articles of News")
    assert stored(app) == rows


def test_run_on_named_articles_only_and_no_reminder_when_suggestions_are_on(app, news):
    with app.app_context():
        with transaction(db.session):
            projects.get_project(db.session, "News").suggestions_enabled = True
    result = invoke(news, "suggest", "run", "News", "--articles", "indirect")
    assert result.exit_code == 0, result.output
    assert {k for k, *_ in stored(app)} == {"indirect"}
    assert "for 1 article of News; suggesters:" in result.output and "off" not in result.output
    both = invoke(news, "suggest", "run", "News", "--articles", "quoted", "plain")  # several ids after one --articles, as for assign
    assert both.exit_code == 0 and "for 2 articles" in both.output
    assert {k for k, *_ in stored(app)} == {"indirect", "quoted"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["Nope"], "Error: no project named 'Nope'"),
        (["News", "--articles", "quoted", "gone"], "Error: no article with id 'gone' in this project"),
        (["News", "--articles", "x", "y"], "Error: no article with id 'x' in this project (and 1 more)"),
        (["News", "quoted"], "Error: article ids follow --articles (got 'quoted')"),
        (["News", "--articles", " "], "Error: --articles needs at least one article id"),
    ],
)
def test_run_refuses_bad_input_with_one_line_and_stores_nothing(app, news, args, message):
    assert one_line_error(invoke(news, "suggest", "run", *args)) == message
    assert stored(app) == []


def test_a_long_run_shows_progress_on_stderr_and_commits_batch_by_batch(app, runner, tmp_path):
    from annotator.domain import suggesters

    assert invoke(runner, "projects", "create", "Big").exit_code == 0
    count = suggesters.BATCH + 5
    import_texts(runner, tmp_path, "Big", {f"a{i:03d}": f"Story {i}\n\u201cWe will build {i} homes,\u201d the mayor said.\n" for i in range(count)})
    result = invoke(runner, "suggest", "run", "Big")
    assert result.exit_code == 0, result.output
    assert "suggesting for Big" in result.stderr and "suggesting" not in result.stdout
    assert result.stdout.startswith(f"{3 * count + count} suggestions, {4 * count} new, for {count} articles of Big")
    with app.app_context():
        per_article = db.session.execute(select(Suggestion.article_id, func.count()).group_by(Suggestion.article_id)).all()
    assert len(per_article) == count and {n for _, n in per_article} == {4}  # QUOTE, SOURCE, CUE and the link


# ---------------------------------------------------------------- suggest train
def labelled_project(runner, tmp_path, name: str, n_articles: int, seed: int = 3) -> dict[str, list[tuple[str, str]]]:
    """A project whose sentences carry gold labels, imported as article-format records (one template sentence a line)."""
    by_article: dict[str, list[tuple[str, str]]] = {}
    for key, sentence, label in claim_articles(random.Random(seed), n_articles):
        by_article.setdefault(key, []).append((sentence, label))
    assert invoke(runner, "projects", "create", name).exit_code == 0
    path = tmp_path / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for key, rows in by_article.items():
            gold = {"labels": [{"sentence": i, "label": label} for i, (_, label) in enumerate(rows)]}
            out.write(json.dumps({"id": key, "text": "\n".join(s for s, _ in rows), "gold": gold}) + "\n")
    result = invoke(runner, "import-annotations", name, str(path))
    assert result.exit_code == 0, result.output
    return by_article


def models(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(SuggesterModel))


def test_train_on_a_young_project_says_why_stores_nothing_and_labels_are_not_suggested(app, runner, tmp_path):
    labelled_project(runner, tmp_path, "Young", 3)
    error = one_line_error(invoke(runner, "suggest", "train", "Young"))
    assert error.startswith("Error: not enough labels to train the claim suggester: only ")
    assert "labelled sentences (100 needed)" in error and error.endswith("it suggests no labels until there are (nothing was stored)")
    assert models(app) == 0
    assert invoke(runner, "suggest", "run", "Young").exit_code == 0
    assert not [row for row in stored(app) if row[2] == "label"]


def test_train_prints_version_held_out_figures_against_the_baseline_and_the_scheme(app, runner, tmp_path):
    labelled_project(runner, tmp_path, "Claims", 40)
    result = invoke(runner, "suggest", "train", "Claims", "--folds", "4")
    assert result.exit_code == 0, result.output
    with app.app_context():
        row = db.session.scalars(select(SuggesterModel)).one()
        metrics, version = row.metrics, row.version
    lines = result.output.splitlines()
    assert lines[0].startswith(f"trained {claims.NAME} version {version} on {metrics['sentences']} sentences of 40 articles of Claims")
    assert lines[1] == f"held out: macro-F1 {metrics['macro_f1']:.3f}, accuracy {metrics['accuracy']:.3f}"
    assert lines[2] == f"majority baseline: macro-F1 {metrics['baseline']['macro_f1']:.3f}, accuracy {metrics['baseline']['accuracy']:.3f}"
    assert lines[3].startswith("scheme: 4-fold cross-validation by article")
    assert metrics["macro_f1"] > metrics["baseline"]["macro_f1"] + 0.2 and metrics["accuracy"] > metrics["baseline"]["accuracy"]
    as_json = json.loads(invoke(runner, "suggest", "train", "Claims", "--folds", "4", "--json").output)
    assert as_json["version"] == version and as_json["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert set(as_json["baseline"]) == {"macro_f1", "accuracy"} and models(app) == 1  # the same labels: the same model
    # suggest run now adds the model's sentence labels
    ran = invoke(runner, "suggest", "run", "Claims", "--articles", "art-0000")
    assert ran.exit_code == 0 and f"{claims.NAME}/{version}" in ran.output
    assert {row[1] for row in stored(app) if row[2] == "label"} == {claims.NAME}


def test_train_refuses_a_fold_count_it_cannot_use(runner, tmp_path):
    assert "Error: Invalid value for '--folds'" in invoke(runner, "suggest", "train", "Nope", "--folds", "1").output
    assert one_line_error(invoke(runner, "suggest", "train", "Nope")) == "Error: no project named 'Nope'"


# ---------------------------------------------------------------- suggest evaluate
def annotate_quote(app) -> None:
    """ann marks the quoted article's quote and source and links them, by hand."""
    with app.app_context():
        s = db.session
        with transaction(s):
            ann = accounts.create_user(s, "ann")
            assignment.assign_to_user(s, projects.get_project(s, "News").id, ann, ["quoted"])
        article = s.scalar(select(Article.id).where(Article.external_id == "quoted"))
        quote = QUOTED.index("The old")
        ops.write(s, lambda: ops.create_span(s, ann.id, article, "QUOTE", quote, QUOTED.index(",\u201d"), "q-000001"))
        source = QUOTED.index("Tomas")
        ops.write(s, lambda: ops.create_span(s, ann.id, article, "SOURCE", source, source + len("Tomas Berg"), "s-000001"))
        ops.write(s, lambda: ops.create_relation(s, ann.id, article, "attributed_to", "q-000001", "s-000001", "r-000001"))


def test_evaluate_against_an_annotator_as_json_and_as_a_table(app, news):
    assert invoke(news, "suggest", "run", "News").exit_code == 0
    annotate_quote(app)
    result = invoke(news, "suggest", "evaluate", "News", "--against", "ann", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    with app.app_context():
        project = db.session.scalar(select(Project).where(Project.name == "News"))
        user = accounts.get_user(db.session, "ann")
        direct = suggestion_quality.measure(db.session, project.id, suggestion_quality.annotator(db.session, project.id, user.id))
    assert got == json.loads(json.dumps({"project": "News", "against": "ann", "suggester": None, **direct}))
    assert got["articles"] == 1 and got["spans"]["QUOTE"]["exact"]["f1"] == 1.0 and got["links"]["f1"] == 1.0
    table = invoke(news, "suggest", "evaluate", "News", "--against", "ann", "--suggester", attribution.NAME)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0] == f"{attribution.NAME}'s suggestions in News against ann, on 1 article"
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:] if line and line.split()[0] in ("QUOTE", "SOURCE", "CUE")}
    assert rows["QUOTE"][:6] == ["1.000"] * 6 and rows["SOURCE"][:6] == ["1.000"] * 6
    assert rows["CUE"][:3] == ["0.000", "-", "0.000"]  # a suggested cue the annotator did not mark: no recall to speak of
    assert "links: precision 1.000, recall 1.000, F1 1.000 (tp 1, fp 0, fn 0)" in lines
    assert lines[-1].startswith("sentence labels: not scored (")


def test_evaluate_against_gold_scores_the_gold_spans(app, news, tmp_path):
    assert invoke(news, "suggest", "run", "News").exit_code == 0
    quote = QUOTED.index("The old")
    record = {"id": "quoted", "text": QUOTED, "gold": {"spans": [{"id": "g1", "label": "QUOTE", "start": quote, "end": QUOTED.index(",\u201d")}]}}
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert invoke(news, "import-annotations", "News", str(path)).exit_code == 0
    got = json.loads(invoke(news, "suggest", "evaluate", "News", "--against", "gold", "--json").output)
    assert got["against"] == "gold" and got["articles"] == 1
    assert got["spans"]["QUOTE"]["exact"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 1, "fp": 0, "fn": 0}
    assert got["spans"]["SOURCE"]["exact"]["fp"] == 1  # gold has no source here


def test_evaluate_refuses_what_it_cannot_score(app, news):
    assert one_line_error(invoke(news, "suggest", "evaluate", "News", "--against", "gold")) == (
        "Error: News has no suggestions: run `annotator suggest run News` first")
    assert invoke(news, "suggest", "run", "News").exit_code == 0
    assert one_line_error(invoke(news, "suggest", "evaluate", "News", "--against", "gold")) == (
        "Error: gold has no labels, spans or links in News: nothing to score against")
    assert one_line_error(invoke(news, "suggest", "evaluate", "News", "--against", "nobody")) == (
        "Error: --against: no user named 'nobody' (give gold or an annotator's name)")
    assert one_line_error(invoke(news, "suggest", "evaluate", "News", "--against", "gold", "--suggester", "other")) == (
        f"Error: no suggestions from 'other' in News (there are from: {attribution.NAME})")
    assert "Missing option '--against'" in invoke(news, "suggest", "evaluate", "News").output


def test_the_cli_starts_without_loading_the_claim_models_libraries():
    """scipy (the claim model) costs every command ~0.2 s at start: only the commands that run suggesters load it."""
    import subprocess
    import sys

    code = "import sys, annotator.cli; print(sorted(m for m in ('scipy', 'sklearn') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_train_folds_default_is_the_classifiers(runner):
    assert claims.DEFAULT_FOLDS == 5 and "[default: 5]" in invoke(runner, "suggest", "train", "--help").output


# ---------------------------------------------------------------- annotator import --suggest
def test_import_with_suggest_computes_suggestions_for_the_imported_articles_only(app, news, tmp_path):
    path = tmp_path / "more.jsonl"
    path.write_text(json.dumps({"id": "later", "text": INDIRECT.replace("May", "June")}) + "\n", encoding="utf-8")
    result = invoke(news, "import", "News", str(path), "--suggest")
    assert result.exit_code == 0, result.output
    n = len(stored(app))
    assert {k for k, *_ in stored(app)} == {"later"}  # the articles imported before without --suggest have none
    assert result.output.splitlines() == [
        "imported 1 new, 0 updated, 0 skipped into News; 0 files rejected",
        f"suggestions: {n} suggestions, {n} new, for 1 article of News "
        "(suggestions are off for this project: annotators see none until an admin turns them on)",
    ]


def test_import_with_suggest_follows_updates_and_says_when_nothing_was_imported(app, news, tmp_path):
    path = tmp_path / "again.jsonl"
    path.write_text(json.dumps({"id": "quoted", "text": QUOTED}) + "\n", encoding="utf-8")
    skipped = invoke(news, "import", "News", str(path), "--suggest", "--on-duplicate", "skip")
    assert skipped.exit_code == 0 and skipped.output.splitlines()[-1] == "suggestions: no new or updated articles"
    assert stored(app) == []
    path.write_text(json.dumps({"id": "quoted", "text": INDIRECT}) + "\n", encoding="utf-8")  # the article's text changes
    updated = invoke(news, "import", "News", str(path), "--suggest", "--on-duplicate", "update")
    assert updated.exit_code == 0, updated.output
    expected = {(s.label, s.start, s.end) for s in attribution.suggest(INDIRECT).spans}
    assert {(label, a, b) for k, _, kind, label, a, b in stored(app) if kind == "span"} == expected
    assert {k for k, *_ in stored(app)} == {"quoted"}


def test_import_with_suggest_still_suggests_for_the_good_files_when_one_is_rejected(app, news, tmp_path):
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(json.dumps({"id": "fresh", "text": QUOTED.replace("fuel", "wages")}) + "\n", encoding="utf-8")
    bad.write_text('{"id": "x", "text": \n', encoding="utf-8")
    result = invoke(news, "import", "News", str(good), str(bad), "--suggest")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "imported 1 new, 0 updated, 0 skipped into News; 1 file rejected"
    assert result.stdout.splitlines()[1].startswith("suggestions: ") and "for 1 article of News" in result.stdout
    assert {k for k, *_ in stored(app)} == {"fresh"}


def every_column(app) -> list[tuple]:
    """Every stored suggestion as a tuple of all its columns but the row id and the timestamp."""
    with app.app_context():
        table = Suggestion.__table__
        columns = [c for c in table.c if c.name not in ("id", "created_at")]
        return sorted(db.session.execute(select(*columns)).all(), key=repr)


class SlowOnFirstBatch:
    """A suggester that holds up the first batch, so later batches come back from the other worker first."""

    name, version = "slow-first", "1"

    def __init__(self, first: set[str]):
        self.first = first

    def propose(self, text, sentences):
        import time

        from annotator.domain.suggestions import Proposal

        if text in self.first:
            time.sleep(0.3)
        return Proposal(self.name, self.version, labels=[(0, "NFS", 0.25)], spans=[("k", "CUE", 0, 4, 0.5)])


@pytest.mark.parametrize("slow_first", [False, True])
def test_the_pipelined_run_stores_what_the_one_process_run_stores(app, runner, tmp_path, monkeypatch, slow_first):
    from annotator.cli import suggesting
    from annotator.domain import suggesters

    monkeypatch.setattr(suggesters, "BATCH", 3)
    assert invoke(runner, "projects", "create", "A").exit_code == 0
    texts = {f"n{i}": t.replace("Ferry", f"Ferry {i}").replace("Clinic", f"Clinic {i}").replace("Weather", f"Weather {i}")
             for i, t in enumerate([QUOTED, INDIRECT, PLAIN] * 4)}
    import_texts(runner, tmp_path, "A", texts)
    with app.app_context():
        project = projects.get_project(db.session, "A")
        ids = suggesters.article_ids(db.session, project.id)
        chosen = [*suggesters.for_project(db.session, project.id)]
        if slow_first:
            chosen.append(SlowOnFirstBatch(set(list(texts.values())[:3])))
    if slow_first:
        with app.app_context():
            counts = suggesting.run(db.session, project.id, ids, chosen)  # four batches over two forked workers
    else:
        result = invoke(runner, "suggest", "run", "A")  # four batches: computed in forked workers, stored here
        assert result.exit_code == 0 and result.stdout.startswith(f"{len(stored(app))} suggestions")
    pipelined = every_column(app)
    assert pipelined
    with app.app_context():
        db.session.execute(Suggestion.__table__.delete())
        db.session.commit()
        monkeypatch.setattr(suggesting.os, "cpu_count", lambda: 1)  # one CPU: everything in this process
        counts = suggesting.run(db.session, project.id, ids, chosen)
    assert every_column(app) == pipelined and counts["articles"] == 12 and counts["suggestions"] == len(pipelined)
