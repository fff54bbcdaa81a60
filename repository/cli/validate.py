"""`kho validate`: check a bag folder or archive against BagIt (and a BagIt-Profile)."""
from __future__ import annotations

import json
import sys

import click

from repository.config import load_settings
from repository.errors import UnsafeArchive


@click.command(short_help="Validate a bag (folder, zip or tar) against BagIt.")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--profile", "profile_ref", metavar="FILE|URL|NAME", default=None,
              help="Also check a BagIt-Profile (a file, an https URL, or 'kho-default').")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--allow-fetch", is_flag=True,
              help="Download files listed in fetch.txt (https to public hosts only).")
def validate(path: str, profile_ref: str | None, as_json: bool, allow_fetch: bool) -> None:
    """Validate the bag at PATH (a folder, .zip, .tar, .tar.gz or .tgz).

    Exit 0 if valid (warnings on stderr), 1 if not (every problem on stderr as
    `error: CODE PATH: sentence`), 2 if PATH cannot be used.
    """
    from repository.errors import ValidationReport
    from repository.ingest import validate_path
    settings = load_settings()
    profile = None
    if profile_ref:
        from repository.ingest import load_profile
        profile = load_profile(profile_ref)
    try:
        result = validate_path(path, settings=settings, profile=profile,
                               allow_fetch=allow_fetch)
        report = result.report
    except UnsafeArchive as exc:
        report = ValidationReport()
        report.error(exc.code, exc.path, exc.message)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        if report.summary:
            click.echo(report.summary, err=True)
        for problem in report.errors + report.warnings:
            click.echo(str(problem), err=True)
        if report.valid and sys.stderr.isatty():
            # Only for a person at a terminal: scripts keep reading the exit code and stdout.
            click.echo(f"{path}: a valid bag"
                       + (f" ({len(report.warnings)} warnings)" if report.warnings else ""),
                       err=True)
    raise SystemExit(0 if report.valid else 1)


COMMANDS = (validate,)
