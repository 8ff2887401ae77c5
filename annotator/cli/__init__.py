"""The `annotator` command: every bulk job works headless from here.

Bad input exits non-zero with a one-line reason (click's "Error: ...");
long work prints progress on stderr.
"""
from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from annotator import create_app
from annotator.db import db
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import IngestError, decode, expand_paths, read_path
from annotator.stats import textcheck
from annotator.stats.segment import segment

DEMO_PROJECT = "Demo: check-worthy claims"
DEMO_USERS = (("admin", "admin"), ("reviewer", "reviewer"), ("alice", "annotator"), ("bob", "annotator"))
DEMO_GUIDELINES = """# Labelling guidelines (demo)

Label **every sentence** with one of:

- **CFS** (key `1`): a check-worthy factual claim, one the public would want verified: numbers, costs, causes, records.
- **UFS** (key `2`): factual, but not worth checking (dates of meetings, who wrote the story).
- **NFS** (key `3`): not a factual claim: opinions, questions, promises, predictions.

Then mark **quotes** and **who said them**:

1. Select the reported words and press `q` (QUOTE).
2. Select the person or body they are attributed to and press `s` (SOURCE); the verb (*said*, *told*, *according to*) is a `c` (CUE).
3. With the quote selected, press `l` and click its source to link them. The source may be in another sentence.
"""


DEMO_LOCAL_ONLY = (
    "the demo is for local use only: it serves on Flask's development server without a buffering proxy; "
    "to let others in, deploy with gunicorn behind nginx or Caddy (README: Deployment)"
)


class AnnotatorGroup(FlaskGroup):
    """Flask's CLI group, with database failures turned into one-line reasons."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """The same check as main()'s, for every other way the group is invoked (tests, embedding): an argument
        that is not UTF-8 is a one-line error, not a traceback deep inside a command."""
        bad = not_utf8(args)
        if bad is not None:
            raise click.ClickException(f"the argument {bad} is not valid UTF-8; names, ids and paths must be UTF-8 (rename such a file)")
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):  # noqa: ANN201
        from sqlalchemy.exc import OperationalError, ProgrammingError

        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            from annotator.db.transactions import DISK_FULL_MESSAGE, disk_full, log_disk_full

            if disk_full(exc):
                log_disk_full(exc, f"running annotator {ctx.invoked_subcommand or ''}".strip())
                raise click.ClickException(DISK_FULL_MESSAGE) from None
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "no such table" in reason or "does not exist" in reason:
                raise click.ClickException(f"the database has no schema yet ({reason}); run `annotator init` first") from None
            raise click.ClickException(f"database error: {reason}") from None


def not_utf8(args: list[str]) -> str | None:
    """The first argument that is not valid UTF-8, shown as its bytes (Python keeps such bytes as lone surrogates), or None."""
    import os

    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return repr(os.fsencode(arg))
    return None


def main(args: list[str] | None = None) -> None:
    """Console script entry point."""
    args = sys.argv[1:] if args is None else args
    bad = not_utf8(args)
    if bad is not None:  # caught before anything else: otherwise it surfaces as a UnicodeEncodeError traceback wherever it is first used
        click.echo(f"Error: the argument {bad} is not valid UTF-8; names, ids and paths must be UTF-8 (rename such a file)", err=True)
        sys.exit(2)
    cli = AnnotatorGroup(create_app=lambda: create_app(), help="Fact-claim annotator: build fact-checking datasets.")
    cli.main(args=args, prog_name="annotator")


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _commit_or_fail(action) -> object:  # noqa: ANN001
    """Run a unit of work in a write transaction; domain errors become one-line CLI errors."""
    try:
        with transaction(db.session):
            return action()
    except (accounts.AccountError, projects.ProjectError, labelschema.SchemaError, assignment.AssignmentError) as exc:
        _fail(str(exc))


def _read_password(password_stdin: bool, confirm: bool = True) -> accounts.HashedPassword:
    """The password, checked and hashed before any write transaction (the hash must not hold the write lock)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    try:
        return accounts.hash_password(password)
    except accounts.AccountError as exc:
        _fail(str(exc))
        raise  # unreachable


