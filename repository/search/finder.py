"""Running a search: hits ranked, total, facet counts and a "did you mean", for one reader.

Who may read what is ``catalog.visibility.readable_aips(reader)``'s rule, on the copy of
each AIP's access its documents carry, put in the WHERE of the statement from which the
hits, the total and every facet count are taken; nothing is filtered afterwards, so no
number tells a reader about records they may not see. At most TOTAL_CAP matches are
counted, ranked and faceted (``SearchResult.total_is_exact``).
"""
from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field, replace

from sqlalchemy import Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from repository.catalog.models import Aip, Collection
from repository.catalog.visibility import Reader, readable_by
from repository.errors import UsageError
from repository.search.backends import backend_for
from repository.search.documents import FACETS, decades_of
from repository.search.models import (AIP_DOCUMENT, MAX_WORD, PAGE_DOCUMENT, UNION_DOCUMENT,
                                      SearchDocument, SearchFacetValue, SearchWord)
from repository.search.query import Query, Term, parse_query, parse_years
from repository.search.schema import LONG_SPAN_TOKEN, collection_token, facet_token
from repository.search.snippets import highlight, matcher, snippets

MAX_PER_PAGE = 1000
ORDERS = ("relevance", "newest", "title", "date")
MAX_FACET_VALUES = 50
MAX_PAGES_PER_HIT = 5  # pages named under one hit; the viewer's Content Search finds all
# A prefix standing for more indexed words than this is left to the index's own prefix
# matching (``known_words``).
MAX_PREFIX_WORDS = 24
# A date filter over more decades than this is checked on each match only (``_matched``).
MAX_DECADES_ASKED = 30
# Matches are counted, ranked and faceted exactly up to this many; beyond it the total is
# reported as "more than 10,000" (``total_is_exact`` False) and the first 10,000 found are
# ranked and faceted, as web search engines do. Counting and ranking every hit of a common
# word ("nam": half of a million records) would cost seconds; a reader refines instead.
TOTAL_CAP = 10_000


@dataclass
class Filters:
    """Narrowing by facet, as the API's query parameters give it (each list: all must hold)."""

    collection: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    lang: list[str] = field(default_factory=list)
    access: list[str] = field(default_factory=list)
    date: str | None = None


@dataclass
class PageMatch:
    """A page of a found AIP whose text holds the query's words."""

    number: int                        # 1 for the first page, in reading order
    path: str                          # the page image's logical path (data/trang 3.jpg)
    snippet: str | None                # HTML with <mark>, as the page's text reads


@dataclass
class Hit:
    aip: Aip
    kind: str
    page: int | None                   # the first page whose text matched, if any did
    exact: bool                        # matched the words with the tones typed
    snippets: dict[str, str]           # field → HTML with <mark>, original diacritics
    pages: list[PageMatch] = field(default_factory=list)


@dataclass
class SearchResult:
    query: Query
    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, list[tuple[str, int]]]
    suggestion: str | None = None      # "did you mean", when nothing was found
    # False when more than the cap (TOTAL_CAP) matched: ``total`` is then the cap, a lower
    # bound, and the facet counts are those of the first matches found, the ones ranked.
    total_is_exact: bool = True


def _years_overlap(years: tuple[int | None, int | None]):
    lo, hi = years
    conditions = [SearchDocument.year_from.is_not(None) | SearchDocument.year_to.is_not(None)]
    if lo is not None:
        conditions.append(func.coalesce(SearchDocument.year_to, SearchDocument.year_from) >= lo)
    if hi is not None:
        conditions.append(func.coalesce(SearchDocument.year_from, SearchDocument.year_to) <= hi)
    return and_(*conditions)


def _facet_value_id(session: Session, name: str, value: str) -> int | None:
    return session.scalar(select(SearchFacetValue.id).where(
        SearchFacetValue.facet == name, SearchFacetValue.value == value))


