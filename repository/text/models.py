"""The text room's tables: the text of each page (OCR or transcription) and OCR runs.

Both are indexes of what is elsewhere: a transcription's text is in the AIP, an OCR
result in the derivatives folder (and can be made again), so `kho text ocr` and
`kho text reindex` rebuild them.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from repository.catalog.models import Base, utcnow

OCR = "ocr"
TRANSCRIPTION = "transcription"
SOURCES = (OCR, TRANSCRIPTION)


class PageText(Base):
    """The text of one page image in one language from one source, with its word boxes."""

    __tablename__ = "page_texts"
    __table_args__ = (UniqueConstraint("aip_id", "image_sha512", "source", "language"),
                      # Covering: a book's text stamp (count, newest change) reads the index only.
                      Index("ix_page_texts_aip_id_updated_at", "aip_id", "updated_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"))
    image_sha512: Mapped[str] = mapped_column(String(128))  # the page image it reads
    page_path: Mapped[str] = mapped_column(String(1000))  # the image's logical path, NFC
    source: Mapped[str] = mapped_column(String(20))  # ocr | transcription
    language: Mapped[str] = mapped_column(String(35))  # BCP 47 (vi, vi-Hani) or Tesseract's vie+fra
    # Where the text came from: a logical path in the AIP, or the derivative file of an OCR run.
    origin: Mapped[str] = mapped_column(String(1000), default="")
    text: Mapped[str] = mapped_column(Text, default="")  # NFC, lines separated by "\n"
    # Each token folded and wrapped in spaces (" ha  noi "), so a phrase is a substring:
    # found with LIKE or str.count, whole tokens only (see text/tokens.py).
    folded: Mapped[str] = mapped_column(Text, default="")
    # Word boxes [x, y, w, h, line, start, end] (offsets into text); empty for plain text.
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class OcrJob(Base):
    """One OCR run over an AIP's pages: its progress and the pages that failed."""

    __tablename__ = "ocr_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    aip_id: Mapped[int] = mapped_column(ForeignKey("aips.id", ondelete="CASCADE"), index=True)
    aip_identifier: Mapped[str] = mapped_column(String(64))
    languages: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    pages_failed: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"page": path, "message": …}]
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
