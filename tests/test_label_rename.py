"""Renaming a label in use (domain/label_rename.py): every stored row follows, the export says the new name, agreement
is unchanged, bad names are refused with nothing changed, and saves during a rename lose nothing (SQLite, PostgreSQL)."""
from __future__ import annotations

import json
import re
import threading
from typing import Any, Callable

import pytest
from sqlalchemy import event, func, select

from annotator.db import db
from annotator.db.models import Annotation, Article, ArticleLabel, AuditEntry, GoldArticleLabel, Project, User
from annotator.db.transactions import transaction
from annotator.domain import accounts, agreement, assignment, label_rename, projects
from annotator.domain.annotations import AnnotationError, apply_changes, idempotency, put_article_label, put_label, write
from annotator.domain.projects import ProjectError

from .conftest import Browser, add_user
from .races import beside_a_schema_change, holding_a_label, importing, one_annotator, postgres_only, renaming, take_turns, waiting_on_a_lock
from .test_export import add_suggestions, build_project, run_export

# (section, old, new): one of each kind the round-trip project stores (build_project, add_suggestions)
RENAMES = [
    ("sentence_labels", "CFS", "Check-worthy"),
    ("span_labels", "QUOTE", "Quotation"),
    ("relation_types", "attributed_to", "said_by"),
    ("article_labels", "stance", "position"),
]


def _renamed(value: Any, old: str, new: str) -> Any:
    """`value` (JSON) with every string that is exactly `old` made `new`: what a rename must do to an export."""
    return json.loads(re.sub(rf'"{re.escape(old)}"', json.dumps(new), json.dumps(value, ensure_ascii=False)))


def _state(project_id: int) -> tuple[Any, int, int]:
    s = db.session
    project = s.get(Project, project_id)
    entries = s.scalar(select(AuditEntry.id).where(AuditEntry.entity == label_rename.ENTITY).limit(1))
    return json.dumps(project.label_schema, sort_keys=True), project.revision, entries


def _figures(summary: dict[str, Any]) -> dict[str, Any]:
    """The agreement summary's figures: without when it was computed and the revision it was computed at."""
    return {k: v for k, v in summary.items() if k not in ("computed_at", "project")}


@pytest.mark.parametrize(("section", "old", "new"), RENAMES)
def test_a_rename_changes_every_stored_row_and_nothing_else(app, runner, tmp_path, section, old, new):
    """The article export (every annotator's work, gold, article labels, suggestions) after the rename is the export
    before it with the old name replaced, and the agreement figures are the same figures."""
    info = build_project(app, article_labels=True)
    add_suggestions(app, info)
    before = run_export(runner, tmp_path, "news", "--unit", "article", name="before.jsonl")
    with app.app_context():
        figures = _figures(agreement.summary(db.session, info["project_id"], use_cache=False, store=False))
        revision = db.session.get(Project, info["project_id"]).revision
        admin = accounts.create_user(db.session, "boss", "admin", "correct horse").id
        db.session.commit()
        with transaction(db.session):
            renamed = label_rename.rename_label(db.session, info["project_id"], section, old, new, admin, "web")
        assert renamed.total > 0, renamed
    after = run_export(runner, tmp_path, "news", "--unit", "article", name="after.jsonl")
    assert after == _renamed(before, old, new)
    assert after != before
    with app.app_context():
        project = db.session.get(Project, info["project_id"])
        assert new in [item["name"] for item in project.label_schema[section]]
        assert old not in json.dumps(project.label_schema)  # a span label also where the relation types name it
        assert project.revision > revision  # the agreement cache and the export ETags move on
        assert projects.labels_in_use(db.session, project.id)[section] >= {new}
        assert old not in projects.labels_in_use(db.session, project.id)[section]
        now = _figures(agreement.summary(db.session, project.id, use_cache=False, store=False))
        assert now == _renamed(figures, old, new)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == label_rename.ENTITY)).one()
        assert (entry.user_id, entry.project_id, entry.entity_id, entry.action) == (admin, project.id, section, "rename")
        assert entry.before == {"name": old} and entry.after["name"] == new and entry.after["via"] == "web"
        assert entry.after["rows"] == renamed.rows
        [shown] = label_rename.history(db.session, project.id)
        assert (shown.actor, shown.old, shown.new, shown.rows) == ("boss", old, new, renamed.total)


@pytest.mark.parametrize(("section", "old", "new", "message"), [
    ("sentence_labels", "CFS", "UFS", "the name 'UFS' is taken"),
    ("sentence_labels", "CFS", "  ", "is empty"),
    ("sentence_labels", "CFS", "\ud800x", "the new name"),
    ("sentence_labels", "CF\x00S", "X", "the old name"),
    ("sentence_labels", "NOPE", "X", "no sentence label 'NOPE'"),
    ("sentence_labels", "QUOTE", "X", "no sentence label 'QUOTE'"),  # a span label, not a sentence label
    ("sentence_labels", "CFS", "a claim", "must be 1-64 letters"),
    ("sentence_labels", "CFS", "CFS", "already called so"),
    ("span_labels", "QUOTE", "SOURCE", "the name 'SOURCE' is taken"),
    ("labels", "CFS", "X", "unknown schema section"),
])
def test_a_refused_rename_says_why_and_changes_nothing(app, section, old, new, message):
    info = build_project(app)
    with app.app_context():
        before = _state(info["project_id"])
        labels = sorted(db.session.scalars(select(Annotation.label)))
        with pytest.raises(ProjectError, match=re.escape(message)):
            with transaction(db.session):
                label_rename.rename_label(db.session, info["project_id"], section, old, new, None, "cli")
        assert _state(info["project_id"]) == before
        assert sorted(db.session.scalars(select(Annotation.label))) == labels


