"""The union catalogue's search: Kho's own AIPs and every harvested library's records in the
one index, one result per work with every library that holds it.

Matching, ranking, folding and who may read what are ``finder``'s (one statement, decided
in SQL): harvested descriptions are public, Kho's AIPs keep their access rules. Documents
are then grouped by their work key (identifiers, else folded title + creator + year; see
``union.records.work_key``), each work ranked by its best document, and paged as works.
As in ``finder.search``, at most ``total_cap`` matching documents are ranked and grouped
(the newest first found, on SQLite); beyond them the number of works is a lower bound
(``WorkResult.total_is_exact`` False): at a million documents, ranking and grouping every
match of "nam" took a second.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, cast, func, or_, select
from sqlalchemy.orm import Session, selectinload

from repository.catalog.models import Aip
from repository.catalog.visibility import Reader, readable_aips
from repository.errors import UsageError
from repository.metadata.text import fold_for_search
from repository.search.finder import (MAX_PER_PAGE, TOTAL_CAP, Filters, _matched, did_you_mean,
                                      first_matches)
from repository.search.models import AIP_DOCUMENT, UNION_DOCUMENT, SearchDocument
from repository.search.query import Query, parse_query
from repository.search.snippets import matcher, snippets
from repository.union.models import UnionRecord

KINDS = (AIP_DOCUMENT, UNION_DOCUMENT)


@dataclass
class Holder:
    """A library that holds a work: this Kho (``aip`` set) or a harvested source."""

    library: str
    title: str                       # as that library describes it, diacritics and all
    link: str | None = None          # the record at its source; None for Kho's own AIP
    aip: Aip | None = None           # Kho's own AIP, when this Kho holds the work
    oai_identifier: str | None = None
    datestamp: str | None = None     # as the source wrote it
    record: dict = field(default_factory=dict, repr=False)  # its Dublin Core, for snippets

    @property
    def own(self) -> bool:
        return self.aip is not None


@dataclass
class Work:
    key: str
    title: str
    exact: bool                      # some holder's record matched with the tones typed
    snippets: dict[str, str]         # field → HTML with <mark>, from the first that matched
    holders: list[Holder] = field(default_factory=list)


@dataclass
class WorkResult:
    query: Query
    works: list[Work]
    total: int                       # works, not records
    page: int
    per_page: int
    suggestion: str | None = None
    # False when more than the cap matched: ``total`` counts the works of the first
    # matches found, the ones ranked, so more works may match.
    total_is_exact: bool = True


def search_works(session: Session, reader: Reader, text: str, *, own_library: str,
                 filters: Filters | None = None, page: int = 1,
                 per_page: int = 20, total_cap: int = TOTAL_CAP) -> WorkResult:
    """Works matching ``text`` that ``reader`` may see, best first, each with every holder
    the reader may see (``own_library`` names this Kho). At most ``total_cap`` matching
    documents are ranked and grouped (``total_is_exact``)."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"page must be ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    if total_cap < 1:
        raise UsageError("the search's total cap must be at least 1")
    filters = filters or Filters()
    query = parse_query(text)
    if query.typed and query.is_empty:
        return WorkResult(query, [], 0, page, per_page)
    matched, backend = _matched(session, reader, query, filters, KINDS)
    exact = backend.exact(query) if query.terms and not backend.exact_on_ids else None
    candidates = matched.with_only_columns(
        SearchDocument.id, SearchDocument.work_key,
        (exact if exact is not None else SearchDocument.id.is_(None)).label("exact"),
        (backend.rank(query) if query.terms else -SearchDocument.id).label("score"))
    found, shown, exact_column = first_matches(candidates, backend, query, total_cap)
    # A work ranks as its best document.
    works = select(shown.c.work_key, func.max(cast(exact_column, Integer)).label("exact"),
                   func.min(shown.c.score).label("score"),
                   func.min(shown.c.id).label("first")).group_by(shown.c.work_key).subquery()
    found_count = select(func.count()).select_from(found).scalar_subquery()
    rows = session.execute(
        select(works, func.count().over().label("total"), found_count.label("matches"))
        .order_by(works.c.exact.desc(),
                  backend.rank_order(works.c.score) if query.terms else works.c.score,
                  works.c.first)
        .limit(per_page).offset((page - 1) * per_page)).all()
    if rows:
        total, total_is_exact = rows[0].total, rows[0].matches <= total_cap
    else:  # a page past the last
        total = session.scalar(select(func.count()).select_from(works)) or 0
        total_is_exact = (session.scalar(select(found_count)) or 0) <= total_cap
    holders = _holders(session, reader, [row.work_key for row in rows], own_library)
    matches = matcher(query)  # each distinct word folded once for the page
    shown_works = []
    for row in rows:
        held = holders.get(row.work_key, [])
        marked = next(filter(None, (snippets(h.record, query, matches) for h in held)), {})
        shown_works.append(Work(row.work_key, held[0].title if held else "", bool(row.exact),
                                marked, held))
    suggestion = None
    if total == 0 and query.terms:
        suggestion = did_you_mean(session, reader, text, query, filters, KINDS)
    return WorkResult(query, shown_works, total, page, per_page, suggestion, total_is_exact)


def _holders(session: Session, reader: Reader, keys: list[str],
             own_library: str) -> dict[str, list[Holder]]:
    """Every holder of these works that ``reader`` may see: Kho first, then by library."""
    if not keys:
        return {}
    documents = session.execute(
        select(SearchDocument.work_key, SearchDocument.aip_id, SearchDocument.union_record_id)
        .outerjoin(Aip, Aip.id == SearchDocument.aip_id)
        .where(SearchDocument.work_key.in_(keys), SearchDocument.kind.in_(KINDS),
               or_(SearchDocument.kind == UNION_DOCUMENT, readable_aips(reader)))
        .order_by(SearchDocument.id)).all()
    aips = {aip.id: aip for aip in session.scalars(
        select(Aip).where(Aip.id.in_({d.aip_id for d in documents if d.aip_id}))
        .options(selectinload(Aip.dublin_core)))}
    records = {r.id: r for r in session.scalars(
        select(UnionRecord).where(UnionRecord.id.in_(
            {d.union_record_id for d in documents if d.union_record_id}))
        .options(selectinload(UnionRecord.source)))}
    out: dict[str, list[Holder]] = {}
    for key, aip_id, record_id in documents:
        if aip_id in aips:
            aip = aips[aip_id]
            dc = aip.dublin_core
            holder = Holder(own_library, dc.title if dc else "", aip=aip,
                            record=(dc.record or {}) if dc else {})
        elif record_id in records:
            record = records[record_id]
            holder = Holder(record.source.name, record.title, link=record.link,
                            oai_identifier=record.oai_identifier, datestamp=record.datestamp,
                            record=record.record or {})
        else:
            continue
        out.setdefault(key, []).append(holder)
    for held in out.values():
        held.sort(key=lambda h: (not h.own, fold_for_search(h.library)))
    return out
