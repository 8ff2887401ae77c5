"""Users, passwords and API tokens. Plain functions over a SQLAlchemy session."""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from annotator.db import models
from annotator.db.models import ROLES, ApiToken, User, utcnow
from annotator.db.prepared import Prepared
from annotator.db.transactions import disk_full, lock_conflict, log_disk_full, transaction
from annotator.domain import account_log
from annotator.domain.account_log import Actor
from annotator.stats import textcheck

log = logging.getLogger(__name__)

NAME_MAX = 80  # characters of a user name
_NAME = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.@-]{{0,{NAME_MAX - 1}}}\Z")  # \Z: "$" also matches before a final newline
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # characters a password form takes (the login form's limit)
TOKEN_PREFIX = "ann_"


class AccountError(ValueError):
    """A user operation that cannot be done; the message says why."""


class AccountForbidden(AccountError):
    """A user operation the one asking may not do (a 403, where an AccountError is a 400 or 409)."""


class TokenAlreadyIssued(AccountError):
    """The form that asked for a token already had one issued (a reload, a double click): its time, for the message."""

    def __init__(self, issued_at: datetime):
        super().__init__(f"this form already issued a token, at {issued_at:%Y-%m-%d %H:%M} UTC")
        self.issued_at = issued_at


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise AccountError(f"user name must be 1-80 letters, digits, '_', '.', '@' or '-' (got {name!r})")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (choose from {', '.join(ROLES)})")
    return role


def password_length_problem(password: str) -> str | None:
    """Why a new password's length is refused, in the words of the forms that set one, or None."""
    if len(password) < MIN_PASSWORD:
        return f"A password needs at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"A password may have at most {MAX_PASSWORD:,} characters."
    return None


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password must be at least {MIN_PASSWORD} characters")
    reason = textcheck.problem(password)
    if reason:  # the login form refuses such text at the door: a password holding it could never log in
        raise AccountError(f"password {reason}; no login could send it")
    return password


def find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def find_user_for_login(session: Session, name: str) -> User | None:
    """The user with this name, else the only one whose name differs just in case ("Alice" logs in alice).

    Imports keep names exactly as their data has them, so two names that differ
    only in case can exist; then only the exact one logs in.
    """
    user = find_user(session, name)
    if user is not None:
        return user
    matches = session.scalars(select(User).where(func.lower(User.name) == name.lower()).limit(2)).all()
    return matches[0] if len(matches) == 1 else None


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    """A hash of a random password with the given method: checked for names that cannot log in, so that
    they cost as much time as a real check (a pure function, computed once per worker and method)."""
    return models.generate_password_hash(secrets.token_urlsafe(16), method=method)


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user whose name and password these are (active or not: the caller says what to do), else None.

    Exactly one password hash is checked whatever the name: for an unknown name, or a user with no
    password, a dummy hash of the same method and cost, so the time taken does not tell which names exist.
    """
    user = find_user_for_login(session, name)
    if user is not None and user.password_hash:
        return user if user.check_password(password) else None
    models.check_password_hash(_dummy_hash(models.PASSWORD_METHOD), password)
    return None


def _method_of(password_hash: str) -> str:
    """A werkzeug hash's method and cost, as it spells them: "scrypt:32768:8:1", "pbkdf2:sha256:600000"."""
    return password_hash.split("$", 1)[0]


def outdated_hash(user: User) -> bool:
    """Whether the user's password is hashed with another method or cost than PASSWORD_METHOD's now (werkzeug's
    defaults move on, and hashes made before stay): its check takes another time than the dummy hash of unknown
    names, so a failed login for such a name tells that it exists (pbkdf2 at 260,000 rounds: 0.57 s, scrypt at
    N=2**14: 0.26 s, against 0.53 s; bench/bench_login_timing.py)."""
    return bool(user.password_hash) and _method_of(user.password_hash) != _method_of(_dummy_hash(models.PASSWORD_METHOD))