# ---------------------------------------------------------------- database
@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database schema (same as `annotator db upgrade`)."""
    from flask_migrate import upgrade

    upgrade()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(path: str) -> None:
    """Copy a live SQLite database consistently (SQLite's online backup API)."""
    import sqlite3
    from contextlib import closing

    if db.engine.dialect.name != "sqlite":
        _fail("backup copies SQLite databases; for PostgreSQL use pg_dump (see README)")
    source_path = db.engine.url.database
    if not source_path or not Path(source_path).is_file():  # connect() would create an empty one and "back it up"
        _fail(f"no database at {source_path}; check DATABASE_URL or run `annotator init`")
    target = Path(path)
    if target.exists():
        _fail(f"{path} exists; choose a new file")
    try:
        with closing(sqlite3.connect(source_path)) as source, closing(sqlite3.connect(target)) as dest:
            source.backup(dest)
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        _fail(f"backup to {path} failed: {exc}")
    click.echo(f"backed up {source_path} to {path}")


# ---------------------------------------------------------------- users
@click.group("users")
def users_group() -> None:
    """Create and manage users."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "reviewer", "annotator"]), default="annotator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def users_create(name: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password is asked for (or read with --password-stdin)."""
    try:
        accounts.check_name(name)
    except accounts.AccountError as exc:
        _fail(str(exc))
    if accounts.find_user(db.session, name) is not None:
        _fail(f"user {name!r} already exists")
    password = _read_password(password_stdin)
    _commit_or_fail(lambda: accounts.create_user(db.session, name, role, password))
    click.echo(f"created {role} {name}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List users with their role and whether they can log in."""
    from sqlalchemy import select

    from annotator.db.models import User

    for user in db.session.scalars(select(User).order_by(User.name)):
        state = "active" if user.active else "inactive"
        click.echo(f"{user.name}\t{user.role}\t{state}")


@users_group.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
@with_appcontext
def users_password(name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    password = _read_password(password_stdin)
    _commit_or_fail(lambda: accounts.set_password(accounts.get_user(db.session, name), password))
    click.echo(f"password set for {name}")


@users_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "reviewer", "annotator"]))
@with_appcontext
def users_role(name: str, role: str) -> None:
    """Change a user's role (the last active admin keeps theirs)."""
    _commit_or_fail(lambda: accounts.set_role(db.session, accounts.get_user(db.session, name), role))
    click.echo(f"{name} is now {role}")


@users_group.command("deactivate")
@click.argument("name")
@with_appcontext
def users_deactivate(name: str) -> None:
    """Stop a user from logging in; their labels stay."""
    _commit_or_fail(lambda: accounts.set_active(db.session, accounts.get_user(db.session, name), False))
    click.echo(f"{name} deactivated")


@users_group.command("activate")
@click.argument("name")
@with_appcontext
def users_activate(name: str) -> None:
    """Let a deactivated user log in again."""
    _commit_or_fail(lambda: accounts.set_active(db.session, accounts.get_user(db.session, name), True))
    click.echo(f"{name} activated")


@users_group.command("logout")
@click.argument("name")
@with_appcontext
def users_logout(name: str) -> None:
    """End every session of a user on every device (remember-me cookies too); API tokens stay."""
    _commit_or_fail(lambda: accounts.end_sessions(accounts.get_user(db.session, name)))
    click.echo(f"{name} is logged out everywhere")


@users_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke the user's tokens instead of issuing one.")
@click.option("--expires-days", type=click.IntRange(1, accounts.MAX_TOKEN_DAYS), default=None,
              help="The token stops working after this many days (default: until revoked).")
@with_appcontext
def users_token(name: str, revoke: bool, expires_days: int | None) -> None:
    """Issue an API token (printed once) or revoke a user's tokens; at most 10 active tokens per user."""
    if revoke:
        count = _commit_or_fail(lambda: accounts.revoke_tokens(db.session, accounts.get_user(db.session, name)))
        click.echo(f"revoked {count} token(s) of {name}")
        return
    token = _commit_or_fail(lambda: accounts.issue_token(db.session, accounts.get_user(db.session, name), expires_days))
    click.echo(token)


# ---------------------------------------------------------------- projects
@click.group("projects")
def projects_group() -> None:
    """Create and inspect projects."""


@projects_group.command("create")
@click.argument("name")
@click.option("--preset", type=click.Choice(list(labelschema.PRESET_NAMES)), help="A ready-made label schema (default: claims).")
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False), help="A label schema JSON file.")
@click.option("--annotators-per-article", type=click.IntRange(min=1, max=projects.MAX_ANNOTATORS_PER_ARTICLE), default=2, show_default=True)
@click.option("--guidelines", "guidelines_file", type=click.Path(exists=True, dir_okay=False), help="Guidelines as a Markdown file.")
@click.option("--majority", type=float, default=1.0, show_default=True,
              help="Share of annotators that must agree for automatic gold (1 = unanimous only, 0.66 = two of three).")
