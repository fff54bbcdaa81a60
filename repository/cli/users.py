"""`kho user …`: people and systems allowed to use the API, with their roles and tokens."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from repository.catalog.users import ROLES
from repository.config import load_settings


@contextmanager
def _session():
    from repository.catalog import open_catalog
    db = open_catalog(load_settings().catalog_url)
    try:
        db.upgrade()
        with db.session() as session:
            yield session
    finally:
        db.dispose()


@click.group()
def user() -> None:
    """Add, list and remove users."""


def _read_password(from_stdin: bool, ask: bool) -> str | None:
    """The new password: one line of standard input, or typed twice at a prompt."""
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if ask:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return None


@user.command("add", short_help="Add a user; prints the token on the last line.")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="What the user may do.")
@click.option("--password-stdin", is_flag=True,
              help="Read the web sign-in password from the first line of standard input.")
@click.option("--no-password", is_flag=True,
              help="No web sign-in, only the API token (for scripts and systems).")
def add(name: str, role: str, password_stdin: bool, no_password: bool) -> None:
    """Add a user with a password for the web pages (asked for, or --password-stdin) and
    print their API token (shown once, on the last line)."""
    from repository.catalog import add_user
    password = _read_password(password_stdin, ask=not no_password)
    with _session() as session:
        new, token = add_user(session, name, role, password=password)
        click.echo(f"added user {new.name} ({new.role}); their API token, shown only now:")
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


@user.command("list")
def list_() -> None:
    """List users with their roles."""
    from repository.catalog import list_users
    with _session() as session:
        for u in list_users(session):
            state = "" if u.active else " (inactive)"
            click.echo(f"{u.name}\t{u.role}\t{u.created_at:%Y-%m-%d}{state}")


@user.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove a user; their token stops working."""
    from repository.catalog import remove_user
    with _session() as session:
        remove_user(session, name)
    click.echo(f"removed user {name}")


COMMANDS = (user,)
