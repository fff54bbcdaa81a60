"""Read helpers the doors need: pages of AIPs, one AIP, collections, search."""
from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Generic, Iterator, TypeVar

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from repository.catalog.models import Aip, Collection, DublinCoreRecord
from repository.errors import NotFound, UsageError

T = TypeVar("T")
MAX_PER_PAGE = 1000


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


# Withdrawn AIPs stay in storage and in the catalogue (their pages answer 410) but leave
# every listing and search. One named condition, to fold into the shared access condition.
NOT_WITHDRAWN = Aip.withdrawn_at.is_(None)


def descriptions_public(today):
    """SQL condition on Aip joined with its Collection: AIPs whose *description* anyone may
    see (OAI-PMH, the union catalogue): public and restricted ones, and embargoed ones once
    the embargo of the AIP and of its collection has ended (``today`` is a UTC date)."""
    def open_on(level, until):
        return or_(level != "embargoed", and_(until.is_not(None), until <= today))
    return and_(open_on(Aip.access, Aip.embargo_until),
                open_on(Collection.access, Collection.embargo_until))


def _paginate(session: Session, query: Select, page: int, per_page: int) -> Page:
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise UsageError(f"page must be ≥ 1 and per_page between 1 and {MAX_PER_PAGE}")
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items, total or 0, page, per_page)


def get_collection(session: Session, name: str) -> Collection:
    collection = session.scalar(select(Collection).where(
        Collection.name == unicodedata.normalize("NFC", name)))
    if collection is None:
        raise NotFound(f"no collection named {name!r}")
    return collection


def list_collections(session: Session) -> list[Collection]:
    return list(session.scalars(select(Collection).order_by(Collection.name)))


def get_or_create_collection(session: Session, name: str, title: str = "") -> Collection:
    """The collection called ``name`` (NFC), created if new."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UsageError("a collection needs a name")
    collection = session.scalar(select(Collection).where(Collection.name == name))
    if collection is None:
        collection = Collection(name=name, title=unicodedata.normalize("NFC", title or name))
        session.add(collection)
        session.flush()
    return collection


def list_aips(session: Session, collection: str | None = None, page: int = 1,
              per_page: int = 50) -> Page[Aip]:
    """AIPs, newest first, optionally only those of one collection (by name)."""
    query = (select(Aip).options(selectinload(Aip.dublin_core), selectinload(Aip.collection))
             .where(NOT_WITHDRAWN))
    if collection is not None:
        query = query.where(Aip.collection_id == get_collection(session, collection).id)
    return _paginate(session, query.order_by(Aip.created_at.desc(), Aip.id.desc()), page, per_page)


def get_aip(session: Session, identifier: str) -> Aip:
    aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
    if aip is None:
        raise NotFound(f"no AIP {identifier!r}")
    return aip


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_aips(session: Session, text: str, page: int = 1, per_page: int = 50) -> Page[Aip]:
    """AIPs whose folded Dublin Core text holds every word of ``text`` ("ha noi" finds "Hà Nội")."""
    try:
        from repository.metadata import fold_for_search
    except ImportError:  # the metadata room may not re-export it yet
        from repository.metadata.text import fold_for_search
    words = fold_for_search(text).split()
    query = (select(Aip).join(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
             .options(selectinload(Aip.dublin_core), selectinload(Aip.collection))
             .where(NOT_WITHDRAWN))
    if words:
        query = query.where(and_(*(DublinCoreRecord.search_text.like(
            f"%{_escape_like(w)}%", escape="\\") for w in words)))
    return _paginate(session, query.order_by(DublinCoreRecord.title, Aip.id), page, per_page)
