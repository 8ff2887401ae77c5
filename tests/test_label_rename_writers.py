"""The writers and readers beside a label rename that read the schema long before they store or stream: the suggestion
writers (`import-annotations --as-suggestions`, `suggest run` and what runs it) store nothing under a name the schema
lost, a plain `import-annotations` (predictions too) takes its articles in the rename's order, and an export checks
its label filter in the snapshot it reads (SQLite, PostgreSQL)."""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from annotator.db import db
from annotator.db.models import Annotation, Article, Project, Suggestion
from annotator.db.transactions import transaction
from annotator.domain import label_rename, projects, suggesters
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.suggestions import Proposal, SuggestionError

from .races import beside_a_schema_change, holding_a_label, importing, one_annotator, postgres_only, renaming, take_turns, waiting_on_a_lock
from .test_export import build_project, read_jsonl

TEXT = "The mayor said the rent rose. Tenants disagree."
SCHEMA_CHANGED = suggesters.SCHEMA_CHANGED


def _postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres")


def _rename(app, project_id: int) -> None:
    """CFS -> Claim, committed, by a connection of its own (as another process makes it)."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with Session(engine) as session, transaction(session):
            label_rename.rename_label(session, project_id, "sentence_labels", "CFS", "Claim", None, "cli")
    finally:
        engine.dispose()


def _suggested(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Suggestion.label)))


class ClaimsEverything:
    """A suggester (a claim model trained before the rename, say) that proposes CFS for every article's first sentence;
    `proposing`/`go`: set when it starts, then waits for `go` (a suggester that takes its time)."""

    name, version = "claimer", "1"

    def __init__(self, proposing: threading.Event | None = None, go: threading.Event | None = None):
        self.proposing, self.go = proposing, go

    def propose(self, text: str, sentences: Any) -> Proposal:
        if self.proposing is not None and self.go is not None:
            self.proposing.set()
            self.go.wait(30)
        return Proposal(self.name, self.version, labels=[(0, "CFS", 0.9)])


# ------------------------------------------------------------------ import-annotations --as-suggestions
def test_a_suggestion_import_during_a_rename_stores_nothing_under_the_old_name(app):
    """import-annotations --as-suggestions checked the file against the schema it read at its start: on PostgreSQL,
    one that ran while a rename held its locks waited for the rename at its first insert, then committed suggestions
    of 'CFS' beside the renamed ones, a label the schema no longer has (no annotator could accept them). It now holds
    the file's articles and the project's row and looks at the schema again before it stores anything: refused with
    one line, nothing stored."""
    from annotator.domain.dataset import import_suggestions

    project_id, _, _ = one_annotator(app, TEXT)
    holding, go, outcome, errors = threading.Event(), threading.Event(), {}, []
    record = {"id": "a", "text": TEXT, "annotations": [{"annotator": "model", "labels": [{"sentence": 0, "label": "CFS"}]}]}

    import_file = importing(app, project_id, lambda s, project: import_suggestions.import_records(s, project, [(1, record)], "model.jsonl", "model", "1"), outcome, errors)

    rename = renaming(app, project_id, holding, go, errors)
    if _postgres(app):
        take_turns(app, rename, holding, go, import_file, "the import should wait for the rename")
    else:  # one writer at a time: the import reads the schema once the rename has committed
        go.set()
        rename()
        import_file()
    assert not errors, errors
    assert _suggested(app) == [], f"a suggestion under a name the schema lost ({outcome})"
    if _postgres(app):
        assert outcome["import"] == f"model.jsonl: {projects.SCHEMA_CHANGED}", outcome
    else:
        assert "unknown sentence label 'CFS'" in outcome["import"], outcome


def test_a_suggestion_import_does_not_wait_for_a_schema_change_in_flight_it_is_refused_at_once(app):
    """A schema edit holding the project's row (PostgreSQL) refuses the import at once, before it stores anything:
    the import's suggestions would otherwise be checked against the schema of before the edit."""
    postgres_only(app)
    from annotator.domain.dataset import import_suggestions

    project_id, _, _ = one_annotator(app, TEXT)
    record = {"id": "a", "text": TEXT, "annotations": [{"annotator": "model", "labels": [{"sentence": 0, "label": "CFS"}]}]}
    outcome: dict[str, Any] = {}

    import_file = importing(app, project_id, lambda s, project: import_suggestions.import_records(s, project, [(1, record)], "model.jsonl", "model", "1"), outcome)

    finished = beside_a_schema_change(app, project_id, import_file)  # as a schema edit holds the project's row
    assert finished, "the import waited for the schema change in flight"
    assert outcome["import"] == f"model.jsonl: {projects.SCHEMA_CHANGED}", outcome
    assert _suggested(app) == []


