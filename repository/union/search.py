"""Searching the union catalogue: Kho's own AIPs and every source's records, one work one
result with every library that holds it.

:func:`union_search_documents` yields the harvested records' searchable text, for the search
room (repository/search/) to index beside the AIPs when it takes over this search.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterator

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from repository.catalog.models import Aip, Collection, DublinCoreRecord
from repository.catalog.visibility import NOT_WITHDRAWN, descriptions_public
from repository.metadata.text import fold_for_search
from repository.union.models import UnionRecord, UnionSource
from repository.union.records import work_key

MAX_MATCHES = 500  # records read per search, before grouping


@dataclass(frozen=True)
class UnionSearchDocument:
    """One harvested record as the search room indexes it."""

    key: str            # "union:<row id>"
    holder: str         # the library that holds it
    title: str
    search_text: str    # folded
    work_key: str
    link: str           # the record at its source



def _escape_like(word: str) -> str:
    """``word`` as literal text inside a LIKE pattern (escape character: backslash)."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

def union_search_documents(session: Session) -> Iterator[UnionSearchDocument]:
    """Every live (not deleted) harvested record, for a search index."""
    rows = session.execute(
        select(UnionRecord.id, UnionSource.name, UnionRecord.title, UnionRecord.search_text,
               UnionRecord.work_key, UnionRecord.link)
        .join(UnionSource, UnionRecord.source_id == UnionSource.id)
        .where(UnionRecord.deleted.is_(False)).order_by(UnionRecord.id)
        .execution_options(yield_per=1000))
    for row_id, holder, title, text, key, link in rows:
        yield UnionSearchDocument(f"union:{row_id}", holder, title, text, key, link)


@dataclass
class Holder:
    library: str
    link: str
    own: bool = False   # held by this Kho


@dataclass
class Work:
    key: str
    title: str
    holders: list[Holder] = field(default_factory=list)


def _matches(column, words: list[str]):
    return and_(*(column.like(f"%{_escape_like(w)}%", escape="\\") for w in words))


def search_union_catalogue(session: Session, text: str, *, today: date,
                           own_library: str) -> list[Work]:
    """Works whose folded text holds every word of ``text``, each with all its holders."""
    words = fold_for_search(text).split()
    if not words:
        return []
    works: dict[str, Work] = {}
    own = session.execute(
        select(Aip.identifier, DublinCoreRecord.record, DublinCoreRecord.title)
        .join(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
        .join(Collection, Aip.collection_id == Collection.id)
        .where(NOT_WITHDRAWN, descriptions_public(today),
               _matches(DublinCoreRecord.search_text, words))
        .order_by(DublinCoreRecord.title).limit(MAX_MATCHES))
    for identifier, record, title in own:
        key = work_key(record or {})
        work = works.setdefault(key, Work(key, title))
        work.holders.append(Holder(own_library, f"/aips/{identifier}", own=True))
    harvested = session.execute(
        select(UnionRecord.work_key, UnionRecord.title, UnionRecord.link, UnionSource.name)
        .join(UnionSource, UnionRecord.source_id == UnionSource.id)
        .where(UnionRecord.deleted.is_(False), _matches(UnionRecord.search_text, words))
        .order_by(UnionRecord.title).limit(MAX_MATCHES))
    for key, title, link, library in harvested:
        work = works.setdefault(key, Work(key, title))
        work.holders.append(Holder(library, link))
    return sorted(works.values(), key=lambda w: fold_for_search(w.title))
