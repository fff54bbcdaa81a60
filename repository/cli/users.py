"""`kho user …`: people and systems allowed to use the API, with their roles and tokens."""
from __future__ import annotations

import sys

import click

from repository.cli.catalog_session import catalog_session as _session
from repository.config import load_settings


class _Roles(click.Choice):
    """The catalogue's roles, looked up only when `kho user add` runs or shows its help:
    importing the catalogue (SQLAlchemy) here would slow every `kho` command."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self):
        from repository.catalog.users import ROLES
        return ROLES

    @choices.setter
    def choices(self, value) -> None:
        pass




@click.group()
def user() -> None:
    """Add, list and remove users."""


def _read_password(from_stdin: bool, ask: bool) -> str | None:
    """The new password: one line of standard input, or typed twice at a prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if ask:
        # On stderr, so that TOKEN=$(kho user add …) still asks on the terminal.
        return click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return None


@user.command("add", short_help="Add a user; prints the token on the last line.")
@click.argument("name")
@click.option("--role", required=True, type=_Roles(),
              help="What the user may do.")
@click.option("--password-stdin", is_flag=True,
              help="Read the web sign-in password from the first line of standard input.")
@click.option("--no-password", is_flag=True,
              help="No web sign-in, only the API token (for scripts and systems).")
def add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Add a user with a password for the web pages (asked for, or --password-stdin) and
    print their API token (shown once, on the last line)."""
    from repository.catalog import add_user
    from repository.catalog.users import token_expiry
    password = _read_password(password_stdin, ask=not no_password)
    with _session() as session:
        new, token = add_user(session, name, role, password=password,
                              expires_at=token_expiry(load_settings().token_days))
        click.echo(f"added user {new.name} ({new.role}); their API token, shown only now"
                   f"{_until(new.token_expires_at)}:")
    click.echo(token)  # only after the commit succeeded


@user.command("passwd", short_help="Set a user's web sign-in password.")
@click.argument("name")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def passwd(name: str, password_stdin: bool) -> None:
    """Set NAME's password (asked for twice, or --password-stdin); their browser sessions end
    and a lock-out after failed attempts is lifted."""
    from repository.catalog import set_password
    password = _read_password(password_stdin, ask=True)
    with _session() as session:
        set_password(session, name, password)
    click.echo(f"password of {name} changed; their browser sessions have ended")


@user.command("token", short_help="Issue a new token for a user (the old one stops working).")
@click.argument("name")
def token_command(name: str) -> None:
    """Issue a new API token for NAME and print it on the last line; their old token stops
    working at once. The user, their role and their history stay."""
    from repository.catalog import get_user, reset_token
    from repository.catalog.users import token_expiry
    with _session() as session:
        token = reset_token(session, name, expires_at=token_expiry(load_settings().token_days))
        holder = get_user(session, name)
        click.echo(f"new API token for {holder.name} ({holder.role}), shown only now"
                   f"{_until(holder.token_expires_at)}; the old one no longer works:")
    click.echo(token)


def _until(moment) -> str:
    return f" (valid until {moment:%Y-%m-%d %H:%M} UTC)" if moment else ""


@user.command("list")
def list_() -> None:
    """List users with their roles."""
    from repository.catalog import list_users
    from repository.cli.where import empty_warning, is_empty
    with _session() as session:
        if is_empty(session):
            click.echo(empty_warning(load_settings()), err=True)
        for u in list_users(session):
            state = "" if u.active else " (inactive)"
            expires = f"\ttoken until {u.token_expires_at:%Y-%m-%d}" if u.token_expires_at else ""
            click.echo(f"{u.name}\t{u.role}\t{u.created_at:%Y-%m-%d}{state}{expires}")


@user.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove a user; their token stops working."""
    from repository.catalog import remove_user
    with _session() as session:
        remove_user(session, name)
    click.echo(f"removed user {name}")


COMMANDS = (user,)
