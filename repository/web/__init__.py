"""The web door: an app factory and one blueprint per user group or protocol."""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from repository.access.rights import AuthenticationRequired
from repository.config import Settings, load_settings
from repository.errors import (DuplicatePackage, KhoError, NotFound, PackageInvalid,
                               PermissionDenied, StorageUnavailable, UsageError)

# Blueprint modules, each exporting `blueprint`; a missing one is an area not built yet.
BLUEPRINT_MODULES = ("pages", "api", "search", "deposit", "iiif", "iiif_image", "viewer", "oai", "audit",
                     "admin")

# Kho's errors as HTTP statuses; every error answer is JSON with a message.
ERROR_STATUS: tuple[tuple[type[KhoError], int], ...] = (
    (AuthenticationRequired, 401), (PermissionDenied, 403), (NotFound, 404),
    (DuplicatePackage, 409), (PackageInvalid, 422), (UsageError, 400),
    (StorageUnavailable, 503), (KhoError, 500),
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
    _register_error_handlers(app)
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


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(KhoError)
    def kho_error(exc: KhoError):
        status = next(code for kind, code in ERROR_STATUS if isinstance(exc, kind))
        body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, PackageInvalid):
            body["report"] = exc.report.as_dict()
        if isinstance(exc, DuplicatePackage):
            body["existing_aip"] = exc.existing_aip
        response = jsonify(body)
        response.status_code = status
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="kho"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        response = jsonify({"error": exc.name, "message": exc.description})
        response.status_code = exc.code or 500
        return response
