"""Test databases with the tables already made: building them is most of a small test's time.

On PostgreSQL `create_all` costs 0.5-1 s of DDL a test and dropping the schema 0.2-0.4 s more; emptying a used
schema costs ~0.07 s (TRUNCATE costs as much as the DDL). So a schema a test is done with goes back to a pool when it
is exactly as `create_all` made it (same catalog, never analysed or vacuumed, every table and index under 10
pages): its rows are deleted, its sequences restarted and the tables' activity counters reset. The next test sees
what a fresh schema shows: no rows, ids from 1, and the planner's estimates of a fresh table (a never-analysed
table under 10 pages is planned as 10 pages); only its files hold a few pages of dead rows. Anything else (a
migration's schema, an ANALYZE, a big table) is dropped as before. On SQLite the file `create_all` made once is
copied.

A run that is killed (Ctrl-C twice, a timeout, an OOM) leaves its schemas behind. So each test process marks the
schemas it makes with its owner key (a comment, which renames keep) and holds that key's advisory lock while it lives
(the server lets it go when the process's connection ends, however it ended); at its start each process drops the
marked schemas whose owner's lock it can take: nobody holds it, their run is over. A schema in use by a live worker,
of this run or another run beside it, is never touched; nor is one without the mark (another tool's, or made before
the mark was).
"""
from __future__ import annotations

import secrets
import shutil
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

# The catalog of a schema, with the schema's name replaced by {S}: two schemas with the same rows are alike.
_CATALOG = """
SELECT 'rel'::text, concat(c.relname, ':', c.relkind), ''::text FROM pg_class c WHERE c.relnamespace = $1::regnamespace
UNION ALL
SELECT 'col', concat(c.relname, '.', a.attname),
       concat_ws(' ', a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated,
                 a.attcollation, pg_get_expr(d.adbin, d.adrelid))
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE c.relnamespace = $1::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'con', conname::text, pg_get_constraintdef(oid) FROM pg_constraint WHERE connamespace = $1::regnamespace
UNION ALL
SELECT 'idx', indexname::text, indexdef FROM pg_indexes WHERE schemaname = $1::text
UNION ALL
SELECT 'trg', t.tgname::text, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'fn', proname::text, pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = $1::regnamespace
UNION ALL
SELECT 'seq', sequencename::text, concat_ws(' ', data_type, start_value, min_value, max_value, increment_by, cycle, cache_size)
  FROM pg_sequences WHERE schemaname = $1::text
UNION ALL
SELECT 'type', typname::text, typtype::text FROM pg_type WHERE typnamespace = $1::regnamespace
UNION ALL
SELECT 'other', 'rules/policies', count(*)::text FROM (
  SELECT 1 FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = $1::regnamespace
  UNION ALL SELECT 1 FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = $1::regnamespace
) other
"""

# What would make a reused schema differ from a fresh one beyond its rows: planner statistics, a table analysed
# or vacuumed (reltuples is -1 until then), a row lock or any other session still in it.
_TAINT = """
SELECT (SELECT count(*) FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid
         WHERE c.relnamespace = $1::regnamespace)
     + (SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 't')
         AND reltuples <> -1)
     + (SELECT count(*) FROM pg_statistic_ext WHERE stxnamespace = $1::regnamespace)
"""


# Below 10 pages a never-analysed table is planned as 10 pages, as a fresh empty one is.
_SMALL = 10 * 8192