def test_a_name_stored_work_holds_outside_the_schema_is_taken_too(app):
    """A row under a name the schema lacks (written before schema edits were checked) would merge with the renamed
    ones: refused, rather than making two labels one."""
    info = build_project(app)
    with app.app_context():
        s = db.session
        with transaction(s):
            s.get(Annotation, 1).label = "Claim"
        with pytest.raises(ProjectError, match="stored work already uses a sentence label 'Claim'"):
            with transaction(s):
                label_rename.rename_label(s, info["project_id"], "sentence_labels", "CFS", "Claim", None, "cli")


def test_section_of_finds_the_one_section_or_asks(app):
    schema = {"sentence_labels": [{"name": "X"}, {"name": "CFS"}], "span_labels": [{"name": "X"}], "relation_types": []}
    assert label_rename.section_of(schema, "CFS") == "sentence_labels"
    assert label_rename.section_of(schema, "X", "span") == "span_labels"
    with pytest.raises(ProjectError, match=r"'X' is a sentence label and a span label: say which with --section \(sentence or span\)"):
        label_rename.section_of(schema, "X")
    with pytest.raises(ProjectError, match="no label 'Y'"):
        label_rename.section_of(schema, "Y")


# ----------------------------------------------------------------- saves during a rename
TEXT = "The mayor said the rent rose. Tenants disagree."


def _blocked(app, thread: threading.Thread) -> bool:
    """The thread waits for the other writer: a row lock on PostgreSQL; on SQLite, still running a while later
    (SQLite's writer waits in its busy timeout, which nothing outside the process shows)."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres"):
        return waiting_on_a_lock(app)
    thread.join(0.5)
    return thread.is_alive()


def _save_beside_a_rename(app, first: str, save: Callable[[Any, bool], Any], rename: Callable[[Any], label_rename.Renamed]) -> dict[str, Any]:
    """Run a save and a rename in two threads, `first` ("save" or "rename") holding its transaction open until the
    other is seen waiting for it: {"save": "stored" (the save in flight committed) or what the later save answered
    (its AnnotationError's (status, message) when refused), "rename": the Renamed}. `save(session, in_flight)` makes
    the save's change; `rename(session)` the rename, both inside the transaction they are given."""
    holding, go, outcome, errors = threading.Event(), threading.Event(), {}, []

    def save_thread() -> None:
        try:
            with app.app_context():
                s = db.session
                if first == "save":
                    with transaction(s):
                        save(s, True)
                        holding.set()
                        go.wait(30)
                    outcome["save"] = "stored"
                else:
                    outcome["save"] = write(s, lambda: save(s, False))
        except AnnotationError as exc:
            outcome["save"] = (exc.status, str(exc))
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("save", exc))
            holding.set()

    def rename_thread() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    outcome["rename"] = rename(db.session)
                    if first == "rename":
                        holding.set()
                        go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("rename", exc))
            holding.set()

    one, two = (save_thread, rename_thread) if first == "save" else (rename_thread, save_thread)
    first_thread, second_thread = threading.Thread(target=one), threading.Thread(target=two)
    first_thread.start()
    assert holding.wait(30)
    second_thread.start()
    try:
        assert _blocked(app, second_thread), f"the {'rename' if first == 'save' else 'save'} should wait for the {first}"
    finally:
        go.set()
        first_thread.join(60)
        second_thread.join(60)
    assert not errors, errors
    return outcome


@pytest.mark.parametrize("first", ["save", "rename"])
def test_a_save_during_a_rename_is_renamed_or_refused_never_stored_under_the_old_name(app, first):
    """A save in flight when the rename starts commits first and is renamed with the rest; a save that comes while the
    rename holds its locks waits, then reads the new schema: the old name is no label any more (422, the page
    reloads), and nothing is stored under a name the schema lost. Before the saves locked the project's row, a save
    that waited behind the rename on PostgreSQL read the schema of before it and stored 'CFS' beside the renamed ones."""
    project_id, user_id, article_id = one_annotator(app, TEXT)
    outcome = _save_beside_a_rename(
        app, first, lambda s, in_flight: put_label(s, user_id, article_id, 0 if in_flight else 1, "CFS"),
        lambda s: label_rename.rename_label(s, project_id, "sentence_labels", "CFS", "Claim", None, "cli"))
    with app.app_context():
        labels = db.session.scalars(select(Annotation.label).where(Annotation.user_id == user_id)).all()
        schema_names = [item["name"] for item in db.session.get(Project, project_id).label_schema["sentence_labels"]]
    assert schema_names == ["Claim", "UFS", "NFS"]
    if first == "save":
        assert outcome["save"] == "stored" and labels == ["Claim"]
        assert outcome["rename"].rows["labels"] == 1
    else:
        assert labels == [], f"a label under a name the schema lost: {labels}"
        status, message = outcome["save"]
        assert status == 422 and "CFS" in message, outcome


