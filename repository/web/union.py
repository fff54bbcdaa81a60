"""The union catalogue page: the sources, their last harvest and report, and one search
across Kho and every harvested library (one work, every holder)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, render_template, request

from repository.union import last_harvest, list_sources, search_union_catalogue

blueprint = Blueprint("union", __name__, template_folder="templates")


@blueprint.get("/union")
def union_catalogue():
    services = current_app.extensions["kho"]
    query = request.args.get("q", "").strip()
    with services.catalog.session() as session:
        sources = [(s, last_harvest(session, s)) for s in list_sources(session)]
        works = search_union_catalogue(
            session, query, today=datetime.now(timezone.utc).date(),
            own_library=services.settings.holding_institution) if query else []
        return render_template("pages/union.html", sources=sources, works=works, query=query)
