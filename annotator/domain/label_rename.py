"""Renaming a label that is in use: a sentence label, a span label, a relation type, an article label group or a
value of one.

Stored work names labels by their name (annotations, spans, relations, gold, suggestions, article labels), so a
schema edit must keep every name in use and cannot say "this is that one, renamed". A rename says it: in one
transaction the schema's item gets its new name (and the relation types that start or end at a renamed span label
name it anew), every stored row that names the old one is updated, the project's revision moves on (the agreement
cache and the export ETags follow it), and one audit entry (entity "label_schema", action "rename") says who renamed
what and how many rows it changed. Agreement is unchanged: every row is renamed alike, so the same items agree.
A value of an article label group is named within its group: the rows are that group's answers and gold decisions
holding the value (a JSON list each, kept sorted), and the value keeps its place in the schema's list.

Saves during a rename (PostgreSQL): every answer and gold write reads the schema in the statement that locks its
article FOR NO KEY UPDATE, and the project row with it (annotations/statements.py, gold/adjudication.py). The rename
locks the project's articles FOR UPDATE first, in id order (as a delete or a segmentation correction locks its
article), then the project row (projects.lock_schema, as a schema edit locks it): it waits for the saves in flight,
which commit under the old name and are renamed with the rest; a save that comes meanwhile waits for the rename and
then reads the new schema, so it stores the new name or is refused (the old name is no label any more), never a row
under a name the schema has lost. An import-annotations locks the stored articles of its file in the same order
before it writes (import_annotations/__init__.py), so it and the rename wait for each other whole. The stored answers
of keyed saves on the project's articles (annotations/idempotency.py) are renamed too: a retry after the rename is
answered with the new name. SQLite runs one writer at a time (BEGIN IMMEDIATE), and a save reads the schema inside
its write transaction.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.orm import Session

from annotator.db.models import (
    Annotation,
    Article,
    ArticleLabel,
    AuditEntry,
    GoldArticleLabel,
    GoldLabel,
    GoldRelation,
    GoldSpan,
    LabelRequest,
    Project,
    Relation,
    Sentence,
    Span,
    Suggestion,
    User,
    utcnow,
)
from annotator.domain import labelschema
from annotator.domain.annotations.idempotency import renamed_answer
from annotator.domain.dataset.export.formats import citron
from annotator.domain.projects import ProjectError, bump_revision, labels_in_use, lock_schema
from annotator.stats import textcheck

ENTITY = "label_schema"
# Each section, as a person says it, and the kind of suggestion that names it (article label groups have none).
WHAT = {
    "sentence_labels": "sentence label",
    "span_labels": "span label",
    "relation_types": "relation type",
    labelschema.ARTICLE_SECTION: "article label group",
}
SECTIONS = tuple(WHAT)  # the sections that name labels; a value is named within its group, in VALUES
VALUES = "article_label_values"
_SUGGESTION_KIND = {"sentence_labels": "label", "span_labels": "span", "relation_types": "relation"}
# The short words the CLI and the settings form take for a section.
SECTION_WORDS = {"sentence": "sentence_labels", "span": "span_labels", "relation": "relation_types", "article": labelschema.ARTICLE_SECTION,
                 "value": VALUES}


# Names that code knows by themselves, not from the schema: the built-in attribution suggester proposes them and the
# Citron format writes and reads only them (stats/attribution, export/formats/citron.py). A rename of one is made, and
# says what it leaves behind.
BUILT_IN_NAMES = {"span_labels": (citron.QUOTE, citron.SOURCE, citron.CUE), "relation_types": (citron.ATTRIBUTED_TO,)}


def notes_on(section: str, old: str) -> tuple[str, ...]:
    """What a rename of `old` leaves behind that its rows do not say (empty for most names)."""
    if old not in BUILT_IN_NAMES.get(section, ()):
        return ()
    return (f"the built-in attribution suggester proposes {WHAT[section]}s named {old!r} and the Citron format knows "
            f"{old!r} only: from now on the suggester's {old!r} suggestions are not stored and a Citron export leaves out "
            f"what was {old!r} (and says so)",)


@dataclass(frozen=True)
class Renamed:
    """What a rename did: the section, the old and new names, how many stored rows of each table it changed, and what
    it leaves behind (notes_on)."""

    section: str
    old: str
    new: str
    rows: dict[str, int]
    group: str | None = None  # the article label group of a renamed value
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def describe(self) -> str:
        counts = ", ".join(f"{table}: {n}" for table, n in self.rows.items() if n) or "no stored rows"
        if self.group is not None:
            return f"Value {self.old!r} of article label group {self.group!r} renamed to {self.new!r} ({counts})"
        return f"{WHAT[self.section].capitalize()} {self.old!r} renamed to {self.new!r} ({counts})"


def _texts(old: Any, new: Any) -> tuple[str, str]:
    """Both names as text that can be stored, the new one stripped; ProjectError saying which is not."""
    for which, value in (("old", old), ("new", new)):
        if not isinstance(value, str):
            raise ProjectError(f"the {which} name must be text")
        problem = textcheck.problem(value)
        if problem:
            raise ProjectError(f"the {which} name {problem}")
    return old, new.strip()


def _checked_names(schema: dict[str, Any], section: str, old: Any, new: Any) -> tuple[str, str]:
    """The old name (one of the section's) and the new one (usable, free in the section); ProjectError saying why not."""
    if section not in WHAT:
        raise ProjectError(f"unknown schema section {section!r} (choose from {', '.join((*SECTIONS, VALUES))})")
    what = WHAT[section]
    old, new = _texts(old, new)
    names = labelschema.names(schema, section)
    if old not in names:
        raise ProjectError(f"no {what} {old!r} in this project's schema (it has: {', '.join(names) or 'none'})")
    if not new:
        raise ProjectError(f"the new name of {what} {old!r} is empty")
    if new == old:
        raise ProjectError(f"{what} {old!r} is already called so")
    if new in names:
        raise ProjectError(f"the name {new!r} is taken: the schema has a {what} {new!r} already")
    if not labelschema.usable_name(new):
        raise ProjectError(f"the new name {new!r} must be {labelschema.NAME_RULE}")
    return old, new


def section_of(schema: dict[str, Any], name: str, section: str | None = None) -> str:
    """The section holding `name`: `section` itself when given (as the CLI's --section says it, or a section's key),
    else the one section that has the name; ProjectError when none has it or several do (then say which)."""
    if section is not None:
        return SECTION_WORDS.get(section, section)
    holding = [s for s in SECTIONS if name in labelschema.names(schema, s)]
    if len(holding) > 1:
        raise ProjectError(f"{name!r} is a {' and a '.join(WHAT[s] for s in holding)}: say which with --section "
                           f"({' or '.join(w for w, s in SECTION_WORDS.items() if s in holding)})")
    if not holding:
        groups = [g for g, item in labelschema.article_groups(schema).items() if name in item["values"]]
        hint = f" (a value of article label group {groups[0]!r}: rename it with --section value --group {groups[0]})" if groups else ""
        raise ProjectError(f"no label {name!r} in this project's schema{hint}")
    return holding[0]


def renamed_schema(schema: dict[str, Any], section: str, old: str, new: str) -> dict[str, Any]:
    """The schema with the item renamed (a span label also where relation types name it). Not validated again: the
    new name was checked, and a schema stored before a rule it breaks elsewhere (a key the page took since) can still
    have a label renamed."""
    out = copy.deepcopy(schema)
    for item in out.get(section, []):
        if item["name"] == old:
            item["name"] = new
    if section == "span_labels":
        for rel in out.get("relation_types", []):
            for end in ("from", "to"):
                rel[end] = [new if label == old else label for label in rel[end]]
    return out


def _targets(section: str, project_id: int) -> list[tuple[str, Table, str, ColumnElement[bool]]]:
    """(what the count is called, table, column, which of its rows are the project's) for every table naming the section."""
    articles = select(Article.__table__.c.id).where(Article.__table__.c.project_id == project_id)  # staged imports' too
    sentences = select(Sentence.__table__.c.id).where(Sentence.__table__.c.article_id.in_(articles))

    def by_article(model: Any) -> ColumnElement[bool]:
        return model.__table__.c.article_id.in_(articles)

    if section == "sentence_labels":
        rows = [("labels", Annotation.__table__, "label", Annotation.__table__.c.sentence_id.in_(sentences)),
                ("gold labels", GoldLabel.__table__, "label", GoldLabel.__table__.c.sentence_id.in_(sentences))]
    elif section == "span_labels":
        rows = [("spans", Span.__table__, "label", by_article(Span)), ("gold spans", GoldSpan.__table__, "label", by_article(GoldSpan))]
    elif section == "relation_types":
        rows = [("links", Relation.__table__, "type", by_article(Relation)),
                ("gold links", GoldRelation.__table__, "type", by_article(GoldRelation))]
    else:
        rows = [("article labels", ArticleLabel.__table__, "group", by_article(ArticleLabel)),
                ("gold article labels", GoldArticleLabel.__table__, "group", by_article(GoldArticleLabel))]
    kind = _SUGGESTION_KIND.get(section)
    if kind is not None:
        table = Suggestion.__table__
        rows.append(("suggestions", table, "label", by_article(Suggestion) & (table.c.kind == kind)))
    return rows


def _rename_in_stored_answers(session: Session, project_id: int, section: str, old: str, new: str, group: str | None = None) -> None:
    """The project's stored answers of keyed saves (idempotency.py) that name the label (or the group's value), renamed:
    a retry after the rename gets its first answer under the new name, never a label the schema no longer has. Not
    counted in the rows: they are replies kept a day for retries, not anybody's work."""
    requests = LabelRequest.__table__
    articles = select(Article.__table__.c.id).where(Article.__table__.c.project_id == project_id)
    stored = session.execute(
        select(requests.c.id, requests.c.response).where(requests.c.article_id.in_(articles), requests.c.response.is_not(None))
    ).all()
    for row_id, response in stored:
        answer = renamed_answer(response, section, old, new, group)
        if answer is not None:
            session.execute(update(requests).where(requests.c.id == row_id).values(response=answer))


def rename_label(session: Session, project_id: int, section: str | None, old: Any, new: Any, actor_id: int | None, via: str,
                 group: Any = None) -> Renamed:
    """Rename one item of the project's schema and every stored row that names it; call inside a write transaction
    (nothing is written before every check passed). `section` is a section's key or its short word (SECTION_WORDS),
    or None for the one section that has `old` (section_of), found on the schema read under the lock as every check
    is. `actor_id` is the admin (None on the server's command line) and `via` the way in ("web", "cli", "api"), as
    the account log says them. A value (section VALUES) is named within `group`."""
    schema = lock_schema(session, project_id, articles=True)
    section = section_of(schema, old, section)
    if section == VALUES:
        return _rename_value(session, project_id, schema, group, old, new, actor_id, via)
    if group is not None:
        raise ProjectError(f"a group goes with a value of an article label group, not with a {WHAT.get(section, section)}")
    old, new = _checked_names(schema, section, old, new)
    changed = renamed_schema(schema, section, old, new)
    if new in labels_in_use(session, project_id)[section]:  # a row the schema lost track of: renaming onto it would merge the two
        raise ProjectError(f"the name {new!r} is taken: stored work already uses a {WHAT[section]} {new!r}")
    rows: dict[str, int] = {}
    for counted, table, column, mine in _targets(section, project_id):
        values: dict[str, Any] = {column: new}
        if "updated_at" in table.c:  # a rename is nobody's new answer: its time stays (else the column's onupdate moves it)
            values["updated_at"] = table.c.updated_at
        result = session.execute(update(table).where(mine, table.c[column] == old).values(values))
        rows[counted] = result.rowcount or 0
    _rename_in_stored_answers(session, project_id, section, old, new)
    return _store(session, project_id, changed, Renamed(section, old, new, rows, notes=notes_on(section, old)), actor_id, via)


def _store(session: Session, project_id: int, schema: dict[str, Any], done: Renamed, actor_id: int | None, via: str) -> Renamed:
    """The renamed schema, the revision moved on and the audit entry: what every rename does once its rows are renamed."""
    session.execute(update(Project).where(Project.id == project_id).values(label_schema=schema))
    bump_revision(session, project_id)
    in_group = {} if done.group is None else {"group": done.group}
    session.add(AuditEntry(at=utcnow(), user_id=actor_id, project_id=project_id, entity=ENTITY, entity_id=done.section, action="rename",
                           before={**in_group, "name": done.old}, after={**in_group, "name": done.new, "rows": done.rows, "via": via}))
    session.flush()
    session.expire_all()  # a Project loaded before holds the old schema and revision
    return done


def _checked_value(session: Session, project_id: int, schema: dict[str, Any], group: Any, old: Any, new: Any) -> tuple[str, str, str]:
    """The group, the old value (one of the group's) and the new one (a value the schema takes, free in the group and
    in the group's stored answers); ProjectError saying why not."""
    groups = labelschema.article_groups(schema)
    if not isinstance(group, str) or not group:
        raise ProjectError(f"say which article label group the value is in (it has: {', '.join(groups) or 'none'})")
    if group not in groups:
        raise ProjectError(f"no article label group {group!r} in this project's schema (it has: {', '.join(groups) or 'none'})")
    old, new = _texts(old, new)
    values = groups[group]["values"]
    if old not in values:
        raise ProjectError(f"no value {old!r} in article label group {group!r} (it has: {', '.join(values)})")
    if not new:
        raise ProjectError(f"the new name of value {old!r} is empty")
    if new == old:
        raise ProjectError(f"value {old!r} is already called so")
    if new in values:
        raise ProjectError(f"the name {new!r} is taken: article label group {group!r} has a value {new!r} already")
    if len(new) > labelschema.MAX_VALUE_LENGTH:
        raise ProjectError(f"the new name {textcheck.shown(new)} must be 1-{labelschema.MAX_VALUE_LENGTH} characters")
    if any(new in row_values for _, _, row_values in _group_rows(session, project_id, group)):
        # a value the schema lost track of: renaming onto it would merge the two
        raise ProjectError(f"the name {new!r} is taken: stored work already uses a value {new!r} in article label group {group!r}")
    return group, old, new


def _group_rows(session: Session, project_id: int, group: str) -> list[tuple[Table, int, list[str]]]:
    """(table, row id, values) of every answer and gold decision of the project's articles in `group`."""
    articles = select(Article.__table__.c.id).where(Article.__table__.c.project_id == project_id)  # staged imports' too
    found: list[tuple[Table, int, list[str]]] = []
    for model in (ArticleLabel, GoldArticleLabel):
        table = model.__table__
        found += [(table, row_id, values) for row_id, values in
                  session.execute(select(table.c.id, table.c["values"]).where(table.c.article_id.in_(articles), table.c.group == group))]
    return found


def _rename_value(session: Session, project_id: int, schema: dict[str, Any], group: Any, old: Any, new: Any,
                  actor_id: int | None, via: str) -> Renamed:
    group, old, new = _checked_value(session, project_id, schema, group, old, new)
    changed = copy.deepcopy(schema)
    for item in changed[labelschema.ARTICLE_SECTION]:
        if item["name"] == group:
            item["values"] = [new if value == old else value for value in item["values"]]  # in its place: the page's order
    rows = {"article labels": 0, "gold article labels": 0}
    counted = {ArticleLabel.__table__.name: "article labels", GoldArticleLabel.__table__.name: "gold article labels"}
    for table, row_id, values in _group_rows(session, project_id, group):
        if old in values:
            # A rename is nobody's new answer: versions and times stay (else updated_at's onupdate would move it).
            kept = {"updated_at": table.c.updated_at} if "updated_at" in table.c else {}
            session.execute(update(table).where(table.c.id == row_id)
                            .values({"values": sorted(new if value == old else value for value in values), **kept}))
            rows[counted[table.name]] += 1
    _rename_in_stored_answers(session, project_id, VALUES, old, new, group)
    return _store(session, project_id, changed, Renamed(VALUES, old, new, rows, group), actor_id, via)


@dataclass(frozen=True)
class Rename:
    """One rename as the project's settings list it."""

    at: Any
    actor: str
    section: str
    old: str
    new: str
    rows: int

    @property
    def what(self) -> str:
        return "article label value" if self.section == VALUES else WHAT.get(self.section, self.section)


def history(session: Session, project_id: int, limit: int = 20) -> list[Rename]:
    """The project's last `limit` renames, newest first, each with who made it."""
    found = session.execute(
        select(AuditEntry, User.name).outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.project_id == project_id, AuditEntry.entity == ENTITY, AuditEntry.action == "rename")
        .order_by(AuditEntry.id.desc()).limit(limit)
    ).all()
    out = []
    for entry, name in found:
        after = entry.after or {}
        actor = name or ("the server (cli)" if entry.user_id is None else f"user #{entry.user_id}")
        old = (entry.before or {}).get("name", "")
        if "group" in after:  # a value: named within its group
            old = f"{after['group']}: {old}"
        out.append(Rename(entry.at, actor, entry.entity_id or "", old, after.get("name", ""), sum((after.get("rows") or {}).values())))
    return out
