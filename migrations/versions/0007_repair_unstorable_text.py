"""repair text stored before the boundaries refused it: lone surrogates and NUL in JSON columns

Before 0006's release, a label schema or an article's meta could be stored with
a lone surrogate (JSON's "\\ud800" escape) or a NUL in a string. Every page
that showed such a schema then answered 500, including the admin page that
could repair it, and the export failed on such meta. The boundaries refuse
them now; this revision repairs what is already stored: each lone surrogate
and each NUL in those strings becomes U+FFFD (one code point for one, so
nothing else moves). Only rows whose JSON text holds a \\u escape are read.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 21:50:00

"""
import json

import sqlalchemy as sa
from alembic import context, op
from alembic.util import CommandError


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

REPLACEMENT = "\ufffd"


def _clean_string(value):
    if "\x00" in value:
        value = value.replace("\x00", REPLACEMENT)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: UTF-16 round trip with 'replace' turns each into U+FFFD
        value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return value


def _clean(value):
    if isinstance(value, str):
        return _clean_string(value)
    if isinstance(value, dict):
        return {_clean_string(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _repair(conn, table, column):
    rows = conn.execute(sa.text(
        f"SELECT id, CAST({column} AS TEXT) FROM {table} WHERE CAST({column} AS TEXT) LIKE :pattern ESCAPE '!'"
    ), {"pattern": "%\\u%"}).all()
    target = "CAST(:value AS JSON)" if conn.dialect.name == "postgresql" else ":value"
    for row_id, raw in rows:
        value = json.loads(raw)
        cleaned = _clean(value)
        if cleaned != value:
            conn.execute(sa.text(f"UPDATE {table} SET {column} = {target} WHERE id = :id"),
                         {"value": json.dumps(cleaned), "id": row_id})


def upgrade():
    if context.is_offline_mode():  # --sql only prints statements: no rows to read, and the script would lack the repair
        raise CommandError("revision 0007 reads the stored label schemas and article meta to repair them, which an SQL script (--sql) cannot do: "
                           "run `annotator db upgrade` on the database itself (a script may stop at the revision before it)")
    conn = op.get_bind()
    _repair(conn, "projects", "label_schema")
    _repair(conn, "articles", "meta")


def downgrade():
    pass  # the repaired text stays repaired
