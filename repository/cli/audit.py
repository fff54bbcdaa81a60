"""`kho audit …`: checks an auditor runs on the repository's own records."""
from __future__ import annotations

import click

from repository.cli import agent_name
from repository.config import load_settings


@click.group()
def audit() -> None:
    """Audit the repository's records."""


@audit.command(short_help="Check the PREMIS event log's hash chain.")
@click.option("--expected-head", default=None, metavar="HEX",
              help="A chain head recorded elsewhere (e.g. in storage) that the log must contain.")
@click.option("--ignore-stored-head", is_flag=True,
              help="Do not read the chain head that storage records (e.g. after a catalogue rebuild).")
@click.option("--agent", default=None,
              help="Who the audit page names as having run the check (default: cli:<login>).")
def verify(expected_head: str | None, ignore_stored_head: bool, agent: str | None) -> None:
    """Check the PREMIS event log's hash chain; exit 1 naming the first bad event.

    Unless told otherwise, the newest chain head recorded in storage (written after each
    ingest and fixity run) must be in the log too, so removed newest events are caught.
    The result is kept as the last check that /audit/fixity shows.
    """
    from repository.catalog import open_catalog, verify_chain
    from repository.catalog.chain_checks import record_chain_check
    from repository.catalog.events import as_utc
    settings = load_settings()
    if expected_head is None and not ignore_stored_head:
        from repository.catalog.chain_store import newest_stored_head
        from repository.storage import load_locations
        stored = newest_stored_head(load_locations(settings).values())
        if stored:
            expected_head = stored[0]
            click.echo(f"chain head recorded in storage location {stored[1]}: {expected_head}")
    db = open_catalog(settings.catalog_url)
    try:
        db.upgrade()
        with db.session() as session:
            result = verify_chain(session, expected_head=expected_head)
            try:
                record_chain_check(settings, result, by=agent_name(agent))
            except OSError as exc:  # e.g. run by an account that may not write the data folder
                click.echo(f"warning: the result is not kept for the audit page: {exc}", err=True)
            if result.ok:
                click.echo(f"ok: {result.checked} events, chain head {result.head or '(empty)'}")
                return
            bad = result.first_bad
            if bad is None:
                click.echo(f"FAILED after {result.checked} good events: {result.reason}")
            else:
                click.echo(f"FAILED at event id {bad.id}, identifier {bad.identifier}, "
                           f"type {bad.event_type}, time {as_utc(bad.event_datetime).isoformat()}: "
                           f"{result.reason} ({result.checked} events before it verified)")
    finally:
        db.dispose()
    click.get_current_context().exit(1)


COMMANDS = (audit,)