@pytest.mark.parametrize("article", ["a", "new"])
def test_an_import_during_a_rename_stores_nothing_under_the_old_name(app, article):
    """import-annotations read the schema without a lock: on PostgreSQL, an import that ran while a rename held its
    locks (on the rename's article after waiting for it, or on a new article without waiting at all) checked its
    labels against the schema of before and committed 'CFS' beside the renamed rows, a label the schema no longer
    has. It now reads the schema again with the project row locked before it writes anything, and stops when a rename
    (or a schema edit) changed it meanwhile: nothing stored, and it says to import again. On the rename's article it
    waits for the rename's lock first; on a new one it has nothing of the rename's to wait for, and the project's row
    the rename holds refuses it at once."""
    from annotator.domain.dataset import import_annotations

    project_id, user_id, _ = one_annotator(app, TEXT)
    holding, go, outcome, errors = threading.Event(), threading.Event(), {}, []
    record = {"id": article, "text": TEXT, "annotations": [{"annotator": "ann", "labels": [{"sentence": 1, "label": "CFS"}]}]}

    rename = renaming(app, project_id, holding, go, errors)

    import_file = importing(app, project_id, lambda s, project: import_annotations.import_records(s, project, [(1, record)], "work.jsonl"), outcome, errors)

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres"):  # one writer at a time: the import reads the schema once the rename has committed
        go.set()
        rename()
        import_file()
    elif article == "a":
        take_turns(app, rename, holding, go, import_file, "the import should wait for the rename")
    else:
        renamer, importer = threading.Thread(target=rename), threading.Thread(target=import_file)
        renamer.start()
        try:
            assert holding.wait(30)
            importer.start()
            importer.join(20)
            assert not importer.is_alive(), "the import of a new article waited for the rename"
        finally:
            go.set()
            renamer.join(60)
            importer.join(60)
    assert not errors, errors
    with app.app_context():
        labels = db.session.scalars(select(Annotation.label).where(Annotation.user_id == user_id)).all()
    assert labels == [], f"a label under a name the schema lost: {labels} ({outcome})"
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres"):
        assert outcome["import"] == ("work.jsonl: the project's label schema changed while the file was imported "
                                     "(a label renamed or the schema edited): nothing was stored; import it again"), outcome
    else:
        assert "unknown sentence label 'CFS'" in outcome["import"], outcome


def test_an_import_does_not_wait_for_a_schema_change_in_flight_it_is_refused_at_once(app):
    """The import's last look at the schema does not wait for a rename or schema edit that holds the project's row
    (PostgreSQL): waiting could close a circle with one that waits for rows the import holds (a schema edit refreshing
    gold), which PostgreSQL breaks by ending one of them. It is refused at once, storing nothing."""
    postgres_only(app)
    from annotator.domain.dataset import import_annotations

    project_id, user_id, _ = one_annotator(app, TEXT)
    record = {"id": "a", "text": TEXT, "annotations": [{"annotator": "ann", "labels": [{"sentence": 1, "label": "CFS"}]}]}
    outcome: dict[str, Any] = {}

    import_file = importing(app, project_id, lambda s, project: import_annotations.import_records(s, project, [(1, record)], "work.jsonl"), outcome)

    finished = beside_a_schema_change(app, project_id, import_file)  # as a schema edit holds the project's row
    assert finished, "the import waited for the schema change in flight"
    assert "label schema changed while the file was imported" in outcome["import"], outcome
    assert _labels_of(app, project_id) == []


def test_a_rename_does_not_wait_for_saves_of_another_project(app):
    """The rename locks its own project's articles and row, nobody else's (PostgreSQL)."""
    postgres_only(app)
    project_id, user_id, article_id = one_annotator(app, TEXT)
    with app.app_context():
        s = db.session
        other = projects.create_project(s, "other")
        s.commit()
        other_id = other.id
    with holding_a_label(app, user_id, article_id, "CFS") as save:
        with app.app_context():
            with transaction(db.session):
                label_rename.rename_label(db.session, other_id, "sentence_labels", "CFS", "Claim", None, "cli")
        assert save.is_alive()  # done while the other project's save still held its locks


# ----------------------------------------------------------------- the settings page and the command line
def _logged_in(app, role: str) -> Browser:
    add_user(app, f"user-{role}", role)
    browser = Browser(app.test_client())
    assert browser.login(f"user-{role}", "correct horse").status_code == 302
    return browser


def _labels_of(app, project_id: int) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Annotation.label)))


def test_an_admin_renames_a_label_on_the_settings_page(app):
    info = build_project(app)
    admin = _logged_in(app, "admin")
    url = f"/admin/projects/{info['project_id']}/edit"
    settings = admin.get(url).get_data(as_text=True)
    assert 'id="rename-label"' in settings and '<option value="sentence_labels/CFS">sentence label: CFS</option>' in settings
    response = admin.post(f"/admin/projects/{info['project_id']}/rename-label", {"label": "sentence_labels/CFS", "new_name": "Check-worthy"})
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    after = admin.get(url).get_data(as_text=True)
    assert "Sentence label &#39;CFS&#39; renamed to &#39;Check-worthy&#39; (labels: 5, gold labels: 2)." in after
    assert re.search(r'<td data-label="Who">user-admin</td><td data-label="What">sentence label CFS → Check-worthy</td><td data-label="Rows">7</td>', after)
    assert "CFS" not in _labels_of(app, info["project_id"]) and "Check-worthy" in _labels_of(app, info["project_id"])
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == label_rename.ENTITY)).one()
        assert entry.after["via"] == "web"
    assert "flash-warning" not in after  # a name nothing knows by itself: nothing left behind


