"""The account trail: every change to a user's account (role, password, activation, tokens, sessions) is one AuditEntry.

Why: an admin could demote another admin, set their password, promote them back and log in as them, and
nothing said who did it. Each change appends its entry in the change's own transaction (the log is
append-only in the database), with the ACTOR in user_id (None on the server's command line, whose entries
say "via": "cli"). Entries carry what changed, never a secret: a password only that it was set and by
whom, a token its id and expiry, never its text or hash.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from annotator.db.models import AuditEntry, User, utcnow
from annotator.domain.wording import counted, plural

ENTITY = "user"
HISTORY_LENGTH = 20


@dataclass(frozen=True)
class Actor:
    """Who makes an account change: a user's id (None: the server's operator) and the way in (web, api, cli)."""

    user_id: int | None
    via: str


CLI = Actor(None, "cli")


def web(user_id: int) -> Actor:
    return Actor(user_id, "web")


def api(user_id: int) -> Actor:
    return Actor(user_id, "api")


def record(session: Session, user: User, actor: Actor, action: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Append the entry for one change of `user`'s account, in the caller's transaction."""
    record_by_id(session, user.id, actor, action, before, after)


def record_by_id(session: Session, user_id: int, actor: Actor, action: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """record() for a user known by id alone (one inserted by a bulk import, with no User object loaded)."""
    session.add(AuditEntry(
        at=utcnow(), user_id=actor.user_id, entity=ENTITY, entity_id=str(user_id), action=action,
        before=before, after={**after, "via": actor.via},
    ))
    session.flush()


def password_setter(actor: Actor, user: User) -> str:
    """Who set a password, as the entry says it: the user themself, an admin, or the server's command line."""
    if actor.user_id is None:
        return "cli"
    return "self" if actor.user_id == user.id else "admin"


@dataclass(frozen=True)
class Change:
    """One line of a user's account history, ready to show."""

    at: datetime
    actor: str  # the actor's name, "the server (cli)", or "user #ID" for one since gone
    action: str
    what: str


def history(session: Session, user_id: int, limit: int = HISTORY_LENGTH) -> list[Change]:
    """The user's last `limit` account changes, newest first, each with who made it."""
    actor = aliased(User)
    rows = session.execute(
        select(AuditEntry, actor.name)
        .outerjoin(actor, actor.id == AuditEntry.user_id)
        .where(AuditEntry.entity == ENTITY, AuditEntry.entity_id == str(user_id))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()
    return [Change(entry.at, _actor_name(entry, name), entry.action, describe(entry.action, entry.before, entry.after)) for entry, name in rows]


def last_password_change(session: Session, user_id: int) -> Change | None:
    """The newest entry that set the user's password (or created them with one), else None."""
    actor = aliased(User)
    rows = session.execute(
        select(AuditEntry, actor.name)
        .outerjoin(actor, actor.id == AuditEntry.user_id)
        .where(AuditEntry.entity == ENTITY, AuditEntry.entity_id == str(user_id), AuditEntry.action.in_(("password", "create")))
        .order_by(AuditEntry.id.desc())
    )
    for entry, name in rows:
        if entry.action == "password" or (entry.after or {}).get("password") == "set":
            return Change(entry.at, _actor_name(entry, name), entry.action, describe(entry.action, entry.before, entry.after))
    return None


def _actor_name(entry: AuditEntry, name: str | None) -> str:
    if entry.user_id is None:
        return "the server (cli)"
    return name if name is not None else f"user #{entry.user_id}"


def describe(action: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """A short sentence for an entry's change (plain text: pages escape it)."""
    before, after = before or {}, after or {}
    via = f" ({after['via']})" if after.get("via") else ""
    revoked = after.get("tokens_revoked")
    tokens = f"; {counted(revoked, 'API token')} revoked" if revoked else ""
    if action == "create":
        password = ", password set" if after.get("password") == "set" else ", no password"
        return f"created as {after.get('role')}{password}{'' if after.get('active', True) else ', inactive'}{via}"
    if action == "role":
        return f"role {before.get('role')} → {after.get('role')}{tokens}{via}"
    if action == "password":
        by = {"self": "by themself", "admin": "by an admin", "cli": "on the server"}.get(after.get("by"), "")
        return f"password set {by}{tokens}{via}".replace("  ", " ")
    if action == "deactivate":
        return f"deactivated{tokens}{via}"
    if action == "activate":
        return f"reactivated{via}"
    if action == "logout":
        return f"logged out everywhere{via}"
    if action == "token_issue":
        expires = after.get("expires_at") or "never"
        return f"API token {after.get('token_id')} issued (expires {expires}){via}"
    if action == "token_revoke":
        ids = after.get("token_ids", [])
        return f"{plural(len(ids), 'API token')} {', '.join(str(i) for i in ids)} revoked{via}"
    return f"{action}{via}"
