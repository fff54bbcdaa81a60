"""`kho serve`: the web app on the embedded default."""
from __future__ import annotations

import click

from repository.config import load_settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (KHO_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (KHO_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the web pages, the HTTP API, IIIF and the viewer."""
    from repository.cli.where import warn_if_empty, where_lines
    from repository.web import create_app
    settings = load_settings()
    for line in where_lines(settings):
        click.echo(f"kho: {line}", err=True)
    app = create_app(settings)
    warn_if_empty(settings, app.extensions["kho"].catalog)
    if settings.fixity_scheduler_in_serve:
        # Fixity hook: the scheduler runs in-process on the embedded default; leases in the
        # catalogue keep several server processes from checking the same AIP at once.
        from repository.fixity.schedule import start_background_scheduler
        start_background_scheduler(settings, app.extensions["kho"].catalog)
    if settings.union_in_serve:
        # Each union catalogue source is harvested on its own interval (a lease per source
        # keeps several server processes from harvesting the same one).
        from repository.union.schedule import start_background_harvester
        start_background_harvester(settings, app.extensions["kho"].catalog)
    app.run(host=host or settings.host, port=port or settings.port, threaded=True)


COMMANDS = (serve,)
