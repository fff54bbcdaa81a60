"""The researcher's viewer: ``/view/<aip-id>`` opens the AIP's IIIF manifest in Mirador.

Mirador is served from ``iiif/node_modules/mirador/dist`` (installed by ``make viewer``
from the npm registry), so the page needs no CDN and works offline. The page answers
401/403 like the manifest it opens; ``?token=`` signs the browser in with an HttpOnly
cookie (then redirects to the bare URL, so the token leaves the address bar and history).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from flask import (Blueprint, abort, current_app, redirect, render_template, request,
                   send_from_directory)

from repository.access.presentation import primary_label
from repository.catalog import get_aip
from repository.web.auth import TOKEN_COOKIE, check_reader

# Static: the page's own script and style (Kho's CSP allows no inline script).
blueprint = Blueprint("viewer", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/viewer-static")

# The UMD bundle of Mirador 4, which defines the global `Mirador`.
MIRADOR_BUNDLE = "mirador.min.js"
MIRADOR_DIST = Path(__file__).resolve().parents[2] / "iiif" / "node_modules" / "mirador" / "dist"
COOKIE_MAX_AGE = 12 * 3600  # a reading session; the token itself stays valid


@blueprint.get("/view/<aip_id>")
def view(aip_id: str):
    services = current_app.extensions["kho"]
    with services.catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)  # a bad ?token= is refused here (401)
        title = primary_label(aip.dublin_core.record if aip.dublin_core else {}, aip.identifier)
    if "token" in request.args:
        response = redirect(f"{request.script_root}/view/{quote(aip_id, safe='')}", code=303)
        response.set_cookie(TOKEN_COOKIE, request.args["token"].strip(), max_age=COOKIE_MAX_AGE,
                            httponly=True, samesite="Lax", secure=request.is_secure,
                            path=request.script_root or "/")
        response.headers["Cache-Control"] = "private, no-store"
        return response
    base = services.settings.base_url.rstrip("/") or request.url_root.rstrip("/")
    manifest_url = f"{base}/iiif/3/{quote(aip_id, safe='')}/manifest"
    response = current_app.make_response(render_template(
        "viewer/view.html", aip_id=aip_id, title=title, manifest_url=manifest_url,
        mirador_bundle=MIRADOR_BUNDLE))
    return response


@blueprint.get("/viewer-assets/<path:filename>")
def assets(filename: str):
    if not MIRADOR_DIST.is_dir():
        abort(404, "Mirador is not installed: run `make viewer`")
    # A week: the file name does not carry a version, but it changes only on upgrade.
    return send_from_directory(MIRADOR_DIST, filename, max_age=7 * 86400)
