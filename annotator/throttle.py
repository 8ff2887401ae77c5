"""Login throttling with the counters in the database, so every worker and host sees them."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import LoginFailure, utcnow


def locked_for(session: Session, keys: list[str], now: datetime | None = None) -> int:
    """Seconds until the first of these keys may try again (0 when none is locked)."""
    now = now or utcnow()
    rows = session.scalars(select(LoginFailure).where(LoginFailure.key.in_(keys))).all()
    waits = [(row.locked_until - now).total_seconds() for row in rows if row.locked_until and row.locked_until > now]
    return int(max(waits) + 0.999) if waits else 0


def record_failure(session: Session, limits: dict[str, int], lockout_seconds: int, now: datetime | None = None) -> None:
    """Count a failed login against each key; lock a key that reaches its limit (`limits[key]`) within the window."""
    now = now or utcnow()
    window = timedelta(seconds=lockout_seconds)
    for key, max_failures in limits.items():
        row = session.get(LoginFailure, key, with_for_update=True)
        if row is None:
            row = LoginFailure(key=key, failures=0, first_at=now)
            session.add(row)
        elif now - row.first_at > window and not (row.locked_until and row.locked_until > now):
            row.failures, row.first_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= max_failures:
            row.locked_until = now + window
    session.flush()


def clear(session: Session, keys: list[str]) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
