"""The one place the web pages ask "which records match, and what facets do they have?".

It asks the search room (repository/search, the same search as GET /api/v1/search): the
reader's access is decided there in SQL, once, for the hits, the total and every facet
count, whatever the size of the catalogue. The pages call ``find`` and never the search
room's internals; this module only translates the pages' facet names and values.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from repository.access.image_resolver import image_id
from repository.access.presentation import natural_key
from repository.catalog import Aip, AipFile
from repository.catalog.visibility import readable_aips
from repository.search import Filters, Hit, search
from repository.web.auth import current_reader

FACETS = ("collection", "type", "language", "decade", "access")
SORTS = ("relevance", "newest", "title", "date")
# The pages' facet names (kept in their URLs) and the search room's.
_ROOM_FACET = {"collection": "collection", "type": "type", "language": "lang",
               "decade": "decade", "access": "access"}


@dataclass
class Found:
    items: list
    total: int
    page: int
    per_page: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)  # the items with snippets and pages
    suggestion: str | None = None
    total_is_exact: bool = True  # False: more than ``total`` matched ("more than 10,000")

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _decade_years(value: str) -> str | None:
    """"1890s" (as the page shows a decade) → the search's date range "1890..1899"."""
    digits = value.removesuffix("s")
    if not (digits.isdigit() and len(digits) <= 4):
        return None
    return f"{digits}..{int(digits) + 9}"


def find(session, *, text: str = "", chosen: dict[str, str] | None = None,
         sort: str = "relevance", page: int = 1, per_page: int = 20) -> Found:
    """Records matching ``text`` and every chosen facet value that the reader may read."""
    chosen = {k: v for k, v in (chosen or {}).items() if k in FACETS and v}
    filters = Filters(collection=[chosen["collection"]] if "collection" in chosen else [],
                      type=[chosen["type"]] if "type" in chosen else [],
                      lang=[chosen["language"]] if "language" in chosen else [],
                      access=[chosen["access"]] if "access" in chosen else [],
                      date=_decade_years(chosen["decade"]) if "decade" in chosen else None)
    if "decade" in chosen and filters.date is None:
        return Found([], 0, page, per_page, {name: [] for name in FACETS})
    result = search(session, current_reader(), text, filters=filters, page=page,
                    per_page=per_page, order=sort if sort in SORTS else "relevance",
                    total_cap=current_app.extensions["kho"].settings.search_total_cap)
    facets = {name: list(result.facets.get(_ROOM_FACET[name], [])) for name in FACETS}
    facets["decade"] = [(f"{value}s", count) for value, count in facets["decade"]]
    return Found([hit.aip for hit in result.hits], result.total, page, per_page, facets,
                  result.hits, result.suggestion, result.total_is_exact)


def newest_by_collection(session, collection_ids) -> dict[int, Aip]:
    """The newest AIP the reader may read in each of these collections (their covers)."""
    ids = list(collection_ids)
    if not ids:
        return {}
    newest = (select(func.max(Aip.id)).where(readable_aips(current_reader()),
                                             Aip.collection_id.in_(ids))
              .group_by(Aip.collection_id))
    return {aip.collection_id: aip for aip in session.scalars(select(Aip).where(
        Aip.id.in_(newest)))}


def first_pages(session, aips) -> dict[int, str]:
    """The IIIF image id of each AIP's first page (natural order), for thumbnails."""
    by_aip: dict[int, tuple] = {}
    versions = {a.id: a.current_version for a in aips}
    if not versions:
        return {}
    identifiers = {a.id: a.identifier for a in aips}
    rows = session.execute(select(AipFile.aip_id, AipFile.version, AipFile.logical_path,
                                  AipFile.sha512).where(
        AipFile.aip_id.in_(list(versions)), AipFile.role == "payload",
        AipFile.mime_type.like("image/%"), AipFile.width.is_not(None)))
    for aip_id, version, path, sha512 in rows:
        if version != versions[aip_id]:
            continue
        key = natural_key(path)
        if aip_id not in by_aip or key < by_aip[aip_id][0]:
            by_aip[aip_id] = (key, image_id(identifiers[aip_id], sha512))
    return {aip_id: value[1] for aip_id, value in by_aip.items()}
