"""Another tool's predictions loaded as suggestions (`import-annotations --as-suggestions`), never as annotations.

    import_records(session, project, records, file, name, version) -> SuggestionImport

`records` are (line, object) pairs in the article format (foreign/ turns Label
Studio and doccano files into it). Each record is checked as import-annotations
checks it (parse_record: the schema, the offsets, the span ids links name);
then every label, span and relation in it, whichever annotator block (or gold)
it sits in, becomes a suggestion of the suggester `name` through
suggestions.rows_for / store_many: the same rows the built-in suggesters store,
so annotators accept or reject them the same way. A re-import replaces `name`'s
suggestions on those articles (unchanged ones keep annotators' decisions).
An item's score is its "score" (0 to 1) where it has one, else 1.0.

A file holding another tool's full predictions (a record's "suggestions" list, as
foreign/label_studio.py reads Label Studio's) gives those predictions only, with
their scores, each under the version its model_version names (unless the caller
fixes the version: --suggester-version); the people's annotations in such a file
are left out and counted, since they are nobody's suggestions. Whether a file
holds any is known only at its end, so its records are read whole first.

Articles the project lacks are created as import-annotations creates them;
an existing article's text must be the same. The caller runs a whole file in
one write transaction: a bad line stores nothing of its file.

Everything is checked against the schema as it is when the file's articles and
the project's row are held (projects.schema_unchanged, before anything is
written): a label rename or schema edit committed since the caller read it, or
in flight, refuses the file (nothing stored, import it again); one that comes
later waits for the file and renames its suggestions with the rest.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Project, Sentence
from annotator.domain import accounts, suggesters, suggestions
from annotator.domain.dataset import import_annotations
from annotator.domain.dataset.articles import sha256
from annotator.domain.dataset.import_annotations.parse import Bad, parse_record
from annotator.domain.dataset.import_annotations.store import stored_articles
from annotator.domain.dataset.ingest import IngestError
from annotator.domain.projects import SCHEMA_CHANGED, schema_unchanged
from annotator.domain.suggestions import Proposal
from annotator.domain.wording import counted, plural

MAX_VERSION = 64  # the suggestions' version column
CHUNK = 200  # records checked, then stored together
_PARTS = ("labels", "spans", "relations")
Scores = dict[tuple[Any, str, int], float]  # (block: its index, or "gold"; part; position) -> score


@dataclass
class SuggestionImport:
    articles_created: int = 0
    articles_existing: int = 0
    suggestions: int = 0
    new: int = 0
    left_out: int = 0  # people's annotation blocks in a file of predictions

    def merge(self, other: "SuggestionImport") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def summary(self) -> str:
        left_out = (f"; {counted(self.left_out, 'annotation')} by people left out (the file's predictions are its suggestions: "
                    "import it without --as-suggestions for the annotations)") if self.left_out else ""
        articles = plural(self.articles_created + self.articles_existing, "article")
        return (f"{self.articles_created} new and {self.articles_existing} existing {articles}; "
                f"{counted(self.suggestions, 'suggestion')}, {self.new} new{left_out}")


def check_name(name: str) -> str:
    """ValueError unless `name` can name imported suggestions: a user-name-like word no suggester that runs here uses."""
    from annotator.stats import claims  # loads scipy: only when suggestions are imported, not at every command's start

    try:
        accounts.check_name(name)
    except accounts.AccountError:
        raise ValueError(f"a suggester name must be 1-80 letters, digits, '_', '.', '@' or '-' (got {name!r})") from None
    if name in {s.name for s in suggesters.installed()} | {claims.NAME}:
        raise ValueError(f"{name!r} is the name of a suggester that runs here (`annotator suggest run` would replace what you import): choose another")
    return name


def check_version(version: str) -> str:
    if not 1 <= len(version) <= MAX_VERSION or not version.isprintable():
        raise ValueError(f"a suggester version must be 1-{MAX_VERSION} printable characters (got {version[:80]!r})")
    return version


class _Bad(Exception):
    """A reason; the caller adds FILE:LINE."""


def import_records(session: Session, project: Project, records: Iterable[tuple[int, Any]], file: str,
                   name: str, version: str, model_versions: bool = True) -> SuggestionImport:
    """Check and store every record as `name`'s suggestions; IngestError(file, line, reason) at the first bad one.

    `model_versions`: a prediction's model_version is its suggestions' version (else `version`).
    """
    records = list(records)
    schema = project.label_schema
    if not schema_unchanged(session, project.id, schema, articles=stored_articles(session, project, records)):
        raise IngestError(file, None, SCHEMA_CHANGED)
    mode = Mode(name, version, model_versions, any(_has_predictions(obj) for _, obj in records))
    result = SuggestionImport()
    seen: dict[str, int] = {}
    chunk: list[tuple[int, Any, Scores]] = []
    for line, obj in records:
        try:
            clean, scores = take_scores(obj)
            record = parse_record(clean, schema)
        except (_Bad, Bad) as exc:
            raise IngestError(file, line, str(exc)) from None
        if record.external_id in seen:
            raise IngestError(file, line, f"article {record.external_id!r} appears twice in the file (first on line {seen[record.external_id]})")
        seen[record.external_id] = line
        chunk.append((line, record, scores))
        if len(chunk) >= CHUNK:
            result.merge(_store(session, project, schema, chunk, file, mode))
            chunk = []
    if not seen:
        raise IngestError(file, None, "no articles in file")
    result.merge(_store(session, project, schema, chunk, file, mode))
    return result


def _has_predictions(obj: Any) -> bool:
    """A foreign reader's predictions (a list; this tool's export writes its suggestions as an object, not read here)."""
    return isinstance(obj, dict) and isinstance(obj.get("suggestions"), list) and bool(obj["suggestions"])


@dataclass
class Mode:
    """How a file's records become suggestions: whose, which version, and from its predictions or its annotations."""

    name: str
    version: str
    model_versions: bool
    predictions: bool


