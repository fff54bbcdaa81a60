"""OAI-PMH 2.0 at /oai (GET and POST): HTTP in, access/oai.py's answer out."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request, stream_with_context

from repository.access.oai import OaiProvider, iter_chunks

blueprint = Blueprint("oai", __name__)


def _provider() -> OaiProvider:
    services = current_app.extensions["kho"]
    settings = services.settings
    root = settings.base_url.rstrip("/") if settings.base_url else request.url_root.rstrip("/")
    return OaiProvider(settings, services.catalog, f"{root}/oai")


@blueprint.route("/oai", methods=["GET", "POST"])
def oai():
    """§3.1.1.2: POST carries the arguments as application/x-www-form-urlencoded."""
    source = request.form if request.method == "POST" else request.args
    arguments = list(source.items(multi=True))
    if request.method == "POST" and request.args:  # arguments in both places are ambiguous
        arguments += list(request.args.items(multi=True))
    chunks = _provider().respond(arguments)
    return Response(stream_with_context(iter_chunks(chunks)),
                    content_type="text/xml; charset=utf-8")
