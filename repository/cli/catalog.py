"""`kho catalog …`: the catalogue database (schema upgrades)."""
from __future__ import annotations

import click

from repository.config import load_settings


@click.group(short_help="The catalogue database: upgrade it, rebuild it from storage.")
def catalog() -> None:
    """The catalogue database: bring it up to date, rebuild it from storage."""


@catalog.command(short_help="Apply the Alembic migrations not yet applied.")
def upgrade() -> None:
    """Apply every Alembic migration not yet applied (KHO_DATABASE_URL, else the SQLite file)."""
    from repository.catalog import open_catalog
    db = open_catalog(load_settings().catalog_url)
    try:
        before = db.current_revision()
        after = db.upgrade()
    finally:
        db.dispose()
    if before == after:
        click.echo(f"catalogue {db.url} already at revision {after}")
    else:
        click.echo(f"catalogue {db.url} upgraded from {before or 'empty'} to {after}")


@catalog.command(short_help="Recreate the catalogue from the objects in storage.")
@click.option("--force", is_flag=True, help="Clear the AIPs and events already catalogued first.")
def rebuild(force: bool) -> None:
    """Recreate the catalogue from the OCFL objects in every storage location."""
    from repository.catalog import open_catalog
    from repository.catalog.rebuild import rebuild_catalog
    settings = load_settings()
    db = open_catalog(settings.catalog_url)
    db.upgrade()
    from repository.fixity.history import restore_histories
    from repository.storage import load_locations
    report = rebuild_catalog(settings, db, force=force)
    # The fixity room restores its own tables: the catalogue room knows no fixity.
    checks, fixity_problems = restore_histories(db, load_locations(settings))
    report.problems.extend(fixity_problems)
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    for name in report.closed:
        click.echo(f"warning: collection {name!r} has no record in storage, so it was restored "
                   "as restricted; set its access again (PATCH /api/v1/collections/NAME)",
                   err=True)
    click.echo(f"rebuilt {report.aips} AIPs, {report.collections} collection records and "
               f"{report.events} events ({report.journaled} from the event journal) and "
               f"{checks} fixity checks from storage")
    raise SystemExit(1 if report.problems else 0)


COMMANDS = (catalog,)