# ------------------------------------------------------------------ suggest run
@pytest.mark.parametrize("rename", ["committed while proposing", "in flight when storing"])
def test_a_suggester_run_during_a_rename_stores_nothing_under_the_old_name(app, rename):
    """`suggest run` (and `import --suggest`, the upload page's suggestions) read the schema at a batch's start, then
    ran the suggesters, which take their time, then stored what the schema of before allowed: on PostgreSQL a rename
    committed meanwhile, or holding its locks when the batch was stored, left the batch's suggestions under 'CFS', a
    label the schema had lost. The batch now looks at the schema again, its articles and the project's row held, and
    stops the run when it changed: nothing of the batch stored, and it says why (409)."""
    postgres_only(app)  # SQLite: a batch holds the write lock from its schema read to its commit, so no rename comes between
    project_id, _, article_id = one_annotator(app, TEXT)
    proposing, go, outcome, errors = threading.Event(), threading.Event(), {}, []

    def run() -> None:
        try:
            with app.app_context():
                outcome["run"] = suggesters.run_in_batches(db.session, project_id, [article_id], [ClaimsEverything(proposing, go)])
        except SuggestionError as exc:
            outcome["run"] = (exc.status, exc.message)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("run", exc))
            proposing.set()

    runner = threading.Thread(target=run)
    runner.start()
    assert proposing.wait(30)
    if rename == "committed while proposing":
        _rename(app, project_id)
        go.set()
        runner.join(60)
    else:
        holding, release = threading.Event(), threading.Event()
        renamer = threading.Thread(target=renaming(app, project_id, holding, release, errors))
        renamer.start()
        try:
            assert holding.wait(30)
            go.set()  # the batch is stored while the rename holds its locks
            assert waiting_on_a_lock(app), "the batch's store should wait for the rename"
        finally:
            go.set()
            release.set()
            renamer.join(60)
            runner.join(60)
    assert not errors, errors
    assert _suggested(app) == [], f"a suggestion under a name the schema lost ({outcome})"
    assert outcome["run"] == (409, SCHEMA_CHANGED), outcome


