"""The write-transaction rule: every unit of work that writes goes through `transaction` (or `run_write`).

SQLite runs in WAL mode with foreign keys on and a busy timeout. Transactions
start as plain deferred BEGIN, so readers never queue; code that will write
calls `begin_write()` first, which on SQLite starts with BEGIN IMMEDIATE: a
deferred transaction that reads and then writes can fail at once with
"database is locked" when another worker committed in between, and the busy
timeout cannot help it. On PostgreSQL `begin_write()` is a plain BEGIN; row
conflicts are handled by the statements themselves (upserts, row locks).

`transaction` is the one way to write: it begins as above, commits when the
block ends, and rolls back on any exception (which it re-raises), so no caller
writes its own begin / commit / rollback. `run_write` adds retries for the
conflicts another writer causes, for the annotation saves.
"""
from __future__ import annotations

import fcntl
import logging
import random
import re
import sqlite3
import threading
import time
from contextlib import contextmanager, nullcontext
from typing import IO, Callable, Iterator, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, scoped_session

from annotator.db import SQLITE_BUSY_TIMEOUT_MS

T = TypeVar("T")
log = logging.getLogger(__name__)
DISK_FULL_MESSAGE = "the database's disk is full: nothing was saved; an administrator must free disk space, then try again"
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


@contextmanager
def transaction(session: Session | scoped_session, queue: bool = False) -> Iterator[Session]:
    """One unit of work that writes: begin it as a writer, commit at the end, roll back on any exception.

    `queue=True` first waits for our turn on SQLite's writer queue (see writer_queue): the hot
    paths that many workers write at once (annotation saves, gold, the agreement cache) use it.
    There the lock is held only from BEGIN IMMEDIATE to the driver's COMMIT: the read transaction
    is ended before it is taken, and the ORM's own commit bookkeeping runs after it is let go, and
    so does the occasional checkpoint (checkpoint_now_and_then).
    """
    if isinstance(session, scoped_session):
        session = session()
    if not queue or session.get_bind().dialect.name != "sqlite":
        with writer_queue(session) if queue else nullcontext():
            begin_write(session)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
        return
    # SQLite's writers go one at a time (the queue, then BEGIN IMMEDIATE ... COMMIT): whatever need not be done
    # while the lock is held is done before or after it (bench/bench_write_lock.py counts what is left inside).
    end_read(session)
    with writer_queue(session):
        begin_write(session)
        try:
            yield session
            session.flush()
            _commit_driver(session)  # durable here, before the lock is let go
        except BaseException:
            session.rollback()
            raise
    session.commit()  # the ORM's bookkeeping only: the driver has no transaction left to commit
    checkpoint_now_and_then(session)


def checkpoint_now_and_then(session: Session) -> None:
    """After a queued SQLite write, with the queue let go: one time in CHECKPOINT_EVERY (db/__init__.py), copy the
    write-ahead log into the database (PASSIVE: it waits for no one, and other writers go on meanwhile).

    SQLite's automatic checkpoint ran inside the COMMIT that crossed its mark, so the writer queue stayed held
    through the copy and its two fsyncs: 39 fsyncs in 650 saves, 168-263 ms of the lock's time; now 9-10, 19-84 ms,
    each where the next writer starts the log afresh and SQLite syncs its header (bench/bench_write_lock.py).
    The save is durable already; a checkpoint that fails (a full disk) is logged and left to the next one, not
    turned into a failed save."""
    every = getattr(session.get_bind(), "_annotator_checkpoint_every", 0)
    if not every or random.random() * every >= 1:
        return
    try:
        checkpoint(session)
    except DBAPIError as exc:
        session.rollback()
        log.warning("checkpoint after a write failed, left to the next one: %s", str(getattr(exc, "orig", exc)).strip()[:200])


class WriteConflict(Exception):
    """Raised by a write action that found another transaction's commit in its way (a row it meant to insert): what it
    wrote is rolled back, and run_write runs it again from the start, when it reads that commit."""