def test_renaming_a_name_the_built_in_code_knows_says_what_it_leaves_behind(app):
    """QUOTE, SOURCE, CUE and attributed_to are names the attribution suggester proposes and the Citron format reads
    and writes by themselves: a rename of one was made without a word, and then the suggester's quotes were dropped
    (not in the schema) and a Citron export had none. The rename is made and says so, on the page as on the command
    line and in the API's notes."""
    info = build_project(app)
    admin = _logged_in(app, "admin")
    response = admin.post(f"/admin/projects/{info['project_id']}/rename-label", {"label": "span_labels/QUOTE", "new_name": "Quote"})
    assert response.status_code == 302
    after = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'<p class="flash flash-warning" role="status">Note: the built-in attribution suggester proposes span labels '
                     r"named &#39;QUOTE&#39; .* a Citron export leaves out what was &#39;QUOTE&#39; \(and says so\)\.</p>", after)
    assert label_rename.notes_on("relation_types", "attributed_to") and label_rename.notes_on("span_labels", "CUE")
    assert not label_rename.notes_on("sentence_labels", "QUOTE")  # only where the code looks for it


@pytest.mark.parametrize(("data", "message"), [
    ({"label": "sentence_labels/CFS", "new_name": "UFS"}, "the name &#39;UFS&#39; is taken"),
    ({"label": "sentence_labels/CFS", "new_name": ""}, "is empty"),
    ({"label": "sentence_labels/GONE", "new_name": "X"}, "Not a valid choice"),
    ({"label": "sentence_labels/CFS", "new_name": "two words"}, "must be 1-64 letters"),
])
def test_a_refused_rename_shows_the_settings_page_with_why(app, data, message):
    info = build_project(app)
    admin = _logged_in(app, "admin")
    labels = _labels_of(app, info["project_id"])
    response = admin.post(f"/admin/projects/{info['project_id']}/rename-label", data)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body and 'id="project-form"' in body  # the whole settings page, the schema box on the schema
    assert labels == _labels_of(app, info["project_id"])


def test_a_rename_with_invalid_unicode_is_refused_before_the_view(app):
    info = build_project(app)
    admin = _logged_in(app, "admin")
    body = f"csrf_token={admin.csrf()}&label=sentence_labels%2FCFS&new_name=%ED%A0%80"  # a lone surrogate, as UTF-8 bytes
    response = admin.client.post(f"/admin/projects/{info['project_id']}/rename-label", data=body,
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "CFS" in _labels_of(app, info["project_id"])


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_only_admins_rename(app, role):
    info = build_project(app)
    other = _logged_in(app, role)
    response = other.post(f"/admin/projects/{info['project_id']}/rename-label", {"label": "sentence_labels/CFS", "new_name": "X"})
    assert response.status_code == 403
    assert "CFS" in _labels_of(app, info["project_id"])


def test_a_rename_without_the_csrf_token_is_refused(app):
    info = build_project(app)
    admin = _logged_in(app, "admin")
    response = admin.client.post(f"/admin/projects/{info['project_id']}/rename-label", data={"label": "sentence_labels/CFS", "new_name": "X"})
    assert response.status_code == 400
    assert "CFS" in _labels_of(app, info["project_id"])


def test_the_command_line_renames_and_says_what_it_changed(app, runner):
    info = build_project(app)
    result = runner.invoke(args=["projects", "rename-label", "news", "QUOTE", "Quotation"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "Span label 'QUOTE' renamed to 'Quotation' (spans: 3, gold spans: 1)\n"
    assert result.stderr.startswith("warning: the built-in attribution suggester proposes span labels named 'QUOTE'")
    schema = json.loads(runner.invoke(args=["projects", "schema", "news"]).output)
    assert [r["from"] for r in schema["relation_types"]] == [["Quotation"]]
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == label_rename.ENTITY)).one()
        assert entry.user_id is None and entry.after["via"] == "cli"
    assert info["project_id"] == entry.project_id


def test_the_command_line_reads_the_schema_once_under_the_renames_lock(app, runner):
    """The command found the label's section on a schema it read before the rename's transaction, and the rename read
    it again under its lock: two reads of the schema, the section looked up on the one no lock kept current. Counted in
    statements: the project's row by its name (the command's argument), then the schema under the lock, no third."""
    build_project(app)
    with app.app_context():
        engine = db.engine
    reads: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # noqa: ANN001 - SQLAlchemy's event signature
        if re.search(r"^SELECT\b.*\bprojects\.label_schema\b", statement, re.S):
            reads.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = runner.invoke(args=["projects", "rename-label", "news", "QUOTE", "Quotation"])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert result.exit_code == 0, result.output
    assert len(reads) == 2, reads
    assert "WHERE projects.name = " in reads[0], reads
    assert reads[1].startswith("SELECT projects.label_schema FROM projects WHERE projects.id ="), reads


@pytest.mark.parametrize(("args", "message"), [
    (["news", "CFS", "UFS"], "Error: the name 'UFS' is taken: the schema has a sentence label 'UFS' already\n"),
    (["news", "NOPE", "X"], "Error: no label 'NOPE' in this project's schema\n"),
    (["news", "CFS", "X", "--section", "span"], "Error: no span label 'CFS' in this project's schema (it has: QUOTE, SOURCE, CUE)\n"),
    (["news", "CFS", ""], "Error: the new name of sentence label 'CFS' is empty\n"),
    (["nowhere", "CFS", "X"], "Error: no project named 'nowhere'\n"),
])
def test_the_command_line_refuses_with_one_line(app, runner, args, message):
    build_project(app)
    result = runner.invoke(args=["projects", "rename-label", *args])
    assert result.exit_code == 1 and result.output == message
    assert "CFS" in _labels_of(app, 1)


def test_the_rest_api_renames_for_admins_only(app):
    info = build_project(app)
    with app.app_context():
        s = db.session
        admin = accounts.create_user(s, "boss", "admin", "correct horse")
        tokens = {"boss": accounts.issue_token(s, admin), "rita": accounts.issue_token(s, accounts.get_user(s, "rita")),
                  "alice": accounts.issue_token(s, accounts.get_user(s, "alice"))}
        s.commit()
    client = app.test_client()
    url = f"/api/projects/{info['project_id']}/label-renames"

    def post(who: str, body: Any):  # noqa: ANN202
        return client.post(url, json=body, headers={"Authorization": f"Bearer {tokens[who]}"})

    rename = {"section": "relation", "old": "attributed_to", "new": "said_by"}
    for who in ("rita", "alice"):
        assert post(who, rename).status_code == 403
    for body, status, message in [
        ({"section": "relation", "old": "attributed_to"}, 400, "new"),
        ({**rename, "new": "said by"}, 400, "must be 1-64 letters"),
        ({**rename, "section": "span"}, 400, "no span label 'attributed_to'"),
        ({**rename, "new": 5}, 400, "new must be a string"),
    ]:
        response = post("boss", body)
        assert response.status_code == status and message in response.get_json()["error"], response.get_json()
    assert client.post("/api/projects/999/label-renames", json=rename, headers={"Authorization": f"Bearer {tokens['boss']}"}).status_code == 404
    response = post("boss", rename)
    assert response.status_code == 200
    assert response.get_json() == {"section": "relation_types", "old": "attributed_to", "new": "said_by",
                                   "rows": {"links": 2, "gold links": 1, "suggestions": 0}, "notes": list(label_rename.notes_on("relation_types", "attributed_to"))}
    assert response.get_json()["notes"][0].startswith("the built-in attribution suggester proposes relation types named 'attributed_to'")
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == label_rename.ENTITY)).one()
        assert entry.after["via"] == "api"