def _renaming_before_the_second(app, project_id: int, real: Any):  # noqa: ANN202
    """`transaction` as the pipelined run uses it, but the second one (the second batch's store) begins once a rename
    has committed."""
    calls = [0]

    @contextmanager
    def transaction_after_a_rename(session: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        calls[0] += 1
        if calls[0] == 2:
            _rename(app, project_id)
        with real(session, *args, **kwargs) as inside:
            yield inside

    return transaction_after_a_rename


def test_a_pipelined_run_stops_at_the_batch_after_a_rename(app, runner, monkeypatch):
    """`suggest run` over many articles computes them in forked workers and stores batch by batch with the schema it
    read once, at its start: a label renamed between two batches (SQLite too) left every later batch's suggestions
    under the old name. A batch now checks the schema it was computed with against the project's as it stores: the
    run stops there with one line, the batches before keep their suggestions (renamed with the rest), and exits 1."""
    from annotator.cli import suggesting

    project_id, _, _ = one_annotator(app, TEXT)
    with app.app_context():
        s = db.session
        articles.store_articles(s, s.get(Project, project_id), [ArticleRecord("b", "T", TEXT)], "test")
        s.commit()
    monkeypatch.setattr(suggesters, "BATCH", 1)  # two batches, one article each
    monkeypatch.setattr(suggesting.os, "cpu_count", lambda: 2)  # computed by two forked workers, stored here
    monkeypatch.setattr(suggesters, "installed", lambda: [ClaimsEverything()])
    monkeypatch.setattr(suggesting, "transaction", _renaming_before_the_second(app, project_id, suggesting.transaction))
    result = runner.invoke(args=["suggest", "run", "race"])
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == f"Error: {SCHEMA_CHANGED}", result.output  # one line, after the progress bar
    with app.app_context():
        stored = db.session.execute(select(Article.external_id, Suggestion.label).join(Article, Article.id == Suggestion.article_id)).all()
    assert stored == [("a", "Claim")], f"the second batch under a name the schema lost, or the first lost: {stored}"


# ------------------------------------------------------------------ export --labels
def _renaming_after_the_check(app, monkeypatch, project_id: int) -> None:
    """The export's label filter is checked, then a rename of CFS commits (by another connection), then the export goes on."""
    from annotator.domain.dataset import export
    from annotator.domain.dataset.export import options

    check = options.check_filters

    def check_then_rename(*args: Any, **kwargs: Any) -> Any:
        checked = check(*args, **kwargs)
        _rename(app, project_id)
        return checked

    monkeypatch.setattr(export, "check_filters", check_then_rename)  # the command line's
    monkeypatch.setattr(options, "check_filters", check_then_rename)  # parse_query's (the web's)


def _renamed(app, project_id: int) -> bool:
    with app.app_context():
        return "Claim" in [item["name"] for item in db.session.get(Project, project_id).label_schema["sentence_labels"]]


def test_an_export_checks_its_labels_in_the_snapshot_it_reads(app, runner, tmp_path, monkeypatch):
    """`annotator export --labels CFS` checked the label before its snapshot began (PostgreSQL): a rename committed
    between the two passed the check, and the export then found no sentence labelled CFS and wrote an empty file
    with exit 0. The label is now checked in the export's snapshot, so the export is of the project before the rename,
    CFS rows and all (or, renamed before the snapshot, CFS is refused as an unknown label)."""
    info = build_project(app)
    _renaming_after_the_check(app, monkeypatch, info["project_id"])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(args=["export", "news", "--labels", "CFS", "-o", str(out)])
    assert _renamed(app, info["project_id"])
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_jsonl(out)] == ["art-1:0", "art-1:1"], "an export of no CFS sentence"



# ------------------------------------------------------------------ import-annotations (a file with predictions)
PREDICTION = [{"suggester": "model", "score": 0.9, "spans": [["q1", "QUOTE", 0, 28]], "relations": []}]
LABELLED = {"annotations": [{"annotator": "ann", "labels": [{"sentence": 0, "label": "CFS"}]}]}


def _importing_in_two_steps(app, monkeypatch, project_id: int, records: list[tuple[int, Any]], outcome: dict[str, Any],
                            errors: list[Any]) -> tuple[Any, threading.Event, threading.Event]:
    """(the import's work, holding, go): take_turns' first writer, an import-annotations of `records` that writes the
    first record's rows (a flush per record), then sets `holding` and waits for `go` before it reads the second."""
    from annotator.domain.dataset import import_annotations

    holding, go = threading.Event(), threading.Event()
    monkeypatch.setattr(import_annotations, "FLUSH_EVERY", 1)
    check, checked = import_annotations.check_against_database, []

    def check_then_hold(*args: Any, **kwargs: Any) -> Any:
        checked.append(1)
        if len(checked) == 2:
            holding.set()
            go.wait(30)
        return check(*args, **kwargs)

    monkeypatch.setattr(import_annotations, "check_against_database", check_then_hold)
    load = importing(app, project_id, lambda s, project: import_annotations.import_records(s, project, records, "work.jsonl"), outcome, errors)

    def run() -> None:
        load()
        holding.set()  # (an import that failed before its second record)

    return run, holding, go


def _two_articles(app) -> tuple[int, int, int]:
    """one_annotator's project with a second stored article, "b" (a higher id than "a"): (project id, user id, a's id)."""
    project_id, user_id, article_id = one_annotator(app, TEXT)
    with app.app_context():
        s = db.session
        articles.store_articles(s, s.get(Project, project_id), [ArticleRecord("b", "T", TEXT)], "test")
        s.commit()
    return project_id, user_id, article_id


