"""The union catalogue page: the sources, their last harvest and report, and one search
across Kho and every harvested library (one work, every holder), run by the search room."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request

from repository.errors import UsageError
from repository.search import search_works
from repository.union import last_harvest, list_sources
from repository.web.auth import current_reader
from repository.web.inputs import paging

blueprint = Blueprint("union", __name__, template_folder="templates")
PER_PAGE = 20
MAX_QUERY_CHARS = 1000


@blueprint.get("/union")
def union_catalogue():
    services = current_app.extensions["kho"]
    query = request.args.get("q", "").strip()
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(f"q is longer than {MAX_QUERY_CHARS} characters")
    page, _ = paging(PER_PAGE, PER_PAGE)
    with services.catalog.session() as session:
        sources = [(s, last_harvest(session, s)) for s in list_sources(session)]
        result = search_works(session, current_reader(), query, page=page, per_page=PER_PAGE,
                              own_library=services.settings.holding_institution,
                              total_cap=services.settings.search_total_cap) \
            if query else None
        pages = max(1, -(-result.total // PER_PAGE)) if result else 1
        links = {name: f"{request.path}?{urlencode({'q': query, 'page': number})}"
                 for name, number in (("prev", page - 1), ("next", page + 1))
                 if 1 <= number <= pages}
        return render_template("pages/union.html", sources=sources, result=result,
                               works=result.works if result else [], query=query, links=links)
