"""How a command fails: one line (click's "Error: ..."), exit code 1, nothing half-written.

Shared by the command families; the group itself (cli/__init__.py) turns
database failures into such lines.
"""
from __future__ import annotations

from typing import Callable, NoReturn, TypeVar

import click

from annotator.db import db
from annotator.db.models import Project
from annotator.db.transactions import transaction
from annotator.domain import accounts, assignment, labelschema, projects

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    raise click.ClickException(message)


def commit_or_fail(action: Callable[[], T]) -> T:
    """Run a unit of work in a write transaction; domain errors become one-line CLI errors."""
    try:
        with transaction(db.session):
            return action()
    except (accounts.AccountError, projects.ProjectError, labelschema.SchemaError, assignment.AssignmentError) as exc:
        fail(str(exc))


def project_or_fail(name: str) -> Project:
    """The project named on the command line, or its one-line error."""
    try:
        return projects.get_project(db.session, name)
    except projects.ProjectError as exc:
        fail(str(exc))