def rehash(password: str) -> HashedPassword:
    """The password a login just proved, hashed the current way: slow, so before the write (store_rehash). Not held
    to check_password's rules: it is the password the user has."""
    return HashedPassword(models.generate_password_hash(password, method=models.PASSWORD_METHOD))


def store_rehash(session: Session, user_id: int, old_hash: str, new: HashedPassword) -> None:
    """The same password under its new hash, unless it was changed meanwhile (then the stored one stays). Not a new
    password: no session ends, no token is revoked, and the account history has nothing to tell."""
    session.execute(update(User).where(User.id == user_id, User.password_hash == old_hash).values(password_hash=new.value))


def users(session: Session) -> list[User]:
    """Everyone, the active first, by name."""
    return list(session.scalars(select(User).order_by(User.active.desc(), User.name)))


def users_by_ids(session: Session, ids: list[int]) -> list[User]:
    return list(session.scalars(select(User).where(User.id.in_(ids))))


def get_user(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise AccountError(f"no user named {name!r}")
    return user


@dataclass(frozen=True)
class HashedPassword:
    """A password checked and hashed before the write transaction begins. The hash costs ~0.1 s by design
    (scrypt), and on SQLite a transaction that writes holds the one write lock: hashed inside it, every
    annotator's save would wait for an admin setting a password."""

    value: str


def hash_password(password: str) -> HashedPassword:
    return HashedPassword(models.generate_password_hash(check_password(password), method=models.PASSWORD_METHOD))


def create_user(
    session: Session, name: str, role: str = "annotator", password: str | HashedPassword | None = None, active: bool = True,
    actor: Actor = account_log.CLI,
) -> User:
    """A new user; with no password (imported annotators) they cannot log in. `actor` made them (audited)."""
    check_name(name)
    check_role(role)
    if find_user(session, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    same = session.scalar(select(User.name).where(func.lower(User.name) == name.lower()))
    if same is not None:  # 'carol' and 'Carol' would be two people nobody can tell apart in a list
        raise AccountError(f"user {same!r} already exists; names that differ only in case are not allowed")
    user = User(name=name, role=role, active=active)
    if password is not None:
        user.password_hash = (password if isinstance(password, HashedPassword) else hash_password(password)).value
    session.add(user)
    session.flush()
    after = {"role": role, "active": active, "password": "set" if password is not None else None}
    account_log.record(session, user, actor, "create", None, after)
    return user


def end_sessions(user: User) -> None:
    """End every session of the user, on every device, remember-me cookies included (the next request
    with one of their cookies is anonymous). Takes effect when the transaction commits."""
    user.session_generation = User.session_generation + 1


def set_password(session: Session, user: User, password: str | HashedPassword, actor: Actor = account_log.CLI,
                 *, revoke_tokens: bool = True) -> int:
    """A new password ends every session of the user: whoever had it or a cookie of theirs is out. With
    `revoke_tokens` (always when an admin or the server resets it: a password that leaked may have been used to get
    a token) it also revokes the user's API tokens; the user changing their own chooses. The number revoked.
    Audited as set and by whom (the user themself, an admin, the server), with the ids of the tokens revoked,
    never the password or its hash."""
    user.password_hash = (password if isinstance(password, HashedPassword) else hash_password(password)).value
    end_sessions(user)
    revoked = _revoke_all(session, user) if revoke_tokens else []
    after: dict[str, Any] = {"password": "set", "by": account_log.password_setter(actor, user)}
    if revoked:
        after |= {"tokens_revoked": len(revoked), "token_ids": revoked}
    account_log.record(session, user, actor, "password", None, after)
    return len(revoked)


def log_out_everywhere(session: Session, user: User, actor: Actor = account_log.CLI) -> None:
    """end_sessions on someone's order (an admin's button, `annotator users logout`), audited; a user's own
    logout is not an account change and goes through end_sessions alone."""
    end_sessions(user)
    account_log.record(session, user, actor, "logout", None, {})


def _is_the_last_active_admin(session: Session, user: User) -> bool:
    """Whether `user` is the only active admin, with every active admin's row locked (FOR UPDATE, in id order) until
    the transaction ends. Two admins demoting or deactivating each other at once each counted two admins and went
    ahead, leaving none (PostgreSQL); now the second waits for the first's rows and counts them as they are after it.
    SQLite's writers take turns already."""
    admins = session.scalars(
        select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).with_for_update()
    ).all()
    return list(admins) == [user.id]


def set_role(session: Session, user: User, role: str, actor: Actor = account_log.CLI) -> int:
    """Change the role; the number of API tokens revoked with it.

    Becoming an admin ends the user's tokens: one issued while they were not an admin may be another admin's doing
    (demote, issue, promote again), and an admin's tokens are that admin's own to issue (check_token_issuer)."""
    check_role(role)
    if user.role == "admin" and role != "admin" and user.active and _is_the_last_active_admin(session, user):
        raise AccountError("cannot change the role of the last active admin")
    if role == user.role:
        return 0
    before = {"role": user.role}
    revoked = len(_revoke_all(session, user)) if role == "admin" else 0
    user.role = role  # open sessions carry what the old role could see and do: they end
    end_sessions(user)
    account_log.record(session, user, actor, "role", before, {"role": role, "tokens_revoked": revoked})
    return revoked


def active_token_count(session: Session, user_id: int) -> int:
    """The user's tokens that work now (neither revoked nor expired)."""
    return session.scalar(select(func.count()).select_from(ApiToken).where(*_active_tokens(user_id, utcnow()))) or 0


def tokens_count(count: int) -> str:
    """"1 API token", "3 API tokens", "no API tokens"."""
    return "1 API token" if count == 1 else f"{count or 'no'} API tokens"


def revoked_tokens(count: int) -> str:
    """What set_role's count of revoked tokens adds to "NAME is now ROLE" ("" for none)."""
    if not count:
        return ""
    return f"; their {tokens_were_revoked(count)} (an admin's tokens are that admin's own to issue)"


def tokens_were_revoked(count: int) -> str:
    """"1 API token was revoked", "3 API tokens were revoked" (for a count above 0)."""
    return f"{tokens_count(count)} {'was' if count == 1 else 'were'} revoked"


def set_active(session: Session, user: User, active: bool, actor: Actor = account_log.CLI) -> None:
    """Deactivate or reactivate; an inactive user's labels stay, they just cannot log in. A change is audited
    (activating an active user changes nothing and leaves no entry)."""
    if not active and user.role == "admin" and user.active and _is_the_last_active_admin(session, user):
        raise AccountError("cannot deactivate the last active admin")
    was = user.active
    user.active = active
    revoked = 0
    if not active:
        revoked = len(_revoke_all(session, user))
        end_sessions(user)
    if was != active:
        after = {"active": active, "tokens_revoked": revoked} if not active else {"active": active}
        account_log.record(session, user, actor, "activate" if active else "deactivate", {"active": was}, after)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


MAX_ACTIVE_TOKENS = 10
MAX_TOKEN_DAYS = 3650
# The last use of a token is written when the stored one is older than this: at most one write
# a minute per token, not one per API request (saves go through here; their latency matters).
LAST_USE_RESOLUTION = timedelta(seconds=60)


def _active_tokens(user_id: int, now: datetime):  # noqa: ANN202
    return (ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None), or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))


