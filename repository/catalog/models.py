"""The catalogue's tables: an index of what storage holds, never the only copy of a fact.

Everything here can be rebuilt from the OCFL objects (`kho catalog rebuild`), except users.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, MetaData,
                        String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Named constraints, so Alembic's batch mode can later drop or alter them on SQLite
# (an unnamed constraint cannot be addressed by a migration).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base shared by every room's models (catalog, ingest, fixity)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Collection(Base):
    """A named group of AIPs (a fonds, a series, a digitisation project)."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)  # as typed, NFC
    title: Mapped[str] = mapped_column(String(1000), default="")
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    access: Mapped[str] = mapped_column(String(20), default="public")
    embargo_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The OAI-PMH setSpec: an ASCII slug given once, so harvesters' set filters keep working.
    set_spec: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)

    aips: Mapped[list["Aip"]] = relationship(back_populates="collection")


class Aip(Base):
    """An Archival Information Package: one OCFL object in one storage location."""

    __tablename__ = "aips"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)  # public, URL-safe
    ocfl_id: Mapped[str] = mapped_column(String(200), unique=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"), index=True)
    location: Mapped[str] = mapped_column(String(100))
    object_root: Mapped[str] = mapped_column(String(500))  # key prefix inside the location
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    external_identifier: Mapped[str | None] = mapped_column(String(500), index=True)
    # "ALG:sha256 hex" over the sorted payload manifest: with external_identifier, spots a re-deposit.
    payload_digest: Mapped[str] = mapped_column(String(200), index=True)
    access: Mapped[str] = mapped_column(String(20), default="public")
    embargo_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    total_size: Mapped[int] = mapped_column(BigInteger, default=0)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Withdrawal (deaccession): the AIP stays in storage but is no longer disseminated.
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)
    withdrawal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the record last changed for a harvester (OAI-PMH datestamp), whole seconds UTC;
    # kept by repository.catalog.datestamps on every write, the embargo's end included.
    oai_datestamp: Mapped[datetime | None] = mapped_column(nullable=True)

    collection: Mapped[Collection] = relationship(back_populates="aips")
    versions: Mapped[list["AipVersion"]] = relationship(
        back_populates="aip", order_by="AipVersion.number", cascade="all, delete-orphan")
    files: Mapped[list["AipFile"]] = relationship(
        back_populates="aip", cascade="all, delete-orphan")
    dublin_core: Mapped["DublinCoreRecord | None"] = relationship(
        back_populates="aip", cascade="all, delete-orphan", uselist=False)


Index("ix_aips_oai_datestamp_identifier", Aip.oai_datestamp, Aip.identifier)


class AipVersion(Base):
    """One OCFL version (v1, v2, …) of an AIP."""

    __tablename__ = "aip_versions"
    __table_args__ = (UniqueConstraint("aip_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str] = mapped_column(Text, default="")
    agent: Mapped[str] = mapped_column(String(200), default="")
    inventory_sha512: Mapped[str] = mapped_column(String(128), default="")

    aip: Mapped[Aip] = relationship(back_populates="versions")


class AipFile(Base):
    """A file in one version of an AIP: its logical path and where its bytes are stored."""

    __tablename__ = "aip_files"
    __table_args__ = (UniqueConstraint("aip_id", "version", "logical_path"),
                      Index("ix_aip_files_sha512", "sha512"))

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    logical_path: Mapped[str] = mapped_column(String(1000))  # e.g. data/trang 1.tif, NFC
    content_path: Mapped[str] = mapped_column(String(1000))  # relative to the object root
    size: Mapped[int] = mapped_column(BigInteger)
    sha512: Mapped[str] = mapped_column(String(128))
    digests: Mapped[dict[str, Any]] = mapped_column(default=dict)  # other algorithms
    pronom_id: Mapped[str | None] = mapped_column(String(50))
    format_name: Mapped[str | None] = mapped_column(String(300))
    mime_type: Mapped[str | None] = mapped_column(String(200))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20), default="payload")  # payload|tag|metadata

    aip: Mapped[Aip] = relationship(back_populates="files")


class DublinCoreRecord(Base):
    """The current Dublin Core description of an AIP, with an accent-folded search copy."""

    __tablename__ = "dublin_core_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), unique=True)
    record: Mapped[dict[str, Any]] = mapped_column()  # the DC JSON, as in storage
    title: Mapped[str] = mapped_column(String(2000), default="")  # first title, NFC
    search_text: Mapped[str] = mapped_column(Text, default="")  # folded: "ha noi"
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The record's dc:* elements as OAI-PMH sends them, kept by catalog/datestamps.py on
    # every write so a harvest streams text instead of rebuilding XML (None: built on demand).
    oai_dc: Mapped[str | None] = mapped_column(Text, nullable=True)

    aip: Mapped[Aip] = relationship(back_populates="dublin_core")


class PremisEvent(Base):
    """A PREMIS-style event, hash-chained to the one before it (tamper evidence)."""

    __tablename__ = "premis_events"

    id: Mapped[int] = mapped_column(primary_key=True)  # the chain order
    identifier: Mapped[str] = mapped_column(String(64), unique=True)  # uuid
    aip_identifier: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(100))  # PREMIS eventType vocabulary
    event_datetime: Mapped[datetime] = mapped_column(default=utcnow)
    agent: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(50))  # success | failure | warning
    detail: Mapped[str] = mapped_column(Text, default="")
    file_path: Mapped[str | None] = mapped_column(String(1000))
    prev_digest: Mapped[str] = mapped_column(String(64), default="")
    digest: Mapped[str] = mapped_column(String(64), default="")


class User(Base):
    """A person or system with a role, a hashed API token and, for people, a password hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # archivist|researcher|auditor|admin
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)
    # None: the token never expires (KHO_TOKEN_DAYS=0); `kho user token` issues a new one.
    token_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    # Web sign-in: a scrypt hash (werkzeug), never the password; None: token-only account.
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    # Stored in each browser session; bumping it (new password, disable, revoke) ends them all.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_sign_in: Mapped[datetime | None] = mapped_column(nullable=True)


class AipCopy(Base):
    """One copy of an AIP in one storage location, and whether it is proven whole.

    ``state``: verified (every file read back and matching the inventory of ``version``),
    pending (the policy wants it; not yet made or not yet at the current version) or failed
    (copying or its last check failed). An AIP is safe only when every copy is verified at
    its current version.
    """

    __tablename__ = "aip_copies"
    __table_args__ = (UniqueConstraint("aip_id", "location"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    location: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    version: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="")