def _labels(app, user_id: int) -> list[str]:
    with app.app_context():
        return db.session.scalars(select(Annotation.label).where(Annotation.user_id == user_id)).all()


@pytest.mark.parametrize("file", ["a prediction, then a stored article", "stored articles out of id order"])
def test_an_import_and_a_rename_take_their_article_locks_in_one_order(app, monkeypatch, file):
    """A plain import-annotations locked each stored article as it came to it in the file, and a file's predictions
    updated the project's row at each flush (suggestions move the revision on), while a rename locks the project's
    articles in id order and then the project's row. On PostgreSQL a rename that came between two of the import's
    articles took the later one and waited for the project's row (or an article) the import held, the import then
    waited for the rename's article, and PostgreSQL ended one of them (40P01). The import now locks every stored
    article the file names, in id order, and looks at the schema before it writes anything: the rename waits for the
    whole import and renames what it stored."""
    project_id, user_id, _ = _two_articles(app)
    if file == "stored articles out of id order":
        records = [(1, {"id": "b", "text": TEXT, **LABELLED}), (2, {"id": "a", "text": TEXT, **LABELLED})]
    else:  # a new article with a prediction, then a stored one
        records = [(1, {"id": "n", "text": TEXT, "suggestions": PREDICTION}), (2, {"id": "a", "text": TEXT, **LABELLED})]
    outcome, errors = {}, []
    import_file, holding, go = _importing_in_two_steps(app, monkeypatch, project_id, records, outcome, errors)

    def rename() -> None:
        try:
            _rename(app, project_id)
            outcome["rename"] = "renamed"
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("rename", exc))

    if _postgres(app):
        take_turns(app, import_file, holding, go, rename, "the rename should wait for the import")
    else:  # one writer at a time
        go.set()
        import_file()
        rename()
    assert not errors, errors
    assert outcome == {"import": "stored", "rename": "renamed"}, outcome
    assert _labels(app, user_id) == ["Claim"] * (2 if file == "stored articles out of id order" else 1)


def test_an_import_with_predictions_and_a_save_take_their_locks_in_one_order(app, monkeypatch):
    """The same circle with an annotator's save (PostgreSQL): a save on a stored article the import had not reached
    yet held that article's key share and waited for the project's row, which the file's predictions had updated;
    the import then waited for the save's article, and PostgreSQL ended one of them (40P01). The import's stored
    articles are now locked before it writes anything, so the save waits for the import, then stores its label."""
    postgres_only(app)  # SQLite: one writer at a time
    from annotator.domain.annotations import put_label

    project_id, user_id, article_id = _two_articles(app)
    records = [(1, {"id": "n", "text": TEXT, "suggestions": PREDICTION}), (2, {"id": "a", "text": TEXT, **LABELLED})]
    outcome, errors = {}, []
    import_file, holding, go = _importing_in_two_steps(app, monkeypatch, project_id, records, outcome, errors)

    def save() -> None:
        try:
            with app.app_context(), transaction(db.session):
                put_label(db.session, user_id, article_id, 1, "UFS")
            outcome["save"] = "stored"
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("save", exc))

    take_turns(app, import_file, holding, go, save, "the save should wait for the import")
    assert not errors, errors
    assert outcome == {"import": "stored", "save": "stored"}, outcome
    assert sorted(_labels(app, user_id)) == ["CFS", "UFS"]


