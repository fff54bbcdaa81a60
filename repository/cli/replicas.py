"""`kho replicate` and `kho repair`: thin doors onto copies (catalog/copies.py,
storage/replicas.py) and repair (fixity/repair.py)."""
from __future__ import annotations

import json

import click

from repository.config import load_settings
from repository.errors import UsageError


def _open_catalog(settings):
    from repository.catalog import open_catalog
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    return catalog


@click.command(short_help="Bring AIPs' copies up to the replication policy.")
@click.option("--aip", "aip_id", default=None, metavar="ID", help="Only this AIP.")
@click.option("--all", "all_aips", is_flag=True, help="Every AIP.")
@click.option("--location", default=None, metavar="NAME",
              help="Make (or finish) copies in this location only, policy or not.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.option("--agent", default="kho replicate", show_default=True,
              help="Who acts, for the PREMIS replication events.")
def replicate(aip_id: str | None, all_aips: bool, location: str | None, as_json: bool,
              agent: str) -> None:
    """Copy AIPs from their primary location to every location storage_config/replication.toml
    names for their collection, and verify each copy against the inventory.

    Safe to run again: copies verified at the current version are left alone, and a copy
    interrupted by a crash is finished. Exit 0 when every copy is verified, 1 if any failed.
    """
    from sqlalchemy import select

    from repository.catalog import Aip
    from repository.catalog.copies import replicate_aips
    if bool(aip_id) == all_aips:
        raise UsageError("say which AIPs: --aip ID or --all")
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            query = select(Aip.identifier).order_by(Aip.id)
            if aip_id:
                query = query.where(Aip.identifier == aip_id)
            identifiers = list(session.scalars(query))
        if aip_id and not identifiers:
            raise UsageError(f"no AIP {aip_id!r}")
        summary = replicate_aips(settings, catalog, identifiers, agent=agent,
                                 only_location=location)
    finally:
        catalog.dispose()
    if as_json:
        click.echo(json.dumps({
            "copies": [{"aip": i, **o.as_dict()} for i, o in summary.outcomes],
            "up_to_date": [{"aip": i, "location": loc} for i, loc in summary.up_to_date]},
            ensure_ascii=False, indent=2))
    else:
        for identifier, outcome in summary.outcomes:
            click.echo(f"{outcome.state.upper()} {identifier} {outcome.location} "
                       f"v{outcome.version}: {outcome.files_copied} files "
                       f"({outcome.bytes_copied} bytes) copied, {outcome.files_verified} verified"
                       + (f": {outcome.detail}" if outcome.detail else ""))
        click.echo(f"{len(summary.outcomes)} copies made or finished, "
                   f"{len(summary.up_to_date)} already verified")
    if summary.failed:
        click.get_current_context().exit(1)


@click.command(short_help="Repair an AIP's damaged copy from one that passes its check.")
@click.argument("identifier")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.option("--agent", default="kho repair", show_default=True,
              help="Who acts, for the PREMIS events.")
def repair(identifier: str, as_json: bool, agent: str) -> None:
    """Check every copy of AIP IDENTIFIER now; mend each failed copy from one that passed
    (damaged files are moved to the location's quarantine, never deleted).

    Exit 0 when repaired or nothing needed repair, 1 when it could not be repaired (no copy
    passed: an alert is sent and nothing changes).
    """
    from repository.fixity.repair import repair_aip
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        result = repair_aip(settings, catalog, identifier, agent=agent)
    finally:
        catalog.dispose()
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{result.outcome}: AIP {identifier}"
                   + (f" (from the copy in {result.source})" if result.source else ""))
        for where, paths in result.repaired.items():
            for path in paths:
                click.echo(f"  repaired {where}: {path}")
        for where, keys in result.quarantined.items():
            for key in keys:
                click.echo(f"  quarantined {where}: {key}")
        for where, reasons in result.unrepaired.items():
            for reason in reasons:
                click.echo(f"  NOT REPAIRED {where}: {reason}")
    if not result.ok:
        click.get_current_context().exit(1)


COMMANDS = (replicate, repair)
