"""The holdings register's tables: what each library holds under the digitisation programme.

These are the programme's own records (OAIS Administration), not an index of storage:
like users, they cannot be rebuilt from the OCFL objects. An item is linked to the AIPs
that preserve it by its shelfmark, at query time (``holdings/links.py``), never by a copy of
the AIP's state, so a later ingest or an access change shows at once.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from repository.catalog.models import Base, utcnow


class HoldingLibrary(Base):
    """A library taking part in the programme, with its own optional target."""

    __tablename__ = "holding_libraries"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # as typed, NFC
    name_key: Mapped[str] = mapped_column(String(200), index=True)  # folded, to match bag-info
    target_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    target_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    collections: Mapped[list["HoldingCollection"]] = relationship(back_populates="library")


class HoldingCollection(Base):
    """A library's own collection (Hán-Nôm, old newspapers…), not a Kho AIP collection."""

    __tablename__ = "holding_collections"
    __table_args__ = (UniqueConstraint("library_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("holding_libraries.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(200))
    target_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    target_date: Mapped[date | None] = mapped_column(Date, nullable=True)

    library: Mapped[HoldingLibrary] = relationship(back_populates="collections")


class HoldingItem(Base):
    """One item a library holds, digitised or not; unique by shelfmark within its library."""

    __tablename__ = "holding_items"
    __table_args__ = (UniqueConstraint("library_id", "shelfmark_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("holding_libraries.id", ondelete="CASCADE"))
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("holding_collections.id", ondelete="SET NULL"), index=True, nullable=True)
    shelfmark: Mapped[str] = mapped_column(String(200))  # as the library writes it, NFC
    # Folded (case, diacritics, spaces) so "HN 12" on the shelf matches "hn  12" in a bag.
    shelfmark_key: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str] = mapped_column(Text)
    parallel_titles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    creator: Mapped[str] = mapped_column(String(1000), default="")
    date: Mapped[str] = mapped_column(String(100), default="")  # EDTF: 1844/1909, 18XX, 1890~
    item_type: Mapped[str] = mapped_column(String(100), default="")
    languages: Mapped[list[Any]] = mapped_column(JSON, default=list)
    scripts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rare: Mapped[bool] = mapped_column(Boolean, default=False)
    condition: Mapped[str] = mapped_column(String(500), default="")
    pages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priority: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1 high … 3 low
    notes: Mapped[str] = mapped_column(Text, default="")
    # Set by staff; preserved and published are never stored: they follow from the AIPs.
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    status_changed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    library: Mapped[HoldingLibrary] = relationship()
    collection: Mapped[HoldingCollection | None] = relationship()


class HoldingStatusChange(Base):
    """Who moved an item from one status to another, when, and through which door."""

    __tablename__ = "holding_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("holding_items.id", ondelete="CASCADE"),
                                         index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    agent: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))  # csv | marc | api | web | cli
    note: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AipShelfmark(Base):
    """The shelfmark an AIP's bag carries (KHO_HOLDINGS_LINK_FIELD), read at ingest or later."""

    __tablename__ = "holding_aip_shelfmarks"

    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"),
                                        primary_key=True)
    shelfmark: Mapped[str] = mapped_column(String(500))
    shelfmark_key: Mapped[str] = mapped_column(String(500), index=True)
    # Source-Organization, folded: tells two libraries' equal shelfmarks apart.
    organization_key: Mapped[str] = mapped_column(String(500), default="")
    field: Mapped[str] = mapped_column(String(100))  # the bag-info field it came from
