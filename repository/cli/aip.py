"""`kho aip …`: acts on one held AIP (withdrawal)."""
from __future__ import annotations

import click

from repository.config import load_settings


@click.group(short_help="Act on one held AIP: withdraw it.")
def aip() -> None:
    """Act on one AIP held in the repository."""


@aip.command(short_help="Withdraw an AIP (kept in storage, no longer disseminated).")
@click.argument("identifier")
@click.option("--reason", required=True, help="Why it is withdrawn; shown on its page (410).")
@click.option("--agent", default="kho aip withdraw", show_default=True,
              help="Who withdraws it, for the PREMIS deaccession event.")
def withdraw(identifier: str, reason: str, agent: str) -> None:
    """Withdraw AIP IDENTIFIER: a new OCFL version and a PREMIS deaccession event.

    The content stays in storage; the AIP leaves listings and search, its pages answer 410
    with the reason and OAI-PMH harvesters see it as deleted.
    """
    from repository.catalog import open_catalog
    from repository.ingest.amend import withdraw_aip
    settings = load_settings()
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    try:
        version = withdraw_aip(settings, catalog, identifier, agent=agent, reason=reason)
    finally:
        catalog.dispose()
    click.echo(f"withdrew {identifier} (version v{version})")


COMMANDS = (aip,)