def test_a_schema_stored_before_a_rule_it_breaks_elsewhere_can_still_rename(app):
    """A schema stored before 'a' was the page's key keeps it (labelschema.RESERVED_KEYS): validating the whole schema
    again refused every rename of it for a reason that had nothing to do with the rename."""
    info = build_project(app)
    with app.app_context():
        s = db.session
        with transaction(s):
            project = s.get(Project, info["project_id"])
            legacy = json.loads(json.dumps(project.label_schema))
            legacy["sentence_labels"][2]["key"] = "a"
            project.label_schema = legacy
        with transaction(s):
            label_rename.rename_label(s, info["project_id"], "sentence_labels", "CFS", "Claim", None, "cli")
        schema = s.get(Project, info["project_id"]).label_schema
        assert [(x["name"], x["key"]) for x in schema["sentence_labels"]] == [("Claim", "1"), ("UFS", "2"), ("NFS", "a")]


def test_a_schema_edit_dropping_a_label_waits_for_a_save_of_it_in_flight_and_then_refuses(app):
    """PostgreSQL (SQLite's writers take turns whole). The attack helper's find: a save in flight of a label that a schema edit drops. The edit's check of the labels
    in use ran before the save committed, and its UPDATE waited for nothing (the saves' key share of the project's row
    does not stop an update of other columns), so the label was left outside the schema on PostgreSQL. Now the edit
    locks the project's row first, as a rename does: it waits for the save, then sees the label in use and refuses."""
    postgres_only(app)
    project_id, user_id, article_id = one_annotator(app, TEXT)
    with app.app_context():
        schema = db.session.get(Project, project_id).label_schema
    dropped = {**schema, "sentence_labels": [item for item in schema["sentence_labels"] if item["name"] != "CFS"]}
    outcome, errors = {}, []

    def edit() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    projects.update_project(db.session, db.session.get(Project, project_id), schema=dropped)
                outcome["edit"] = "stored"
        except ProjectError as exc:
            outcome["edit"] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("edit", exc))

    editing = threading.Thread(target=edit)
    with holding_a_label(app, user_id, article_id, "CFS"):
        editing.start()
        waited = waiting_on_a_lock(app)
    editing.join(60)
    assert waited, "the schema edit should wait for the save of the label it drops: it never did"
    assert not errors, errors
    assert "'CFS' already used in stored work" in outcome["edit"]
    with app.app_context():
        assert "CFS" in [item["name"] for item in db.session.get(Project, project_id).label_schema["sentence_labels"]]
        assert db.session.scalars(select(Annotation.label)).all() == ["CFS"]


