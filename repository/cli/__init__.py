"""The `kho` command: a thin door that turns argv into room calls and results into text.

Each area's commands live in their own module here; this one builds the group.
Exit codes: 0 success, 1 the thing checked is bad (invalid bag, fixity failure), 2 usage.
"""
from __future__ import annotations

import sys

import click

from repository.errors import KhoError, NotFound, UsageError

COMMAND_MODULES = ("validate", "describe", "serve", "ingest", "aip", "storage", "catalog", "users",
                   "settings", "fixity", "audit", "collection", "deposit", "union", "holdings",
                   "text", "search", "export", "replicas")


class KhoGroup(click.Group):
    """Turns Kho's own usage errors into exit 2 and other KhoErrors into exit 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (UsageError, NotFound) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(2)
        except KhoError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)

    # Areas are imported when a command is asked for, so `kho validate` does not pay for
    # importing SQLAlchemy or Flask (half a second per bag when validating many).
    def get_command(self, ctx: click.Context, name: str):
        if name not in self.commands:
            _register(only=name)
        if name not in self.commands:
            _register()
        return super().get_command(ctx, name)

    def list_commands(self, ctx: click.Context):
        _register()
        return super().list_commands(ctx)


def agent_name(agent: str | None) -> str:
    """Who a command records as having acted: ``--agent``, else ``cli:<login>``."""
    import getpass
    try:
        return agent or f"cli:{getpass.getuser()}"
    except Exception:  # no login name (a container without /etc/passwd entry)
        return "cli"


@click.group(cls=KhoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kho")
def kho() -> None:
    """Kho: a digital preservation repository for BagIt deposits."""


def _register(only: str | None = None) -> None:
    import importlib
    for name in COMMAND_MODULES if only is None else [m for m in COMMAND_MODULES if m == only]:
        try:
            module = importlib.import_module(f"repository.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"repository.cli.{name}":
                raise
            continue  # that area is not built yet
        for command in getattr(module, "COMMANDS", ()):
            kho.add_command(command)


def main() -> None:
    kho(prog_name="kho")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
