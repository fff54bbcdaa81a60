"""The one place the web pages ask "which records match, and what facets do they have?".

Today it reads the catalogue's listing and search (catalog/queries.py), keeps what the
reader may see and counts facets over that. When the search room (GET /api/v1/search,
repository/search/) is ready, only this module changes; the pages call ``find`` and
``readable`` and never the queries themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select

from repository.access.image_resolver import image_id
from repository.access.presentation import natural_key
from repository.catalog import AipFile, list_aips, search_aips
from repository.catalog.queries import MAX_PER_PAGE
from repository.web.auth import current_reader

FACETS = ("collection", "type", "language", "decade", "access")
SORTS = ("relevance", "newest", "title", "date")
_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
SCAN_LIMIT = 20_000  # candidates looked at for one results page, until the search room


@dataclass
class Found:
    items: list
    total: int
    page: int
    per_page: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    newest_by_collection: dict[str, object] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def facet_values(aip) -> dict[str, list[str]]:
    """The facet values of one AIP (an AIP may have several languages)."""
    record = aip.dublin_core.record if aip.dublin_core else {}

    def values(element: str) -> list[str]:
        return [v["value"] for v in record.get(element, [])
                if isinstance(v, dict) and isinstance(v.get("value"), str)]
    decades = []
    for date in values("date")[:1]:
        found = _YEAR.search(date)
        if found:
            decades.append(f"{int(found.group(1)) // 10 * 10}s")
    return {"collection": [aip.collection.name], "type": values("type")[:3],
            "language": values("language"), "decade": decades, "access": [aip.access]}


def _candidates(session, text: str):
    """What the reader may read (decided in SQL by the listing), matching ``text``."""
    reader = current_reader()
    page = 1
    seen = 0
    while seen < SCAN_LIMIT:
        result = search_aips(session, reader, text, page=page, per_page=MAX_PER_PAGE) if text \
            else list_aips(session, reader, page=page, per_page=MAX_PER_PAGE)
        yield from result.items
        seen += len(result.items)
        if not result.has_next:
            return
        page += 1


def _date_key(aip) -> str:
    values = facet_values(aip)["decade"]
    record = aip.dublin_core.record if aip.dublin_core else {}
    dates = [v.get("value", "") for v in record.get("date", []) if isinstance(v, dict)]
    found = _YEAR.search(dates[0]) if dates and values else None
    return found.group(1) if found else "9999"


def find(session, *, text: str = "", chosen: dict[str, str] | None = None,
         sort: str = "relevance", page: int = 1, per_page: int = 20) -> Found:
    """Records matching ``text`` and every chosen facet value that the reader may read."""
    chosen = {k: v for k, v in (chosen or {}).items() if k in FACETS and v}
    matched = []
    counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for aip in _candidates(session, text):
        values = facet_values(aip)
        if any(want not in values[name] for name, want in chosen.items()):
            continue
        matched.append(aip)
        for name, vals in values.items():
            for value in set(vals):
                counts[name][value] = counts[name].get(value, 0) + 1
    if sort == "newest" or (sort == "relevance" and not text):
        matched.sort(key=lambda a: (a.created_at, a.id), reverse=True)
    elif sort == "title":
        matched.sort(key=lambda a: natural_key(a.dublin_core.title if a.dublin_core else ""))
    elif sort == "date":
        matched.sort(key=_date_key)
    facets = {name: sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
              for name, values in counts.items()}
    facets["decade"] = sorted(counts["decade"].items())
    newest: dict[str, object] = {}
    for aip in sorted(matched, key=lambda a: (a.created_at, a.id), reverse=True):
        newest.setdefault(aip.collection.name, aip)
    start = (page - 1) * per_page
    return Found(matched[start:start + per_page], len(matched), page, per_page, facets, newest)


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
