"""`kho collection …`: collections are made on purpose, so a typo never makes a new one."""
from __future__ import annotations


import click

from repository.cli.catalog_session import catalog_session as _session
from repository.config import load_settings




@click.group()
def collection() -> None:
    """Add, list, rename and delete collections."""


@collection.command("add", short_help="Create a collection that AIPs can be ingested into.")
@click.argument("name")
@click.option("--title", default="", help="Title shown to readers (default: the name).")
@click.option("--description", default="", help="What the collection holds.")
@click.option("--access", default="public", metavar="public|restricted|embargoed:YYYY-MM-DD",
              help="Who may read the whole collection (default public).")
def add(name: str, title: str, description: str, access: str) -> None:
    """Create the collection NAME (names are kept exactly, with their diacritics)."""
    from repository.catalog.collections import add_collection
    with _session() as session:
        made = add_collection(session, name, title=title, description=description, access=access)
        shown = made.name
    click.echo(f"added collection {shown}")


@collection.command("list")
def list_() -> None:
    """Each collection: name, AIPs held, access, title."""
    from sqlalchemy import func, select

    from repository.catalog import Aip, Collection
    with _session() as session:
        rows = session.execute(
            select(Collection, func.count(Aip.id)).outerjoin(Aip, Aip.collection_id == Collection.id)
            .group_by(Collection.id).order_by(Collection.name)).all()
        for found, held in rows:
            click.echo(f"{found.name}\t{held} AIPs\t{found.access}\t{found.title}")
        if not rows:
            from repository.cli.where import empty_warning, is_empty
            if is_empty(session):
                click.echo(empty_warning(load_settings()), err=True)


@collection.command("rename", short_help="Change a collection's title (its name stays).")
@click.argument("name")
@click.option("--title", default=None, help="The new title.")
@click.option("--description", default=None, help="The new description.")
def rename(name: str, title: str | None, description: str | None) -> None:
    """Change the title (and description) of collection NAME; its name, used in URLs, stays."""
    from repository.errors import UsageError
    from repository.catalog.collections import rename_collection
    if title is None and description is None:
        raise UsageError("say what to change: --title TEXT and/or --description TEXT")
    with _session() as session:
        found = rename_collection(session, name, title=title, description=description)
        click.echo(f"collection {found.name} is now titled {found.title!r}")


@collection.command("delete", short_help="Delete an empty collection.")
@click.argument("name")
def delete(name: str) -> None:
    """Delete collection NAME; refused while it holds AIPs."""
    from repository.catalog.collections import delete_collection
    with _session() as session:
        delete_collection(session, name)
    click.echo(f"deleted collection {name}")


COMMANDS = (collection,)
