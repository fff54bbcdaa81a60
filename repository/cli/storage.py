"""`kho storage list` and `kho storage gc`: the storage locations and their clean-up."""
from __future__ import annotations

import re
from datetime import timedelta

import click

from repository.config import load_settings
from repository.errors import StorageError, StorageUnavailable, UsageError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """'90s', '30m', '1h', '2d', '1w' (or '0') as a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise UsageError(f"cannot read duration {text!r}; use e.g. 30m, 1h, 2d")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return timedelta(**{_UNITS[unit]: value})


@click.group(short_help="Storage locations: list them, clean up incomplete objects.")
def storage() -> None:
    """Storage locations (storage_config/*.toml) and their OCFL objects."""


@storage.command("list", short_help="Show each location and whether it is reachable.")
def list_locations() -> None:
    """Show each location, its kind, where it keeps objects, and whether it is reachable."""
    from repository.storage.locations import load_locations
    settings = load_settings()
    for name, location in sorted(load_locations(settings).items()):
        try:
            location.check_reachable()
            status = "reachable"
        except StorageError as exc:
            status = f"UNREACHABLE: {exc}"
        marker = " (default)" if name == settings.default_location else ""
        click.echo(f"{name}{marker}\t{location.kind}\t{location.describe()}\t{status}")


@storage.command("gc", short_help="Remove incomplete OCFL objects and versions, and abandoned staging.")
@click.option("--location", "location_name", default=None,
              help="Only this location (default: every location).")
@click.option("--older-than", default="1h", show_default=True,
              help="Grace period: leave anything written more recently (30m, 1h, 2d).")
@click.option("--dry-run", is_flag=True, help="Only show what would be removed.")
@click.option("--register", is_flag=True,
              help="Catalogue complete objects the catalogue does not know (an ingest killed "
                   "before its catalogue commit) instead of only listing them.")
def gc(location_name: str | None, older_than: str, dry_run: bool, register: bool) -> None:
    """Remove incomplete OCFL objects (no root inventory) and unfinished versions, and what
    crashed processes left in staging (unpack folders, uploads of no unfinished deposit)."""
    from repository.storage.locations import get_location, load_locations
    from repository.storage.ocfl import OcflStore
    settings = load_settings()
    grace = parse_duration(older_than)
    if location_name:
        locations = {location_name: get_location(settings, location_name)}
    else:
        locations = load_locations(settings)
    verb = "would remove" if dry_run else "removed"
    total, skipped = 0, []
    for name, location in sorted(locations.items()):
        try:
            removed = OcflStore(location).collect_garbage(grace, dry_run=dry_run)
        except StorageError as exc:
            click.echo(f"{name}: skipped: {exc}", err=True)
            skipped.append(name)
            continue
        for item in removed:
            click.echo(f"{name}: {verb} {item.prefix} ({item.reason}, "
                       f"last written {item.last_modified:%Y-%m-%d %H:%M:%S %Z})")
        total += len(removed)
    click.echo(f"{verb} {total} incomplete item(s)")
    from repository.catalog import open_catalog
    from repository.catalog.reconcile import register_object, uncatalogued_objects
    from repository.ingest.staging import clean_staging
    catalog = open_catalog(settings.catalog_url)
    try:
        catalog.upgrade()
        from repository.ingest.deposits import reconcile_interrupted_deposits
        if not dry_run:
            reconcile_interrupted_deposits(settings, catalog)
        staged = clean_staging(settings, catalog, dry_run=dry_run)
        for name, location in sorted(locations.items()):
            if name in skipped:
                continue
            for object_id in uncatalogued_objects(catalog, name, location):
                if register and not dry_run:
                    aip = register_object(settings, catalog, name, location, object_id)
                    click.echo(f"{name}: registered {object_id} as AIP {aip} (complete in "
                               "storage, missing from the catalogue)")
                else:
                    click.echo(f"{name}: uncatalogued {object_id}: complete in storage but not "
                               "in the catalogue; `kho storage gc --register` catalogues it")
    finally:
        catalog.dispose()
    for path, size in staged:
        click.echo(f"staging: {verb} {path.relative_to(settings.staging_dir)} ({size} bytes)")
    click.echo(f"staging: {verb} {len(staged)} abandoned item(s), "
               f"{sum(size for _, size in staged)} bytes")
    if skipped:
        raise StorageUnavailable(f"could not clean {', '.join(skipped)}; run gc again later")


COMMANDS = (storage,)
