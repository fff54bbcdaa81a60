"""Read helpers the doors need: pages of AIPs, one AIP, collections, search."""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Generic, Iterator, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from repository.catalog.database import claim_writer
from repository.catalog.models import Aip, Collection
from repository.catalog.visibility import Reader, readable_aips, readable_collections
from repository.errors import NotFound, UsageError

T = TypeVar("T")
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000  # far past any real listing; keeps OFFSET inside a 64-bit integer
MAX_SEARCH_WORDS = 32  # each word is one LIKE condition: SQLite refuses deep expressions
MAX_SEARCH_CHARS = 1000


@dataclass
class Page(Generic[T]):
    """One page of results; iterating a Page yields its items."""

    items: list[T]
    total: int
    page: int
    per_page: int
    extra: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def _paginate(session: Session, query: Select, page: int, per_page: int) -> Page:
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"page must be between 1 and {MAX_PAGE} and per_page between 1 and "
                         f"{MAX_PER_PAGE}")
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total or 0, page, per_page)


def get_collection(session: Session, name: str) -> Collection:
    collection = session.scalar(select(Collection).where(
        Collection.name == unicodedata.normalize("NFC", name)))
    if collection is None:
        raise NotFound(f"no collection named {name!r}")
    return collection


def list_collections(session: Session, reader: Reader | None = None) -> list[Collection]:
    """Collections by name; with ``reader``, only those the reader may see."""
    query = select(Collection).order_by(Collection.name)
    if reader is not None:
        query = query.where(readable_collections(reader))
    return list(session.scalars(query))


def count_readable_aips(session: Session, reader: Reader) -> dict[int, int]:
    """Collection id → how many of its AIPs ``reader`` may read (collections with none left out)."""
    rows = session.execute(select(Aip.collection_id, func.count())
                           .where(readable_aips(reader)).group_by(Aip.collection_id))
    return {collection_id: count for collection_id, count in rows}


def get_or_create_collection(session: Session, name: str, title: str = "") -> Collection:
    """The collection called ``name`` (NFC), created if new: for rebuilding the catalogue
    from storage only; ingest and deposits need an existing one (catalog/collections.py)."""
    from sqlalchemy.exc import IntegrityError
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UsageError("a collection needs a name")
    collection = session.scalar(select(Collection).where(Collection.name == name))
    if collection is None:
        collection = Collection(name=name, title=unicodedata.normalize("NFC", title or name))
        claim_writer(session)  # the set-spec check reads inside the savepoint (database.py)
        try:
            # A savepoint: if another process made it meanwhile, use theirs.
            with session.begin_nested():
                session.add(collection)
        except IntegrityError:
            collection = session.scalar(select(Collection).where(Collection.name == name))
    return collection


def list_aips(session: Session, reader: Reader, collection: str | None = None, page: int = 1,
              per_page: int = 50) -> Page[Aip]:
    """The AIPs ``reader`` may read, newest first, optionally only one collection's (by name)."""
    query = (select(Aip).where(readable_aips(reader))
             .options(selectinload(Aip.dublin_core), selectinload(Aip.collection)))
    if collection is not None:
        # A collection the reader may not see is answered as missing: no name is confirmed.
        found = session.scalar(select(Collection.id).where(
            Collection.name == unicodedata.normalize("NFC", collection),
            readable_collections(reader)))
        if found is None:
            raise NotFound(f"no collection named {collection!r}")
        query = query.where(Aip.collection_id == found)
    return _paginate(session, query.order_by(Aip.created_at.desc(), Aip.id.desc()), page, per_page)


def get_aip(session: Session, identifier: str) -> Aip:
    aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
    if aip is None:
        raise NotFound(f"no AIP {identifier!r}")
    return aip


def search_aips(session: Session, reader: Reader, text: str, page: int = 1,
                per_page: int = 50) -> Page[Aip]:
    """AIPs ``reader`` may read that match ``text``, best first ("ha noi" finds "Hà Nội"):
    the search room's ranked search, as a page of AIPs."""
    from repository.metadata.text import fold_for_search
    from repository.search import search  # the search room sits above the catalogue
    if len(text) > MAX_SEARCH_CHARS:
        raise UsageError(f"q: a search is at most {MAX_SEARCH_CHARS} characters")
    words = fold_for_search(text).split()
    if len(words) > MAX_SEARCH_WORDS:
        raise UsageError(f"q: a search is at most {MAX_SEARCH_WORDS} words, not {len(words)}")
    result = search(session, reader, text, page=page, per_page=per_page, with_facets=False)
    return Page([hit.aip for hit in result.hits], result.total, page, per_page)