def check_token_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise AccountError(f"a token's expiry must be 1 to {MAX_TOKEN_DAYS} days (got {days})")
    return days


def check_token_issuer(issuer_id: int | None, user_id: int, name: str, role: str) -> None:
    """AccountForbidden when an admin asks for another admin's token: whoever holds a token acts as its user, so an
    admin's token is theirs alone to issue (for themselves, and for reviewers and annotators, whose work admins run
    anyway). None is the command line's operator, who holds the database itself."""
    _not_another_admin(issuer_id, user_id, name, role, f"issue API tokens for {name} (a token acts as its user)")


def check_password_setter(setter_id: int | None, user_id: int, name: str, role: str) -> None:
    """AccountForbidden when an admin sets another admin's password: whoever knows it logs in as that admin, as with a
    token (check_token_issuer). A locked-out admin's password is set on the server: `annotator users password NAME`."""
    _not_another_admin(setter_id, user_id, name, role, f"set {name}'s password (it logs in as {name}); on the server, "
                       f"`annotator users password {name}` can")


def _not_another_admin(actor_id: int | None, user_id: int, name: str, role: str, what: str) -> None:
    if actor_id is not None and actor_id != user_id and role == "admin":
        raise AccountForbidden(f"{name} is an admin: only {name} may {what}")


