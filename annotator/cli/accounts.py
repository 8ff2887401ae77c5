"""`annotator users ...`: create users, set passwords and roles, (de)activate, log out, API tokens, account history.

Changes made here are audited with no actor and "via": "cli" (whoever runs the server holds the database)."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from annotator.cli.errors import commit_or_fail, fail
from annotator.db import db
from annotator.db.models import User
from annotator.domain import account_log, accounts
from annotator.domain.wording import counted


def _read_password(password_stdin: bool, confirm: bool = True) -> accounts.HashedPassword:
    """The password, checked and hashed before any write transaction (the hash must not hold the write lock)."""
    if password_stdin:
        try:
            password = sys.stdin.readline().rstrip("\r\n")
            password.encode("utf-8")  # a stdin that escapes bytes that are not UTF-8 keeps them as lone surrogates
        except (UnicodeDecodeError, UnicodeEncodeError):
            fail("the password on standard input is not valid UTF-8 text")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    try:
        return accounts.hash_password(password)
    except accounts.AccountError as exc:
        fail(str(exc))


@click.group("users")
def users_group() -> None:
    """Create and manage users."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "reviewer", "annotator"]), default="annotator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def users_create(name: str, role: str, password_stdin: bool) -> None:
    """Create a user; the password is asked for (or read with --password-stdin)."""
    try:
        accounts.check_name(name)
    except accounts.AccountError as exc:
        fail(str(exc))
    if accounts.find_user(db.session, name) is not None:
        fail(f"user {name!r} already exists")
    password = _read_password(password_stdin)
    commit_or_fail(lambda: accounts.create_user(db.session, name, role, password))
    click.echo(f"created {role} {name}")


@users_group.command("list")
@with_appcontext
def users_list() -> None:
    """List users with their role and whether they can log in."""
    for user in db.session.scalars(select(User).order_by(User.name)):
        state = "active" if user.active else "inactive"
        click.echo(f"{user.name}\t{user.role}\t{state}")


@users_group.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
@with_appcontext
def users_password(name: str, password_stdin: bool) -> None:
    """Set a user's password; it ends their sessions and revokes their API tokens."""
    password = _read_password(password_stdin)
    revoked = commit_or_fail(lambda: accounts.set_password(db.session, accounts.get_user(db.session, name), password))
    click.echo(f"password set for {name}; {accounts.tokens_count(revoked)} revoked")


@users_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "reviewer", "annotator"]))
@with_appcontext
def users_role(name: str, role: str) -> None:
    """Change a user's role (the last active admin keeps theirs)."""
    revoked = commit_or_fail(lambda: accounts.set_role(db.session, accounts.get_user(db.session, name), role))
    click.echo(f"{name} is now {role}{accounts.revoked_tokens(revoked)}")


@users_group.command("deactivate")
@click.argument("name")
@with_appcontext
def users_deactivate(name: str) -> None:
    """Stop a user from logging in; their labels stay."""
    commit_or_fail(lambda: accounts.set_active(db.session, accounts.get_user(db.session, name), False))
    click.echo(f"{name} deactivated")


@users_group.command("activate")
@click.argument("name")
@with_appcontext
def users_activate(name: str) -> None:
    """Let a deactivated user log in again."""
    commit_or_fail(lambda: accounts.set_active(db.session, accounts.get_user(db.session, name), True))
    click.echo(f"{name} activated")


@users_group.command("logout")
@click.argument("name")
@with_appcontext
def users_logout(name: str) -> None:
    """End every session of a user on every device (remember-me cookies too); API tokens stay."""
    commit_or_fail(lambda: accounts.log_out_everywhere(db.session, accounts.get_user(db.session, name)))
    click.echo(f"{name} is logged out everywhere")


@users_group.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke the user's tokens instead of issuing one.")
@click.option("--expires-days", metavar="N", type=click.IntRange(1, accounts.MAX_TOKEN_DAYS), default=None,
              help="The token stops working after this many days (default: until revoked).")
@with_appcontext
def users_token(name: str, revoke: bool, expires_days: int | None) -> None:
    """Issue an API token (printed once) or revoke a user's tokens; at most 10 active tokens per user."""
    if revoke:
        count = commit_or_fail(lambda: accounts.revoke_tokens(db.session, accounts.get_user(db.session, name)))
        click.echo(f"revoked {counted(count, 'token')} of {name}")
        return
    token = commit_or_fail(lambda: accounts.issue_token(db.session, accounts.get_user(db.session, name), expires_days))
    click.echo(token)


@users_group.command("history")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 1000), default=account_log.HISTORY_LENGTH, show_default=True)
@with_appcontext
def users_history(name: str, limit: int) -> None:
    """Print a user's recent account changes, newest first: when, who, what (tab-separated)."""
    user = accounts.find_user(db.session, name)
    if user is None:
        fail(f"no user named {name!r}")
    for change in account_log.history(db.session, user.id, limit):
        click.echo(f"{change.at:%Y-%m-%d %H:%M:%S} UTC\t{change.actor}\t{change.action}\t{change.what}")
