"""`kho fixity run|report|scheduler` and `kho worker`: thin doors onto the fixity room."""
from __future__ import annotations

import json
import re
import sys
import threading
from datetime import date, datetime, timedelta, timezone

import click

from repository.config import load_settings
from repository.errors import UsageError


def parse_age(text: str) -> timedelta:
    """'30d', '12h', '90m', '2w' -> timedelta."""
    match = re.fullmatch(r"\s*(\d+)\s*([wdhm])\s*", text or "")
    if not match:
        raise click.BadParameter(f"{text!r}: give a number and w, d, h or m (e.g. 30d)")
    number, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[unit]: number})


def _open_catalog(settings):
    from repository.catalog import open_catalog
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    return catalog


@click.group(short_help="Fixity: prove stored files unchanged, report, schedule.")
def fixity() -> None:
    """Prove that stored files are unchanged: checks, reports, the scheduler."""


@fixity.command("run")
@click.option("--all", "all_aips", is_flag=True, help="Check every AIP.")
@click.option("--aip", default=None, metavar="ID", help="Check one AIP.")
@click.option("--collection", default=None, metavar="NAME", help="Check one collection's AIPs.")
@click.option("--older-than", default=None, metavar="AGE",
              help="Only AIPs not checked within AGE (30d, 12h, 2w).")
