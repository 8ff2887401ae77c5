"""`annotator projects ...`: create projects, list them, print a schema, manage members."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import click
from flask.cli import with_appcontext

from annotator.cli.errors import commit_or_fail, fail, project_or_fail
from annotator.db import db
from annotator.domain import accounts, label_rename, labelschema, projects
from annotator.domain.dataset.ingest import IngestError, decode
from annotator.domain.progress import project_overview
from annotator.stats import textcheck


@click.group("projects")
def projects_group() -> None:
    """Create and inspect projects."""


@projects_group.command("create")
@click.argument("name")
@click.option("--preset", type=click.Choice(list(labelschema.PRESET_NAMES)), help="A ready-made label schema (default: claims).")
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False), help="A label schema JSON file.")
@click.option("--annotators-per-article", metavar="N", type=click.IntRange(min=1, max=projects.MAX_ANNOTATORS_PER_ARTICLE), default=2, show_default=True)
@click.option("--guidelines", "guidelines_file", type=click.Path(exists=True, dir_okay=False), help="Guidelines as a Markdown file.")
@click.option("--majority", type=float, default=1.0, show_default=True,
              help="Share of annotators that must agree for automatic gold (1 = unanimous only, 0.66 = two of three).")
@with_appcontext
def projects_create(name: str, preset: str | None, schema_file: str | None, annotators_per_article: int, guidelines_file: str | None,
                    majority: float) -> None:
    """Create a project with a preset or a schema file."""
    if preset and schema_file:
        fail("give --preset or --schema, not both")
    try:
        if schema_file:
            schema = labelschema.loads(decode(Path(schema_file).read_bytes(), schema_file))
        else:
            schema = labelschema.preset(preset or labelschema.DEFAULT_PRESET)
        guidelines = decode(Path(guidelines_file).read_bytes(), guidelines_file) if guidelines_file else ""
        if textcheck.problem(guidelines):
            fail(f"{guidelines_file}: the guidelines {textcheck.problem(guidelines)}")
    except labelschema.SchemaError as exc:
        fail(f"{schema_file}: {exc}")
    except IngestError as exc:
        fail(str(exc))

    def create() -> None:
        project = projects.create_project(db.session, name, schema, annotators_per_article, guidelines)
        projects.update_project(db.session, project, majority_threshold=majority)

    commit_or_fail(create)
    click.echo(f"created project {name}")


@projects_group.command("list")
@with_appcontext
def projects_list() -> None:
    """List projects with their article counts."""
    for row in project_overview(db.session):
        p = row["project"]
        click.echo(f"{p.name}\t{row['articles']} articles\t{row['sentences']} sentences")


@projects_group.command("schema")
@click.argument("project")
@with_appcontext
def projects_schema(project: str) -> None:
    """Print a project's label schema as JSON."""
    p = project_or_fail(project)
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
    p = project_or_fail(project)
    wanted = _member_changes(changes)
    if not (wanted["--add"] or wanted["--remove"]):
        for user in projects.members(db.session, p.id):
            click.echo(f"{user.name}\t{user.role}\t{'active' if user.active else 'inactive'}")
        return

    def change() -> tuple[list[str], list[str]]:
        removed = projects.remove_members(db.session, p.id, [accounts.get_user(db.session, n) for n in wanted["--remove"]])
        added = projects.add_members(db.session, p.id, [accounts.get_user(db.session, n) for n in wanted["--add"]])
        return added, removed

    added, removed = commit_or_fail(change)
    if wanted["--add"]:
        click.echo(f"added {', '.join(added)} to {p.name}" if added else f"{', '.join(wanted['--add'])}: already members of {p.name}")
    if removed:
        click.echo(f"removed {', '.join(removed)} from {p.name}; their assignments stay until you re-balance "
                   f"(`annotator assign {shlex.quote(p.name)} --rebalance` hands their unstarted articles to the members left)")


def _member_changes(changes: tuple[str, ...]) -> dict[str, list[str]]:
    """The user names after --add and after --remove.

    click options take one value each; `--add a b c` is parsed here so that every name is its own argument.
    """
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
            fail(f"no such option {option}; use --add NAME... and --remove NAME...")
        elif mode is None:
            fail(f"user names follow --add or --remove (got {token!r})")
        else:
            wanted[mode].append(token)
    for option in sorted(given):
        if not wanted[option]:
            fail(f"{option} needs at least one user name")
    return wanted


@projects_group.command("rename-label")
@click.argument("project")
@click.argument("old")
@click.argument("new")
@click.option("--section", type=click.Choice(list(label_rename.SECTION_WORDS)),
              help="Which kind of label OLD is, when the schema has more than one of that name; `value` for a value of an article label group (with --group).")
@click.option("--group", metavar="GROUP", help="The article label group whose value OLD is (with --section value).")
@with_appcontext
def projects_rename_label(project: str, old: str, new: str, section: str | None, group: str | None) -> None:
    """Rename a sentence label, span label, relation type, article label group or a value of one (--section value
    --group GROUP), with every stored row that names it.

    One transaction: the schema, annotations, gold, suggestions and article labels change together, and the
    rename is recorded in the audit log.
    """
    project_id = project_or_fail(project).id
    if group is not None and section != "value":
        fail("--group names the group of a value: give --section value too")
    # the section is found by the rename, on the schema it reads under its lock: one read, the one every check uses
    renamed = commit_or_fail(lambda: label_rename.rename_label(db.session, project_id, section, old, new, None, "cli", group))
    click.echo(renamed.describe())
    for note in renamed.notes:
        click.echo(f"warning: {note}", err=True)