def run_write(session: Session | scoped_session, action: Callable[[], T], attempts: int, on_exhausted: Callable[[], Exception]) -> T:
    """`action()` in a queued transaction, run again from the start when another writer caused a conflict.

    A unique-key or lock conflict (IntegrityError, a deadlock or serialization failure, a busy
    SQLite, a WriteConflict the action raised) is retried: the retry re-reads what the other
    transaction committed. A full disk, or a database read-only or out of reach, is not (not_retried). When the attempts run
    out, `on_exhausted()` is raised, and at once when a busy database has kept the write waiting
    for its turn as long as SQLite would wait (out_of_time).
    """
    deadline = write_deadline()
    for _ in range(attempts):
        try:
            with transaction(session, queue=True):
                return action()
        except WriteConflict:
            continue
        except (IntegrityError, OperationalError) as exc:
            if not_retried(exc):
                raise
            if out_of_time(exc, deadline):
                break
    raise on_exhausted()


def write_deadline() -> float:
    """When a write that begins now has waited for its turn as long as it may (QUEUE_TIMEOUT_S, SQLite's busy
    timeout), on time.monotonic()'s clock."""
    return time.monotonic() + QUEUE_TIMEOUT_S


def out_of_time(exc: BaseException, deadline: float) -> bool:
    """Whether a write that failed with `exc` is past trying again: a busy database (its turn, or SQLite's lock, not
    given within the busy timeout) after its deadline. Tried again, it waited the whole timeout once more: with three
    attempts and the shipped 30 s, a save held up by a command's long transaction answered after 90 s, past a reverse
    proxy's read timeout, where the 503 it ends with tells the page to send it again at once. Quick conflicts (a
    unique key, a deadlock) are tried again as before."""
    return lock_conflict(exc) and time.monotonic() >= deadline