@click.option("--limit", type=int, default=None, help="Check at most N AIPs (oldest-checked first).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
def run(all_aips: bool, aip: str | None, collection: str | None, older_than: str | None,
        limit: int | None, as_json: bool) -> None:
    """Check AIPs now. Exit 0 if every file matched, 1 on any failure or error."""
    from repository.fixity.schedule import select_aips
    if not (all_aips or aip or collection or older_than or limit):
        raise UsageError("say which AIPs: --all, --aip ID, --collection NAME, --older-than or --limit")
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        from repository.cli.where import warn_if_empty
        warn_if_empty(settings, catalog)
        with catalog.session() as session:
            identifiers = select_aips(session, all_aips=all_aips, aip=aip, collection=collection,
                                      older_than=parse_age(older_than) if older_than else None,
                                      limit=limit)
        if aip and not identifiers:
            raise UsageError(f"no AIP {aip!r}")
        if settings.fixity_executor == "celery":
            checks = _run_on_workers(settings, identifiers)
        else:
            from repository.fixity import check_aips
            # This process has no other threads: hash local files in forked processes.
            summary = check_aips(settings, catalog, identifiers, processes=True)
            checks = [{"identifier": c.aip_identifier, "location": c.location,
                       "outcome": c.outcome, "results": [r.as_dict() for r in c.results]}
                      for c in summary.checks]
            checks += [{"identifier": i, "skipped": True} for i in summary.skipped]
    finally:
        catalog.dispose()
    _print_checks(checks, as_json)
    if any(c.get("outcome") not in (None, "success") for c in checks):
        click.get_current_context().exit(1)


def _run_on_workers(settings, identifiers: list[str]) -> list[dict]:
    from repository.fixity.tasks import enqueue_checks, require_workers, wait_for_results
    if not identifiers:
        return []
    require_workers(settings)  # say so at once, rather than wait for a worker that never comes
    return wait_for_results(settings, enqueue_checks(settings, identifiers))


def _print_checks(checks: list[dict], as_json: bool) -> None:
    if as_json:
        files = sum(len(c.get("results", [])) for c in checks)
        click.echo(json.dumps({"aips": checks, "entries": files,
                               "aips_checked": len({c["identifier"] for c in checks}),
                               "ok": all(c.get("outcome") in (None, "success") for c in checks)},
                              ensure_ascii=False, indent=2))
        return
    for check in checks:
        if check.get("skipped"):
            click.echo(f"skipped {check['identifier']}: being checked by another process")
            continue
        for r in check["results"]:
            if r["outcome"] == "ok":
                continue
            digests = (f" {r['algorithm']} expected {r['expected'] or '-'} actual {r['actual'] or '-'}"
                       if r["algorithm"] else "")
            click.echo(f"{r['outcome'].upper()} {check['identifier']} {check['location']} "
                       f"{r['path'] or '(object)'}{digests}: {r['detail']}".rstrip(": "))
    done = [c for c in checks if not c.get("skipped")]
    bad = [c for c in done if c["outcome"] != "success"]
    files = sum(1 for c in done for r in c["results"] if r["outcome"] == "ok")
    aips = len({c["identifier"] for c in done})
    copies = f" ({len(done)} copies)" if aips != len(done) else ""  # replicas: one check each
    # Counted by AIP, however many of its copies failed (each copy's line is printed above).
    failed = {c["identifier"] for c in bad if c["outcome"] == "failure"}
    unreachable = {c["identifier"] for c in bad if c["outcome"] == "error"} - failed
    click.echo(f"{aips} AIPs checked{copies}, {files} files ok, {len(failed)} AIPs failed, "
               f"{len(unreachable)} AIPs with storage errors")


@fixity.command("report", short_help="Report checks, coverage and every failure.")
@click.option("--since", default=None, metavar="DATE", help="First day (YYYY-MM-DD).")
@click.option("--until", default=None, metavar="DATE", help="Last day (YYYY-MM-DD), inclusive.")
@click.option("--collection", default=None, metavar="NAME")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json", "html"]), default="text")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to FILE instead of standard output.")
def report(since: str | None, until: str | None, collection: str | None, fmt: str,
           output: str | None) -> None:
    """What was checked, coverage of the policy, and every failure and error in detail."""
    from repository.fixity.report import build_report, render_report
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        with catalog.session() as session:
            built = build_report(session, settings, since=_day(since), until=_day(until),
                                 collection=collection)
        text = render_report(built, fmt)
    finally:
        catalog.dispose()
    if output:
        with open(output, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        sys.stdout.write(text)


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a date (YYYY-MM-DD)") from None


@fixity.command("scheduler", short_help="Run the fixity scheduler on its own.")
@click.option("--once", is_flag=True, help="Run (or enqueue) one batch, then exit.")
def scheduler(once: bool) -> None:
    """Run the fixity scheduler on its own (one batch every KHO_FIXITY_TICK seconds)."""
    from repository.fixity.schedule import run_batch, run_scheduler
    settings = load_settings()
    catalog = _open_catalog(settings)
    try:
        if once:
            click.echo(json.dumps(run_batch(settings, catalog)))
            return
        stop = threading.Event()
        try:
            run_scheduler(settings, catalog, stop,
                          on_batch=lambda done: click.echo(
                              f"{datetime.now(timezone.utc).isoformat()} {json.dumps(done)}"))
        except KeyboardInterrupt:
            stop.set()
    finally:
        catalog.dispose()


@click.command(short_help="Run deposits, fixity checks and OCR sent to workers (Celery on Redis).")
@click.option("--concurrency", type=int, default=0, help="Worker processes (default: one per core).")
@click.option("--loglevel", default="INFO")
@click.option("--name", default=None, metavar="NAME[@HOST]",
              help="This worker's name, unique on the broker (default: kho-PID@HOST).")
def worker(concurrency: int, loglevel: str, name: str | None) -> None:
    """Run deposits sent by the web server (KHO_INGEST_EXECUTOR=celery), fixity checks
    sent by the scheduler and OCR runs sent after ingest (Celery worker on KHO_REDIS_URL,
    queues KHO_INGEST_QUEUE, KHO_CELERY_QUEUE and KHO_OCR_QUEUE)."""
    import repository.fixity.tasks  # noqa: F401 - registers the fixity check with the worker
    from repository.workers import run_worker
    import repository.ingest.tasks  # noqa: F401 - registers the deposit task with the worker
    import repository.text.tasks  # noqa: F401 - registers the OCR task with the worker
    settings = load_settings()
    _open_catalog(settings).dispose()  # migrate once, before the processes fork
    run_worker(settings, concurrency=concurrency, loglevel=loglevel, name=name,
               extra_queues=(settings.ingest_queue, settings.ocr_queue))


COMMANDS = (fixity, worker)