def _decade_tokens(session: Session, years: tuple[int | None, int | None]) -> list[str] | None:
    """Tokens of the index (schema.FILTERS_COLUMN) of which a document dated within
    ``years`` has at least one: each decade it covers, or the long-span mark. None when
    the range is open or too long to be worth listing."""
    lo, hi = years
    if lo is None or hi is None or (hi - lo) // 10 > MAX_DECADES_ASKED:
        return None
    ids = session.scalars(select(SearchFacetValue.id).where(
        SearchFacetValue.facet == "decade",
        SearchFacetValue.value.in_([str(d) for d in decades_of(lo, hi)]))).all()
    return [facet_token(i) for i in ids] + [LONG_SPAN_TOKEN]


def _matched(session: Session, reader: Reader, query: Query, filters: Filters,
             kinds: tuple[str, ...]) -> tuple[Select, object]:
    """SELECT over the documents this reader may see that match, in the order they are
    found; and the backend.

    Newest first when the index gives that order for free (SQLite's FTS5 walks its
    doclists either way, a primary key too); PostgreSQL's GIN bitmap gives table order,
    and sorting every hit to take the newest would cost what the cap saves. The
    collection, type, language and decade asked for are tokens the same match looks up
    in the index, so a narrow filter reads only the documents it keeps instead of
    checking every match."""
    backend = backend_for(session)
    statement = select(SearchDocument.id)
    # readable_aips's rule, on the copy of each AIP's access the document carries; it
    # leaves withdrawn AIPs out too, whoever asks.
    readable = readable_documents(reader)
    if UNION_DOCUMENT in kinds:
        # Harvested descriptions are public (they are public at their source); Kho's own
        # AIPs keep their rules.
        readable = or_(SearchDocument.kind == UNION_DOCUMENT, readable)
    conditions = [readable, SearchDocument.kind.in_(kinds)]
    required: list[list[str]] = []   # groups of index tokens: one of each
    for years in filter(None, (query.years, filters.date and parse_years(filters.date))):
        conditions.append(_years_overlap(years))  # exact; the decades only narrow
        if decades := _decade_tokens(session, years):
            required.append(decades)
    for name in filters.collection:
        ids = session.scalars(select(Collection.id).where(
            Collection.name == unicodedata.normalize("NFC", name))).all()
        if not ids:
            conditions.append(false())
        else:
            required.append([collection_token(i) for i in ids])
    for value in filters.access:  # a column of every AIP document
        conditions.append(SearchDocument.access == unicodedata.normalize("NFC", value))
    for name, chosen in (("type", filters.type), ("lang", filters.lang)):
        for value in chosen:
            value_id = _facet_value_id(session, name, unicodedata.normalize("NFC", value))
            if value_id is None:  # no document has ever had it
                conditions.append(false())
            else:
                required.append([facet_token(value_id)])
    if query.terms or required:
        statement = backend.join(statement)
        query = known_words(session, query)
        conditions.append(backend.match(query, required))
        if backend.newest_first() is not None:
            statement = statement.order_by(backend.newest_first())
    else:
        statement = statement.order_by(SearchDocument.id.desc())
    return statement.where(*conditions), backend


def known_words(session: Session, query: Query) -> Query:
    """``query`` with each prefix's indexed words (``Term.words``) when there are at most
    MAX_PREFIX_WORDS of them.

    A prefix is then matched as those words ORed, on both databases: FTS5 merges a
    prefix's doclists whole before it finds the first match, whatever the LIMIT ("thieu
    tri*": 60 ms at a million records), while an OR of words is read lazily, newest first
    (12 ms); PostgreSQL's GIN gathers a prefix's lists whole into one bitmap before it
    intersects (145 ms), and skips along an OR of words (53 ms)."""
    if not any(t.prefix for t in query.terms):
        return query
    terms = []
    for term in query.terms:
        # A prefix as long as a kept word could begin words longer than kept ones.
        if term.prefix and len(start := term.tokens[-1]) < MAX_WORD:
            words = session.scalars(
                select(SearchWord.word).where(SearchWord.word >= start,
                                              SearchWord.word < start + "\U0010ffff")
                .order_by(SearchWord.word).limit(MAX_PREFIX_WORDS + 1)).all()
            if 0 < len(words) <= MAX_PREFIX_WORDS:
                term = replace(term, words=tuple(words))
        terms.append(term)
    return replace(query, terms=tuple(terms))


