"""``news-monitor users …``: the web app's accounts and their read-only tokens."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from monitor.cli._common import UserError, echo_json, open_app, plural
from monitor.store import users as store
from monitor.store.db import transaction
from monitor.store.models import UserRole


@click.group()
def users() -> None:
    """Manage who may log in to the web app (news-monitor web, or run)."""


def _password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise UserError("no password on standard input (--password-stdin)")
        return password
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(store.ROLES),
    default=UserRole.VIEWER.value,
    show_default=True,
    help=(
        "viewer reads; editor also adds feeds, imports OPML, resends digests; "
        "admin: all, and manages the accounts (the web app's Users page)."
    ),
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def add(email: str, role: str, password_stdin: bool) -> None:
    """Create an account for EMAIL (the password is asked for, at least 10 characters)."""
    password = _password(password_stdin)
    with open_app() as app, transaction(app.sessions) as session:
        user = store.add_user(session, email, UserRole(role), password, datetime.now(UTC))
    click.echo(f"Added {user.email} ({user.role.value}).")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects instead.")
def list_(as_json: bool) -> None:
    """List the accounts: address, role, active tokens."""
    with open_app() as app, app.sessions() as session:
        rows = store.list_users(session)
    if as_json:
        echo_json(
            [
                {
                    "email": u.email,
                    "role": u.role.value,
                    "created_at": u.created_at.isoformat(),
                    "active_tokens": u.active_tokens,
                    "last_login": u.last_login.isoformat() if u.last_login else None,
                }
                for u in rows
            ]
        )
        return
    if not rows:
        click.echo("No web users. Add one with `news-monitor users add EMAIL --role admin`.")
        return
    for u in rows:
        click.echo(f"{u.email:<40} {u.role.value:<7} {plural(u.active_tokens, 'token')}")


@users.command("remove")
@click.argument("email")
def remove(email: str) -> None:
    """Delete the account of EMAIL, its sessions and its tokens (never the only admin)."""
    with open_app() as app, transaction(app.sessions) as session:
        user = store.remove_user(session, email)
    click.echo(f"Removed {user.email}.")


@users.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(store.ROLES))
def role(email: str, role: str) -> None:
    """Give EMAIL's account ROLE (viewer, editor, admin); the only admin keeps its role."""
    with open_app() as app, transaction(app.sessions) as session:
        user = store.set_role(session, email, UserRole(role))
    click.echo(f"{user.email} is now {user.role.value}.")


@users.command("password")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)
def password(email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL; it is logged out everywhere."""
    secret = _password(password_stdin)
    with open_app() as app, transaction(app.sessions) as session:
        user = store.set_password(session, email, secret)
    click.echo(f"New password set for {user.email}; its sessions ended.")


@users.command("token")
@click.argument("email")
@click.option("--revoke", is_flag=True, help="Revoke every token of EMAIL instead.")
def token(email: str, revoke: bool) -> None:
    """Print a new read-only token for EMAIL's feed reader or scripts (shown once).

    Pass it as ?token=TOKEN on the Atom, JSON Feed and /api/v1 URLs, or as the header
    Authorization: Bearer TOKEN. It reads only; --revoke ends all of them.
    """
    with open_app() as app, transaction(app.sessions) as session:
        if revoke:
            count = store.revoke_tokens(session, email, datetime.now(UTC))
            message = f"Revoked {plural(count, 'token')} of {store.normalise_email(email)}."
        else:
            message = store.create_token(session, email, datetime.now(UTC))
    click.echo(message)
