"""The union catalogue's tables: other libraries' records, apart from Kho's own AIPs.

Harvested metadata arrives from outside with its own provenance; it never enters the AIP
tables, and nothing here is preserved by Kho (the source holds the work).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from repository.catalog.models import Base, utcnow


class UnionSource(Base):
    """A library whose OAI-PMH provider an admin added, and how and when to harvest it."""

    __tablename__ = "union_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # NFC, as typed
    base_url: Mapped[str] = mapped_column(String(1000))
    set_spec: Mapped[str | None] = mapped_column(String(200), nullable=True)
    metadata_prefix: Mapped[str] = mapped_column(String(100), default="oai_dc")
    interval_hours: Mapped[int] = mapped_column(Integer, default=24)
    granularity: Mapped[str | None] = mapped_column(String(30), nullable=True)  # from Identify
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Incremental harvests start from the *start* of the last successful one (responses are
    # not in date order, and records change while a harvest runs).
    last_success_started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # A lease, so two servers never harvest one source at once (a crashed one expires).
    harvesting_until: Mapped[datetime | None] = mapped_column(nullable=True)

    harvests: Mapped[list["UnionHarvest"]] = relationship(
        back_populates="source", order_by="UnionHarvest.id", cascade="all, delete-orphan")


class UnionHarvest(Base):
    """One harvest of one source, and its report."""

    __tablename__ = "union_harvests"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("union_sources.id", ondelete="CASCADE"),
                                           index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    full: Mapped[bool] = mapped_column(Boolean, default=False)
    from_datestamp: Mapped[str | None] = mapped_column(String(30), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|success|failed
    added: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[Any]] = mapped_column(JSON, default=list)

    source: Mapped[UnionSource] = relationship(back_populates="harvests")


class UnionRecord(Base):
    """One record harvested from a source, with its provenance and the raw XML received."""

    __tablename__ = "union_records"
    __table_args__ = (UniqueConstraint("source_id", "oai_identifier"),
                      Index("ix_union_records_work_key", "work_key"))

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("union_sources.id", ondelete="CASCADE"),
                                           index=True)
    oai_identifier: Mapped[str] = mapped_column(String(1000))
    datestamp: Mapped[str] = mapped_column(String(30))  # as the source wrote it
    harvested_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    set_specs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    raw_xml: Mapped[str] = mapped_column(Text, default="")
    record: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # Kho's DC form
    title: Mapped[str] = mapped_column(String(2000), default="")
    search_text: Mapped[str] = mapped_column(Text, default="")  # folded: "ha noi"
    work_key: Mapped[str] = mapped_column(String(500), default="")  # one work, many holders
    link: Mapped[str] = mapped_column(String(2000), default="")  # the record at the source

    source: Mapped[UnionSource] = relationship()
