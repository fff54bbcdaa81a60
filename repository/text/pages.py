"""An AIP's pages as the text room sees them, and the stored text of each page.

A page is a page image of the AIP's current version, in the manifest's natural order;
its text rows are keyed by the image's digest, so OCR survives new versions that keep
the image, and a replaced image is read again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from repository.catalog import Aip, AipFile, get_aip
from repository.text.layout import PageLayout
from repository.text.models import PageText
from repository.text.tokens import folded_index, tokenise


@dataclass(frozen=True)
class Page:
    """One page image: where it is in the AIP and the name of its IIIF canvas."""

    logical_path: str
    content_path: str
    sha512: str
    mime_type: str
    width: int
    height: int
    canvas_name: str  # the last part of the canvas id (access/presentation.py)


def aip_pages(session: Session, aip: Aip) -> list[Page]:
    """The page images of ``aip``'s current version, in natural order of their paths."""
    files = {f.logical_path: f for f in session.scalars(select(AipFile).where(
        AipFile.aip_id == aip.id, AipFile.version == aip.current_version))}
    # iiif_prezi3 takes ~0.3 s to import: every `kho ingest` reaches this module, few pages.
    from repository.access.presentation import page_images
    pages = []
    for image in page_images(files.values(), aip.identifier):
        f = files[image.logical_path]
        pages.append(Page(f.logical_path, f.content_path, f.sha512, f.mime_type or "",
                          image.width, image.height, image.image_id.rsplit("~", 1)[1]))
    return pages


def find_page(pages: list[Page], name: str) -> Page | None:
    """The page whose canvas name or logical path (with or without ``data/``) is ``name``."""
    for page in pages:
        if name in (page.canvas_name, page.logical_path, page.logical_path.removeprefix("data/")):
            return page
    return None


def store_page_text(session: Session, aip: Aip, page: Page, *, source: str, language: str,
                    layout: PageLayout, origin: str) -> PageText:
    """Insert or replace the text of ``page`` from ``source`` in ``language``."""
    row = session.scalar(select(PageText).where(
        PageText.aip_id == aip.id, PageText.image_sha512 == page.sha512,
        PageText.source == source, PageText.language == language))
    if row is None:
        row = PageText(aip_id=aip.id, image_sha512=page.sha512, source=source,
                       language=language)
        session.add(row)
    row.page_path = page.logical_path
    row.origin = origin
    row.text = layout.text
    row.folded = folded_index(tokenise(layout.text))
    row.words = layout.words
    row.updated_at = datetime.now(timezone.utc)
    return row


def remove_page_texts(session: Session, aip: Aip, *, source: str, keep: set[tuple[str, str]]) -> int:
    """Delete ``source`` rows of ``aip`` whose (image digest, language) is not in ``keep``."""
    rows = session.execute(select(PageText.id, PageText.image_sha512, PageText.language).where(
        PageText.aip_id == aip.id, PageText.source == source)).all()
    gone = [row.id for row in rows if (row.image_sha512, row.language) not in keep]
    if gone:
        session.execute(delete(PageText).where(PageText.id.in_(gone)))
    return len(gone)


def index_for_search(session: Session, aip_id: int) -> None:
    """Bring the catalogue-wide search up to date with an AIP's page text, in this
    transaction: the AIP is found by its words, and its page documents say where."""
    from repository.search import index_aips  # imported here: the search room reads PageText
    session.flush()
    index_aips(session, [aip_id])


def text_stamp(session: Session, aip: Aip) -> str:
    """Changes whenever any page text of ``aip`` does (a manifest cache key part)."""
    count, latest = session.execute(select(func.count(PageText.id), func.max(PageText.updated_at))
                                    .where(PageText.aip_id == aip.id)).one()
    return f"{count}:{latest.isoformat() if latest else ''}"


def current_texts(session: Session, aip: Aip) -> list[PageText]:
    """Text rows of the pages ``aip`` has now, in page order (then source and language)."""
    from repository.access.presentation import natural_key
    shas = {p.sha512 for p in aip_pages(session, aip)}
    rows = [r for r in session.scalars(select(PageText).where(PageText.aip_id == aip.id))
            if r.image_sha512 in shas]
    return sorted(rows, key=lambda r: (natural_key(r.page_path), r.source != "transcription",
                                       r.language))


def page_texts(catalog, aip_identifier: str) -> Iterator[tuple[str, str]]:
    """(page, text) for every page of an AIP that has text: the page is the image's logical
    path (``data/trang 1.jpg``), the text NFC. For the catalogue-wide search index."""
    with catalog.session() as session:
        aip = get_aip(session, aip_identifier)
        rows = [(r.page_path, r.text) for r in current_texts(session, aip) if r.text]
    yield from rows


def text_canvases(session: Session, aip: Aip) -> set[str]:
    """Canvas names of ``aip``'s current pages that have any text."""
    shas = set(session.scalars(select(PageText.image_sha512).where(PageText.aip_id == aip.id)
                               .distinct()))
    if not shas:
        return set()
    return {p.canvas_name for p in aip_pages(session, aip) if p.sha512 in shas}
