"""`kho user …`: people and systems allowed to use the API, with their roles and tokens."""
from __future__ import annotations

from contextlib import contextmanager

import click

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
@click.option("--role", required=True, type=_Roles(),
              help="What the user may do.")
def add(name: str, role: str) -> None:
    """Add a user and print their API token (shown once, on the last line)."""
    from repository.catalog import add_user
    with _session() as session:
        new, token = add_user(session, name, role)
        click.echo(f"added user {new.name} ({new.role}); their API token, shown only now:")
    click.echo(token)  # only after the commit succeeded


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
