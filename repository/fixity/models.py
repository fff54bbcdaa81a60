"""The fixity room's tables: one row per file checked, each AIP's latest check, leases.

``fixity_aip_status.last_checked_at`` is indexed: the scheduler picks the next batch with
an ordered, limited query on it, never by reading every AIP.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from repository.catalog.models import Base, utcnow

# Outcomes of one file check. "error" is storage trouble (retry), not a fixity failure.
OK = "ok"
CHANGED = "changed"              # digest mismatch: bytes differ from what was stored
MISSING = "missing"              # listed in the inventory / catalogue, absent from storage
UNEXPECTED = "unexpected"        # present in the object, listed in no inventory
SIZE_CHANGED = "size changed"    # truncated or grown (size differs from the catalogue)
INVENTORY_ALTERED = "inventory altered"  # inventory.json does not match its sidecar
DISAGREE = "sources disagree"    # inventory, catalogue and bag manifest differ
ERROR = "error"                  # storage unreachable or unreadable
FAILURES = (CHANGED, MISSING, UNEXPECTED, SIZE_CHANGED, INVENTORY_ALTERED, DISAGREE)
OUTCOMES = (OK, *FAILURES, ERROR)


class FixityCheck(Base):
    """One check of one AIP (a run over all its files), the unit a PREMIS event records."""

    __tablename__ = "fixity_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    aip_identifier: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))  # success | failure | error
    files_checked: Mapped[int] = mapped_column(Integer, default=0)
    bytes_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    agent: Mapped[str] = mapped_column(String(200), default="")  # host/pid or worker
    event_identifier: Mapped[str | None] = mapped_column(String(64))


class FixityResult(Base):
    """The outcome for one file (or one inventory) in one check."""

    __tablename__ = "fixity_results"
    __table_args__ = (Index("ix_fixity_results_checked_at_outcome", "checked_at", "outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("fixity_checks.id", ondelete="CASCADE"),
                                          index=True)
    aip_identifier: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(1000))  # content path inside the object root
    location: Mapped[str] = mapped_column(String(100))
    algorithm: Mapped[str] = mapped_column(String(20), default="")
    expected: Mapped[str] = mapped_column(String(200), default="")
    actual: Mapped[str] = mapped_column(String(200), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)


class FixityAipStatus(Base):
    """Each AIP's latest check; rows are added for new AIPs before each batch is chosen."""

    __tablename__ = "fixity_aip_status"

    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"),
                                        primary_key=True)
    # NULL: catalogued but never checked (these go first).
    last_checked_at: Mapped[datetime | None] = mapped_column(index=True)
    last_outcome: Mapped[str] = mapped_column(String(20), default="")
    last_success_at: Mapped[datetime | None] = mapped_column()


class FixityLease(Base):
    """Who is checking an AIP now: one row per AIP, so no two processes check it at once."""

    __tablename__ = "fixity_leases"

    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"),
                                        primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column()


class LocationHealth(Base):
    """Since when a location has been failing, and whether that was already alerted."""

    __tablename__ = "fixity_location_health"

    location: Mapped[str] = mapped_column(String(100), primary_key=True)
    failing_since: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    alerted_at: Mapped[datetime | None] = mapped_column()
