"""`kho text ocr|status|reindex`: thin doors onto the text room (OCR, transcriptions)."""
from __future__ import annotations

import json
import sys

import click

from repository.config import load_settings


@click.group(short_help="Text of pages: OCR, transcriptions, their status.")
def text() -> None:
    """Text of pages: OCR with Tesseract, transcriptions carried in bags."""


def _catalog(settings):
    from repository.catalog import open_catalog
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    return catalog


@text.command("ocr")
@click.argument("aip")
@click.option("--languages", "-l", default=None, metavar="LANGS",
              help="Tesseract languages (vie, vie+fra); default from KHO_OCR_LANGUAGES.")
@click.option("--force", is_flag=True, help="Read again pages that already have OCR.")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def ocr(aip: str, languages: str | None, force: bool, as_json: bool) -> None:
    """OCR the page images of AIP (a derivative: the AIP is not changed).

    Exit 1 when a page could not be read (each is named on stderr; the others are kept).
    """
    from repository.text.run import ocr_aip
    settings = load_settings()
    catalog = _catalog(settings)
    bar = _Bar() if sys.stderr.isatty() and not as_json else None
    try:
        summary = ocr_aip(settings, catalog, aip, languages=languages, force=force,
                          progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
        catalog.dispose()
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        for failure in summary.failures:
            click.echo(f"error: {failure['page']}: {failure['message']}", err=True)
        click.echo(f"{summary.message} ({summary.languages})")
    if summary.pages_failed:
        raise SystemExit(1)


@text.command("status")
@click.argument("aip")
@click.option("--json", "as_json", is_flag=True)
def status(aip: str, as_json: bool) -> None:
    """Progress of AIP's latest OCR run and the pages that failed."""
    from repository.text.run import latest_job
    settings = load_settings()
    catalog = _catalog(settings)
    try:
        summary = latest_job(catalog, aip)
    finally:
        catalog.dispose()
    if summary is None:
        click.echo("no OCR run yet" if not as_json else "null")
        return
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"{summary.status}: {summary.pages_done + summary.pages_failed}/"
               f"{summary.pages_total} pages ({summary.pages_failed} failed), {summary.languages}")
    for failure in summary.failures:
        click.echo(f"failed: {failure['page']}: {failure['message']}")


@text.command("reindex")
@click.argument("aip")
def reindex(aip: str) -> None:
    """Read AIP's transcriptions (from storage) and its OCR (from the hOCR derivatives)
    into the catalogue again, e.g. after `kho catalog rebuild`; Tesseract is not run."""
    from repository.text.run import index_ocr_derivatives
    from repository.text.transcriptions import index_transcriptions
    settings = load_settings()
    catalog = _catalog(settings)
    try:
        report = index_transcriptions(settings, catalog, aip)
        ocr = index_ocr_derivatives(settings, catalog, aip)
    finally:
        catalog.dispose()
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(f"{report.indexed} transcription(s) and {ocr} OCR page text(s) indexed")


class _Bar:
    """Pages done, on stderr, for long books."""

    def __init__(self):
        self._bar = None
        self._seen = 0

    def update(self, done: int, failed: int, total: int) -> None:
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="OCR", file=sys.stderr)
            self._bar.__enter__()
        now = done + failed
        self._bar.update(now - self._seen)
        self._seen = now

    def close(self) -> None:
        if self._bar:
            self._bar.__exit__(None, None, None)


COMMANDS = (text,)
