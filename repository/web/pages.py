"""The web interface for people: search the holdings, look at one AIP, open it in the viewer."""
from __future__ import annotations


from flask import Blueprint, current_app, render_template, request
from sqlalchemy import select

from repository.catalog import (AipFile, events_for_aip, get_aip, list_aips, list_collections,
                                search_aips)
from repository.catalog.visibility import agent_labeller
from repository.web.auth import check_reader, current_reader

blueprint = Blueprint("pages", __name__, template_folder="templates")
PER_PAGE = 25


@blueprint.get("/")
def home():
    """Holdings, newest first; the search ignores diacritics and case."""
    query = request.args.get("q", "").strip()
    collection = request.args.get("collection") or None
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    reader = current_reader()
    with current_app.extensions["kho"].catalog.session() as session:
        result = search_aips(session, reader, query, page=page, per_page=PER_PAGE) if query \
            else list_aips(session, reader, collection=collection, page=page, per_page=PER_PAGE)
        return render_template("pages/home.html", aips=result.items, query=query, page=page,
                               total=result.total, per_page=PER_PAGE, collection=collection,
                               collections=list_collections(session, reader))


@blueprint.get("/aips/<identifier>")
def aip_page(identifier: str):
    with current_app.extensions["kho"].catalog.session() as session:
        aip = get_aip(session, identifier)
        check_reader(aip)
        files = list(session.scalars(select(AipFile).where(
            AipFile.aip_id == aip.id, AipFile.version == aip.current_version,
            AipFile.role == "payload").order_by(AipFile.logical_path)))
        events = events_for_aip(session, aip.identifier)
        return render_template("pages/aip.html", aip=aip, files=files, events=events,
                               agent=agent_labeller(session, current_reader()),
                               record=aip.dublin_core.record if aip.dublin_core else {})
