"""Hot statements run on the driver's cursor: a Core statement compiled once per dialect, its rows converted
as SQLAlchemy's own result processing converts them. Prepared for reads, PreparedWrite for the writes every
save makes (with the columns' Python defaults filled in as SQLAlchemy fills them in).

Why: every API request reads the caller's token, and the article JSON the annotation page loads reads the
article, its sentences and the caller's annotations; every save writes its rows, an audit entry and the
project's revision while it holds SQLite's one write lock. For these one-row or few-row reads SQLAlchemy's execution
machinery (the compiled-cache lookup, the execution context, the CursorResult and its Row objects) cost several
times the statement's own work: per statement, in process on SQLite, 101-163 us through Connection.execute
against 12-44 us on the cursor (bench/bench_prepared.py). The statement stays a Core statement, written and
reviewed as the others are; only its execution is leaner.

What it keeps of SQLAlchemy's execution:
- the session's connection and transaction (the statement runs inside it, after its BEGIN);
- the bind and result conversions of the statement's column types for the dialect (public TypeEngine API);
- driver errors raised as SQLAlchemy's (DBAPIError.instance), a lost connection invalidated in the pool.
When a listener watches the statements (before/after_cursor_execute or before/after_execute: tests that count
or EXPLAIN statements, query recording), the statement goes through Connection.execute instead, so that nothing
runs behind them.

The compiled form is kept per statement (a write's: per statement and set of parameter names) on the engine's dialect (as SQLAlchemy keeps its compiled cache per
engine): it is a pure function of the two, so every worker agrees, and it goes with the engine.
"""
from __future__ import annotations

from collections import namedtuple
from functools import partial
from operator import itemgetter
from typing import Any, Callable, NamedTuple, Sequence

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.session import SessionTransactionState
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any]
_ACTIVE = SessionTransactionState.ACTIVE


class _Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None  # the parameters' order for a positional paramstyle (SQLite's qmark); None: named
    fixed: dict[str, Any]  # the statement's own values (literals SQLAlchemy binds), converted for the driver
    binds: dict[str, Processor]  # conversions of the caller's parameters, by name (only those that have one)
    row: Any  # the rows' class: a named tuple of the selected columns' keys, as SQLAlchemy's Row names them (an unusable one: _N)
    defaults: tuple[tuple[str, Callable[[], Any]], ...] = ()  # a write's columns the caller left out, and their Python defaults