def test_a_web_export_checks_its_labels_in_the_snapshot_it_streams(app, browser, monkeypatch):
    """The web export (REST and download link) checked ?labels= in the view's session and streamed the records from a
    snapshot begun afterwards (the view's session is removed before the body streams): a rename committed in between
    gave a 200 with no record (SQLite too). The query is now checked, the ETag read and the records streamed in one
    snapshot, and the ETag is that of the data streamed (on PostgreSQL it was read after the rename had committed)."""
    from annotator.domain import catalog
    from annotator.domain.dataset import export

    info = build_project(app)
    with app.app_context():  # the ETag of the project before the rename
        project = db.session.get(Project, info["project_id"])
        query = export.parse_query(db.session, project, {"labels": ["CFS"]})
        before = catalog.data_stamp(db.session, project, query.unit, query.filters, query.split)
    browser.login("rita", "correct horse")
    _renaming_after_the_check(app, monkeypatch, info["project_id"])
    response = browser.get(f"/projects/{info['project_id']}/export.jsonl?labels=CFS")
    records = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert _renamed(app, info["project_id"])
    assert response.status_code == 200
    assert [r["id"] for r in records] == ["art-1:0", "art-1:1"], "a 200 with no record: the label was renamed between the check and the stream"
    assert {r["label"] for r in records} == {"CFS"}  # the snapshot's name throughout
    assert response.get_etag() == (before, False), "the ETag of other data than the records streamed"


# ------------------------------------------------------------------ beside a save (no schema change at all)
@pytest.mark.parametrize("kind", ["annotations", "suggestions"])
def test_an_import_beside_a_save_in_flight_is_stored_not_refused_as_a_schema_change(app, kind):
    """An import looks at the schema with the project's row held FOR KEY SHARE NOWAIT, which only a rename or a schema
    edit (FOR UPDATE) conflicts with. It asked for `with_for_update(key_share=True)`, which SQLAlchemy renders FOR NO KEY
    UPDATE: a lock every save in the project holds on that row from its first statement, so an import (or a `suggest
    run` batch) that came while any annotator's save was in flight was refused, saying the schema had changed
    (PostgreSQL). It is stored now (after the save commits: both move the project's revision on, one after the other)."""
    from annotator.domain.dataset import import_annotations, import_suggestions

    project_id, user_id, article_id = _two_articles(app)
    record = {"id": "b", "text": TEXT, "annotations": [{"annotator": "model", "labels": [{"sentence": 0, "label": "CFS"}]}]}
    if kind == "annotations":
        load = lambda s, project: import_annotations.import_records(s, project, [(1, record)], "work.jsonl")  # noqa: E731
    else:
        load = lambda s, project: import_suggestions.import_records(s, project, [(1, record)], "work.jsonl", "model", "1")  # noqa: E731
    outcome: dict[str, Any] = {}
    with holding_a_label(app, user_id, article_id, "CFS"):  # another annotator's save on article a, not yet committed
        thread = threading.Thread(target=importing(app, project_id, load, outcome))
        thread.start()
        thread.join(5)
        # refused at once before; now it goes on, and waits for the save's commit only to move the revision on
        assert "import" not in outcome or outcome["import"] == "stored", outcome
    thread.join(30)
    assert outcome.get("import") == "stored", outcome


def test_an_import_beside_an_assignment_in_flight_is_stored_not_refused_as_a_schema_change(app):
    """Assigning someone by hand (and adding members) locked the project's row FOR UPDATE to take turns with other
    adds, which the import's FOR KEY SHARE look at the schema conflicts with: an import while an admin assigned
    articles was refused, saying the schema had changed (PostgreSQL). The adds lock it FOR NO KEY UPDATE now, which
    takes turns with other adds (and with a rename's FOR UPDATE) as before."""
    from annotator.domain import accounts, assignment
    from annotator.domain.dataset import import_annotations

    project_id, _, _ = _two_articles(app)
    record = {"id": "a", "text": TEXT, "annotations": [{"annotator": "model", "labels": [{"sentence": 0, "label": "CFS"}]}]}
    holding, go, errors, outcome = threading.Event(), threading.Event(), [], {}

    def assign() -> None:
        try:
            with app.app_context(), transaction(db.session):
                user = accounts.create_user(db.session, "newcomer")
                assignment.assign_to_user(db.session, project_id, user, ["b"])
                holding.set()
                go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            holding.set()

    thread = threading.Thread(target=assign)
    thread.start()
    assert holding.wait(30)
    load = importing(app, project_id, lambda s, project: import_annotations.import_records(s, project, [(1, record)], "work.jsonl"), outcome)
    other = threading.Thread(target=load)
    other.start()
    other.join(5)
    go.set()
    thread.join(30)
    other.join(30)
    assert not errors, errors
    assert outcome.get("import") == "stored", outcome
