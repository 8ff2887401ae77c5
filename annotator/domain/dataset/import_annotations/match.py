"""`--match-by text`: a record goes onto the project's article with the identical text, whatever its id.

Two doccano projects over the same texts export them under different ids
(each project's example ids); matched by text, one person's spans from one and
document classes from the other land on the same article.  Text is compared
exactly as stored (the import never normalises it: a CRLF text is not the same
text as its LF twin), by SHA-256, so offsets stay code points into the stored text.

A record whose text no article has is a new article under its own id (refused
if that id already names an article with another text).  A text that several
articles share, or that an earlier record of the same file had, cannot say
where it belongs: that record is refused (not stored, reported with its line)
and the rest of the file imports.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Article, Project
from annotator.domain.dataset.articles import sha256
from annotator.domain.dataset.import_annotations.parse import Bad, Record

MATCH_BY = ("id", "text")


class Ambiguous(Exception):
    """The record's text names no one article: the reason, for the summary."""


class TextMatcher:
    """The project's articles by text (SHA-256), read once per file, and the texts the file has had so far."""

    def __init__(self, session: Session, project: Project):
        self.by_digest: dict[str, list[str]] = {}
        self.ids: set[str] = set()
        for digest, external_id in session.execute(select(Article.sha256, Article.external_id).where(Article.project_id == project.id)):
            self.by_digest.setdefault(digest, []).append(external_id)
            self.ids.add(external_id)
        self.in_file: dict[str, int] = {}  # digest -> the line that had it first

    def match(self, record: Record) -> bool:
        """Point the record at the article with its text (True), or leave it a new article (False); raise Ambiguous or Bad."""
        digest = sha256(record.text)
        if digest in self.in_file:
            raise Ambiguous(f"the same text as line {self.in_file[digest]} of this file")
        self.in_file[digest] = record.line
        found = sorted(self.by_digest.get(digest, []))
        if len(found) > 1:
            shown = ", ".join(repr(x) for x in found[:3]) + (", ..." if len(found) > 3 else "")
            raise Ambiguous(f"the text matches {len(found)} articles ({shown})")
        if found:
            record.external_id = found[0]
            return True
        if record.external_id in self.ids:
            raise Bad(f"no article has this text, and its id {record.external_id!r} names an article with another text")
        return False
