"""The search index's tables, on both databases.

A ``SearchDocument`` is one searchable text with its own kind: ``aip`` (an AIP's Dublin
Core description and the text of its pages), ``page`` (one page's OCR or transcribed text,
with its ``page`` number and image path in ``ref``) and ``union`` (a record harvested from
another library, with its ``union_record_id`` and no AIP). AIP and union documents carry the
``work_key`` of the work they describe, so the union catalogue's search shows one work once
with every library that holds it. Its text columns hold the search form
(folded words, see tokens.py); the original text with its diacritics stays in the catalogue.

Each backend keeps its own index beside this table (see schema.py): two contentless FTS5
tables on SQLite, a ``tsvector`` column with a GIN index on PostgreSQL. The folded text
lives only in that index; a document keeps its title (for sorting), a digest of what was
indexed (``text_hash``, so a re-index that changes only who may read it leaves the index
alone) and the ids of its facet values. Deleting an AIP or a harvested record deletes its
documents (ON DELETE CASCADE).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from repository.catalog.models import Base, utcnow

AIP_DOCUMENT = "aip"
PAGE_DOCUMENT = "page"
UNION_DOCUMENT = "union"


class SearchDocument(Base):
    """One searchable text: fields in search form, years for date filters."""

    __tablename__ = "search_documents"
    # SQLite: AUTOINCREMENT, so an id is never given twice; the contentless full-text
    # tables may still hold a deleted document's words under its id (schema.py).
    __table_args__ = (Index("ix_search_documents_aip_kind", "aip_id", "kind"),
                      Index("ix_search_documents_work_key", "work_key"),
                      Index("ix_search_documents_union_record_id", "union_record_id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int | None] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default=AIP_DOCUMENT)  # aip | page | union
    page: Mapped[int | None] = mapped_column(Integer)    # a page document's page number
    ref: Mapped[str | None] = mapped_column(String(500))  # what a non-AIP document points at
    union_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("union_records.id", ondelete="CASCADE"))  # a union document's record
    work_key: Mapped[str | None] = mapped_column(String(500))  # union.records.work_key
    # The title in search form ("dai nam thuc luc"), to sort by; the text of every field is
    # in the full-text index only.
    title: Mapped[str] = mapped_column(Text, default="")
    # 64 bits of BLAKE2b over everything the full-text index holds for this document.
    text_hash: Mapped[int | None] = mapped_column(BigInteger)
    # SearchFacetValue ids: a JSON array on SQLite, an integer array on PostgreSQL.
    facet_values: Mapped[list[int] | None] = mapped_column(
        JSON().with_variant(ARRAY(Integer), "postgresql"))
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


class SearchFacetValue(Base):
    """A facet value documents can have (type Text, language vi-Hani, decade 1890); a
    document lists the ids of its own (``SearchDocument.facet_values``). Collection and
    access are not here: every document carries them as columns."""

    __tablename__ = "search_facet_values"
    __table_args__ = (UniqueConstraint("facet", "value", name="uq_search_facet_values"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    facet: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(200))


# The longest word kept whole in search_words; a longer one is kept as its first MAX_WORD
# characters, which stand for it (and any other word they begin) when a prefix is expanded.
MAX_WORD = 100


class SearchWord(Base):
    """A folded word the index has seen: the vocabulary "did you mean" picks from, and the
    words a prefix stands for (``finder.known_words``)."""

    __tablename__ = "search_words"

    word: Mapped[str] = mapped_column(String(MAX_WORD), primary_key=True)