def readable_documents(reader: Reader):
    """Condition on SearchDocument: the AIP documents ``reader`` may read."""
    return readable_by(reader, access=SearchDocument.access,
                       embargo_until=SearchDocument.embargo_until,
                       collection_id=SearchDocument.collection_id,
                       not_withdrawn=SearchDocument.withdrawn.is_(False))


def _facet_columns(backend, documents) -> list:
    """Three JSON columns of [key, count] rows over ``documents`` (a CTE with the columns
    facet_values, collection_id and access): counts by facet value id, by collection id
    and by access. They ride on the statement that ranks, instead of matching the words
    a second time."""
    values = backend.facet_value_rows(documents.c.facet_values)
    counted = {
        "values": select(values.c.value.label("key"), func.count().label("n"))
        .select_from(documents.join(values, true())).group_by(values.c.value),
        "collections": select(documents.c.collection_id.label("key"), func.count().label("n"))
        .where(documents.c.collection_id.is_not(None)).group_by(documents.c.collection_id),
        "accesses": select(documents.c.access.label("key"), func.count().label("n"))
        .where(documents.c.access.is_not(None)).group_by(documents.c.access)}
    columns = []
    for name, statement in counted.items():
        counts = statement.subquery()
        columns.append(select(backend.json_rows(counts.c.key, counts.c.n))
                       .scalar_subquery().label(f"counts_{name}"))
    return columns


def _named_facets(session: Session, backend, row) -> dict[str, list[tuple[str, int]]]:
    """The facet counts of ``row`` (its three ``_facet_columns``), by facet and value name."""
    by_value = backend.json_value(row.counts_values)
    by_collection = backend.json_value(row.counts_collections)
    named = {i: (facet, value) for i, facet, value in session.execute(
        select(SearchFacetValue.id, SearchFacetValue.facet, SearchFacetValue.value)
        .where(SearchFacetValue.id.in_([int(k) for k, _ in by_value])))} if by_value else {}
    collections = dict(session.execute(select(Collection.id, Collection.name).where(
        Collection.id.in_([int(k) for k, _ in by_collection]))).all()) if by_collection else {}
    counts = [(*named[int(k)], n) for k, n in by_value if int(k) in named]
    counts += [("collection", collections[int(k)], n) for k, n in by_collection
               if int(k) in collections]
    counts += [("access", k, n) for k, n in backend.json_value(row.counts_accesses)]
    return _sorted_facets(counts)


def _sorted_facets(counts) -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
    for name, value, count in counts:
        out.setdefault(name, []).append((value, count))
    for name, items in out.items():
        if name == "decade":
            items.sort(key=lambda item: int(item[0]))
        else:
            items.sort(key=lambda item: (-item[1], item[0]))
            del items[MAX_FACET_VALUES:]
    return out


