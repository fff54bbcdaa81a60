"""The web door: an app factory and one blueprint per user group or protocol."""
from __future__ import annotations

import importlib

from flask import Flask

from repository.config import Settings, load_settings

# Blueprint modules, each exporting `blueprint`; a missing one is an area not built yet.
BLUEPRINT_MODULES = ("pages", "api", "deposit", "iiif", "viewer", "oai", "audit", "admin")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app for ``settings`` (from the environment when not given)."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["KHO_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = None  # deposits enforce their own cap, streaming
    app.json.ensure_ascii = False  # Vietnamese stays readable in JSON
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
