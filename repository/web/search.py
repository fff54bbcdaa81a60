"""The search door: GET /api/v1/search (hits, facets, total) and the OpenSearch description.

    GET /api/v1/search?q=ha+noi&collection=…&type=…&lang=…&date=1890..1910&access=…&page=1
        → total (with total_is_exact: false when more matched than KHO_SEARCH_TOTAL_CAP)
    GET /api/v1/search?source=union&q=ha+noi   (the union catalogue: works, every holder)
    GET /opensearch.xml      (OpenSearch 1.1: lets a browser add Kho as a search engine)

Each of collection, type, lang and access may be repeated (all must hold). The query
language is in repository/search/query.py; access is decided in the search's own SQL.
"""
from __future__ import annotations

from urllib.parse import urlencode
from xml.sax.saxutils import escape

from flask import Blueprint, Response, current_app, request, url_for

from repository.errors import UsageError
from repository.search import Filters, WorkResult, search, search_works
from repository.web.api import aip_summary
from repository.web.auth import current_reader
from repository.web.inputs import paging

blueprint = Blueprint("search", __name__)
MAX_PER_PAGE = 100
MAX_QUERY_CHARS = 1000  # a search box, not a document: longer is a mistake or an attack
FILTERS = ("collection", "type", "lang", "access")


def _page_link(**changes) -> str:
    args = request.args.to_dict(flat=False)
    args.update({k: [str(v)] for k, v in changes.items()})
    return f"{request.path}?{urlencode(args, doseq=True)}"


FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
SOURCES = ("kho", "union")  # Kho's own AIPs (the default); or the union catalogue


def _links(page: int, pages: int) -> dict[str, str]:
    links = {"self": _page_link(), "opensearch": url_for("search.opensearch")}
    if page < pages:
        links["next"] = _page_link(page=page + 1)
    if page > 1:
        links["prev"] = _page_link(page=page - 1)
    return links


def _work_json(work) -> dict:
    return {"key": work.key, "title": work.title, "exact": work.exact,
            "snippets": work.snippets,
            "holders": [{"library": h.library, "title": h.title, "own": h.own,
                         "identifier": h.aip.identifier if h.aip else None,
                         "link": url_for("pages.aip_page", identifier=h.aip.identifier,
                                         _external=True) if h.aip else h.link,
                         "oai_identifier": h.oai_identifier, "datestamp": h.datestamp}
                        for h in work.holders]}


def _union_answer(result: WorkResult, per_page: int) -> dict:
    pages = max(1, -(-result.total // per_page))
    # total_is_exact false: more documents matched than KHO_SEARCH_TOTAL_CAP; total counts
    # the works of the first ones found, the ones ranked.
    return {"query": request.args.get("q", ""), "source": "union", "total": result.total,
            "total_is_exact": result.total_is_exact, "page": result.page, "per_page": per_page,
            "pages": pages,
            "works": [_work_json(work) for work in result.works],
            "did_you_mean": result.suggestion, "links": _links(result.page, pages)}


@blueprint.get("/api/v1/search")
def search_api():
    page, per_page = paging(20, MAX_PER_PAGE)
    if len(request.args.get("q", "")) > MAX_QUERY_CHARS:
        raise UsageError(f"q is longer than {MAX_QUERY_CHARS} characters")
    facets = request.args.get("facets", "true").lower()
    if facets not in FLAGS:
        raise UsageError("facets must be true or false")
    facets = FLAGS[facets]
    filters = Filters(**{name: request.args.getlist(name) for name in FILTERS},
                      date=request.args.get("date") or None)
    source = request.args.get("source", "kho")
    if source not in SOURCES:
        raise UsageError("source must be kho (this repository's AIPs) or union (the union "
                         "catalogue: every library's records, one result per work)")
    services = current_app.extensions["kho"]
    if source == "union":
        with services.catalog.session() as session:
            result = search_works(session, current_reader(), request.args.get("q", ""),
                                  filters=filters, page=page, per_page=per_page,
                                  own_library=services.settings.holding_institution,
                                  total_cap=services.settings.search_total_cap)
            return _union_answer(result, per_page)
    with services.catalog.session() as session:
        result = search(session, current_reader(), request.args.get("q", ""), filters=filters,
                        page=page, per_page=per_page, with_facets=facets,
                        total_cap=services.settings.search_total_cap)
        hits = [{**aip_summary(hit.aip), "kind": hit.kind, "page": hit.page,
                 "exact": hit.exact, "snippets": hit.snippets,
                 "pages": [{"page": p.number, "path": p.path, "snippet": p.snippet}
                           for p in hit.pages]} for hit in result.hits]
    pages = max(1, -(-result.total // per_page))
    # total_is_exact false: more than ``total`` matched (KHO_SEARCH_TOTAL_CAP); total, pages
    # and facet counts are those of the first ``total`` found, the ones ranked.
    return {"query": request.args.get("q", ""), "total": result.total,
            "total_is_exact": result.total_is_exact, "page": page,
            "per_page": per_page, "pages": pages, "hits": hits,
            "facets": {name: [{"value": value, "count": count} for value, count in items]
                       for name, items in result.facets.items()},
            "did_you_mean": result.suggestion, "links": _links(page, pages)}


@blueprint.get("/opensearch.xml")
def opensearch():
    """OpenSearch 1.1 description (https://github.com/dewitt/opensearch)."""
    root = request.url_root.rstrip("/")
    html = escape(f"{root}{url_for('pages.home')}?q={{searchTerms}}&page={{startPage?}}")
    api = escape(f"{root}{url_for('search.search_api')}?q={{searchTerms}}&page={{startPage?}}"
                 "&per_page={count?}")
    self_url = escape(f"{root}{url_for('search.opensearch')}")
    body = f"""<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>Kho lưu trữ</ShortName>
  <Description>Tìm trong kho lưu trữ (có dấu hay không dấu đều được)</Description>
  <InputEncoding>UTF-8</InputEncoding>
  <OutputEncoding>UTF-8</OutputEncoding>
  <Language>vi</Language>
  <Url type="text/html" method="get" template="{html}"/>
  <Url type="application/json" method="get" indexOffset="1" pageOffset="1" template="{api}"/>
  <Url type="application/opensearchdescription+xml" rel="self" template="{self_url}"/>
</OpenSearchDescription>
"""
    return Response(body, mimetype="application/opensearchdescription+xml")