# The first key of the advisory lock a live test process holds, its owner key the second: a namespace the app's locks
# do not use (the gold writes' is 0x60D; the batches' locks take a single 64-bit key, a space of its own).
OWNER_LOCK = 0x7E57
OWNER_MARK = "annotator test schema; owner "
_TEST_SCHEMAS = r"^[pt]_[0-9a-f]{16}$"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SchemaPool:
    """Empty PostgreSQL schemas holding the app's tables, handed to tests by renaming one to the test's name."""

    def __init__(self, url: str, metadata) -> None:  # noqa: ANN001
        self.url = url
        self.metadata = metadata
        self.engine: Engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.ready: list[str] = []
        self.baseline: list[tuple[str, str, str]] | None = None
        self.owner = secrets.randbelow(2**31 - 1) + 1  # int4, as the lock's second key
        self._owner = self.engine.connect()  # holds the owner lock until close() (or this process's end)
        self._owner.exec_driver_sql("SELECT pg_advisory_lock(%(n)s, %(k)s)", {"n": OWNER_LOCK, "k": self.owner})
        self.swept = self.sweep()

    def create(self, schema: str) -> None:
        """A new empty schema, marked as this process's."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {_quote(schema)}; COMMENT ON SCHEMA {_quote(schema)} IS '{OWNER_MARK}{self.owner}'")

    def sweep(self) -> list[str]:
        """Drop the marked schemas of test processes that are gone (their owner lock is free); the names dropped."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname ~ %(p)s", {"p": _TEST_SCHEMAS}
            ).all()
            owners: dict[int, list[str]] = {}
            for name, comment in rows:
                key = (comment or "").removeprefix(OWNER_MARK)
                if comment and comment.startswith(OWNER_MARK) and key.isdigit() and int(key) != self.owner:
                    owners.setdefault(int(key), []).append(name)
            dropped = []
            for key, names in sorted(owners.items()):
                if not conn.exec_driver_sql("SELECT pg_try_advisory_lock(%(n)s, %(k)s)", {"n": OWNER_LOCK, "k": key}).scalar():
                    continue  # its process is alive
                try:
                    for name in sorted(names):
                        try:
                            conn.exec_driver_sql(f"SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {_quote(name)} CASCADE")
                            dropped.append(name)
                        except DBAPIError:  # still locked somehow: the next run tries again; this one goes on
                            pass
                finally:
                    conn.exec_driver_sql("RESET lock_timeout")
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(%(n)s, %(k)s)", {"n": OWNER_LOCK, "k": key})
        return dropped

    def _catalog(self, conn: Connection, schema: str) -> list[tuple[str, str, str]]:
        rows = conn.exec_driver_sql(_CATALOG.replace("$1", "%(s)s"), {"s": schema}).all()
        return sorted((kind, name, (detail or "").replace(schema, "{S}")) for kind, name, detail in rows)

    def _build(self) -> str:
        """A new schema made by create_all, as `make_app` would; the first one sets the baseline catalog."""
        name = f"p_{uuid.uuid4().hex[:16]}"
        self.create(name)
        maker = create_engine(self.url, connect_args={"options": f"-csearch_path={name}"})
        try:
            with maker.begin() as conn:
                self.metadata.create_all(conn)
        finally:
            maker.dispose()
        if self.baseline is None:
            with self.engine.connect() as conn:
                self.baseline = self._catalog(conn, name)
        return name

    def is_empty(self, schema: str) -> bool:
        with self.engine.connect() as conn:
            return not conn.exec_driver_sql(
                "SELECT count(*) + (SELECT count(*) FROM pg_proc WHERE pronamespace = %(s)s::regnamespace) "
                "FROM pg_class WHERE relnamespace = %(s)s::regnamespace", {"s": schema}
            ).scalar()

    def adopt(self, schema: str) -> None:
        """Give the empty schema `schema` the app's tables: a pooled schema takes its name."""
        pooled = self.ready.pop() if self.ready else self._build()
        with self.engine.connect() as conn:
            if conn.exec_driver_sql(_TAINT.replace("$1", "%(s)s"), {"s": pooled}).scalar():
                # autovacuum analysed it while it waited: not fresh any more
                conn.exec_driver_sql(f"DROP SCHEMA {pooled} CASCADE")
                pooled = self._build()
            conn.exec_driver_sql(f"DROP SCHEMA {_quote(schema)}; ALTER SCHEMA {pooled} RENAME TO {_quote(schema)}")

    def release(self, schema: str) -> None:
        """The test is done with `schema`: empty it into the pool when it is as create_all made it, else drop it."""
        with self.engine.connect() as conn:
            if self.baseline is not None and self._recycle(conn, schema):
                return
            conn.exec_driver_sql(f"DROP SCHEMA {_quote(schema)} CASCADE")

    def _recycle(self, conn: Connection, schema: str) -> bool:
        if self._catalog(conn, schema) != self.baseline:
            return False
        if conn.exec_driver_sql(_TAINT.replace("$1", "%(s)s"), {"s": schema}).scalar():
            return False
        sizes = conn.exec_driver_sql(
            "SELECT c.oid, c.relname, c.relkind, pg_relation_size(c.oid) FROM pg_class c "
            "WHERE c.relnamespace = %(s)s::regnamespace AND c.relkind IN ('r', 't', 'i')",
            {"s": schema},
        ).all()
        if any(size >= _SMALL for *_, size in sizes):
            return False  # the planner would see a bigger table than a fresh one
        written = [(oid, name) for oid, name, kind, size in sizes if kind == "r" and size > 0]
        called = conn.exec_driver_sql(
            "SELECT sequencename, start_value FROM pg_sequences WHERE schemaname = %(s)s AND last_value IS NOT NULL",
            {"s": schema},
        ).all()
        pooled = f"p_{uuid.uuid4().hex[:16]}"
        # replica role: the audit log's append-only trigger and the foreign keys' triggers stay out of the way
        statements = ["BEGIN", "SET LOCAL lock_timeout = '5s'", "SET LOCAL synchronous_commit = off",
                      "SET LOCAL session_replication_role = replica"]
        statements += [f"DELETE FROM {_quote(schema)}.{_quote(name)}" for _, name in written]
        statements += [f"SELECT setval('{_quote(schema)}.{_quote(name)}', {start}, false)" for name, start in called]
        statements += [f"ALTER SCHEMA {_quote(schema)} RENAME TO {pooled}", "COMMIT"]
        try:
            conn.exec_driver_sql("; ".join(statements))
        except Exception:  # a lock still held by a straggling session: dropping is the old way
            conn.exec_driver_sql("ROLLBACK")
            return False
        if written and conn.dialect.server_version_info >= (15,):
            # the deletes' counts reach the statistics when this session next goes idle: then forget them, so
            # autovacuum has no reason to visit the empty tables (a visit would analyse them: not fresh any more)
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            conn.exec_driver_sql("; ".join(f"SELECT pg_stat_reset_single_table_counters({oid})" for oid, _ in written))
        self.ready.append(pooled)
        return True

    def close(self) -> None:
        with self.engine.connect() as conn:
            for name in self.ready:
                conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        self.ready.clear()
        self._owner.exec_driver_sql("SELECT pg_advisory_unlock(%(n)s, %(k)s)", {"n": OWNER_LOCK, "k": self.owner})
        self._owner.close()
        self.engine.dispose()


class SqliteTemplate:
    """The SQLite file create_all makes, made once and copied for each test that wants the tables."""

    def __init__(self, metadata) -> None:  # noqa: ANN001
        self.metadata = metadata
        self.folder: Path | None = None

    def _template(self) -> Path:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="annotator-template-"))
            from annotator.db import tune_sqlite

            engine = create_engine(f"sqlite:///{self.folder / 'template.sqlite3'}")
            tune_sqlite(engine)  # the app's connection settings: WAL is recorded in the file
            with engine.begin() as conn:
                self.metadata.create_all(conn)
            engine.dispose()  # the last connection checkpoints the WAL into the file and removes it
            leftovers = [p.name for p in self.folder.iterdir() if p.name != "template.sqlite3"]
            assert not leftovers, f"the template left {leftovers}"
        return self.folder / "template.sqlite3"

    def install(self, uri: str) -> bool:
        """Copy the tables into the database file `uri` names if it does not exist yet; False for other URIs."""
        url = make_url(uri)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.query:
            return False
        path = Path(url.database)
        if path.exists() or not path.parent.is_dir():
            return False
        shutil.copyfile(self._template(), path)
        return True

    def close(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