def search(session: Session, reader: Reader, text: str = "", *, filters: Filters | None = None,
           page: int = 1, per_page: int = 20, with_facets: bool = True,
           kinds: tuple[str, ...] = (AIP_DOCUMENT,), order: str = "relevance",
           total_cap: int = TOTAL_CAP) -> SearchResult:
    """Search what ``reader`` may read for ``text`` (see query.py for what may be typed).

    ``order``: relevance (newest first when nothing was typed), newest, title (as folded,
    so tones do not scatter it) or date (oldest first, undated last). At most
    ``total_cap`` matches are counted, ranked and faceted (``total_is_exact``)."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"page must be ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    if total_cap < 1:
        raise UsageError("the search's total cap must be at least 1")
    if order not in ORDERS:
        raise UsageError(f"order must be one of {', '.join(ORDERS)}")
    filters = filters or Filters()
    query = parse_query(text)
    if query.typed and query.is_empty:  # only punctuation: nothing a word could match
        return SearchResult(query, [], 0, page, per_page,
                            {name: [] for name in FACETS} if with_facets else {})
    matched, backend = _matched(session, reader, query, filters, kinds)
    # SQLite: whether a candidate matched with its tones is asked once they are known (see
    # below); PostgreSQL asks each candidate's own vector as it is read.
    exact = backend.exact(query) if query.terms and not backend.exact_on_ids else None
    ranked = query.terms and order == "relevance"
    candidates = matched.with_only_columns(
        SearchDocument.id, SearchDocument.aip_id, SearchDocument.kind, SearchDocument.page,
        SearchDocument.facet_values, SearchDocument.collection_id, SearchDocument.access,
        SearchDocument.title.label("sort_title"),
        func.coalesce(SearchDocument.year_from, SearchDocument.year_to).label("sort_year"),
        (exact if exact is not None else SearchDocument.id.is_(None)).label("exact"),
        (backend.rank(query) if ranked else -SearchDocument.id).label("score"))
    found, shown, exact_column = first_matches(candidates, backend, query, total_cap)
    score = backend.rank_order(shown.c.score) if ranked else shown.c.score
    ordering = {"relevance": (exact_column.desc(), score, shown.c.id.desc()),
                "newest": (shown.c.score, shown.c.id),
                "title": (shown.c.sort_title, shown.c.id),
                "date": (shown.c.sort_year.is_(None), shown.c.sort_year, shown.c.id)}[order]
    columns = [*(c for c in shown.c if c.name != "exact"), exact_column.label("exact"),
               select(func.count()).select_from(found).scalar_subquery().label("total")]
    if with_facets:  # over the same first matches found (all of them when total_is_exact)
        columns.extend(_facet_columns(backend, shown))
    rows = session.execute(
        select(*columns)
        .order_by(*ordering).limit(per_page).offset((page - 1) * per_page)).all()
    total = rows[0].total if rows else session.scalar(select(func.count()).select_from(
        matched.limit(total_cap + 1).subquery())) or 0
    total_is_exact = total <= total_cap
    total = min(total, total_cap)
    facets = {}
    if with_facets:
        if not rows:  # a page past the last: the counts of the same first matches
            counted = candidates.limit(total_cap).cte("counted")
            facet_row = session.execute(select(*_facet_columns(backend, counted))).one()
        facets = _named_facets(session, backend, rows[0] if rows else facet_row)
    aips = {aip.id: aip for aip in session.scalars(
        select(Aip).where(Aip.id.in_({row.aip_id for row in rows}))
        .options(selectinload(Aip.dublin_core), selectinload(Aip.collection)))}
    found_in = pages_matching(session, backend, query, [row.aip_id for row in rows])
    matches = matcher(query)
    hits = [Hit(aips[row.aip_id], row.kind, row.page, bool(row.exact),
                snippets(aips[row.aip_id].dublin_core.record
                         if aips[row.aip_id].dublin_core else {}, query, matches),
                found_in.get(row.aip_id, []))
            for row in rows]
    for hit in hits:
        if hit.page is None and hit.pages:
            hit.page = hit.pages[0].number
    suggestion = None
    if total == 0 and query.terms:
        suggestion = did_you_mean(session, reader, text, query, filters, kinds)
    return SearchResult(query, hits, total, page, per_page, facets, suggestion, total_is_exact)


def first_matches(candidates: Select, backend, query: Query, total_cap: int):
    """(found, shown, exact): the first ``total_cap`` + 1 of ``candidates`` (columns ``id``
    and ``exact`` among them) as a CTE, the first ``total_cap`` of those as another, and
    the column saying which of the shown matched with the tones typed.

    One bounded set of candidates, scored once: MATERIALIZED (SQLite ≥ 3.35, PostgreSQL
    ≥ 12) keeps the planner from folding it into the ordering or a grouping, so each
    candidate's rank is computed once, inside it. It holds one more than the cap, to tell
    "exactly the cap" from "more"; the first ``total_cap`` of it, in the order found, are
    ranked and shown."""
    found = candidates.limit(total_cap + 1).cte("candidates").prefix_with("MATERIALIZED")
    shown = select(found).limit(total_cap).cte("shown")
    exact_column = shown.c.exact
    if query.terms and backend.exact_on_ids:
        # After the candidates: an IN list is built whole before it is used, and at a
        # million records "hà nội" lists 100,000 documents; FTS5 need only read its
        # doclists from the oldest candidate on.
        found_exact = backend.exact(query, shown.c.id,
                                    since=select(func.min(found.c.id)).scalar_subquery())
        if found_exact is not None:
            exact_column = found_exact
    return found, shown, exact_column


def pages_matching(session: Session, backend, query: Query,
                   aip_ids: list[int]) -> dict[int, list[PageMatch]]:
    """The first pages of each of these AIPs whose text matches ``query``, with snippets."""
    if not query.terms or not aip_ids:
        return {}
    from repository.text.models import PageText  # the original text, diacritics and all
    # The hits' page documents first, by their index: matching the words over the whole
    # index and then keeping these AIPs' pages would walk every hit of a common word.
    page_ids = list(session.scalars(select(SearchDocument.id).where(
        SearchDocument.aip_id.in_(aip_ids), SearchDocument.kind == PAGE_DOCUMENT)))
    if not page_ids:
        return {}
    numbered = backend.join(select(SearchDocument.aip_id, SearchDocument.page,
                                   SearchDocument.ref)).where(
        SearchDocument.id.in_(page_ids), backend.within(min(page_ids), max(page_ids)),
        backend.match(query)).order_by(SearchDocument.aip_id, SearchDocument.page)
    chosen: dict[int, list[tuple[int, str]]] = {}
    for aip_id, number, path in session.execute(numbered):
        if len(chosen.setdefault(aip_id, [])) < MAX_PAGES_PER_HIT:
            chosen[aip_id].append((number, path))
    if not chosen:
        return {}
    texts: dict[tuple[int, str], list[str]] = {}
    for aip_id, path, text in session.execute(
            select(PageText.aip_id, PageText.page_path, PageText.text).where(
                PageText.aip_id.in_(list(chosen)),
                PageText.page_path.in_({path for pages in chosen.values() for _, path in pages}))
            .order_by(PageText.source.desc(), PageText.language)):
        texts.setdefault((aip_id, path), []).append(text)
    return {aip_id: [PageMatch(number, path, next(
                filter(None, (highlight(t, query) for t in texts.get((aip_id, path), []))), None))
                     for number, path in pages]
            for aip_id, pages in chosen.items()}


def _closest_word(session: Session, word: str) -> str | None:
    if session.get_bind().dialect.name == "postgresql":
        # pg_trgm: the trigram GIN index answers the % (similar) operator.
        return session.scalar(
            select(SearchWord.word).where(SearchWord.word.op("%")(word))
            .order_by(func.similarity(SearchWord.word, word).desc(), SearchWord.word).limit(1))
    # SQLite has no trigram index: candidates share the first letter and about the length.
    candidates = session.scalars(
        select(SearchWord.word).where(SearchWord.word >= word[0],
                                      SearchWord.word < word[0] + "\U0010ffff",
                                      func.length(SearchWord.word).between(len(word) - 2,
                                                                           len(word) + 2))
        .limit(20000)).all()
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.7)
    return close[0] if close else None


def did_you_mean(session: Session, reader: Reader, text: str, query: Query, filters: Filters,
                 kinds: tuple[str, ...]) -> str | None:
    """The query with unknown words replaced by the nearest known ones, if that finds
    something this reader may read; else None."""
    known = set(session.scalars(select(SearchWord.word).where(
        SearchWord.word.in_({token for t in query.terms for token in t.tokens}))))
    replaced: dict[str, str] = {}
    for term in query.terms:
        for token in term.tokens:
            if token not in known and token not in replaced and len(token) > 2:
                closest = _closest_word(session, token)
                if closest:
                    replaced[token] = closest
    if not replaced:
        return None
    terms = tuple(Term(tuple(replaced.get(tok, tok) for tok in t.tokens),
                       tuple(replaced.get(tok, tok) for tok in t.tokens), t.field, t.prefix)
                  for t in query.terms)
    better = Query(terms, query.years, typed=True)
    matched, _ = _matched(session, reader, better, filters, kinds)
    if not session.scalar(select(func.count()).select_from(matched.limit(1).subquery())):
        return None
    return _spell(better)


def _spell(query: Query) -> str:
    parts = []
    for term in query.terms:
        words = " ".join(term.tokens)
        words = f'"{words}"' if len(term.tokens) > 1 else words
        parts.append((f"{term.field}:" if term.field else "") + words + ("*" if term.prefix else ""))
    if query.years:
        lo, hi = query.years
        parts.append(f"date:{'' if lo is None else lo}..{'' if hi is None else hi}")
    return " ".join(parts)
