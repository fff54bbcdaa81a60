"""`kho ingest`: validate a bag and store it as an AIP."""
from __future__ import annotations

import json
import sys

import click

from repository.config import load_settings
from repository.errors import PackageInvalid, UnsafeArchive

# Below this many payload bytes a progress bar only flickers.
PROGRESS_MIN_BYTES = 64 * 1024 * 1024


@click.command(short_help="Validate a bag and store it as an AIP.")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--collection", required=True, help="Collection the AIP belongs to (made first with `kho collection add`).")
@click.option("--location", default=None, help="Storage location name (default KHO_DEFAULT_LOCATION).")
@click.option("--access", default=None, metavar="public|restricted|embargoed:YYYY-MM-DD",
              help="Who may read the AIP (default KHO_DEFAULT_ACCESS).")
@click.option("--new-version", is_flag=True,
              help="Store a re-deposit of a held bag as that AIP's next version.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
def ingest(path: str, collection: str, location: str | None, access: str | None,
           new_version: bool, as_json: bool) -> None:
    """Validate the bag at PATH and store it as an AIP; prints the AIP identifier last."""
    from pathlib import Path

    from repository.catalog import open_catalog
    from repository.ingest.pipeline import ingest_package

    settings = load_settings()
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    bar = _ProgressBar() if sys.stderr.isatty() and not as_json else None
    try:
        result = ingest_package(Path(path), settings=settings, catalog=catalog,
                                collection=collection, location=location, access=access,
                                new_version=new_version, progress=bar.update if bar else None,
                                on_total=bar.start if bar else None)
    except (PackageInvalid, UnsafeArchive) as exc:
        report = exc.report if isinstance(exc, PackageInvalid) else None
        if report is None:
            from repository.errors import ValidationReport
            report = ValidationReport()
            report.error(exc.code, exc.path, exc.message)
        if as_json:
            click.echo(json.dumps({"ingested": False, **report.as_dict()}, ensure_ascii=False,
                                  indent=2))
        else:
            if report.summary:
                click.echo(report.summary, err=True)
            for problem in report.errors + report.warnings:
                click.echo(str(problem), err=True)
        raise SystemExit(1)
    finally:
        if bar:
            bar.close()
    ocr = _text_of_pages(settings, catalog, result.identifier, quiet=as_json)
    if as_json:
        click.echo(json.dumps({"ingested": True, **result.as_dict(), "ocr": ocr},
                              ensure_ascii=False, indent=2))
        return
    for warning in result.warnings:
        click.echo(str(warning), err=True)
    click.echo(f"stored {result.file_count} files ({result.total_bytes} bytes) as version "
               f"v{result.version} in location {result.location!r} at {result.object_root}")
    click.echo(result.identifier)


def _text_of_pages(settings, catalog, identifier: str, *, quiet: bool) -> dict | None:
    """Transcriptions indexed, OCR run (or enqueued) as configured; its summary, or None."""
    from repository.errors import KhoError
    from repository.text import after_ingest, latest_job
    try:
        job = after_ingest(settings, catalog, identifier)
    except KhoError as exc:  # the AIP is stored; its text can be made later (kho text ocr)
        if not quiet:
            click.echo(f"warning: text of the pages not made: {exc}", err=True)
        summary = latest_job(catalog, identifier)
        return summary.as_dict() if summary else {"status": "failed", "message": str(exc)}
    if job is None:
        return None
    summary = latest_job(catalog, identifier)
    if not quiet:
        for failure in summary.failures:
            click.echo(f"warning: OCR of {failure['page']}: {failure['message']}", err=True)
        click.echo(f"OCR: {summary.message or summary.status} ({summary.languages})", err=True)
    return summary.as_dict()


class _ProgressBar:
    """A byte-counting bar on stderr while a large bag is stored; nothing for small ones."""

    def __init__(self):
        self._bar = None

    def start(self, total: int) -> None:
        if total >= PROGRESS_MIN_BYTES:
            self._bar = click.progressbar(length=total, label="storing", file=sys.stderr)
            self._bar.__enter__()

    def update(self, n: int) -> None:
        if self._bar:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar:
            self._bar.__exit__(None, None, None)


COMMANDS = (ingest,)