def new_issue_key() -> str:
    """A one-use key for a form that issues a token (ApiToken.issue_key)."""
    return secrets.token_urlsafe(24)


def issue_token(session: Session, user: User, expires_days: int | None = None, issued_by: int | None = None,
                actor: Actor | None = None, issue_key: str | None = None) -> str:
    """A new API token for the user (shown once; only its hash is stored), valid for `expires_days` or until revoked.

    A user has at most MAX_ACTIVE_TOKENS tokens that are neither revoked nor expired. `issued_by` is the id of the
    admin asking (the web and the REST API): never another admin's token (check_token_issuer); None on the command line.
    Audited (the token's id and expiry, never its text or hash) as `actor`'s doing, by default issued_by's on the web.
    `issue_key`: the asking form's one-use key; TokenAlreadyIssued if a token was issued with it (for any user), since
    the token is shown only in the answer to the form's first sending.
    """
    check_token_days(expires_days)
    # The user's row, locked: issues at the same moment count one after another (PostgreSQL let twelve
    # through the ceiling of ten; SQLite's one writer already serialises them). Its role as it is now, under the lock.
    role = session.scalar(select(User.role).where(User.id == user.id).with_for_update())
    check_token_issuer(issued_by, user.id, user.name, role)
    if issue_key is not None:  # under the user's lock: the form sent twice at once reads the first's token here
        issued_at = session.scalar(select(ApiToken.created_at).where(ApiToken.issue_key == issue_key))
        if issued_at is not None:
            raise TokenAlreadyIssued(issued_at)
    now = utcnow()
    active = session.scalar(select(func.count()).select_from(ApiToken).where(*_active_tokens(user.id, now))) or 0
    if active >= MAX_ACTIVE_TOKENS:
        raise AccountError(f"{user.name} already has {active} active API tokens; revoke one first (at most {MAX_ACTIVE_TOKENS})")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + timedelta(days=expires_days) if expires_days else None
    row = ApiToken(user_id=user.id, token_hash=hash_token(token), created_at=now, expires_at=expires_at, issue_key=issue_key)
    session.add(row)
    session.flush()
    actor = actor or (account_log.CLI if issued_by is None else account_log.web(issued_by))
    account_log.record(session, user, actor, "token_issue", None,
                       {"token_id": row.id, "expires_at": expires_at.isoformat(timespec="seconds") if expires_at else None})
    return token


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    """The user's API tokens, revoked and expired ones too, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def unrevoked_token_counts(session: Session) -> dict[int, int]:
    """Per user id: their tokens not revoked (expired ones included)."""
    return dict(session.execute(select(ApiToken.user_id, func.count()).where(ApiToken.revoked_at.is_(None)).group_by(ApiToken.user_id)).all())


def revoke_tokens(session: Session, user: User, actor: Actor = account_log.CLI) -> int:
    """Revoke every token of the user; audited when there was one to revoke."""
    ids = _revoke_all(session, user)
    if ids:
        account_log.record(session, user, actor, "token_revoke", None, {"token_ids": ids})
    return len(ids)


def _revoke_all(session: Session, user: User) -> list[int]:
    """The ids of the user's tokens revoked now (the caller audits them with its own change)."""
    revoked = session.scalars(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow()).returning(ApiToken.id)
    )
    return sorted(revoked)