class Prepared:
    """A statement to run often: `rows`, `first` and `scalar` give named tuples of the selected columns, as
    SQLAlchemy's Row by position and by key (not `_mapping`)."""

    __slots__ = ("statement",)

    def __init__(self, statement: Select) -> None:
        self.statement = statement

    def rows(self, session: Session | Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        connection = session if isinstance(session, Connection) else session_connection(session)
        forms = _forms(connection.dialect)
        compiled = forms.get(self) or forms.setdefault(self, _compile(self.statement, connection.dialect))
        if _watched(connection):  # listeners must see every statement
            return [compiled.row._make(row) for row in connection.execute(self.statement, params)]
        values = dict(compiled.fixed)  # _arguments, inline: the article JSON runs four reads a request
        for name, value in params.items():
            convert = compiled.binds.get(name)
            values[name] = value if convert is None or value is None else convert(value)
        return _execute(self, connection, compiled, values if compiled.positions is None else [values[name] for name in compiled.positions])[1]

    def first(self, session: Session | Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row or None (the statement should select one row: the others are read and dropped)."""
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def scalar(self, session: Session | Connection, params: dict[str, Any]) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self.first(session, params)
        return None if row is None else row[0]


class Written(NamedTuple):
    """What a PreparedWrite did: the rows it changed (the driver's rowcount) and the rows its RETURNING gave."""

    rowcount: int
    rows: list[tuple[Any, ...]]

    def scalar(self) -> Any:
        """The first returned column of the first returned row, or None."""
        return self.rows[0][0] if self.rows else None


class PreparedWrite:
    """An INSERT, UPDATE or DELETE to run often, on the driver's cursor as Prepared runs its reads.

    Every save writes several rows, and SQLAlchemy's execution of each write cost about as many Python calls as
    the rest of the save's work inside the database lock (bench/bench_request_cpu.py counts them). As
    SQLAlchemy does, the statement is compiled for the columns the caller gives (one form per set of keys), and
    the columns left out get their Python-side defaults (`default=`, or `onupdate=` for an UPDATE) computed
    here, before the statement runs; a default that needs SQLAlchemy's execution context, or a SQL one, is
    refused when the statement is first compiled. A list of parameter sets runs as the driver's executemany
    (without RETURNING)."""

    __slots__ = ("statement",)

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement

    def run(self, session: Session | Connection, params: dict[str, Any] | list[dict[str, Any]]) -> Written:
        connection = session if isinstance(session, Connection) else session_connection(session)
        many = isinstance(params, list)
        if many and (not params or self.statement._returning):
            raise ValueError("executemany takes one or more parameter sets, and no RETURNING")
        first = params[0] if many else params
        key = (self, tuple(first), many)
        forms = _forms(connection.dialect)
        compiled = forms.get(key) or forms.setdefault(key, _compile(self.statement, connection.dialect, tuple(first), many))
        if _watched(connection):  # listeners must see every statement
            result = connection.execute(self.statement, params)
            return Written(result.rowcount, [compiled.row._make(row) for row in result] if result.returns_rows else [])
        arguments = [_arguments(compiled, one) for one in params] if many else _arguments(compiled, params)
        return Written(*_execute(self, connection, compiled, arguments, many))


def session_connection(session: Session) -> Connection:
    """session.connection() when the session's transaction already holds its connection (every statement of a save
    but its first): that call's state checks and lookups cost about as much as the rest of a Prepared run, while the
    write lock is held (bench/bench_write_lock.py). It reads the session's transaction as session.connection() does
    (SQLAlchemy 2's SessionTransaction: its state and its connections by bind); in any other case, or should those
    attributes change, it is session.connection() itself."""
    try:
        transaction = session._transaction
        if transaction is not None and transaction._state is _ACTIVE and session._trans_context_manager is None:
            held = transaction._connections.get(session.get_bind())
            if held is not None:
                return held[0]
    except AttributeError:
        pass
    return session.connection()


def _execute(
    prepared: Prepared | PreparedWrite, connection: Connection, compiled: _Compiled, arguments: Any, many: bool = False
) -> tuple[int, list[tuple[Any, ...]]]:
    """Run the compiled statement with the driver's arguments on the session's driver connection: (rowcount, converted rows)."""
    driver = connection.connection.dbapi_connection
    cursor = None
    try:
        cursor = driver.cursor()
        if many:
            cursor.executemany(compiled.sql, arguments)
        else:
            cursor.execute(compiled.sql, arguments)
        if cursor.description is None or not compiled.row._fields:
            return cursor.rowcount, []
        fetched = cursor.fetchall()
        # the driver's type of each column (psycopg: its OID; SQLite: None), which some conversions depend on
        driver_types = tuple(map(_SECOND, cursor.description))
        forms = _forms(connection.dialect)
        results = forms.get((prepared, driver_types))
        if results is None:
            results = forms.setdefault((prepared, driver_types), _results(prepared.statement, connection.dialect, driver_types))
        rowcount = cursor.rowcount
    except connection.dialect.loaded_dbapi.Error as exc:
        lost = connection.dialect.is_disconnect(exc, driver, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(compiled.sql, arguments, exc, connection.dialect.loaded_dbapi.Error, connection_invalidated=lost) from exc
    finally:
        if cursor is not None:
            cursor.close()
    # The rows' named tuples made in C (the tuple constructor, mapped): the class's own _make is a Python call per row,
    # three with what it calls, ~100 of the article JSON's Python calls for its 25 sentences (bench/bench_request_cpu.py).
    make = partial(tuple.__new__, compiled.row)
    if not results:
        return rowcount, list(map(make, fetched))
    out = []
    for row in fetched:
        row = list(row)
        for position, convert in results:
            if row[position] is not None:
                row[position] = convert(row[position])
        out.append(make(row))
    return rowcount, out


def _arguments(compiled: _Compiled, params: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
    """The driver's parameters: the statement's own values, the caller's converted, the left-out columns' defaults."""
    values = dict(compiled.fixed)
    for name, value in params.items():
        convert = compiled.binds.get(name)
        values[name] = value if convert is None or value is None else convert(value)
    for name, default in compiled.defaults:
        value = default()
        convert = compiled.binds.get(name)
        values[name] = value if convert is None or value is None else convert(value)
    return values if compiled.positions is None else [values[name] for name in compiled.positions]


def _watched(connection: Connection) -> bool:
    """Whether a listener watches the connection's statements (a pool listener such as SQLite's "connect" does not).

    The engine's own dispatch is asked unless listeners were added to this connection itself: a Connection's
    dispatch joins its engine's, and each attribute read on the joined one builds a new joined listener list,
    which made this check about a fifth of a Prepared run on the article JSON (bench/bench_request_cpu.py). First,
    though, the flags SQLAlchemy raises when a statement listener is added answer the usual case (none) in two
    attribute reads: the listener lists' own checks were ~5 Python calls a statement, 14 statements a save inside the
    write lock (bench/bench_write_lock.py).
    """
    if not (connection._has_events or connection.engine._has_events):
        return False  # no statement listener was ever added to either (SQLAlchemy sets the flag on adding one): the usual case
    events = connection.dispatch if connection._has_events else connection.engine.dispatch
    return bool(events.before_cursor_execute or events.after_cursor_execute or events.before_execute or events.after_execute)


_SECOND = itemgetter(1)
_FORMS = "_annotator_prepared"  # the dialect's attribute that keeps its compiled forms


def _forms(dialect: Dialect) -> dict[Any, Any]:
    """The compiled forms and result conversions made for this dialect, kept on it: they live as long as its engine
    (as SQLAlchemy's compiled cache), so a process that builds many engines (the tests) does not keep them all."""
    forms = getattr(dialect, _FORMS, None)
    if forms is None:
        forms = {}
        setattr(dialect, _FORMS, forms)
    return forms


def _compile(statement: Any, dialect: Dialect, keys: tuple[str, ...] | None = None, many: bool = False) -> _Compiled:
    """The statement's SQL for the dialect (a write's: for the columns `keys`, as SQLAlchemy compiles it for those
    parameters) and what turns a caller's parameters into the driver's."""
    if keys is None:
        compiled = statement.compile(dialect=dialect)
    else:
        compiled = statement.compile(dialect=dialect, column_keys=sorted(keys), for_executemany=many)
    if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
        raise ValueError("a Prepared statement's parameters must be plain named ones (no IN lists, literal_execute or escaped names)")
    binds: dict[str, Processor] = {}
    fixed: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required or bind.value is None and bind.callable is None:
            if convert is not None:
                binds[name] = convert
            if not bind.required:  # a literal None (`.values(reviewer_id=None)`), which a caller's value may replace
                fixed[name] = None
            continue
        value = bind.effective_value
        fixed[name] = value if convert is None or value is None else convert(value)
    positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
    row = namedtuple("Row", list(_columns(statement).keys()), rename=True)
    defaults = tuple(_default(column, "default") for column in compiled.insert_prefetch)
    defaults += tuple(_default(column, "onupdate") for column in compiled.update_prefetch)
    return _Compiled(str(compiled), positions, fixed, binds, row, defaults)


def _columns(statement: Any) -> Any:
    """A read's selected columns; a write's RETURNING columns (none without RETURNING: PostgreSQL's implicit
    RETURNING of the new row's id, which SQLAlchemy adds for inserted_primary_key, is not read)."""
    selected = getattr(statement, "selected_columns", None)
    return selected if selected is not None else statement.exported_columns


def _default(column: Any, which: str) -> tuple[str, Callable[[], Any]]:
    """(the column's parameter name, what makes its value): its scalar default, or its callable that takes no
    argument (SQLAlchemy wraps such a callable; `__wrapped__` is the callable itself)."""
    default = getattr(column, which)
    if default is not None and default.is_scalar:
        value = default.arg
        return column.key, lambda: value
    function = getattr(default.arg, "__wrapped__", None) if default is not None and default.is_callable else None
    if function is None:
        raise ValueError(f"PreparedWrite: column {column.key!r} has a {which} that needs SQLAlchemy's execution (a SQL or context default)")
    return column.key, function


def _results(statement: Any, dialect: Dialect, driver_types: tuple[Any, ...]) -> tuple[tuple[int, Processor], ...]:
    """The conversions of the row's columns that have one, by position, as SQLAlchemy's result processing picks them."""
    results = []
    for position, (column, driver_type) in enumerate(zip(_columns(statement), driver_types, strict=True)):
        convert = column.type.dialect_impl(dialect).result_processor(dialect, driver_type)
        if convert is not None:
            results.append((position, convert))
    return tuple(results)
