"""The web door: an app factory and one blueprint per user group or protocol."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from repository.access.rights import AuthenticationRequired
from repository.config import Settings, load_settings
from repository.web.requests import install_request_decoding
from repository.errors import (Conflict, DuplicatePackage, Gone, KhoError, NotFound,
                               PackageInvalid, PermissionDenied, StorageUnavailable, UsageError,
                               WorkersUnavailable)

# Blueprint modules, each exporting `blueprint`; a missing one is an area not built yet.
BLUEPRINT_MODULES = ("signin", "pages", "api", "search", "deposit", "archive", "iiif",
                     "iiif_image", "viewer", "oai", "union", "audit", "admin", "holdings", "text")
# Machine doors answer errors in JSON; every other path is a page a person reads.
JSON_PREFIXES = ("/api/", "/iiif/", "/oai")

# Kho's errors as HTTP statuses; the API's answers are JSON with a message, pages get HTML.
ERROR_STATUS: tuple[tuple[type[KhoError], int], ...] = (
    (AuthenticationRequired, 401), (PermissionDenied, 403), (Gone, 410), (NotFound, 404),
    (DuplicatePackage, 409), (Conflict, 409), (PackageInvalid, 422), (UsageError, 400),
    (StorageUnavailable, 503), (WorkersUnavailable, 503), (KhoError, 500),
)


@dataclass
class KhoServices:
    """What the blueprints share, built once per app: settings and the catalogue."""

    settings: Settings
    catalog: Any
    extras: dict[str, Any] = field(default_factory=dict)


def create_app(settings: Settings | None = None, *, upgrade_database: bool = True) -> Flask:
    """Build the Flask app for ``settings`` (from the environment when not given)."""
    from repository.catalog import open_catalog

    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = open_catalog(settings.catalog_url)
    if upgrade_database:
        catalog.upgrade()
    app = Flask(__name__)
    app.config["KHO_SETTINGS"] = settings
    # Blueprints may tidy their own rows at start only in a database brought up to date.
    app.config["KHO_DATABASE_READY"] = upgrade_database
    app.config["MAX_CONTENT_LENGTH"] = None  # deposits enforce their own cap, streaming
    app.json.ensure_ascii = False  # Vietnamese stays readable in JSON
    app.extensions["kho"] = KhoServices(settings, catalog)
    install_request_decoding(app)  # UTF-8, NFC names at every door (web/requests.py)
    from repository.web.i18n import init_i18n
    init_i18n(app)
    _register_error_handlers(app)
    from repository.web import inputs, security
    security.init_app(app)
    inputs.init_app(app)
    for name in BLUEPRINT_MODULES:
        try:
            module = importlib.import_module(f"repository.web.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"repository.web.{name}":
                raise
            continue
        init = getattr(module, "init_app", None)
        if init:
            init(app)
        app.register_blueprint(module.blueprint)
    return app


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.path == "/oai" \
        or request.accept_mimetypes.best == "application/json"


def error_page(status: int, detail: str = ""):
    """The reader's-language HTML page for an error status (401 offers to sign in)."""
    return render_template("errors/error.html", status=status, detail=detail), status


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(KhoError)
    def kho_error(exc: KhoError):
        status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
        if not wants_json():
            return error_page(status, exc.http_message())
        body: dict[str, Any] = {"error": type(exc).__name__, "message": exc.http_message()}
        if isinstance(exc, PackageInvalid):
            body["report"] = exc.report.as_dict()
        if isinstance(exc, Gone):
            body["reason"] = exc.reason
        if isinstance(exc, DuplicatePackage):
            body["existing_aip"] = exc.existing_aip
        response = jsonify(body)
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="kho"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not wants_json():
            return error_page(exc.code or 500, exc.description or "")
        response = jsonify({"error": exc.name, "message": exc.description})
        response.status_code = exc.code or 500
        for name, value in exc.get_headers():  # Allow on 405, Location on redirects …
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
