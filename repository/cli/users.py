"""`kho user …`: people and systems allowed to use the API, with their roles and tokens."""
from __future__ import annotations

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


@user.command("add", short_help="Add a user; prints the token on the last line.")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="What the user may do.")
def add(name: str, role: str) -> None:
    """Add a user and print their API token (shown once, on the last line)."""
    from repository.catalog import add_user
    from repository.catalog.users import token_expiry
    with _session() as session:
        new, token = add_user(session, name, role,
                              expires_at=token_expiry(load_settings().token_days))
        click.echo(f"added user {new.name} ({new.role}); their API token, shown only now"
                   f"{_until(new.token_expires_at)}:")
    click.echo(token)  # only after the commit succeeded


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