# ----------------------------------------------------------------- retries of keyed saves after a rename
def test_a_retried_save_after_a_rename_gets_its_first_answer_under_the_new_name(app):
    """A retried PUT (same request id, same body) gets its stored first answer, which named the label as it was: after
    a rename, a client was told of a label the schema no longer has. The rename now rewrites the project's stored
    answers in its transaction: the retry gets the same answer with the new name, and writes nothing; a batch's
    answer alike, each body by its kind (a span label of the same name keeps it)."""
    project_id, user_id, article_id = one_annotator(app, TEXT)
    with app.app_context():
        s = db.session
        schema = json.loads(json.dumps(s.get(Project, project_id).label_schema))
        schema["span_labels"].append({**schema["span_labels"][0], "name": "CFS", "key": None})  # a span label named as the sentence label
        with transaction(s):
            projects.update_project(s, s.get(Project, project_id), schema=schema)

        def put() -> dict[str, Any]:
            return write(s, lambda: put_label(s, user_id, article_id, 0, "CFS", 2.5, request_id="save-0001"))

        operations = [{"op": "put_label", "sentence_index": 1, "label": "CFS"},
                      {"op": "create_span", "label": "CFS", "start": 0, "end": 9, "id": "span-0001"}]

        def batch() -> dict[str, Any]:
            return write(s, lambda: apply_changes(s, user_id, article_id, operations, "batch-0001"))

        first, first_batch = put(), batch()
        written = s.scalar(select(func.count(AuditEntry.id)))
        with transaction(s):
            label_rename.rename_label(s, project_id, "sentence_labels", "CFS", "Claim", None, "cli")
        again, again_batch = put(), batch()
        assert first["label"] == "CFS" and again == {**first, "label": "Claim"}
        assert again_batch["results"][0]["body"] == {**first_batch["results"][0]["body"], "label": "Claim"}
        assert again_batch["results"][1] == first_batch["results"][1]  # the span label CFS keeps its name
        assert s.scalar(select(func.count(AuditEntry.id))) == written + 1  # the rename's entry: the retries wrote nothing
        assert put() == again  # the same answer each time


@pytest.mark.parametrize(("section", "answer", "expected"), [
    ("span_labels", {"id": "s1", "label": "X", "start": 0, "end": 3, "text": "abc"}, {"id": "s1", "label": "Y", "start": 0, "end": 3, "text": "abc"}),
    ("span_labels", {"sentence": 0, "label": "X", "version": 1}, None),  # a sentence label of that name
    ("relation_types", {"results": [{"status": 201, "body": {"id": "r1", "type": "X", "from": "a", "to": "b"}}, {"status": 204, "body": None}]},
     {"results": [{"status": 201, "body": {"id": "r1", "type": "Y", "from": "a", "to": "b"}}, {"status": 204, "body": None}]}),
    ("article_labels", {"results": [{"status": 200, "body": {"group": "X", "values": ["a"], "version": 1}}]},
     {"results": [{"status": 200, "body": {"group": "Y", "values": ["a"], "version": 1}}]}),
    ("sentence_labels", {"sentence": 0, "label": "Z", "version": 1}, None),
])
def test_a_stored_answer_is_renamed_where_a_body_of_the_section_names_the_label(section, answer, expected):
    assert idempotency.renamed_answer(answer, section, "X", "Y") == expected

def test_a_stored_answer_is_renamed_where_an_answer_of_the_group_holds_the_value():
    """A value's rename rewrites the answers of its own group only, their values kept sorted as stored."""
    answer = {"results": [{"status": 200, "body": {"group": "stance", "values": ["neutral", "oppose"], "version": 2}},
                          {"status": 200, "body": {"group": "tone", "values": ["oppose"], "version": 1}}]}
    assert idempotency.renamed_answer(answer, "article_label_values", "oppose", "against", "stance") == {
        "results": [{"status": 200, "body": {"group": "stance", "values": ["against", "neutral"], "version": 2}}, answer["results"][1]]}
    assert idempotency.renamed_answer(answer, "article_label_values", "support", "for", "stance") is None


# ----------------------------------------------------------------- values of an article label group
def _add_gold_stance(app, info: dict[str, Any], values: list[str]) -> None:
    with app.app_context():
        s = db.session
        article_id = s.scalar(select(Article.id).where(Article.project_id == info["project_id"]).order_by(Article.id).limit(1))
        s.add(GoldArticleLabel(article_id=article_id, group="stance", values=values, provenance="adjudicated",
                               reviewer_id=accounts.get_user(s, "rita").id, reason="the text says so"))
        s.commit()


def _answers(app) -> list[tuple[str, str, list[str], int, Any]]:
    with app.app_context():
        return sorted(tuple(row) for row in db.session.execute(select(User.name, ArticleLabel.group, ArticleLabel.values, ArticleLabel.version, ArticleLabel.updated_at)
                                         .join(User, User.id == ArticleLabel.user_id)).all())


