"""What an export is asked for: the unit, the filters and the splits, checked before anything is read."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

from sqlalchemy.orm import Session

from annotator.db.models import Project
from annotator.domain import labelschema
from annotator.domain.dataset.export.load import people_named
from annotator.domain.wording import plural
from annotator.stats import textcheck

UNITS = ("article", "sentence")
DEFAULT_UNIT = "sentence"
SPLIT_TOLERANCE = 1e-9
DEFAULT_SPLITS = "train=0.8,dev=0.1,test=0.1"
DEFAULT_SEED = 13  # `annotator export --seed`'s default
QUERY_PARAMETERS = ("annotator", "gold_only", "labels", "seed", "split", "splits", "unit")
_FLAGS = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True, "yes": True}
ECHO = 40  # how much of a value an error message repeats
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}\Z")


class ExportError(ValueError):
    """Export options that cannot be used; the message says why."""


@dataclass(frozen=True)
class Filters:
    """Which records to export.

    gold_only: only sentences with a gold label (article unit: articles with any).
    annotators: only these annotators' annotations, and only the sentences
        (articles) where one of them labelled or marked something.
    labels: only sentences whose label is in the set: the gold label when there
        is one, otherwise any (selected) annotator's label.  In the article
        unit, articles with at least one such sentence, exported whole.
    """

    gold_only: bool = False
    annotators: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()


NO_FILTERS = Filters()  # everything (frozen: a safe default argument)


def check_unit(unit: str) -> str:
    if unit not in UNITS:
        raise ExportError(f"unknown unit {unit!r} (choose from {', '.join(UNITS)})")
    return unit


def check_filters(session: Session, project: Project, filters: Filters) -> Filters:
    """Raise ExportError for a label the schema lacks or an annotator who is not of this project.

    The people of a project are its members and anyone with a label or span in it. A name that exists
    elsewhere gets the same answer as one that does not exist, so a reviewer cannot use the export
    to learn which user names exist in other projects.
    """
    known = labelschema.names(project.label_schema, "sentence_labels")
    unknown = [label for label in filters.labels if label not in known]
    if unknown:
        raise ExportError(f"{plural(len(unknown), 'unknown label')} {', '.join(unknown)} (project has: {', '.join(known)})")
    if filters.annotators:
        found = set(session.scalars(people_named(project.id, filters.annotators)))
        missing = [name for name in filters.annotators if name not in found]
        if missing:
            raise ExportError(f"no annotator named {', '.join(map(repr, missing))} in this project")
    return filters


def parse_labels(value: str | None) -> tuple[str, ...]:
    """'CFS,UFS' -> ('CFS', 'UFS'); empty items are an error, and so is a control character (an escape, a line break),
    which no label name holds: 'CFS\\n' was taken as CFS, and one inside a name reached the terminal raw in the error."""
    if value is None:
        return ()
    where = textcheck.not_one_line(value, tabs=True) or textcheck.problem(value)
    if where:
        raise ExportError(f"labels {textcheck.shown(value)}: no label name holds a control character ({where})")
    items = [item.strip() for item in value.split(",")]
    if not value.strip() or any(not item for item in items):
        raise ExportError(f"labels must be a comma-separated list of label names (got {value!r})")
    return tuple(dict.fromkeys(items))


def parse_split(spec: str) -> list[tuple[str, float]]:
    """'train=0.8,dev=0.1,test=0.1' -> [('train', 0.8), ...]; proportions > 0, summing to 1."""
    parts: list[tuple[str, float]] = []
    for item in spec.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not _SPLIT_NAME.match(name):
            raise ExportError(f"split {item.strip()!r}: expected NAME=PROPORTION, NAME of letters, digits, '_' or '-'")
        try:
            share = float(value)
        except ValueError:
            raise ExportError(f"split {name!r}: {value.strip()!r} is not a number") from None
        if not share > 0 or share != share or share == float("inf"):
            raise ExportError(f"split {name!r}: the proportion must be positive (got {value.strip()})")
        if any(name == other for other, _ in parts):
            raise ExportError(f"split {name!r} is named twice")
        parts.append((name, share))
    total = sum(share for _, share in parts)
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        raise ExportError(f"split proportions must sum to 1 (they sum to {total:.12g})")
    return parts


class Split(NamedTuple):
    """One split's file of `--split`: the proportions, the seed and the split's name (records_of_split's arguments)."""

    splits: list[tuple[str, float]]
    seed: int
    name: str


@dataclass(frozen=True)
class Query:
    """An export asked for over HTTP: the unit, the filters and, for one split's file, the split."""

    unit: str
    filters: Filters
    split: Split | None = None


def parse_query(session: Session, project: Project, args: Mapping[str, Sequence[str]]) -> Query:
    """The export a query string asks for (`args`: each parameter's values, as sent), checked whole before anything is read:
    ?unit=article|sentence&gold_only=1&annotator=NAME&labels=CFS,UFS&split=NAME&splits=train=0.8,...&seed=13.

    Raises ExportError saying what is wrong (a value it repeats is cut to ECHO characters). The REST export and
    the download link both read their query here, so they take the same parameters and give the same messages.
    """
    unknown = sorted(set(args) - set(QUERY_PARAMETERS))
    if unknown:
        shown = ", ".join(name[:ECHO] for name in unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise ExportError(f"{plural(len(unknown), 'unknown parameter')} {shown}; use {', '.join(QUERY_PARAMETERS)}")

    def first(name: str, default: str) -> str:  # a parameter given twice: its first value, as Flask's args.get
        values = args.get(name)
        return values[0] if values else default

    unit = first("unit", DEFAULT_UNIT)
    if unit not in UNITS:
        raise ExportError(f"unit must be one of {', '.join(UNITS)} (got {unit[:ECHO]!r})")
    flag = first("gold_only", "")
    gold_only = _FLAGS.get(flag.strip().lower())
    if gold_only is None:
        raise ExportError(f"gold_only must be 1 or 0 (got {flag[:ECHO]!r})")
    labels = parse_labels(first("labels", "")) if "labels" in args else ()
    filters = check_filters(session, project, Filters(gold_only, tuple(dict.fromkeys(args.get("annotator", ()))), labels))
    if "split" not in args:
        if "splits" in args or "seed" in args:
            raise ExportError("splits and seed choose how articles are split: give split=NAME too")
        return Query(unit, filters)
    name = first("split", "")
    splits = parse_split(first("splits", DEFAULT_SPLITS))
    if name not in [n for n, _ in splits]:
        raise ExportError(f"split {name[:ECHO]!r} is not one of {', '.join(n for n, _ in splits)}")
    seed = first("seed", str(DEFAULT_SEED))
    if not (seed.isascii() and seed.removeprefix("-").isdigit() and len(seed) <= 18):  # one sign: "--5" is no integer
        raise ExportError(f"seed must be an integer (got {seed[:ECHO]!r})")
    return Query(unit, filters, Split(splits, int(seed), name))
