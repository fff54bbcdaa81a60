"""`kho union …`: the union catalogue's sources and their harvests."""
from __future__ import annotations

import click

from repository.config import load_settings


def _catalog():
    from repository.catalog import open_catalog
    settings = load_settings()
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    return settings, catalog


@click.group(short_help="Harvest other libraries into the union catalogue (OAI-PMH).")
def union() -> None:
    """The union catalogue: libraries whose OAI-PMH providers Kho harvests."""


@union.command(short_help="Register a library's OAI-PMH provider.")
@click.argument("name")
@click.argument("base_url")
@click.option("--set", "set_spec", default=None, help="Harvest only this set (setSpec).")
@click.option("--prefix", "metadata_prefix", default="oai_dc", show_default=True,
              help="metadataPrefix to harvest.")
@click.option("--every", "interval_hours", type=int, default=None, metavar="HOURS",
              help="Hours between scheduled harvests (default KHO_UNION_INTERVAL_HOURS).")
def add(name: str, base_url: str, set_spec: str | None, metadata_prefix: str,
        interval_hours: int | None) -> None:
    """Register source NAME at BASE_URL (http or https), harvested by `kho serve`."""
    from repository.union import add_source
    settings, catalog = _catalog()
    try:
        source = add_source(catalog, settings, name, base_url, set_spec=set_spec,
                            metadata_prefix=metadata_prefix, interval_hours=interval_hours)
    finally:
        catalog.dispose()
    click.echo(f"added {source.name}: {source.base_url} (every {source.interval_hours} h)")


@union.command("list", short_help="The sources, their last harvest and its report.")
def list_() -> None:
    """Each source: base URL, set, interval, last harvest and its report."""
    from repository.union import last_harvest, list_sources
    _, catalog = _catalog()
    try:
        with catalog.session() as session:
            for source in list_sources(session):
                last = last_harvest(session, source)
                report = "never harvested" if last is None else (
                    f"last {last.status} {last.started_at:%Y-%m-%d %H:%M} UTC: added "
                    f"{last.added}, updated {last.updated}, deleted {last.deleted}, "
                    f"errors {len(last.errors or [])}")
                scope = f" set {source.set_spec}" if source.set_spec else ""
                click.echo(f"{source.name}\t{source.base_url}{scope} "
                           f"({source.metadata_prefix}, every {source.interval_hours} h)\t{report}")
    finally:
        catalog.dispose()


@union.command(short_help="Harvest one source, or all, now.")
@click.argument("name", required=False)
@click.option("--full", is_flag=True,
              help="Harvest everything again and reconcile deletions with ListIdentifiers.")
def harvest(name: str | None, full: bool) -> None:
    """Harvest source NAME (every source without it); exit 1 if any failed."""
    from repository.union import harvest_all, harvest_source
    settings, catalog = _catalog()
    try:
        reports = [harvest_source(settings, catalog, name, full=full)] if name else \
            harvest_all(settings, catalog, full=full)
    finally:
        catalog.dispose()
    for report in reports:
        for message in report.errors:
            click.echo(f"error: {report.source}: {message}", err=True)
        click.echo(str(report))
    raise SystemExit(1 if any(r.status != "success" for r in reports) else 0)


COMMANDS = (union,)
