"""A project's head: its revision and the settings what is derived from its annotations depends on.

Plain functions over a SQLAlchemy session; no Flask. Read first by the
agreement figures (its revision and fingerprint key their cache,
agreement/cache.py), by the automatic-gold refresh (gold/refresh.py) and by a
save's gold step (gold/incremental.py). A module of its own, without NumPy,
because every save may read it: the agreement package's loaders build arrays,
and a worker that only answers annotators never loads them.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from annotator.db.models import Project
from annotator.db.prepared import Prepared
from annotator.domain import labelschema

# Bump when the shape or the meaning of the cached figures changes: old entries then miss.
FORMAT = 7
N_BOOT = 1000
SEED = 13
_INT32 = 2**31


class ProjectNotFound(LookupError):
    """No such project; the message says which."""


def min_raters(annotators_per_article: int | None) -> int:
    """Annotators a sentence (or an exact span) needs before it can become gold automatically."""
    return max(2, int(annotators_per_article or 0))


@dataclass(frozen=True)
class ProjectHead:
    """What the figures depend on, read in one small query (no ORM object)."""

    id: int
    name: str
    revision: int
    schema: dict[str, Any]
    majority_threshold: float
    annotators_per_article: int

    @property
    def categories(self) -> list[str]:
        return labelschema.names(self.schema, "sentence_labels")

    @property
    def span_labels(self) -> list[str]:
        return labelschema.names(self.schema, "span_labels")

    @property
    def min_raters(self) -> int:
        return min_raters(self.annotators_per_article)

    def fingerprint(self) -> str:
        settings = {
            "format": FORMAT,
            "schema": self.schema,
            "majority_threshold": self.majority_threshold,
            "annotators_per_article": self.annotators_per_article,
            "n_boot": N_BOOT,
            "seed": SEED,
        }
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


_HEAD_COLUMNS = (Project.id, Project.name, Project.revision, Project.label_schema, Project.majority_threshold, Project.annotators_per_article)


# Core, prebuilt, run on the driver's cursor (db/prepared.py): the head is read inside every label save (incremental gold)
_HEAD = Prepared(select(*(c.expression for c in _HEAD_COLUMNS)).where(Project.__table__.c.id == bindparam("project_id")))


def project_head(session: Session, project_id: int) -> ProjectHead:
    if not isinstance(project_id, int) or not 0 < project_id < _INT32:
        raise ProjectNotFound(f"no project {project_id!r}")
    row = _HEAD.first(session, {"project_id": project_id})
    if row is None:
        raise ProjectNotFound(f"no project {project_id}")
    return ProjectHead(*row)