@with_appcontext
def projects_create(name: str, preset: str | None, schema_file: str | None, annotators_per_article: int, guidelines_file: str | None,
                    majority: float) -> None:
    """Create a project with a preset or a schema file."""
    if preset and schema_file:
        _fail("give --preset or --schema, not both")
    try:
        if schema_file:
            schema = labelschema.loads(decode(Path(schema_file).read_bytes(), schema_file))
        else:
            schema = labelschema.preset(preset or labelschema.DEFAULT_PRESET)
        guidelines = decode(Path(guidelines_file).read_bytes(), guidelines_file) if guidelines_file else ""
        if textcheck.problem(guidelines):
            _fail(f"{guidelines_file}: the guidelines {textcheck.problem(guidelines)}")
    except labelschema.SchemaError as exc:
        _fail(f"{schema_file}: {exc}")
    except IngestError as exc:
        _fail(str(exc))
    def create() -> None:
        project = projects.create_project(db.session, name, schema, annotators_per_article, guidelines)
        projects.update_project(db.session, project, majority_threshold=majority)

    _commit_or_fail(create)
    click.echo(f"created project {name}")


@projects_group.command("list")
@with_appcontext
def projects_list() -> None:
    """List projects with their article counts."""
    from annotator.domain.progress import project_overview

    for row in project_overview(db.session):
        p = row["project"]
        click.echo(f"{p.name}\t{row['articles']} articles\t{row['sentences']} sentences")


@projects_group.command("schema")
@click.argument("project")
@with_appcontext
def projects_schema(project: str) -> None:
    """Print a project's label schema as JSON."""
    try:
        p = projects.get_project(db.session, project)
    except projects.ProjectError as exc:
        _fail(str(exc))
    click.echo(json.dumps(p.label_schema, indent=2, ensure_ascii=False))


@projects_group.command("members", context_settings={"ignore_unknown_options": True})
@click.argument("project")
@click.argument("changes", nargs=-1, type=click.UNPROCESSED, metavar="[--add NAME...] [--remove NAME...]")
@with_appcontext
def projects_members(project: str, changes: tuple[str, ...]) -> None:
    """List a project's members, or add and remove annotators and reviewers.

    Balanced assignment draws on the project's annotators; its reviewers may
    open its review pages and exports. Admins see every project.
    """
    try:
        p = projects.get_project(db.session, project)
    except projects.ProjectError as exc:
        _fail(str(exc))
    # click options take one value each; `--add a b c` is parsed here so that every name is its own argument
    wanted: dict[str, list[str]] = {"--add": [], "--remove": []}
    given: set[str] = set()
    mode = None
    for token in changes:
        option, eq, value = token.partition("=")
        if option in wanted:
            mode = option
            given.add(option)
            if eq:
                wanted[option].append(value)
        elif token.startswith("-"):
            _fail(f"no such option {option}; use --add NAME... and --remove NAME...")
        elif mode is None:
            _fail(f"user names follow --add or --remove (got {token!r})")
        else:
            wanted[mode].append(token)
    for option in sorted(given):
        if not wanted[option]:
            _fail(f"{option} needs at least one user name")
    if wanted["--add"] or wanted["--remove"]:
        def change() -> tuple[list[str], list[str]]:
            removed = projects.remove_members(db.session, p.id, [accounts.get_user(db.session, n) for n in wanted["--remove"]])
            added = projects.add_members(db.session, p.id, [accounts.get_user(db.session, n) for n in wanted["--add"]])
            return added, removed

        added, removed = _commit_or_fail(change)
        if wanted["--add"]:
            click.echo(f"added {', '.join(added)} to {p.name}" if added else f"{', '.join(wanted['--add'])}: already members of {p.name}")
        if removed:
            click.echo(f"removed {', '.join(removed)} from {p.name}; their assignments stay until you re-balance "
                       f"(`annotator assign {p.name} --rebalance` hands their unstarted articles to the members left)")
        return
    for user in projects.members(db.session, p.id):
        click.echo(f"{user.name}\t{user.role}\t{'active' if user.active else 'inactive'}")


# ---------------------------------------------------------------- import, segment, assign
@click.command("import")
@click.argument("project")
@click.argument("paths", nargs=-1, required=True)
@click.option("--on-duplicate", type=click.Choice(articles.ON_DUPLICATE), default="error", show_default=True,
              help="What to do with an article id the project already has.")
