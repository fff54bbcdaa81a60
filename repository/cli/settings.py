"""`kho settings`: every setting, its environment variable, its value now, and what it does."""
from __future__ import annotations

import dataclasses

import click

from repository.config import Settings, load_settings


@click.command("settings", short_help="Show every setting, its variable and its value.")
def settings_command() -> None:
    """Show every setting with its environment variable and current value."""
    from repository.cli.where import where_lines
    current = load_settings()
    for line in where_lines(current):
        click.echo(line)
    click.echo()
    for f in dataclasses.fields(Settings):
        value = getattr(current, f.name)
        shown = "(empty)" if value in ("", None) else value
        click.echo(f"{f.metadata['env']}={shown}\n    {f.metadata['doc']}")


COMMANDS = (settings_command,)