def test_a_value_rename_changes_every_answer_and_gold_decision_and_nothing_else(app, runner, tmp_path):
    """Values could not be renamed at all (a schema edit must keep every value in use): the export after the rename is
    the export before with the value replaced, agreement is the same, the value keeps its place in the group."""
    info = build_project(app, article_labels=True)
    _add_gold_stance(app, info, ["oppose"])
    before = run_export(runner, tmp_path, "news", "--unit", "article", name="before.jsonl")
    answers = _answers(app)
    with app.app_context():
        figures = _figures(agreement.summary(db.session, info["project_id"], use_cache=False, store=False))
        revision = db.session.get(Project, info["project_id"]).revision
        with transaction(db.session):
            renamed = label_rename.rename_label(db.session, info["project_id"], "article_label_values", "oppose", "against", None, "cli",
                                                "stance")
    assert renamed.rows == {"article labels": 2, "gold article labels": 1}
    assert renamed.describe() == "Value 'oppose' of article label group 'stance' renamed to 'against' (article labels: 2, gold article labels: 1)"
    after = run_export(runner, tmp_path, "news", "--unit", "article", name="after.jsonl")
    assert after == _renamed(before, "oppose", "against") and after != before
    # versions and times stay: a rename is nobody's new answer
    assert _answers(app) == [(u, g, ["against" if v == "oppose" else v for v in vs], n, t) for u, g, vs, n, t in answers]
    with app.app_context():
        project = db.session.get(Project, info["project_id"])
        assert project.label_schema["article_labels"][0]["values"] == ["support", "against", "neutral"]
        assert project.revision > revision
        assert _figures(agreement.summary(db.session, project.id, use_cache=False, store=False)) == _renamed(figures, "oppose", "against")
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == label_rename.ENTITY)).one()
        assert (entry.entity_id, entry.before) == ("article_label_values", {"group": "stance", "name": "oppose"})
        assert entry.after == {"group": "stance", "name": "against", "rows": renamed.rows, "via": "cli"}
        [shown] = label_rename.history(db.session, project.id)
        assert (shown.what, shown.old, shown.new, shown.rows) == ("article label value", "stance: oppose", "against", 3)


def test_a_retried_batch_after_a_value_rename_gets_its_first_answer_with_the_new_value(app):
    """A batch that set an article label, retried after the rename of its value: the same answer, holding the new
    value (a client is never told a value the group no longer has), and nothing written again."""
    info = build_project(app, article_labels=True)
    user_id, article_id = info["users"]["carol"], info["article_id"]
    operations = [{"op": "put_article_label", "group": "stance", "values": ["oppose"]}]
    with app.app_context():
        s = db.session

        def batch() -> dict[str, Any]:
            return write(s, lambda: apply_changes(s, user_id, article_id, operations, "batch-value-1"))

        first = batch()
        written = s.scalar(select(func.count(AuditEntry.id)))
        with transaction(s):
            label_rename.rename_label(s, info["project_id"], "value", "oppose", "against", None, "cli", "stance")
        again = batch()
        assert first["results"][0]["body"]["values"] == ["oppose"]
        assert again == {"results": [{**first["results"][0], "body": {**first["results"][0]["body"], "values": ["against"]}}]}
        assert s.scalar(select(func.count(AuditEntry.id))) == written + 1  # the rename's entry: the retry wrote nothing


def test_a_value_of_a_multiple_group_is_renamed_in_a_sorted_list(app):
    info = build_project(app, article_labels=True)
    with app.app_context():
        with transaction(db.session):
            done = label_rename.rename_label(db.session, info["project_id"], "article_label_values", "economy", "zz economy", None, "cli", "topics")
    assert done.rows == {"article labels": 2, "gold article labels": 0}
    topics = {u: vs for u, g, vs, _, _ in _answers(app) if g == "topics"}
    assert topics == {"alice": ["local-government", "zz economy"], "bob": ["zz economy"]}  # stored sorted, as every answer is


@pytest.mark.parametrize(("group", "old", "new", "message"), [
    ("stance", "oppose", "support", "the name 'support' is taken: article label group 'stance' has a value 'support' already"),
    ("stance", "oppose", " ", "the new name of value 'oppose' is empty"),
    ("stance", "oppose", "oppose", "value 'oppose' is already called so"),
    ("stance", "oppose", "x" * 65, "must be 1-64 characters"),
    ("stance", "economy", "x", "no value 'economy' in article label group 'stance' (it has: support, oppose, neutral)"),
    ("mood", "oppose", "x", "no article label group 'mood' in this project's schema (it has: stance, topics)"),
    (None, "oppose", "x", "say which article label group the value is in (it has: stance, topics)"),
    ("stance", "oppose", "\ud800", "the new name contains an unpaired surrogate"),
    ("stance", "oppose", "retired", "stored work already uses a value 'retired' in article label group 'stance'"),
])
def test_a_refused_value_rename_says_why_and_changes_nothing(app, group, old, new, message):
    info = build_project(app, article_labels=True)
    _add_gold_stance(app, info, ["retired"])  # a value the schema lost track of (stored before edits were checked)
    answers = _answers(app)
    with app.app_context():
        before = _state(info["project_id"])
        with pytest.raises(ProjectError, match=re.escape(message)):
            with transaction(db.session):
                label_rename.rename_label(db.session, info["project_id"], "article_label_values", old, new, None, "cli", group)
        assert _state(info["project_id"]) == before
    assert _answers(app) == answers


def test_a_group_goes_only_with_a_value(app):
    info = build_project(app, article_labels=True)
    with app.app_context():
        with pytest.raises(ProjectError, match="a group goes with a value of an article label group, not with a sentence label"):
            with transaction(db.session):
                label_rename.rename_label(db.session, info["project_id"], "sentence_labels", "CFS", "X", None, "cli", "stance")


