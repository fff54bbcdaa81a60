"""`kho export`: one AIP version written out as a BagIt bag (a folder or a .zip)."""
from __future__ import annotations

from pathlib import Path

import click

from repository.config import load_settings


@click.command(short_help="Write an AIP out as a BagIt bag (folder or .zip).")
@click.argument("identifier")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="The OCFL version to export (default: the newest).")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="A folder to create, or a file ending .zip (default: ./ID-vN).")
@click.option("--include-withdrawn", is_flag=True,
              help="Export a withdrawn AIP all the same; its bag-info.txt then says so.")
def export(identifier: str, version: int | None, output: Path | None,
           include_withdrawn: bool) -> None:
    """Write AIP IDENTIFIER (its newest version, or --version N) as a BagIt bag: the deposit
    as it came, Kho's metadata and PREMIS events in kho-metadata/, fresh tag manifests.

    Exit 2 for an unknown AIP, a version it does not have, an output that already exists or
    a withdrawn AIP without --include-withdrawn; exit 1 if a stored file fails its digest.
    """
    from repository.access.export import plan_export, write_bag_folder, write_bag_zip
    from repository.catalog import open_catalog
    settings = load_settings()
    catalog = open_catalog(settings.catalog_url)
    try:
        with catalog.session() as session:
            bag = plan_export(settings, session, identifier, version,
                              allow_withdrawn=include_withdrawn)
        dest = output or Path.cwd() / bag.bag_name
        if dest.suffix.lower() == ".zip":
            write_bag_zip(bag, dest)
        else:
            write_bag_folder(bag, dest)
    finally:
        catalog.dispose()
    click.echo(f"exported {identifier} v{bag.version} to {dest}"
               + (" (withdrawn: noted in bag-info.txt)" if bag.withdrawn else ""))


COMMANDS = (export,)