def begin_snapshot(session: Session | scoped_session, shared: str | None = None) -> None:
    """Begin a read that sees one snapshot of the data until it ends, for a long read made of many statements (an
    export: keyset batches, each several queries). PostgreSQL's READ COMMITTED gave each statement the data committed
    before it began, so a save between two of them was half in the read (a link read whose spans were not); here the
    read is REPEATABLE READ and READ ONLY, and whatever the session had open (the read that loaded the caller) is
    ended first: it only read. The characteristics go when the connection returns to the pool. `shared`: the id
    another transaction's share_snapshot gave, whose snapshot this one reads (an export's worker processes read the
    export's one snapshot). SQLite: a read transaction sees one snapshot already (WAL), and nothing is done."""
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "postgresql":
        return
    if session.in_transaction():
        session.rollback()
    connection = session.connection(execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
    if shared is not None:
        if not _SNAPSHOT_ID.match(shared):
            raise ValueError(f"not a snapshot id: {shared!r}")
        connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{shared}'")  # takes no parameter; the id was checked


_SNAPSHOT_ID = re.compile(r"^[0-9A-F]+-[0-9A-F]+(-[0-9]+)?\Z")  # what pg_export_snapshot() returns, e.g. 00000003-0000001B-1


def share_snapshot(session: Session | scoped_session) -> str | None:
    """The id of the snapshot the session's transaction (begun by begin_snapshot) reads, for other processes'
    begin_snapshot(shared=...); valid while that transaction stays open. None on SQLite, which cannot share one."""
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.connection().exec_driver_sql("SELECT pg_export_snapshot()").scalar()


def begin_write(session: Session | scoped_session) -> None:
    """Start a transaction that will write; call before the first query of the unit of work.

    Whatever the session had open (typically the read that loaded the logged-in
    user) is ended first: it only read, so nothing is lost.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.in_transaction():
        if _reuse_read_transaction(session):
            return
        session.commit()
    connection = session.connection()  # on SQLite a deferred BEGIN, which has taken no lock: now a writer's
    if connection.dialect.name == "sqlite":
        _begin_immediate(connection)


def _reuse_read_transaction(session: Session) -> bool:
    """Turn the open read transaction into the write one without the ORM's commit-and-begin.

    Every API save reads the caller's token first, in a read transaction, then
    writes. The ORM's commit-and-begin cost about 0.12 ms of the ~1.4 ms a save
    takes in the app (bench/bench_api.py). When the session holds no objects
    (nothing read before could be stale), the same can be had for less:
    - SQLite: end the read transaction and BEGIN IMMEDIATE on the same connection;
    - PostgreSQL (READ COMMITTED): keep the transaction; every statement sees
      what was committed before it began, as in a new transaction.
    Otherwise the ORM commits as usual.
    """
    if not _holds_nothing(session):
        return False
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return connection.default_isolation_level == "READ COMMITTED" and "isolation_level" not in connection.get_execution_options()
    if dialect != "sqlite":
        return False
    _begin_immediate(connection)
    return True


def _holds_nothing(session: Session) -> bool:
    """No ORM object in the session: nothing read before can be stale, nothing waits to be written."""
    return not (session.identity_map or session.new or session.deleted)


def end_read(session: Session) -> None:
    """SQLite, before waiting for the writer queue: end the read transaction begin_write would end (its COMMIT) now,
    outside the lock (begin_write then only says BEGIN IMMEDIATE). A session that holds objects is left to
    begin_write's ORM commit, inside, as before."""
    if not _holds_nothing(session):
        return
    # not yet in a transaction: begin one (a deferred BEGIN, no lock) here, so that begin_write's BEGIN IMMEDIATE is
    # the first statement inside, not after a BEGIN and its COMMIT
    driver = session.connection().connection.dbapi_connection
    if driver.in_transaction:
        _driver_statement(driver, "COMMIT")


def _commit_driver(session: Session) -> None:
    """SQLite: COMMIT on the driver's connection; the ORM's commit after it (outside the lock) finds nothing to commit
    and only does its bookkeeping (expiring objects, returning the connection to the pool)."""
    _driver_statement(session.connection().connection.dbapi_connection, "COMMIT")


def _driver_statement(driver: sqlite3.Connection, sql: str) -> None:
    """A transaction statement on the driver's connection; a failure (busy, a full disk) raised as SQLAlchemy's."""
    try:
        driver.execute(sql)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc


def _begin_immediate(connection: Connection) -> None:
    """SQLite: end the connection's transaction, which has only read, and BEGIN IMMEDIATE on the same driver connection."""
    driver = connection.connection.dbapi_connection
    try:
        if driver.in_transaction:
            driver.execute("COMMIT")
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:  # busy past the timeout: the error callers handle, as from SQLAlchemy
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc


def disk_full(exc: BaseException) -> bool:
    """True when a database error (SQLAlchemy's or the driver's) says the disk is full (SQLITE_FULL, PostgreSQL 53100)."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF == sqlite3.SQLITE_FULL
    return getattr(orig, "sqlstate", None) == _POSTGRES_DISK_FULL


_POSTGRES_LOCK_CONFLICTS = frozenset({"40P01", "40001", "55P03"})  # deadlock_detected, serialization_failure, lock_not_available


def lock_conflict(exc: BaseException) -> bool:
    """True when a database error says another transaction was in the way (a PostgreSQL deadlock, serialization
    failure or lock timeout; a SQLite database busy or locked past the timeout): nothing was written, and the same
    request sent again can succeed."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return getattr(orig, "sqlstate", None) in _POSTGRES_LOCK_CONFLICTS


_POSTGRES_READ_ONLY = "25006"  # read_only_sql_transaction
# PostgreSQL's connection exceptions (class 08), and a server shutting down or starting up (57P01-57P03)
_POSTGRES_UNREACHABLE = ("08", "57P01", "57P02", "57P03")


def driver_codes(exc: BaseException) -> tuple[int | None, str]:
    """The driver's codes: SQLite's primary result code (or None), PostgreSQL's SQLSTATE (or "")."""
    orig = getattr(exc, "orig", None)
    sqlite_code = getattr(orig, "sqlite_errorcode", None)
    return (sqlite_code & 0xFF if sqlite_code is not None else None), getattr(orig, "sqlstate", None) or ""


def unreachable(exc: BaseException) -> bool:
    """True when no connection to a PostgreSQL server could be made or kept (refused, unknown host, a server shutting
    down or starting up): nothing was done, and the same request can succeed once the server is back."""
    sqlite_code, sqlstate = driver_codes(exc)
    if sqlite_code is not None or getattr(exc, "orig", None) is None:
        return False
    # no SQLSTATE at all when no connection was made (refused, unknown host, bad password)
    return (not sqlstate and getattr(exc, "statement", None) is None) or sqlstate.startswith(_POSTGRES_UNREACHABLE)


def read_only(exc: BaseException) -> bool:
    """True when the database refused a write because it takes none (a SQLite file opened or mounted read-only, a
    PostgreSQL standby or read-only role): nothing was written."""
    sqlite_code, sqlstate = driver_codes(exc)
    return sqlite_code == sqlite3.SQLITE_READONLY if sqlite_code is not None else sqlstate == _POSTGRES_READ_ONLY


def not_retried(exc: BaseException) -> bool:
    """A failure no attempt at once would mend (a full disk, a database that takes no writes or cannot be reached: the
    engine's pre-ping already replaced a stale connection): the write ends with it, to be told as it is."""
    return disk_full(exc) or read_only(exc) or unreachable(exc)


def log_disk_full(exc: BaseException, doing: str) -> None:
    """Said once per failure, at error level: a full disk needs a person, unlike a busy database."""
    orig = getattr(exc, "orig", None) or exc
    log.error("the database's disk is full while %s: %s", doing, str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__)


@contextmanager
def writer_queue(session: Session) -> Iterator[None]:
    """On a SQLite file, wait for our turn to write on an OS file lock (a no-op elsewhere).

    SQLite lets one writer in at a time; the others poll with growing sleeps
    (1, 2, 5, 10 ... 100 ms) although the lock is held for about a
    millisecond, which makes the slowest saves slow. Waiting on flock() wakes
    the next writer the moment the previous one commits, in turn. Measured
    with bench/bench_api.py, alternating runs with and without it on the busy
    2-core machine: about the same saves/s, p99 47-55 ms against 61-83 ms.
    The lock lives in the file system next to the database, so every worker
    process shares it. The annotation writes, the automatic-gold refresh and
    the agreement cache take it; writers that do not (the CLI, admin pages,
    login) are still serialised by SQLite itself.

    The wait for our turn is bounded like SQLite's own (QUEUE_TIMEOUT_S, its busy
    timeout): past it the writer gets SQLite's "database is locked", which callers
    already handle (a save answers 503 and the page sends it again). Unbounded, a
    turn held long (a writer outside the queue holding SQLite's lock, so that each
    writer in turn spends its whole busy timeout) added up down the queue: with a
    1 s busy timeout, four writers gave up after 3, 8, 10 and 12 s, not 3 s each.
    """
    bind = session.get_bind()
    database = bind.url.database if bind.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    handle = open(f"{database}.write-lock", "a+b")  # noqa: SIM115  (closed below, or by the waiter it is left to)
    if not _take_turn(handle, QUEUE_TIMEOUT_S):
        raise OperationalError("writer queue", None, _busy(f"database is locked: no turn to write within {QUEUE_TIMEOUT_S:g} s"))
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


QUEUE_TIMEOUT_S = SQLITE_BUSY_TIMEOUT_MS / 1000


def _busy(message: str) -> sqlite3.OperationalError:
    """The driver's error for a busy database, as SQLite raises it past its busy timeout (lock_conflict() says so)."""
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = sqlite3.SQLITE_BUSY  # type: ignore[attr-defined]
    exc.sqlite_errorname = "SQLITE_BUSY"  # type: ignore[attr-defined]
    return exc


def _take_turn(handle: IO[bytes], seconds: float) -> bool:
    """flock(LOCK_EX) on `handle` within `seconds`; False (and `handle` closed, now or once the lock comes free) past it.

    flock() cannot be given a time limit, so when the lock is taken a thread waits on it for us, which wakes us
    as soon as it has it. A wait given up leaves that thread the handle: when the lock comes, it lets it go and
    closes the file (closing it here, under a thread blocked on it, could close another file given the same number).
    """
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        pass
    got = threading.Event()
    state = {"abandoned": False}
    guard = threading.Lock()

    def wait() -> None:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with guard:
            if not state["abandoned"]:
                got.set()
                return
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

    threading.Thread(target=wait, name="writer-queue-wait", daemon=True).start()
    if got.wait(seconds):
        return True
    with guard:
        if got.is_set():  # came in as we gave up
            return True
        state["abandoned"] = True
    return False


def checkpoint(session: Session | scoped_session) -> None:
    """On SQLite, copy the write-ahead log into the database now, without blocking anyone (PASSIVE); elsewhere nothing.

    A bulk writer (a big import) calls it after each of its commits: otherwise
    the log grows by megabytes a chunk, and the automatic checkpoint (every
    1,000 pages) runs inside whichever commit crosses the mark, often a save,
    which then took hundreds of milliseconds (bench/bench_upload_vs_saves.py).
    Call it outside any transaction.
    """
    if isinstance(session, scoped_session):
        session = session()
    if session.get_bind().dialect.name != "sqlite" or session.in_transaction():
        return
    session.connection().exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    session.rollback()
