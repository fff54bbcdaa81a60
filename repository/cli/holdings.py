"""`kho holdings …`: the digitisation programme's register, statuses, targets and progress."""
from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import click

from repository.cli import agent_name
from repository.config import load_settings
from repository.errors import RegisterInvalid, UsageError


def _open_catalog(settings):
    from repository.catalog import open_catalog
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    return catalog


@click.group(short_help="Holdings register: import, statuses, targets, progress report.")
def holdings() -> None:
    """The digitisation programme: each library's register of rare and old holdings, and
    progress toward the target (docs/holdings.md)."""


@holdings.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--library", required=True, metavar="NAME", help="The library the register belongs to.")
@click.option("--dry-run", is_flag=True, help="Check every row and say what would change; write nothing.")
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "marc", "marcxml"]), default="auto",
              help="Read FILE as CSV, MARC 21 (ISO 2709) or MARCXML (default: from its content).")
@click.option("--collection", default=None, metavar="NAME",
              help="Collection for rows (records) that name none.")
@click.option("--agent", default=None, help="Who is recorded for status changes (default: cli:<login>).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document on stdout.")
def import_(file: str, library: str, dry_run: bool, fmt: str, collection: str | None,
            agent: str | None, as_json: bool) -> None:
    """Import a register (CSV or MARC), all or nothing; items are updated by shelfmark.
    Exit 1 with every bad row (row number, column, reason) if any row is wrong."""
    from repository.holdings.reading import read_register
    from repository.holdings.register import import_register
    settings = load_settings()
    data = Path(file).read_bytes()
    try:
        records, how = read_register(data, name=Path(file).name, fmt=fmt,
                                     rare_before=settings.holdings_rare_before)
    except RegisterInvalid as exc:
        if as_json:
            click.echo(json.dumps({"imported": False, "message": str(exc),
                                   "problems": [p.as_dict() for p in exc.problems]},
                                  ensure_ascii=False, indent=2))
        else:
            for problem in exc.problems:
                click.echo(f"error: {Path(file).name}: {problem}" if problem.row else
                           f"error: {problem.message}" if not problem.column else
                           f"error: {Path(file).name}: column {problem.column!r}: {problem.message}",
                           err=True)
            click.echo(f"error: {exc}", err=True)
        raise SystemExit(1)
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            via = "csv" if how.startswith("CSV") else "marc"
            summary = import_register(session, library, records, agent=agent_name(agent), via=via,
                                      dry_run=dry_run, default_collection=collection)
            summary.encoding = how
            if dry_run:
                session.rollback()
    finally:
        catalog.dispose()
    if as_json:
        click.echo(json.dumps({"imported": not dry_run, **summary.as_dict()}, ensure_ascii=False, indent=2))
        return
    verb = "would create" if dry_run else "created"
    click.echo(f"{summary.library}: {verb} {summary.created} items, "
               f"{'would update' if dry_run else 'updated'} {summary.updated}, "
               f"{summary.status_changes} status changes"
               + (f", new collections: {', '.join(summary.new_collections)}" if summary.new_collections else "")
               + f" (read as {how})" + (" — dry run, nothing written" if dry_run else ""))


@holdings.command("template")
def template() -> None:
    """Print the CSV template: Vietnamese headings and one example row (docs/holdings.md)."""
    from repository.holdings.csv_register import template_csv
    sys.stdout.write(template_csv())


@holdings.command("status")
@click.argument("shelfmarks", nargs=-1, required=True)
@click.option("--library", required=True, metavar="NAME")
@click.option("--to", "status", required=True, metavar="STATUS",
              help="not started, selected, being scanned or scanned (English or Vietnamese).")
@click.option("--note", default="", help="Why, for the history.")
@click.option("--agent", default=None, help="Who is recorded (default: cli:<login>).")
def status(shelfmarks: tuple[str, ...], library: str, status: str, note: str, agent: str | None) -> None:
    """Move items to a status set by staff; each change is recorded with who and when."""
    from repository.holdings.register import set_status
    from repository.holdings.vocabulary import parse_status
    try:
        code = parse_status(status)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            for shelfmark in shelfmarks:
                set_status(session, library, shelfmark, code, agent=agent_name(agent), via="cli", note=note)
    finally:
        catalog.dispose()
    click.echo(f"{len(shelfmarks)} item(s) now {code.replace('_', ' ')}")


@holdings.command("show")
@click.argument("shelfmark")
@click.option("--library", required=True, metavar="NAME")
def show(shelfmark: str, library: str) -> None:
    """One item as JSON: its fields, its status, the AIPs linked to it and its history."""
    from repository.holdings.progress import item_document
    from repository.holdings.register import find_item
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            document = item_document(session, find_item(session, library, shelfmark))
    finally:
        catalog.dispose()
    click.echo(json.dumps(document, ensure_ascii=False, indent=2))


@holdings.command("target")
@click.option("--library", required=True, metavar="NAME")
@click.option("--collection", default=None, metavar="NAME")
@click.option("--share", type=float, required=True, help="Share of rare items to preserve: 0.8 for 80%.")
@click.option("--by", "deadline", default=None, metavar="YYYY-MM-DD", help="When it is due.")
def target(library: str, collection: str | None, share: float, deadline: str | None) -> None:
    """Give a library or one of its collections its own target (the programme's target is
    KHO_HOLDINGS_TARGET by KHO_HOLDINGS_DEADLINE)."""
    from repository.holdings.register import set_target
    try:
        due = date.fromisoformat(deadline) if deadline else None
    except ValueError:
        raise UsageError(f"--by: {deadline!r} is not a date (YYYY-MM-DD)") from None
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            set_target(session, share, due, library=library, collection=collection)
    finally:
        catalog.dispose()
    click.echo(f"target for {library}{' / ' + collection if collection else ''}: "
               f"{share:.0%}{' by ' + deadline if deadline else ''}")


@holdings.command("link")
@click.option("--missing", is_flag=True, help="Only AIPs that carry no shelfmark yet.")
def link(missing: bool) -> None:
    """Read the link field (KHO_HOLDINGS_LINK_FIELD) of every AIP's bag-info.txt from
    storage again: for AIPs ingested before, or after the field was changed."""
    from repository.holdings.links import link_stored_aips
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            done = link_stored_aips(session, settings, only_missing=missing)
    finally:
        catalog.dispose()
    click.echo(f"{done['aips']} AIPs read, {done['linked']} carry a shelfmark in "
               f"{settings.holdings_link_field}, {done['unreadable']} could not be read")
    if done["unreadable"]:
        raise SystemExit(1)


@holdings.command("report")
@click.option("--library", default=None, metavar="NAME", help="One library only.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json", "xlsx"]), default="text")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
def report(library: str | None, fmt: str, output: str | None) -> None:
    """Progress toward the target, overall, per library and per collection."""
    from repository.holdings.export import render_report
    from repository.holdings.progress import build_report
    if fmt == "xlsx" and not output and sys.stdout.isatty():
        raise UsageError("an XLSX workbook is not for a terminal: give --output FILE.xlsx")
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            built = build_report(session, settings, library=library)
    finally:
        catalog.dispose()
    data = render_report(built, fmt)
    if output:
        Path(output).write_bytes(data)
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


COMMANDS = (holdings,)
