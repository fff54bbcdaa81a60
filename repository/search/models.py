"""The search index's tables, on both databases.

A ``SearchDocument`` is one searchable text with its own kind: ``aip`` (an AIP's Dublin
Core description and the text of its pages), ``page`` (one page's OCR or transcribed text,
with its ``page`` number and image path in ``ref``) and ``union`` (a record harvested from
another library, with its ``union_record_id`` and no AIP). AIP and union documents carry the
``work_key`` of the work they describe, so the union catalogue's search shows one work once
with every library that holds it. Its text columns hold the search form
(folded words, see tokens.py); the original text with its diacritics stays in the catalogue.

Each backend adds its own index over this table in the migration (0005_search): an FTS5
table kept by triggers on SQLite, a generated ``tsvector`` column with a GIN index on
PostgreSQL (see schema.py). Deleting an AIP or a harvested record deletes its documents
(ON DELETE CASCADE).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from repository.catalog.models import Base, utcnow

AIP_DOCUMENT = "aip"
PAGE_DOCUMENT = "page"
UNION_DOCUMENT = "union"


class SearchDocument(Base):
    """One searchable text: fields in search form, years for date filters."""

    __tablename__ = "search_documents"
    __table_args__ = (Index("ix_search_documents_aip_kind", "aip_id", "kind"),
                      Index("ix_search_documents_work_key", "work_key"),
                      Index("ix_search_documents_union_record_id", "union_record_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int | None] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default=AIP_DOCUMENT)  # aip | page | union
    page: Mapped[int | None] = mapped_column(Integer)    # a page document's page number
    ref: Mapped[str | None] = mapped_column(String(500))  # what a non-AIP document points at
    union_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("union_records.id", ondelete="CASCADE"))  # a union document's record
    work_key: Mapped[str | None] = mapped_column(String(500))  # union.records.work_key
    title: Mapped[str] = mapped_column(Text, default="")    # search form: "dai nam thuc luc"
    creator: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")     # every other element, page text
    exact: Mapped[str] = mapped_column(Text, default="")    # each toned word once: ranking
    year_from: Mapped[int | None] = mapped_column(Integer)
    year_to: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The AIP's own access, embargo, collection and withdrawal, copied when it is indexed
    # (every change to them re-indexes it, in the same transaction), so that who may read
    # a hit is decided on the document itself: joining aips cost a lookup per hit, and
    # PostgreSQL chose to read the whole aips table for it. Null for union documents.
    access: Mapped[str | None] = mapped_column(String(20))
    embargo_until: Mapped[date | None] = mapped_column()
    collection_id: Mapped[int | None] = mapped_column(Integer)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)


class SearchFacet(Base):
    """A facet value of a document (collection, type, language, decade, access)."""

    __tablename__ = "search_facets"
    # SQLite: the primary key is the table (no rowid copy); the index answers filters.
    __table_args__ = (Index("ix_search_facets_facet_value", "facet", "value", "document_id"),
                      {"sqlite_with_rowid": False})

    document_id: Mapped[int] = mapped_column(
        ForeignKey("search_documents.id", ondelete="CASCADE"), primary_key=True)
    facet: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class SearchWord(Base):
    """A folded word the index has seen: the vocabulary "did you mean" picks from."""

    __tablename__ = "search_words"

    word: Mapped[str] = mapped_column(String(100), primary_key=True)