def test_the_command_line_settings_page_and_rest_api_rename_a_value(app, runner):
    info = build_project(app, article_labels=True)
    result = runner.invoke(args=["projects", "rename-label", "news", "oppose", "against", "--section", "value", "--group", "stance"])
    assert result.exit_code == 0, result.output
    assert result.output == "Value 'oppose' of article label group 'stance' renamed to 'against' (article labels: 2)\n"
    for args, message in [
        (["news", "support", "x"], "Error: no label 'support' in this project's schema (a value of article label group 'stance': "
                                   "rename it with --section value --group stance)\n"),
        (["news", "support", "x", "--group", "stance"], "Error: --group names the group of a value: give --section value too\n"),
        (["news", "support", "against", "--section", "value", "--group", "stance"], "Error: the name 'against' is taken: "
                                                                                   "article label group 'stance' has a value 'against' already\n"),
    ]:
        result = runner.invoke(args=["projects", "rename-label", *args])
        assert result.exit_code == 1 and result.output == message, result.output

    admin = _logged_in(app, "admin")
    url = f"/admin/projects/{info['project_id']}/edit"
    settings = admin.get(url).get_data(as_text=True)
    assert '<option value="article_label_values/stance/support">article label value: stance: support</option>' in settings
    response = admin.post(f"/admin/projects/{info['project_id']}/rename-label", {"label": "article_label_values/stance/support", "new_name": "for"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    after = admin.get(url).get_data(as_text=True)
    assert "Value &#39;support&#39; of article label group &#39;stance&#39; renamed to &#39;for&#39; (article labels: 1)." in after
    assert '<td data-label="What">article label value stance: support → for</td>' in after

    with app.app_context():
        s = db.session
        token = accounts.issue_token(s, accounts.get_user(s, "user-admin"))
        s.commit()
    client = app.test_client()
    body = {"section": "value", "group": "topics", "old": "economy", "new": "the economy"}
    response = client.post(f"/api/projects/{info['project_id']}/label-renames", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"section": "article_label_values", "group": "topics", "old": "economy", "new": "the economy",
                                   "rows": {"article labels": 2, "gold article labels": 0}, "notes": []}
    response = client.post(f"/api/projects/{info['project_id']}/label-renames", json={**body, "group": 5}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "group must be a string" in response.get_json()["error"]
    with app.app_context():
        schema = db.session.get(Project, info["project_id"]).label_schema
    assert [g["values"] for g in schema["article_labels"]] == [["for", "against", "neutral"], ["the economy", "local-government", "culture"]]


@pytest.mark.parametrize("first", ["save", "rename"])
def test_a_save_during_a_value_rename_is_renamed_or_refused_never_stored_under_the_old_value(app, first):
    """As for labels: an answer in flight commits first and is renamed with the rest; one that comes meanwhile waits,
    then reads the new schema and is refused (422), never stored with a value the group lost."""
    project_id, user_id, article_id = one_annotator(app, TEXT)
    with app.app_context():
        with transaction(db.session):
            schema = {**db.session.get(Project, project_id).label_schema, "article_labels": [{"name": "stance", "values": ["support", "oppose"]}]}
            projects.update_project(db.session, db.session.get(Project, project_id), schema=schema)
    outcome = _save_beside_a_rename(
        app, first, lambda s, in_flight: put_article_label(s, user_id, article_id, "stance", ["oppose"]),
        lambda s: label_rename.rename_label(s, project_id, "article_label_values", "oppose", "against", None, "cli", "stance"))
    with app.app_context():
        stored = db.session.scalars(select(ArticleLabel.values).where(ArticleLabel.user_id == user_id)).all()
    if first == "save":
        assert outcome["save"] == "stored" and stored == [["against"]]
        assert outcome["rename"].rows["article labels"] == 1
    else:
        assert stored == [], f"an answer with a value the group lost: {stored}"
        status, message = outcome["save"]
        assert status == 422 and "oppose" in message, outcome


def test_a_rename_during_a_parallel_export_is_in_all_of_it_or_none(app, runner, tmp_path, monkeypatch):
    """`annotator export --jobs N` reads each article range in a forked worker: each worker read its own snapshot, so a
    rename committed after the export began (here: just before the second worker starts) gave a file whose first
    articles said CFS and whose last said Check-worthy. On PostgreSQL the workers now read the export's one snapshot
    (the old name throughout); on SQLite, which cannot share one, the export stops and says why."""
    from annotator.cli import dataset

    info = build_project(app, extra_articles=6)
    with app.app_context():  # a CFS label in the last range too
        s = db.session
        alice = accounts.get_user(s, "alice")
        assignment.assign_to_user(s, info["project_id"], alice, ["plain-005"])
        s.commit()
        last = s.scalar(select(Article.id).where(Article.external_id == "plain-005"))
        write(s, lambda: put_label(s, alice.id, last, 0, "CFS"))
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    worker = dataset._export_worker

    def rename_first(*args):  # noqa: ANN002, ANN202
        if args[9] == 1:  # k: the second range's worker renames before it reads (in its own process, committed)
            from sqlalchemy import create_engine
            from sqlalchemy.orm import Session

            engine = create_engine(url)
            with Session(engine) as session, transaction(session):
                label_rename.rename_label(session, info["project_id"], "sentence_labels", "CFS", "Check-worthy", None, "cli")
            engine.dispose()
        worker(*args)

    monkeypatch.setattr(dataset, "_export_worker", rename_first)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(args=["export", "news", "--jobs", "2", "-o", str(out)])
    assert "CFS" not in _labels_of(app, info["project_id"])  # the rename was made
    if url.startswith("postgres"):
        assert result.exit_code == 0, result.output
        exported = out.read_text(encoding="utf-8")
        assert exported.count('"CFS"') > 1 and "Check-worthy" not in exported
    else:
        assert result.exit_code == 1 and not out.exists()
        assert "the project's label schema changed while it was exported" in result.output, result.output