def revoke_token(session: Session, token: ApiToken, user: User, actor: Actor = account_log.CLI) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        account_log.record(session, user, actor, "token_revoke", None, {"token_ids": [token.id]})


# One query, token and user together: it runs on every API request. Built once (building it per request cost as
# much as running it, bench/bench_api.py) and run on the driver's cursor (db/prepared.py): the user's columns, then
# the token's id, expiry and last use.
_USER_COLUMNS = ("id", "name", "password_hash", "role", "active", "created_at", "session_generation")
_USER_FOR_TOKEN = Prepared(
    select(
        *(getattr(User, name) for name in _USER_COLUMNS), ApiToken.id, ApiToken.expires_at, ApiToken.last_used_at,
    )
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active.is_(True))
)
_TOKEN_USED = (
    update(ApiToken)
    .where(ApiToken.id == bindparam("token_id"), or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < bindparam("stale")))
    .values(last_used_at=bindparam("now"))
)


class TokenExpired(AccountError):
    """A token that was valid and has expired: the caller says so (401)."""


def user_for_token(session: Session, token: str) -> User | None:
    """The active user a token belongs to, or None; TokenExpired for an expired one.

    The user is built from one Core row and is not in the session: skipping the
    ORM's loading and identity map took a save from 1.46 to 1.39 ms in process
    (medians of 10 interleaved runs), and a save detached the user from the
    session anyway, so that its commits do not expire it (api._writer). It is
    made as the ORM's loading makes an object (a new instance, its columns put
    in its dict: no change history), not through User(**values), whose
    per-attribute set events were a tenth of the article JSON's Python calls.

    The lookup is one query on the unique token_hash index; the join to users is by primary key
    (the user's columns are needed, a second query would cost more than the join).

    The token's last use is written when the stored one is a minute old or more (one write a
    minute per token at most), in its own short transaction: see _note_use.
    """
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    row = _USER_FOR_TOKEN.first(session, {"token_hash": hash_token(token)})
    if row is None:
        return None
    width = len(_USER_COLUMNS)
    token_id, expires_at, last_used_at = row[width:]
    now = utcnow()
    if expires_at is not None and _aware(expires_at) <= now:
        raise TokenExpired("this API token has expired; ask an admin for a new one")
    if last_used_at is None or _aware(last_used_at) <= now - LAST_USE_RESOLUTION:
        _note_use(session, {"token_id": token_id, "stale": now - LAST_USE_RESOLUTION, "now": now})
    user = User.__mapper__.class_manager.new_instance()
    user.__dict__.update(zip(_USER_COLUMNS, row[:width], strict=True))
    return user


def _note_use(session: Session, params: dict[str, Any]) -> None:
    """Write a token's last use in a transaction of its own, never the caller's (which may be a read that is rolled back).

    At the start of a request the session holds nothing: its read is ended and the write runs on the
    same connection (begin_write); taking another connection from the pool instead held two at once.
    A session that holds objects is not committed under its caller: the write then takes its own connection.
    The use is bookkeeping: when another writer holds the database past the busy timeout (a command's long
    transaction) or the disk is full, it is left to the token's next request, and this one goes on (it failed with
    it, a 500: its error page loaded the user, and so tried the write, again).
    """
    try:
        if session.identity_map or session.new or session.deleted:
            with session.get_bind().begin() as connection:
                connection.execute(_TOKEN_USED, params)
            return
        with transaction(session):
            session.connection().execute(_TOKEN_USED, params)
    except OperationalError as exc:
        if disk_full(exc):
            log_disk_full(exc, "noting a token's last use (left to its next request)")
        elif lock_conflict(exc):
            log.warning("a token's last use was not written (left to its next request): %s", str(getattr(exc, "orig", exc)).strip()[:200])
        else:
            raise


def _aware(value: datetime) -> datetime:
    """Core rows come back through UTCDateTime, aware; this only guards a naive value."""
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
