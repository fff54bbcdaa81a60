"""The researcher's viewer: ``/view/<aip-id>`` opens the AIP's IIIF manifest in Mirador.

Mirador is served from ``iiif/node_modules/mirador/dist`` (installed by ``make viewer``
from the npm registry), so the page needs no CDN and works offline. The page answers
401/403 like the manifest it opens (the HTML error page offers to sign in); a signed-in
browser's session cookie opens the manifest and images too. ``?manifest=`` (the IIIF
drag-and-drop convention) is ignored here: the page always shows its own AIP.
"""
from __future__ import annotations

import unicodedata

from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, abort, current_app, render_template, request, send_from_directory

from repository.access.presentation import primary_label
from repository.catalog import get_aip
from repository.web.auth import check_reader

# The page's own script and style are files under /static (Kho's CSP allows no inline script).
blueprint = Blueprint("viewer", __name__, template_folder="templates")

# The UMD bundle of Mirador 4, which defines the global `Mirador`.
MIRADOR_BUNDLE = "mirador.min.js"
MIRADOR_DIST = Path(__file__).resolve().parents[2] / "iiif" / "node_modules" / "mirador" / "dist"


@blueprint.get("/view/<aip_id>")
def view(aip_id: str):
    services = current_app.extensions["kho"]
    with services.catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)
        record = aip.dublin_core.record if aip.dublin_core else {}
        title = primary_label(record, aip.identifier)
        title_lang = next((v.get("lang", "") for v in record.get("title", [])
                           if isinstance(v, dict) and v.get("value") == title), "")
        if not title_lang:  # an untagged title is the record's main one: Vietnamese, or Hán
            title_lang = "vi-Hani" if any("\u3400" <= c <= "\u9fff" for c in title) else "vi"
    base = services.settings.base_url.rstrip("/") or request.url_root.rstrip("/")
    manifest_url = f"{base}/iiif/3/{quote(aip_id, safe='')}/manifest"
    # ?page=N opens that page, ?q=… searches inside the book (a search result's link).
    page = request.args.get("page", "")
    query = unicodedata.normalize("NFC", request.args.get("q", "").strip())[:200]
    response = current_app.make_response(render_template(
        "viewer/view.html", aip_id=aip_id, title=title, title_lang=title_lang,
        manifest_url=manifest_url, mirador_bundle=MIRADOR_BUNDLE,
        page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else None, query=query))
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blueprint.get("/viewer-assets/<path:filename>")
def assets(filename: str):
    if not MIRADOR_DIST.is_dir():
        abort(404, "Mirador is not installed: run `make viewer`")
    # A week: the file name does not carry a version, but it changes only on upgrade.
    return send_from_directory(MIRADOR_DIST, filename, max_age=7 * 86400)
