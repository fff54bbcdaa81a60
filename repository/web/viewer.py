"""The researcher's viewer: ``/view/<aip-id>`` opens the AIP's IIIF manifest in Mirador.

Mirador is served from ``iiif/node_modules/mirador/dist`` (installed by ``make viewer``
from the npm registry), so the page needs no CDN and works offline.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, render_template, request, send_from_directory

blueprint = Blueprint("viewer", __name__, template_folder="templates")

# The UMD bundle of Mirador 4, which defines the global `Mirador`.
MIRADOR_BUNDLE = "mirador.min.js"
MIRADOR_DIST = Path(__file__).resolve().parents[2] / "iiif" / "node_modules" / "mirador" / "dist"


@blueprint.get("/view/<aip_id>")
def view(aip_id: str):
    manifest_url = f"{request.url_root.rstrip('/')}/iiif/3/{aip_id}/manifest"
    return render_template("viewer/view.html", aip_id=aip_id, manifest_url=manifest_url,
                           mirador_bundle=MIRADOR_BUNDLE)


@blueprint.get("/viewer-assets/<path:filename>")
def assets(filename: str):
    if not MIRADOR_DIST.is_dir():
        abort(404, "Mirador is not installed: run `make viewer`")
    # A week: the file name does not carry a version, but it changes only on upgrade.
    return send_from_directory(MIRADOR_DIST, filename, max_age=7 * 86400)
