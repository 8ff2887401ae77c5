"""Projects: creation with a validated label schema, and versioned guidelines."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import labelschema
from .models import GuidelineVersion, Project


class ProjectError(ValueError):
    """A project operation that cannot be done; the message says why."""


def find_project(session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name))


def get_project(session: Session, name: str) -> Project:
    project = find_project(session, name)
    if project is None:
        raise ProjectError(f"no project named {name!r}")
    return project


def create_project(
    session: Session,
    name: str,
    schema: dict[str, Any] | None = None,
    annotators_per_article: int = 2,
    guidelines: str = "",
    author_id: int | None = None,
) -> Project:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ProjectError("project name must be 1 to 200 characters")
    if find_project(session, name) is not None:
        raise ProjectError(f"project {name!r} already exists")
    if annotators_per_article < 1:
        raise ProjectError("annotators per article must be at least 1")
    checked = labelschema.validate(schema if schema is not None else labelschema.preset(labelschema.DEFAULT_PRESET))
    project = Project(
        name=name,
        label_schema=checked,
        guidelines=guidelines,
        guidelines_version=1,
        annotators_per_article=annotators_per_article,
    )
    session.add(project)
    session.flush()
    session.add(GuidelineVersion(project_id=project.id, version=1, text=guidelines, author_id=author_id))
    return project


def set_guidelines(session: Session, project: Project, text: str, author_id: int | None = None) -> int:
    """Save a new version of the guidelines; returns the new version number."""
    if text == project.guidelines:
        return project.guidelines_version
    project.guidelines_version += 1
    project.guidelines = text
    session.add(GuidelineVersion(project_id=project.id, version=project.guidelines_version, text=text, author_id=author_id))
    session.flush()
    return project.guidelines_version


def bump_revision(session: Session, project_id: int) -> None:
    """Mark the project's annotations as changed: caches keyed by the old revision go stale."""
    session.execute(update(Project).where(Project.id == project_id).values(revision=Project.revision + 1))
