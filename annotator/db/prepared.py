"""Hot read statements run on the driver's cursor: a Core statement compiled once per dialect, its rows converted
as SQLAlchemy's own result processing converts them.

Why: every API request reads the caller's token, and the article JSON the annotation page loads reads the
article, its sentences and the caller's annotations. For these one-row or few-row reads SQLAlchemy's execution
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

The compiled form is kept per statement on the engine's dialect (as SQLAlchemy keeps its compiled cache per
engine): it is a pure function of the two, so every worker agrees, and it goes with the engine.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Callable, NamedTuple, Sequence

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

Processor = Callable[[Any], Any]


class _Compiled(NamedTuple):
    sql: str
    positions: tuple[str, ...] | None  # the parameters' order for a positional paramstyle (SQLite's qmark); None: named
    fixed: dict[str, Any]  # the statement's own values (literals SQLAlchemy binds), converted for the driver
    binds: dict[str, Processor]  # conversions of the caller's parameters, by name (only those that have one)
    row: Any  # the rows' class: a named tuple of the selected columns' keys, as SQLAlchemy's Row names them (an unusable one: _N)


class Prepared:
    """A statement to run often: `rows`, `first` and `scalar` give named tuples of the selected columns, as
    SQLAlchemy's Row by position and by key (not `_mapping`)."""

    __slots__ = ("statement",)

    def __init__(self, statement: Select) -> None:
        self.statement = statement

    def rows(self, session: Session | Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        connection = session if isinstance(session, Connection) else session.connection()
        dialect = connection.dialect
        forms = _forms(dialect)
        compiled = forms.get(self) or forms.setdefault(self, _compile(self, dialect))
        if _watched(connection):  # listeners must see every statement
            return [compiled.row._make(row) for row in connection.execute(self.statement, params)]
        values = dict(compiled.fixed)
        for name, value in params.items():
            convert = compiled.binds.get(name)
            values[name] = value if convert is None or value is None else convert(value)
        arguments: Sequence[Any] | dict[str, Any] = values if compiled.positions is None else [values[name] for name in compiled.positions]
        driver = connection.connection.dbapi_connection
        cursor = None
        try:
            cursor = driver.cursor()
            cursor.execute(compiled.sql, arguments)
            fetched = cursor.fetchall()
            # the driver's type of each column (psycopg: its OID; SQLite: None), which some conversions depend on
            driver_types = tuple(column[1] for column in cursor.description)
            results = forms.get((self, driver_types))
            if results is None:
                results = forms.setdefault((self, driver_types), _results(self, dialect, driver_types))
        except connection.dialect.loaded_dbapi.Error as exc:
            lost = connection.dialect.is_disconnect(exc, driver, cursor)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(compiled.sql, arguments, exc, connection.dialect.loaded_dbapi.Error, connection_invalidated=lost) from exc
        finally:
            if cursor is not None:
                cursor.close()
        make = compiled.row._make
        if not results:
            return [make(row) for row in fetched]
        out = []
        for row in fetched:
            row = list(row)
            for position, convert in results:
                if row[position] is not None:
                    row[position] = convert(row[position])
            out.append(make(row))
        return out

    def first(self, session: Session | Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row or None (the statement should select one row: the others are read and dropped)."""
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def scalar(self, session: Session | Connection, params: dict[str, Any]) -> Any:
        """The first column of the first row, or None when there is no row."""
        row = self.first(session, params)
        return None if row is None else row[0]


def _watched(connection: Connection) -> bool:
    """Whether a listener watches the connection's statements (a pool listener such as SQLite's "connect" does not).

    The engine's own dispatch is asked unless listeners were added to this connection itself: a Connection's
    dispatch joins its engine's, and each attribute read on the joined one builds a new joined listener list,
    which made this check about a fifth of a Prepared run on the article JSON (bench/bench_request_cpu.py).
    """
    events = connection.dispatch if connection._has_events else connection.engine.dispatch
    return bool(events.before_cursor_execute or events.after_cursor_execute or events.before_execute or events.after_execute)


_FORMS = "_annotator_prepared"  # the dialect's attribute that keeps its compiled forms


def _forms(dialect: Dialect) -> dict[Any, Any]:
    """The compiled forms and result conversions made for this dialect, kept on it: they live as long as its engine
    (as SQLAlchemy's compiled cache), so a process that builds many engines (the tests) does not keep them all."""
    forms = getattr(dialect, _FORMS, None)
    if forms is None:
        forms = {}
        setattr(dialect, _FORMS, forms)
    return forms


def _compile(prepared: Prepared, dialect: Dialect) -> _Compiled:
    compiled = prepared.statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params or compiled.escaped_bind_names:
        raise ValueError("a Prepared statement's parameters must be plain named ones (no IN lists, literal_execute or escaped names)")
    binds: dict[str, Processor] = {}
    fixed: dict[str, Any] = {}
    for bind, name in compiled.bind_names.items():
        convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind.required or bind.value is None and bind.callable is None:
            if convert is not None:
                binds[name] = convert
            continue
        value = bind.effective_value
        fixed[name] = value if convert is None or value is None else convert(value)
    positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
    row = namedtuple("Row", list(prepared.statement.selected_columns.keys()), rename=True)
    return _Compiled(str(compiled), positions, fixed, binds, row)


def _results(prepared: Prepared, dialect: Dialect, driver_types: tuple[Any, ...]) -> tuple[tuple[int, Processor], ...]:
    """The conversions of the row's columns that have one, by position, as SQLAlchemy's result processing picks them."""
    results = []
    for position, (column, driver_type) in enumerate(zip(prepared.statement.selected_columns, driver_types, strict=True)):
        convert = column.type.dialect_impl(dialect).result_processor(dialect, driver_type)
        if convert is not None:
            results.append((position, convert))
    return tuple(results)
