"""Two writers on PostgreSQL, one holding its row locks when the other comes: for the tests that they take turns
(the second waits for the first) instead of meeting in a deadlock, which PostgreSQL breaks by ending one of them."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, select, text

from annotator.db import db
from annotator.db.models import Article, Project
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, catalog, label_rename, projects
from annotator.domain.annotations import put_label
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.projects import ProjectError


def postgres_only(app: Any) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgres"):
        pytest.skip("SQLite runs one writer at a time: the two transactions cannot overlap")


def one_annotator(app: Any, text: str) -> tuple[int, int, int]:
    """Project "race" with one article ("a", of `text`) and annotator "ann" assigned to it, committed:
    (project id, user id, article id)."""
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "race")
        articles.store_articles(s, project, [ArticleRecord("a", "T", text)], "test")
        user = accounts.create_user(s, "ann")
        assignment.assign_to_user(s, project.id, user, ["a"])
        s.commit()
        return project.id, user.id, s.scalar(select(Article.id))


def waiting_on_a_lock(app: Any, timeout: float = 20.0) -> bool:
    """True once another connection of this database waits for a row lock (PostgreSQL)."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    deadline = time.monotonic() + timeout
    try:
        with engine.connect() as conn:
            while time.monotonic() < deadline:
                if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                     "AND wait_event_type = 'Lock'")).scalar():
                    return True
                conn.rollback()
                time.sleep(0.02)
    finally:
        engine.dispose()
    return False


@contextmanager
def holding_a_label(app: Any, user_id: int, article_id: int, label: str, sentence: int = 0) -> Iterator[threading.Thread]:
    """For the with block, a thread that saved `label` on the article's sentence and holds its transaction open, with
    the row locks a save takes (the article's and the project's row, FOR NO KEY UPDATE); it commits when the block ends,
    and the block's end asserts it did. Yields the thread (alive while the block runs)."""
    holding, go, errors = threading.Event(), threading.Event(), []

    def save() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    put_label(db.session, user_id, article_id, sentence, label)
                    holding.set()
                    go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the with block
            errors.append(exc)
            holding.set()

    thread = threading.Thread(target=save)
    thread.start()
    try:
        assert holding.wait(30), "the save never held its locks"
        assert not errors, errors
        yield thread
    finally:
        go.set()
        thread.join(60)
    assert not errors, errors


def beside_a_schema_change(app: Any, project_id: int, work: Callable[[], None]) -> bool:
    """Run `work` in a thread while another connection holds the project's row FOR UPDATE, as a schema edit or a rename
    in flight does (PostgreSQL); whether it finished within 20 s without waiting for that change (then let go)."""
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as other:
            other.execute(select(Project.id).where(Project.id == project_id).with_for_update())
            thread = threading.Thread(target=work)
            thread.start()
            thread.join(20)
            finished = not thread.is_alive()
            other.rollback()
            thread.join(30)
    finally:
        engine.dispose()
    return finished


def importing(app: Any, project_id: int, load: Callable[[Any, Any], Any], outcome: dict[str, Any],
              errors: list[Any] | None = None) -> Callable[[], None]:
    """A thread's work: `load(session, project)` (an import of a file) in one write transaction; outcome["import"] is
    "stored" or the IngestError's one line; any other error goes to `errors` (raised when None)."""
    from annotator.domain.dataset.ingest import IngestError

    def run() -> None:
        try:
            with app.app_context():
                s = db.session
                with transaction(s):
                    load(s, s.get(Project, project_id))
            outcome["import"] = "stored"
        except IngestError as exc:
            outcome["import"] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            if errors is None:
                raise
            errors.append(("import", exc))

    return run


def take_turns(app: Any, first: Callable[[], None], holding: threading.Event, go: threading.Event, second: Callable[[], None],
               waits: str) -> None:
    """`first` in a thread until it holds its locks (it sets `holding`, then waits for `go`), then `second` in
    another; asserts that `second` comes to wait on a row lock (`waits` says what waited for what), then lets both
    finish. Each function reports its own outcome and errors (and sets `holding` if it fails before)."""
    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(30)
    other = threading.Thread(target=second)
    other.start()
    try:
        assert waiting_on_a_lock(app), f"{waits}: it never did"
    finally:
        go.set()
        one.join(60)
        other.join(60)


def holding_writer(app: Any, action: Callable[[], Any], key: str, outcome: dict[str, Any], errors: list[Any],
                   refused: type[Exception], holding: threading.Event | None = None, go: threading.Event | None = None) -> Callable[[], None]:
    """A take_turns writer: `action()` in a write transaction, its result in outcome[key], or the message of a
    `refused` error it raised; with `holding` and `go`, it keeps its transaction (and locks) open until go. Any other
    error goes to `errors` (and sets `holding`, so that take_turns does not wait for a writer that failed)."""

    def run() -> None:
        try:
            with app.app_context(), transaction(db.session):
                outcome[key] = action()
                if holding is not None and go is not None:
                    holding.set()
                    go.wait(30)
        except refused as exc:
            outcome[key] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            if holding is not None:
                holding.set()

    return run


def deleting(app: Any, project_id: int, article_id: int, outcome: dict[str, Any], errors: list[Any],
             annotated_too: bool = False) -> Callable[[], None]:
    """take_turns' second writer that deletes the article: outcome["delete"] is what delete_article returned (the
    article's id), or its refusal's message (the work it counted); any other exception goes to `errors`."""
    def remove() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    outcome["delete"] = catalog.delete_article(db.session, project_id, article_id, annotated_too=annotated_too)
        except ProjectError as exc:
            outcome["delete"] = str(exc)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("delete", exc))

    return remove


def renaming(app: Any, project_id: int, holding: threading.Event, go: threading.Event, errors: list[Any]) -> Callable[[], None]:
    """take_turns' first writer: renames CFS to Claim (sentence labels) and holds the rename's locks until `go`;
    an error goes to `errors` as ("rename", exc)."""
    def rename() -> None:
        try:
            with app.app_context(), transaction(db.session):
                label_rename.rename_label(db.session, project_id, "sentence_labels", "CFS", "Claim", None, "cli")
                holding.set()
                go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            errors.append(("rename", exc))
            holding.set()

    return rename
