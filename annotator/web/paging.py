"""The `?page=` of the list pages, and one page of a query with Flask-SQLAlchemy's paginate.

Whatever is typed after `page=` the list answers with a page, never an error: a
missing or non-numeric value is page 1, and 10**30 is read as a large number, not
converted (int() of thousands of digits raises).
"""
from __future__ import annotations

from flask import request
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import Select

from annotator.db import db

# The highest page number a list page accepts; beyond its last page a list shows its last page.
MAX_PAGE = 10**6


def page_arg(last: int | None = None) -> int:
    """The `?page=` of a list page: 1 when absent or not a number, clamped to 1..last (10**30 is the last page, not a 500)."""
    raw = request.args.get("page", "")
    if not (raw.isascii() and raw.isdigit()):
        page = 1
    else:
        page = int(raw) if len(raw) <= 7 else MAX_PAGE  # int() of thousands of digits would raise
    return max(1, min(page, MAX_PAGE if last is None else last))


def paginate(query: Select, per_page: int, clamp: bool = True) -> Pagination:
    """The `?page=` page of `query`; past its last page, the last page (`clamp`) or an empty page.

    `query` selects one thing per row (db.paginate keeps the first column): an entity, a column, or a Bundle.
    """
    pages = db.paginate(query, page=page_arg(), per_page=per_page, max_per_page=per_page, error_out=False)
    last = max(1, pages.pages)
    if clamp and pages.page > last:
        pages = db.paginate(query, page=last, per_page=per_page, max_per_page=per_page, error_out=False)
    return pages