@with_appcontext
def import_command(project: str, paths: tuple[str, ...], on_duplicate: str) -> None:
    """Import articles from .txt, .jsonl, .csv files or folders ('-' reads JSONL from stdin).

    Each file is all or nothing: a bad line rejects that whole file
    (reported as FILE:LINE: reason) and the others still import. A big file is
    stored in short chunks that stay invisible until the whole file is in.
    """
    try:
        p = projects.get_project(db.session, project)
    except projects.ProjectError as exc:
        _fail(str(exc))
    files = list(expand_paths(paths))
    if not files:
        _fail("no files to import")
    total = articles.StoreResult()
    rejected: list[str] = []
    show_progress = len(files) > 3 and sys.stderr.isatty() or len(files) > 20
    with click.progressbar(files, label="importing", file=sys.stderr, show_pos=True) if show_progress else _plain(files) as items:
        for name, explicit in items:
            if not explicit and Path(name).suffix.lower() not in (".txt", ".jsonl", ".csv"):
                continue  # folders may hold other files; named files must be importable
            try:
                records = read_path(name, stdin=sys.stdin.buffer)
                result = articles.import_records(db.session, p, records, name, on_duplicate)  # type: ignore[arg-type]
                total.merge(result)
            except IngestError as exc:
                db.session.rollback()
                rejected.append(str(exc))
                click.echo(str(exc), err=True)
    click.echo(
        f"imported {len(total.created)} new, {len(total.updated)} updated, {len(total.skipped)} skipped"
        f" into {p.name}; {len(rejected)} file(s) rejected"
    )
    if rejected:
        sys.exit(1)


class _plain:
    """A stand-in for a progress bar when there is nothing long to show."""

    def __init__(self, items):  # noqa: ANN001
        self.items = items

    def __enter__(self):
        return self.items

    def __exit__(self, *exc) -> None:  # noqa: ANN002
        return None


@click.command("segment")
@click.argument("file", default="-")
def segment_command(file: str) -> None:
    """Print the sentences of FILE (or stdin) as JSON lines with code-point offsets."""
    try:
        data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        text = decode(data, "<stdin>" if file == "-" else file)
    except OSError as exc:
        _fail(f"{file}: cannot read: {exc.strerror}")
    except IngestError as exc:
        _fail(str(exc))
    out = sys.stdout
    for start, end in segment(text):
        out.write(json.dumps({"start": start, "end": end, "text": text[start:end]}, ensure_ascii=False) + "\n")


@click.command("assign")
@click.argument("project")
@click.option("--per-article", type=click.IntRange(min=1, max=projects.MAX_ANNOTATORS_PER_ARTICLE), help="Give every article N distinct annotators, balanced.")
@click.option("--user", "user_name", help="Assign articles to this annotator by hand (with --articles).")
@click.option("--articles", "article_ids", multiple=True,
              help="An external article id for --user, spaces and all; name several as separate arguments: --articles ID ID ...")
@click.option("--articles-from", "articles_from", type=click.File("rb"),
              help="Read article ids for --user from a file, one per line ('-' reads stdin).")
@click.option("--rebalance", is_flag=True, help="Take unstarted work from annotators who left the project or were deactivated, top up to N, even out loads.")
@click.argument("more_ids", nargs=-1, metavar="[ID]...")
@with_appcontext
def assign_command(project: str, per_article: int | None, user_name: str | None, article_ids: tuple[str, ...], articles_from,  # noqa: ANN001
                   rebalance: bool, more_ids: tuple[str, ...]) -> None:
    """Assign articles to annotators (idempotent: existing assignments are kept).

    By hand, each article id is one argument (quote an id with spaces):
    `annotator assign PROJECT --user NAME --articles "Story 1" story-2`.
    """
    try:
        p = projects.get_project(db.session, project)
    except projects.ProjectError as exc:
        _fail(str(exc))
    if per_article and user_name:
        _fail("give --per-article or --user, not both")
    if (article_ids or more_ids or articles_from) and not user_name:
        _fail("article ids are for assigning by hand: give --user NAME too")
    if rebalance:
        if user_name:
            _fail("give --rebalance or --user, not both")
        done = _commit_or_fail(lambda: assignment.rebalance(db.session, p.id, per_article))
        for name, external_id, work in done.kept:
            click.echo(f"kept {name} on {external_id}: {work} label(s)/span(s) already made")
        short = f"; {done.articles_short} article(s) still short of annotators" if done.articles_short else ""
        click.echo(f"removed {len(done.removed)}, kept {len(done.kept)} started, added {done.created}, moved {len(done.moved)}{short}")
        return
    if per_article:
        result = _commit_or_fail(lambda: assignment.assign_balanced(db.session, p.id, per_article))
        note = f"; {result.articles_short} article(s) have fewer than {per_article} (not enough annotators)" if result.articles_short else ""
        click.echo(f"{result.created} new assignment(s){note}")
        return
    if user_name:
        ids = [x.strip() for x in (*article_ids, *more_ids) if x.strip()]  # imported ids are stripped too
        if articles_from is not None:
            ids += _ids_from(articles_from)
        if not ids:
            _fail("--user needs article ids: --articles ID ... or --articles-from FILE")
        try:
            user = accounts.get_user(db.session, user_name)
        except accounts.AccountError as exc:
            _fail(str(exc))
        def assign() -> int:
            try:
                return assignment.assign_to_user(db.session, p.id, user, ids)
            except assignment.AssignmentError as exc:
                if any(" " in x for x in ids):
                    raise assignment.AssignmentError(f"{exc} (an id with spaces is one id: give each id its own argument, --articles ID ID ...)") from None
                raise

        created = _commit_or_fail(assign)
        click.echo(f"{created} new assignment(s) for {user_name}")
        return
    _fail("give --per-article N or --user NAME --articles ID...")


