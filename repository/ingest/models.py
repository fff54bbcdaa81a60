"""Deposits: a submission received over HTTP and its way to an AIP (received → done/failed)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from repository.catalog.models import Base, utcnow

DEPOSIT_STATES = ("received", "validating", "storing", "done", "failed")


class Deposit(Base):
    """One deposit made through the API, with the validation report when it failed."""

    __tablename__ = "deposits"

    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="received")
    # How far ingest has gone, 0–100: mostly the share of the bag's bytes stored.
    percent: Mapped[int] = mapped_column(default=0, server_default="0")
    source: Mapped[str] = mapped_column(String(1000))  # upload file name or drop-folder path
    collection: Mapped[str] = mapped_column(String(200))
    access: Mapped[str | None] = mapped_column(String(40))
    location: Mapped[str | None] = mapped_column(String(100))
    new_version: Mapped[bool] = mapped_column(default=False)
    depositor: Mapped[str] = mapped_column(String(200))
    # "host:pid" of the server process that carries the deposit through ingest.
    worker: Mapped[str | None] = mapped_column(String(300))
    aip_identifier: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    report: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
