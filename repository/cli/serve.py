"""`kho serve`: the web app on the embedded default."""
from __future__ import annotations

import click

from repository.config import load_settings


@click.command()
@click.option("--host", default=None, help="Address to listen on (KHO_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (KHO_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Serve the web interface, HTTP API, IIIF and OAI-PMH."""
    from repository.web import create_app
    settings = load_settings()
    app = create_app(settings)
    app.run(host=host or settings.host, port=port or settings.port, threaded=True)


COMMANDS = (serve,)
