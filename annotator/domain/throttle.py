"""Login throttling with the counters in the database, so every worker and host sees them.

Failures are counted per (user name, client address) pair and per address:
* a pair that reaches `free_failures` failures waits before each further
  try: 1 s, then 2 s, 4 s ... up to `longest_delay`. While it waits, its logins are
  answered "try again later" without looking at the password (no guess is
  made, none is counted). Only that pair waits: someone elsewhere cannot lock
  a user out, and the user's colleagues are not touched;
* an address past `address_ceiling` failures (any names; a newsroom's NAT)
  loses the free failures: every pair from it waits after its first failure.
  Correct passwords still log in, so colleagues behind the same address who
  type theirs right are never held up; only failures are slowed.
A key's failures are forgotten after `window` seconds without one, and a
successful login forgets its pair.

Each try is counted as a failure *before* its password is checked, in a short
write transaction, and forgiven after if the password was right: the slow hash
runs with no lock held (SQLite has one writer at a time: a login spray would
stall every save), and tries made at the same moment still count against each
other. Unknown names are counted like real ones,
so the answers do not tell which names exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from annotator.db.models import LoginFailure, utcnow  # noqa: F401  (utcnow: the login view's clock; tests replace it)


@dataclass(frozen=True)
class Limits:
    free_failures: int  # per (name, address) pair before the waits start
    address_ceiling: int  # failures from one address after which every failure waits
    longest_delay: int  # seconds
    window: int  # seconds without a failure after which a key's count is forgotten


def pair_key(name: str, address: str) -> str:
    return f"pair:{address}|{name.lower()}"[:200]


def address_key(address: str) -> str:
    return f"ip:{address}"[:200]


def wait_seconds(session: Session, key: str, now: datetime) -> int:
    """Whole seconds (rounded up) until this key may try again; 0 when it may now."""
    until = session.scalar(select(LoginFailure.locked_until).where(LoginFailure.key == key))
    if until is None or until <= now:
        return 0
    return max(1, int((until - now).total_seconds() + 0.999))


def _row(session: Session, key: str, now: datetime) -> LoginFailure:
    """The key's row, created if missing, locked for this transaction; reset when its window has passed."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):  # two workers counting the first failure of a key at once
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        session.execute(dialect_insert(LoginFailure).values(key=key, failures=0, first_at=now, last_at=now).on_conflict_do_nothing())
    elif session.get(LoginFailure, key) is None:
        session.execute(insert(LoginFailure).values(key=key, failures=0, first_at=now, last_at=now))
    row = session.get(LoginFailure, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def record_failure(session: Session, pair: str, address: str, limits: Limits, now: datetime) -> None:
    """Count a failed login against its pair and its address, and set the pair's wait."""
    window = timedelta(seconds=limits.window)
    rows = {}
    for key in (address, pair):
        row = rows[key] = _row(session, key, now)
        if row.failures and now - (row.last_at or row.first_at) > window:
            row.failures, row.first_at, row.locked_until = 0, now, None
        row.failures += 1
        row.last_at = now
    free = 1 if rows[address].failures > limits.address_ceiling else max(1, limits.free_failures)
    over = rows[pair].failures - free  # the free-th failure waits 1 s, the next 2 s, then 4 s ...
    if over >= 0:
        delay = limits.longest_delay if over > 40 else min(limits.longest_delay, 2**over)
        rows[pair].locked_until = now + timedelta(seconds=delay)
    # Rows nobody needs any more: forgotten counts whose wait is over (a spray of names leaves many).
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.key.not_in([pair, address]),
            or_(LoginFailure.last_at < now - window, and_(LoginFailure.last_at.is_(None), LoginFailure.first_at < now - window)),
            or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until < now),
        )
    )
    session.flush()


def count_attempt(session: Session, pair: str, address: str, limits: Limits, now: datetime) -> int:
    """A login try, before its password is checked: the seconds its pair must still wait (nothing is
    counted), else 0 with the try already counted as a failure (`forgive` takes it back)."""
    wait = wait_seconds(session, pair, now)
    if not wait:
        record_failure(session, pair, address, limits, now)
    return wait


def clear(session: Session, keys: list[str]) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))


def forgive(session: Session, pair: str, address: str) -> None:
    """Take back the failure counted before a password check that turned out right: the pair is forgotten
    (as after any success) and the address's count goes back down by that one."""
    clear(session, [pair])
    session.execute(
        update(LoginFailure).where(LoginFailure.key == address, LoginFailure.failures > 0).values(failures=LoginFailure.failures - 1)
    )
