"""`kho deposit list`: deposits made over HTTP and where each one stands."""
from __future__ import annotations

import json

import click

from repository.config import load_settings


@click.group()
def deposit() -> None:
    """Deposits made over HTTP (POST /api/v1/deposits)."""


@deposit.command("list", short_help="Deposits, newest first, with their status.")
@click.option("--user", "depositor", default=None, metavar="NAME", help="Only this depositor's.")
@click.option("--status", default=None,
              type=click.Choice(("received", "validating", "storing", "done", "failed")),
              help="Only deposits in this state.")
@click.option("--limit", type=int, default=50, show_default=True, help="Show at most N.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def list_(depositor: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """Deposits, newest first: when, who, status, collection, AIP or message."""
    from repository.catalog import open_catalog
    from repository.ingest.deposits import list_deposits
    catalog = open_catalog(load_settings().catalog_url)
    try:
        catalog.upgrade()
        items, total = list_deposits(catalog, depositor=depositor, status=status, limit=limit)
    finally:
        catalog.dispose()
    if as_json:
        click.echo(json.dumps({"deposits": items, "total": total}, ensure_ascii=False, indent=2))
        return
    for d in items:
        outcome = d["aip"] or (d["message"].splitlines() or [""])[0]
        click.echo(f"{d['created'][:19]}\t{d['identifier']}\t{d['depositor']}\t{d['status']}\t"
                   f"{d['collection']}\t{outcome}")
    if total > len(items):
        click.echo(f"({len(items)} of {total} shown; --limit N for more)", err=True)


COMMANDS = (deposit,)