def take_scores(obj: Any) -> tuple[Any, Scores]:
    """The record without its items' "score" keys (which parse_record does not know), and those scores."""
    if not isinstance(obj, dict):
        return obj, {}
    clean, scores = dict(obj), {}
    if isinstance(obj.get("annotations"), list):
        clean["annotations"] = [_block_without_scores(block, b, scores) for b, block in enumerate(obj["annotations"])]
    if obj.get("gold") is not None:
        clean["gold"] = _block_without_scores(obj["gold"], "gold", scores)
    return clean, scores


def _block_without_scores(block: Any, b: Any, scores: Scores) -> Any:
    if not isinstance(block, dict):
        return block  # parse_record says what is wrong with it
    block = dict(block)
    for part in _PARTS:
        if isinstance(block.get(part), list):
            block[part] = [_without_score(item, b, part, i, scores) for i, item in enumerate(block[part])]
    return block


def _without_score(item: Any, block: Any, part: str, i: int, scores: Scores) -> Any:
    if not isinstance(item, dict) or "score" not in item:
        return item
    score = item["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) or not 0 <= score <= 1:
        where = "gold" if block == "gold" else f"annotations[{block}]"
        raise _Bad(f"{where}.{part}[{i}].score must be a number from 0 to 1")
    scores[(block, part, i)] = float(score)
    return {k: v for k, v in item.items() if k != "score"}


def _store(session: Session, project: Project, schema: dict[str, Any], chunk: list[tuple[int, Any, Scores]], file: str,
           mode: Mode) -> SuggestionImport:
    """Create the articles the project lacks, then replace `name`'s suggestions on every article of the chunk."""
    result = SuggestionImport()
    ids = _articles(session, project, chunk, file, result)
    bounds = _sentences(session, list(ids.values()))
    rows: dict[int, list[dict[str, Any]]] = {}
    for line, record, scores in chunk:
        article_id = ids[record.external_id]
        sentence_ids, spans = bounds.get(article_id, ([], []))
        try:
            if mode.predictions:
                proposals = [_renamed(p, mode) for p in record.suggestions]
                result.left_out += len(record.blocks) + (record.gold is not None)
            else:
                proposals = [proposal_of(record, scores, spans, mode.name, mode.version)]
        except _Bad as exc:
            raise IngestError(file, line, str(exc)) from None
        rows[article_id] = suggestions.rows_for_many(proposals, article_id, len(record.text), schema, sentence_ids)
    result.new = suggestions.store_many(session, mode.name, rows)
    result.suggestions = sum(len(r) for r in rows.values())
    return result


def _renamed(prediction: Proposal, mode: Mode) -> Proposal:
    """A prediction as the suggester `mode.name`'s proposal, under its model's version (or the version asked for)."""
    version = mode.version
    if mode.model_versions and prediction.version:
        try:
            version = check_version(prediction.version)
        except ValueError as exc:
            raise _Bad(f"model_version: {exc}") from None
    return Proposal(mode.name, version, prediction.labels, prediction.spans, prediction.relations)


def _articles(session: Session, project: Project, chunk: list[tuple[int, Any, Scores]], file: str, result: SuggestionImport) -> dict[str, int]:
    """External id -> article id; missing articles created (import-annotations' way), existing ones checked."""
    wanted = [record.external_id for _, record, _ in chunk]
    stored = {x: (i, digest) for x, i, digest in session.execute(
        select(Article.external_id, Article.id, Article.sha256).where(Article.project_id == project.id, Article.external_id.in_(wanted))
    )}
    missing = []
    for line, record, _ in chunk:
        if record.external_id not in stored:
            missing.append((line, {"id": record.external_id, "title": record.title, "text": record.text, "meta": record.meta,
                                   "sentences": None if record.sentences is None else [{"start": a, "end": b} for a, b in record.sentences]}))
            continue
        if stored[record.external_id][1] != sha256(record.text):
            raise IngestError(file, line, f"article {record.external_id!r} exists in project {project.name!r} with a different text (SHA-256 differs)")
        if record.sentences is not None:
            have = _sentences(session, [stored[record.external_id][0]]).get(stored[record.external_id][0], ([], []))[1]
            if record.sentences != have:
                raise IngestError(file, line, f"the sentences differ from the stored segmentation of article {record.external_id!r}")
    result.articles_existing = len(chunk) - len(missing)
    result.articles_created = len(missing)
    if missing:
        import_annotations.import_records(session, project, missing, file)
        stored.update({x: (i, "") for x, i in session.execute(
            select(Article.external_id, Article.id).where(Article.project_id == project.id, Article.external_id.in_([m["id"] for _, m in missing]))
        )})
    return {x: i for x, (i, _) in stored.items()}


def _sentences(session: Session, article_ids: list[int]) -> dict[int, tuple[list[int], list[tuple[int, int]]]]:
    out: dict[int, tuple[list[int], list[tuple[int, int]]]] = {}
    for article_id, sid, start, end in session.execute(
        select(Sentence.article_id, Sentence.id, Sentence.start, Sentence.end).where(Sentence.article_id.in_(article_ids))
        .order_by(Sentence.article_id, Sentence.index)
    ):
        ids, spans = out.setdefault(article_id, ([], []))
        ids.append(sid)
        spans.append((start, end))
    return out


def proposal_of(record: Any, scores: Scores, bounds: list[tuple[int, int]], name: str, version: str) -> Proposal:
    """Everything a checked record holds, as one suggester's proposal (span keys made unique across its blocks)."""
    proposal = Proposal(name, version)
    blocks = list(enumerate(record.blocks)) + ([("gold", record.gold)] if record.gold is not None else [])
    for b, block in blocks:
        for i, label in enumerate(block.labels):
            score = scores.get((b, "labels", i), 1.0)
            proposal.labels += [(index, label.label, score) for index in _sentence_indexes(label, bounds)]
        for i, span in enumerate(block.spans):
            proposal.spans.append((f"{b}:{span.uid}", span.label, span.start, span.end, scores.get((b, "spans", i), 1.0)))
        for i, rel in enumerate(block.relations):
            proposal.relations.append((rel.type, f"{b}:{rel.source}", f"{b}:{rel.target}", scores.get((b, "relations", i), 1.0)))
    return proposal


def _sentence_indexes(label: Any, bounds: list[tuple[int, int]]) -> list[int]:
    if label.covers is not None:
        start, end = label.covers
        found = [i for i, (s, e) in enumerate(bounds) if s < end and start < e]
        if not found:
            raise _Bad(f"label {label.label!r} for text {start}-{end} covers no sentence")
        return found
    if not 0 <= label.sentence < len(bounds):
        raise _Bad(f"label for sentence index {label.sentence}, but the article has {counted(len(bounds), 'sentence')}, index 0 to {len(bounds) - 1}")
    return [label.sentence]
