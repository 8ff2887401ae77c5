"""Storing checked records: what the database says about each (same text, same sentences, duplicates), then bulk inserts.

check_against_database runs per record against what existing.Existing read for the record's chunk of the file;
flush inserts what a batch of checked articles carries with a few Core executemany statements.
Just over 500 lines on purpose: the checks and the inserts share the batch's state (ids, duplicates, counts).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import insert, select
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
    Project,
    Relation,
    Sentence,
    Span,
    User,
    utcnow,
)
from annotator.domain import account_log, suggestions
from annotator.domain.dataset.articles import sha256
from annotator.domain.dataset.import_annotations.existing import Existing
from annotator.domain.dataset.import_annotations.parse import Bad, Block, Label, Record
from annotator.domain.wording import counted, plural
from annotator.stats.segment import segment

OnDuplicate = Literal["error", "skip", "replace"]
ON_DUPLICATE = ("error", "skip", "replace")


@dataclass
class ImportResult:
    articles_created: int = 0
    articles_existing: int = 0
    users_created: list[str] = field(default_factory=list)
    labels: int = 0
    spans: int = 0
    relations: int = 0
    article_labels: int = 0  # an annotator's answers in article label groups (one per group)
    gold_labels: int = 0
    gold_spans: int = 0
    gold_relations: int = 0
    gold_article_labels: int = 0  # reviewers' decisions on article label groups
    skipped: int = 0  # annotator blocks (or gold) left alone by --on-duplicate skip
    replaced: int = 0
    # annotator -> [labels, spans, relations, blocks skipped as duplicates, article labels], for the per-annotator summary
    by_annotator: dict[str, list[int]] = field(default_factory=dict)
    by_suggester: dict[str, int] = field(default_factory=dict)  # suggester -> spans and relations proposed
    matched: int = 0  # --match-by text: records that went onto an existing article by its text
    ambiguous: list[tuple[int, str]] = field(default_factory=list)  # --match-by text: (line, why) of records refused

    def count(self, annotator: str, labels: int = 0, spans: int = 0, relations: int = 0, skipped: int = 0, article_labels: int = 0) -> None:
        row = self.by_annotator.setdefault(annotator, [0, 0, 0, 0, 0])
        for i, n in enumerate((labels, spans, relations, skipped, article_labels)):
            row[i] += n

    def merge(self, other: "ImportResult") -> None:
        for name in self.__dataclass_fields__:
            if name == "by_annotator":
                for annotator, row in other.by_annotator.items():
                    self.count(annotator, *row)
                continue
            if name == "by_suggester":
                for suggester, n in other.by_suggester.items():
                    self.by_suggester[suggester] = self.by_suggester.get(suggester, 0) + n
                continue
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def annotator_lines(self) -> list[str]:
        """One line per annotator: what was imported, and what was left as a duplicate."""
        lines = []
        for name, (labels, spans, relations, skipped, article_labels) in sorted(self.by_annotator.items()):
            line = f"{name}: {counted(labels, 'label')}, {counted(spans, 'span')}, {counted(relations, 'relation')}"
            line += f", {counted(article_labels, 'article label')}" if article_labels else ""
            lines.append(line + (f"; {counted(skipped, 'article')} skipped: already annotated (--on-duplicate skip)" if skipped else ""))
        return lines + [f"{name} (a prediction, not an annotator): {counted(n, 'suggestion')}" for name, n in sorted(self.by_suggester.items())]

    def match_lines(self, file: str) -> list[str]:
        """--match-by text: what matched, what was new, and each record refused with its line."""
        summary = f"{file}: matched by text: {self.matched} existing {plural(self.matched, 'article')}, {self.articles_created} new, {len(self.ambiguous)} refused"
        return [summary] + [f"{file}:{line}: {reason}" for line, reason in self.ambiguous]

    def summary(self) -> str:
        annotations = f"{counted(self.labels, 'label')}, {counted(self.spans, 'span')}, {counted(self.relations, 'relation')}"
        if self.article_labels:  # said only when there are some: projects without article labels read as before
            annotations += f", {counted(self.article_labels, 'article label')}"
        articles = plural(self.articles_created + self.articles_existing, "article")
        gold_article_labels = f", {counted(self.gold_article_labels, 'article label')}" if self.gold_article_labels else ""
        return (
            f"{self.articles_created} new and {self.articles_existing} existing {articles}; {annotations}; "
            f"gold: {counted(self.gold_labels, 'label')}, {counted(self.gold_spans, 'span')}, {counted(self.gold_relations, 'relation')}"
            f"{gold_article_labels}; "
            f"{counted(len(self.users_created), 'new user')}; {self.skipped} skipped, {self.replaced} replaced"
        )


class Users:
    """Name -> id for the file, creating inactive users without a password as needed.

    A user created here is in the account trail as one `annotator users create` makes (account_log), by `actor`:
    an account nobody can see being made would be one an admin could later activate and give a password unnoticed.
    Names are kept as the file has them (accounts.create_user's name rules are for new accounts made by hand).
    """

    def __init__(self, session: Session, result: ImportResult, actor: account_log.Actor = account_log.CLI):
        self.session, self.result, self.actor, self.ids = session, result, actor, {}
        self.absent: set[str] = set()  # names read() found no user for: id() creates them without asking again

    def read(self, names: set[str]) -> None:
        """Look up the stored users among these names at once (a chunk's), rather than one query per name."""
        wanted = sorted(names - self.ids.keys())
        for chunk in (wanted[i:i + _CHUNK] for i in range(0, len(wanted), _CHUNK)):
            self.ids.update((name, user_id) for user_id, name in self.session.execute(select(User.id, User.name).where(User.name.in_(chunk))))
        self.absent.update(name for name in wanted if name not in self.ids)

    def id(self, name: str, role: str) -> int:
        user_id = self.ids.get(name)
        if user_id is None:
            user_id = None if name in self.absent else self.session.scalar(select(User.id).where(User.name == name))
            if user_id is None:
                user_id = self.session.scalar(insert(User).values(name=name, role=role, active=False, password_hash=None, created_at=utcnow()).returning(User.id))
                account_log.record_by_id(self.session, user_id, self.actor, "create", None, {"role": role, "active": False, "password": None})
                self.result.users_created.append(name)
            self.ids[name] = user_id
        return user_id


@dataclass
class Pending:
    """One checked article waiting for the next bulk insert."""

    record: Record
    article_id: int | None  # None: a new article, inserted at the flush
    sentence_ids: list[int] | None
    bounds: list[tuple[int, int]]
    blocks: list[tuple[int, Block]]  # (user id, what to insert)
    gold: Block | None
    reviewer_ids: dict[str, int]
    audit: dict[str, Any]


# ---------------------------------------------------------------- checking against the database


def stored_articles(session: Session, project: Project, records: list[tuple[int, Any]], by_text: dict[str, list[str]] | None = None) -> list[int]:
    """The ids of the project's stored articles the records may go onto: those their ids name (as parse_record reads
    an id; a bad one it refuses later) and, matched by text, those with a record's text (`by_text`: SHA-256 -> external
    ids, match.TextMatcher's). Read before anything is written, so that they can be locked in id order first."""
    named = {str(obj["id"]).strip() for _, obj in records
             if isinstance(obj, dict) and isinstance(obj.get("id"), (str, int)) and not isinstance(obj["id"], bool)}
    if by_text is not None:
        named.update(x for _, obj in records if isinstance(obj, dict) and isinstance(obj.get("text"), str)
                     for x in by_text.get(sha256(obj["text"]), []))
    wanted, found = sorted(named), []
    for chunk in (wanted[i:i + _CHUNK] for i in range(0, len(wanted), _CHUNK)):
        found += session.scalars(select(Article.id).where(Article.project_id == project.id, Article.external_id.in_(chunk)))
    return found


_CHUNK = 200  # external ids per IN (...)


def check_against_database(
    existing: Existing,
    project: Project,
    record: Record,
    users: Users,
    on_duplicate: OnDuplicate,
    result: ImportResult,
    file: str,
) -> Pending:
    """What stored data (`existing`, read for the record's chunk) says about this record: same text, same sentences,
    duplicates; what replace deletes is noted in `existing`, which deletes it before the chunk's inserts."""
    article_id, sentence_ids, bounds = _stored_article(existing, project, record, result)
    for block in record.blocks + ([record.gold] if record.gold else []):
        block.labels = resolve_sentences(block.labels, bounds, block.annotator or "gold")
    replaced: list[str] = []
    blocks = _annotator_blocks(existing, record, article_id, users, on_duplicate, result, replaced)
    gold = _gold_block(existing, record, article_id, on_duplicate, result, replaced)
    reviewer_ids: dict[str, int] = {}
    if gold is not None:
        for item in (*gold.labels, *gold.spans, *gold.relations, *gold.decided.values()):
            if item.reviewer is not None and item.reviewer not in reviewer_ids:
                reviewer_ids[item.reviewer] = users.id(item.reviewer, "reviewer")
        result.gold_labels += len(gold.labels)
        result.gold_spans += len(gold.spans)
        result.gold_relations += len(gold.relations)
        result.gold_article_labels += len(gold.decided)
    for proposal in record.suggestions:
        for index, label, _ in proposal.labels:
            if index >= len(bounds):
                raise Bad(f"suggestions: label {label!r} for sentence index {index}, but the article has {counted(len(bounds), 'sentence')}")
        result.by_suggester[proposal.suggester] = result.by_suggester.get(proposal.suggester, 0) + len(proposal.labels) + len(proposal.spans) + len(proposal.relations)
    stored_blocks = [block for _, block in blocks]
    audit = {
        "file": file,
        "line": record.line,
        "created": article_id is None,
        "annotators": [block.annotator for block in stored_blocks],
        "replaced": replaced,
        "gold": gold is not None,
        "labels": sum(len(b.labels) for b in stored_blocks),
        "spans": sum(len(b.spans) for b in stored_blocks),
        "relations": sum(len(b.relations) for b in stored_blocks),
    }
    return Pending(record, article_id, sentence_ids, list(bounds), blocks, gold, reviewer_ids, audit)


def _stored_article(
    existing: Existing, project: Project, record: Record, result: ImportResult
) -> tuple[int | None, list[int] | None, list[tuple[int, int]]]:
    """(article id, sentence ids, sentence bounds) of the stored article, which must have the same text and
    sentences; (None, None, the record's sentences or the segmented text) for a new one."""
    text = record.text
    # PostgreSQL: the article is locked FOR UPDATE (existing.py reads it so) before its sentences and work are read, as a
    # delete or a segmentation correction locks it (article_work.locked_article_work), and every answer locks it first (FOR
    # NO KEY UPDATE): an annotator's save in flight commits before the reads, which see it (a duplicate, or replaced), and
    # a later one waits for this import. Unlocked, the save's label met the import's on the unique index (an IntegrityError
    # after the check had passed), and a correction could move the sentences the file's labels were put on. SQLite needs no lock.
    stored_article = existing.articles.get(record.external_id)
    if stored_article is None:
        bounds = record.sentences if record.sentences is not None else segment(text)
        if not bounds:
            raise Bad("the text has no sentences")
        result.articles_created += 1
        return None, None, bounds
    if stored_article.sha256 != sha256(text):
        raise Bad(f"article {record.external_id!r} exists in project {project.name!r} with a different text (SHA-256 differs)")
    stored = existing.sentences.get(stored_article.id, [])
    if record.sentences is not None and record.sentences != [(start, end) for _, start, end in stored]:
        raise Bad(f"the sentences differ from the stored segmentation of article {record.external_id!r}")
    result.articles_existing += 1
    return stored_article.id, [sentence_id for sentence_id, _, _ in stored], [(start, end) for _, start, end in stored]


def _annotator_blocks(
    existing: Existing,
    record: Record,
    article_id: int | None,
    users: Users,
    on_duplicate: OnDuplicate,
    result: ImportResult,
    replaced: list[str],
) -> list[tuple[int, Block]]:
    """(user id, block) to insert; an annotator with annotations of a kind the block carries already stored is an error,
    or those kinds are skipped (the block keeps the others) or replaced (the other kinds stay as stored)."""
    blocks: list[tuple[int, Block]] = []
    # Span and relation ids of annotators this record does not replace must not collide with the record's.
    kept_uids: dict[str, str] = {}
    kept_relation_uids: dict[str, str] = {}
    if article_id is not None:
        kept_uids = dict(existing.span_uids.get(article_id, {}))
        kept_relation_uids = dict(existing.relation_uids.get(article_id, {}))
    for block in record.blocks:
        user_id = users.id(block.annotator, "annotator")
        stored = existing.stored_kinds(article_id, user_id) & block.carries if article_id is not None else set()
        if stored:
            if on_duplicate == "error":
                raise Bad(f"annotator {block.annotator!r} already has annotations on article {record.external_id!r} (use --on-duplicate skip or replace)")
            if on_duplicate == "skip":
                result.skipped += 1
                result.count(block.annotator, skipped=1)
                block = _without(block, stored)
                if not (block.labels or block.spans or block.article_labels):
                    continue
            else:
                existing.delete_later(article_id, user_id, stored)
                if "spans" in stored:
                    kept_uids = {uid: name for uid, name in kept_uids.items() if name != block.annotator}
                    kept_relation_uids = {uid: name for uid, name in kept_relation_uids.items() if name != block.annotator}
                replaced.append(block.annotator)
                result.replaced += 1
        _check_ids_free(block, kept_uids, kept_relation_uids, record.external_id)
        kept_uids.update((span.uid, block.annotator) for span in block.spans)
        kept_relation_uids.update((relation.uid, block.annotator) for relation in block.relations)
        blocks.append((user_id, block))
        result.labels += len(block.labels)
        result.spans += len(block.spans)
        result.relations += len(block.relations)
        result.article_labels += len(block.article_labels)
        result.count(block.annotator, len(block.labels), len(block.spans), len(block.relations), article_labels=len(block.article_labels))
    return blocks


def _check_ids_free(block: Block, kept_uids: dict[str, str], kept_relation_uids: dict[str, str], external_id: str) -> None:
    for span in block.spans:
        owner = kept_uids.get(span.uid)
        if owner is not None and owner != block.annotator:
            raise Bad(f"span id {span.uid!r} is already used by annotator {owner!r} in article {external_id!r}")
    for relation in block.relations:
        owner = kept_relation_uids.get(relation.uid)
        if owner is not None and owner != block.annotator:
            raise Bad(f"relation id {relation.uid!r} is already used by annotator {owner!r} in article {external_id!r}")


def _gold_block(
    existing: Existing,
    record: Record,
    article_id: int | None,
    on_duplicate: OnDuplicate,
    result: ImportResult,
    replaced: list[str],
) -> Block | None:
    """The record's gold to insert, if any; gold already stored is an error, skipped or replaced."""
    gold = record.gold if record.gold is not None and (record.gold.labels or record.gold.spans or record.gold.relations
                                                       or record.gold.decided) else None
    if gold is None or article_id is None or article_id not in existing.gold:
        return gold
    if on_duplicate == "error":
        raise Bad(f"article {record.external_id!r} already has gold (use --on-duplicate skip or replace)")
    if on_duplicate == "skip":
        result.skipped += 1
        return None
    existing.delete_gold_later(article_id)
    replaced.append("gold")
    result.replaced += 1
    return gold


def resolve_sentences(labels: list[Label], bounds: list[tuple[int, int]], whose: str) -> list[Label]:
    """Check sentence indexes, expand labels given by text stretch, refuse two labels on one sentence."""
    out: list[Label] = []
    seen: set[int] = set()
    for label in labels:
        covers = label.covers
        if covers is not None:
            start, end = covers
            indexes = [i for i, (s, e) in enumerate(bounds) if s < end and start < e]
            if not indexes:
                raise Bad(f"{whose}: label {label.label!r} for text {start}-{end} covers no sentence")
        else:
            if not 0 <= label.sentence < len(bounds):
                raise Bad(f"{whose}: label for sentence index {label.sentence}, but the article has {counted(len(bounds), 'sentence')}, index 0 to {len(bounds) - 1}")
            indexes = [label.sentence]
        for i in indexes:
            if i in seen:
                raise Bad(f"{whose}: sentence {i + 1} (index {i}) is labelled twice")
            seen.add(i)
            copy = Label(i, label.label, label.seconds, label.guidelines_version, label.updated_at, label.needs_review, label.provenance,
                         label.reviewer, label.reason, origin=label.origin)
            out.append(copy)
    return out


def _without(block: Block, kinds: set[str]) -> Block:
    """The block less the kinds already stored (--on-duplicate skip)."""
    if "labels" in kinds:
        block.labels = []
    if "spans" in kinds:
        block.spans, block.relations = [], []
    if "article_labels" in kinds:
        block.article_labels = {}
    return block


# ---------------------------------------------------------------- inserting


def flush(session: Session, project: Project, pending: list[Pending], actor_id: int | None) -> None:
    """Insert what the pending articles carry: a few Core executemany statements for all of them.

    Everything was checked before, so the database refusing a row here means a
    concurrent change; the caller's rollback then drops the whole file.
    """
    if not pending:
        return
    conn = session.connection()
    now = utcnow()
    _insert_articles(conn, project.id, [p for p in pending if p.article_id is None], now)
    _insert_annotations(conn, project.guidelines_version, pending, now)
    _insert_gold(conn, pending, now)
    _store_suggestions(session, project.label_schema, pending)
    # One audit entry per article, the shape annotations.audit() writes, inserted together.
    conn.execute(
        insert(AuditEntry.__table__),
        [
            {"at": now, "user_id": actor_id, "project_id": project.id, "article_id": p.article_id, "entity": "article",
             "entity_id": p.record.external_id, "action": "import", "before": None, "after": p.audit}
            for p in pending
        ],
    )


def _store_suggestions(session: Session, schema: dict[str, Any], pending: list[Pending]) -> None:
    """Predictions (or an export's suggestions) become suggestions (domain/suggestions.py): per suggester, its rows
    for every article of the batch in one store_many, which replaces that suggester's suggestions on them
    (two proposals of one suggester on an article add up rather than the second replacing the first)."""
    by_suggester: dict[str, dict[int, dict[str, dict[str, Any]]]] = {}  # suggester -> article -> uid -> row
    for p in pending:
        for proposal in p.record.suggestions:
            rows = suggestions.rows_for(proposal, p.article_id, len(p.record.text), schema, p.sentence_ids or [])
            kept = by_suggester.setdefault(proposal.suggester, {}).setdefault(p.article_id, {})
            for row in rows:  # the same item in two proposals: one row, the higher score (as rows_for does within one)
                if row["uid"] not in kept or row["score"] > kept[row["uid"]]["score"]:
                    kept[row["uid"]] = row
    for name, rows_by_article in by_suggester.items():
        suggestions.store_many(session, name, {article_id: list(rows.values()) for article_id, rows in rows_by_article.items()})


def _insert_articles(conn: Any, project_id: int, new: list[Pending], now: Any) -> None:
    """The new articles and their sentences; their ids go into the pending entries."""
    article_ids = _returning_ids(
        conn,
        Article.__table__,
        ("project_id", "external_id"),
        [
            {"project_id": project_id, "external_id": p.record.external_id, "title": p.record.title, "text": p.record.text,
             "meta": p.record.meta, "sha256": sha256(p.record.text), "created_at": now}
            for p in new
        ],
    )
    for p, article_id in zip(new, article_ids, strict=True):
        p.article_id = article_id
    sentence_rows = [{"article_id": p.article_id, "index": i, "start": s, "end": e} for p in new for i, (s, e) in enumerate(p.bounds)]
    sentence_ids = iter(_returning_ids(conn, Sentence.__table__, ("article_id", "index"), sentence_rows))
    for p in new:
        p.sentence_ids = [next(sentence_ids) for _ in p.bounds]


def _insert_annotations(conn: Any, guidelines_version: int, pending: list[Pending], now: Any) -> None:
    """The annotators' labels, spans and relations (a relation names its spans' new ids)."""
    labels, spans, span_keys = [], [], []
    for p in pending:
        for user_id, block in p.blocks:
            labels += [
                {"user_id": user_id, "sentence_id": p.sentence_ids[x.sentence], "label": x.label, "seconds": x.seconds,
                 "guidelines_version": x.guidelines_version or guidelines_version, "version": 1,
                 "needs_review": x.needs_review, "updated_at": x.updated_at or now, **_origin(x.origin)}
                for x in block.labels
            ]
            for x in block.spans:
                spans.append({"uid": x.uid, "article_id": p.article_id, "user_id": user_id, "label": x.label,
                              "start": x.start, "end": x.end, "created_at": now, "updated_at": now, **_origin(x.origin)})
                span_keys.append((p.article_id, x.uid))
    if labels:
        conn.execute(insert(Annotation.__table__), labels)
    article_labels = [
        {"article_id": p.article_id, "user_id": user_id, "group": group, "values": values, "guidelines_version": guidelines_version,
         "version": 1, "origin": "manual", "updated_at": now}
        for p in pending for user_id, block in p.blocks for group, values in sorted(block.article_labels.items())
    ]
    if article_labels:
        conn.execute(insert(ArticleLabel.__table__), article_labels)
    span_id = dict(zip(span_keys, _returning_ids(conn, Span.__table__, ("article_id", "uid"), spans), strict=True))
    relations = [
        {"uid": r.uid, "article_id": p.article_id, "user_id": user_id, "type": r.type,
         "from_span_id": span_id[(p.article_id, r.source)], "to_span_id": span_id[(p.article_id, r.target)], "created_at": now,
         **_origin(r.origin)}
        for p in pending for user_id, block in p.blocks for r in block.relations
    ]
    if relations:
        conn.execute(insert(Relation.__table__), relations)


def _origin(origin: tuple[str, str | None, str | None]) -> dict[str, Any]:
    """An item's origin columns, as exported (a suggested one with its suggester's name and version)."""
    return {"origin": origin[0], "suggester": origin[1], "suggester_version": origin[2]}


def _insert_gold(conn: Any, pending: list[Pending], now: Any) -> None:
    """The gold labels, spans, relations and article label decisions, with their reviewers."""
    gold_labels, gold_spans, gold_keys = [], [], []
    for p in pending:
        if p.gold is None:
            continue
        reviewer = p.reviewer_ids.get
        gold_labels += [
            {"sentence_id": p.sentence_ids[x.sentence], "label": x.label, "provenance": x.provenance,
             "reviewer_id": reviewer(x.reviewer) if x.reviewer else None, "reason": x.reason, "updated_at": x.updated_at or now}
            for x in p.gold.labels
        ]
        for x in p.gold.spans:
            gold_spans.append({"uid": x.uid, "article_id": p.article_id, "label": x.label, "start": x.start, "end": x.end,
                               "provenance": x.provenance, "reviewer_id": reviewer(x.reviewer) if x.reviewer else None,
                               "updated_at": x.updated_at or now})
            gold_keys.append((p.article_id, x.uid))
    if gold_labels:
        conn.execute(insert(GoldLabel.__table__), gold_labels)
    gold_id = dict(zip(gold_keys, _returning_ids(conn, GoldSpan.__table__, ("article_id", "uid"), gold_spans), strict=True))
    gold_relations = [
        {"uid": r.uid, "article_id": p.article_id, "type": r.type, "from_span_id": gold_id[(p.article_id, r.source)],
         "to_span_id": gold_id[(p.article_id, r.target)], "provenance": r.provenance,
         "reviewer_id": p.reviewer_ids.get(r.reviewer) if r.reviewer else None}
        for p in pending if p.gold is not None for r in p.gold.relations
    ]
    if gold_relations:
        conn.execute(insert(GoldRelation.__table__), gold_relations)
    decided = [
        {"article_id": p.article_id, "group": group, "values": x.values, "provenance": x.provenance,
         "reviewer_id": p.reviewer_ids.get(x.reviewer) if x.reviewer else None, "reason": x.reason, "updated_at": x.updated_at or now}
        for p in pending if p.gold is not None for group, x in sorted(p.gold.decided.items())
    ]
    if decided:
        conn.execute(insert(GoldArticleLabel.__table__), decided)


def _returning_ids(conn: Any, table: Any, key: tuple[str, ...], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows with one Core executemany; their new ids, in the order given.

    RETURNING hands back each row's unique `key` with its id, and the ids are matched by it:
    asking SQLAlchemy to keep the order instead (sort_by_parameter_order) made it insert one row
    per statement on SQLite, where no RETURNING order is promised.
    """
    if not rows:
        return []
    returned = conn.execute(insert(table).returning(table.c.id, *(table.c[name] for name in key)), rows)
    ids = {tuple(found): row_id for row_id, *found in returned}
    return [ids[tuple(row[name] for name in key)] for row in rows]