def _ids_from(stream) -> list[str]:  # noqa: ANN001
    """Article ids, one per line (blank lines skipped, ends stripped as import does), from a UTF-8 file or stdin."""
    name = getattr(stream, "name", None)
    name = name if isinstance(name, str) and name != "<stdin>" else "<stdin>"
    try:
        text = decode(stream.read(), name)
    except IngestError as exc:
        _fail(str(exc))
    return [line.strip() for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- demo
@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set up the demo and exit.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    """Set up a demo project with sample articles and users (idempotent), then serve."""
    from flask_migrate import upgrade

    upgrade()
    passwords = _commit_or_fail(_set_up_demo)
    click.echo(f"demo project: {DEMO_PROJECT}")
    click.echo("demo users:")
    for (name, role), password in zip(DEMO_USERS, passwords):
        click.echo(f"  {name:<9} {role:<10} {password}" if password else f"  {name:<9} (already there: keeps its password)")
    if not all(passwords):
        click.echo("existing users keep their passwords (set a new one with `annotator users password NAME`)")
    click.echo(DEMO_LOCAL_ONLY)
    if no_serve:
        return
    click.echo(f"serving on http://{host}:{port}/  (Ctrl-C to stop)")
    from werkzeug.serving import run_simple

    # Not app.run(): Flask ignores that call inside a `flask` CLI command.
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def _set_up_demo() -> list[str | None]:
    """The demo users, project and articles; returns each demo user's new password (None: the user was there already).

    Users that exist are left exactly as they are (password, role, active): a
    second run must not lock out whoever already uses the demo accounts.
    """
    from importlib.resources import files

    session = db.session
    passwords: list[str | None] = []
    for name, role in DEMO_USERS:
        if accounts.find_user(session, name) is not None:
            passwords.append(None)
            continue
        password = secrets.token_urlsafe(9)
        accounts.create_user(session, name, role, password)
        passwords.append(password)
    project = projects.find_project(session, DEMO_PROJECT) or projects.create_project(
        session, DEMO_PROJECT, labelschema.preset("claims"), annotators_per_article=2, guidelines=DEMO_GUIDELINES
    )
    source = files("annotator") / "demo" / "articles.jsonl"
    from annotator.domain.dataset.ingest import parse_jsonl

    records = parse_jsonl(source.read_text(encoding="utf-8"), "demo/articles.jsonl")
    articles.store_articles(session, project, records, "demo/articles.jsonl", on_duplicate="skip")
    people = [accounts.get_user(session, name) for name, _ in DEMO_USERS]
    projects.add_members(session, project.id, [u for u in people if u.role in ("annotator", "reviewer")])
    assignment.assign_balanced(session, project.id, project.annotators_per_article)
    return passwords


from annotator.cli.agreement import AGREEMENT_COMMANDS  # noqa: E402  (agreement)
from annotator.cli.dataset import DATASET_COMMANDS  # noqa: E402  (export, import-annotations)
from annotator.cli.suggest import SUGGEST_COMMANDS  # noqa: E402  (suggest text)

COMMANDS = (
    *DATASET_COMMANDS,
    *AGREEMENT_COMMANDS,
    *SUGGEST_COMMANDS,
    init_command,
    backup_command,
    users_group,
    projects_group,
    import_command,
    segment_command,
    assign_command,
    demo_command,
)


def init_app(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
