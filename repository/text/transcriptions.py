"""Transcriptions made by people (Hán-Nôm and/or Quốc ngữ readings), carried in the AIP.

A bag carries them as tag files ``metadata/transcriptions/<page>.<language>.<format>``
(docs/text.md): ``<page>`` is the page image's path under ``data/``, with or
without its extension; ``<language>`` a BCP 47 tag (``vi-Hani`` for Hán-Nôm, ``vi`` for
Quốc ngữ); the format ``txt`` (UTF-8), ``hocr`` or ``alto.xml``. An archivist's addition or
correction is stored as ``kho-metadata/transcriptions/<page path>.<language>.txt`` in a new
OCFL version and wins over the bag's file for that page and language.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import select

from repository.catalog import AipFile, get_aip, record_event
from repository.catalog.chain_store import record_chain_head
from repository.config import Settings
from repository.errors import NotFound, UsageError
from repository.storage import get_location
from repository.storage.aip_layout import METADATA_DIR
from repository.text.layout import PARSERS, LayoutError
from repository.text.models import TRANSCRIPTION
from repository.text.pages import (Page, aip_pages, find_page, index_for_search,
                                   remove_page_texts, store_page_text)

BAG_FOLDER = "metadata/transcriptions/"
EDIT_FOLDER = f"{METADATA_DIR}/transcriptions/"
MAX_TRANSCRIPTION_BYTES = 8 * 1024 * 1024
AGENT = "Kho transcriptions"
# Longest suffix first: "alto.xml" before "xml".
FORMATS = ((".alto.xml", "alto"), (".xml", "alto"), (".hocr", "hocr"), (".html", "hocr"),
           (".txt", "text"))
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")


@dataclass(frozen=True)
class TranscriptionFile:
    """A transcription file of the AIP and what its name says."""

    logical_path: str
    content_path: str
    page_name: str  # as in the file name
    language: str
    format: str
    edited: bool  # an archivist's version (kho-metadata/), not the bag's


@dataclass
class IndexReport:
    indexed: int = 0
    problems: list[str] = field(default_factory=list)


def check_language(tag: str) -> str:
    """A BCP 47 language tag such as ``vi`` or ``vi-Hani``; UsageError otherwise."""
    tag = tag.strip()
    if not _LANGUAGE.match(tag):
        raise UsageError(f"language {tag!r} is not a BCP 47 tag such as vi (Quốc ngữ) or "
                         "vi-Hani (Hán-Nôm)")
    return tag


def parse_name(logical_path: str) -> tuple[str, str, str] | None:
    """(page name, language, format) of a transcription's path, or None if it is not one."""
    for folder in (BAG_FOLDER, EDIT_FOLDER):
        if logical_path.startswith(folder):
            rest = logical_path[len(folder):]
            break
    else:
        return None
    for suffix, fmt in FORMATS:
        if rest.lower().endswith(suffix):
            name, dot, language = rest[:-len(suffix)].rpartition(".")
            if dot and name:
                return name, language, fmt
    return None


def match_page(pages: list[Page], name: str) -> Page | None:
    """The page ``name`` (a path under data/, with or without extension) stands for."""
    name = unicodedata.normalize("NFC", name)
    exact = find_page(pages, name)
    if exact is not None:
        return exact
    stems = [p for p in pages
             if p.logical_path.removeprefix("data/").rsplit(".", 1)[0] == name]
    return stems[0] if len(stems) == 1 else None


def edit_path(page: Page, language: str) -> str:
    return f"{EDIT_FOLDER}{page.logical_path.removeprefix('data/')}.{language}.txt"


def transcription_files(session, aip) -> list[TranscriptionFile]:
    # Two columns, not whole rows: this runs after every ingest, over every file of the bag.
    files = session.execute(select(AipFile.logical_path, AipFile.content_path).where(
        AipFile.aip_id == aip.id, AipFile.version == aip.current_version))
    found = []
    for f in files:
        parsed = parse_name(f.logical_path)
        if parsed:
            found.append(TranscriptionFile(f.logical_path, f.content_path, *parsed,
                                           edited=f.logical_path.startswith(EDIT_FOLDER)))
    return found


def index_transcriptions(settings: Settings, catalog, identifier: str) -> IndexReport:
    """Read the AIP's transcriptions from storage into the catalogue (replacing what was
    there); a file that cannot be used is named in the report, the others are kept."""
    report = IndexReport()
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        items = sorted(transcription_files(session, aip), key=lambda t: t.edited)
        # Most bags carry no transcriptions: their pages (every file row) are not read.
        pages = aip_pages(session, aip) if items else []
        storage = get_location(settings, aip.location)
        chosen: dict[tuple[str, str], tuple[TranscriptionFile, Page]] = {}
        for item in items:
            page = match_page(pages, item.page_name)
            if page is None:
                report.problems.append(f"{item.logical_path}: no page image data/"
                                       f"{item.page_name}[.ext] in this AIP")
                continue
            try:
                language = check_language(item.language)
            except UsageError as exc:
                report.problems.append(f"{item.logical_path}: {exc}")
                continue
            chosen[(page.sha512, language)] = (item, page)  # edits sort last and win
        keep = set()
        for (sha, language), (item, page) in chosen.items():
            try:
                data = _read(storage, f"{aip.object_root}/{item.content_path}")
                # Boxes in the page image's pixels, whatever unit the file measures in.
                layout = PARSERS[item.format](data).scaled_to(page.width, page.height)
            except LayoutError as exc:
                report.problems.append(f"{item.logical_path}: {exc}")
                continue
            if not layout.text:
                continue  # an emptied transcription: the page has none in this language
            store_page_text(session, aip, page, source=TRANSCRIPTION, language=language,
                            layout=layout, origin=item.logical_path)
            keep.add((sha, language))
            report.indexed += 1
        removed = remove_page_texts(session, aip, source=TRANSCRIPTION, keep=keep)
        if report.indexed or removed:  # ingest has just indexed an AIP that carries none
            index_for_search(session, aip.id)
        warned = False
        if report.problems:
            detail = "transcriptions not used: " + "; ".join(report.problems[:20])
            # Every new version re-reads the transcriptions: say the same thing once, not
            # again with each edit of the Dublin Core.
            if _last_warning(session, identifier) != detail:
                record_event(session, event_type="validation", agent=AGENT, outcome="warning",
                             aip_identifier=identifier, detail=detail)
                warned = True
    if warned:
        record_chain_head(catalog, [storage])  # that warning is the log's newest event now
    return report


def _last_warning(session, identifier: str) -> str | None:
    from repository.catalog.models import PremisEvent
    return session.scalar(
        select(PremisEvent.detail)
        .where(PremisEvent.aip_identifier == identifier, PremisEvent.agent == AGENT,
               PremisEvent.event_type == "validation")
        .order_by(PremisEvent.id.desc()).limit(1))


def _read(storage, key: str) -> bytes:
    if storage.head(key).size > MAX_TRANSCRIPTION_BYTES:
        raise LayoutError(f"larger than {MAX_TRANSCRIPTION_BYTES} bytes")
    return b"".join(storage.iter_chunks(key))


def read_transcriptions(catalog, identifier: str, page_name: str) -> tuple[Page, dict[str, dict]]:
    """A page and its transcriptions by language: {"vi-Hani": {"text": …, "origin": …}}."""
    from repository.text.models import PageText
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        page = find_page(aip_pages(session, aip), page_name)
        if page is None:
            raise NotFound(f"AIP {identifier} has no page {page_name!r}")
        rows = session.scalars(select(PageText).where(
            PageText.aip_id == aip.id, PageText.image_sha512 == page.sha512))
        return page, {f"{r.source}:{r.language}": {"source": r.source, "language": r.language,
                                                   "text": r.text, "origin": r.origin}
                      for r in rows}


def save_transcription(settings: Settings, catalog, identifier: str, page_name: str, *,
                       language: str, text: str, agent: str) -> int:
    """Add or correct a page's transcription in ``language``: a new OCFL version with a
    PREMIS event, then the catalogue's copy. Returns the new version's number."""
    from repository.ingest.amend import amend_aip
    language = check_language(language)
    if not isinstance(text, str):
        raise UsageError("the transcription must be text")
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    data = (text + "\n").encode("utf-8") if text else b""
    if len(data) > MAX_TRANSCRIPTION_BYTES:
        raise UsageError(f"the transcription is larger than {MAX_TRANSCRIPTION_BYTES} bytes")
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        page = find_page(aip_pages(session, aip), page_name)
        if page is None:
            raise NotFound(f"AIP {identifier} has no page {page_name!r}")
        had = session.scalar(select(AipFile.id).where(
            AipFile.aip_id == aip.id, AipFile.version == aip.current_version,
            AipFile.logical_path == edit_path(page, language))) is not None
    verb = "cleared" if not text else ("corrected" if had else "added")
    version = amend_aip(settings, catalog, identifier, agent=agent,
                        files={edit_path(page, language): data},
                        note=f"transcription of {page.logical_path} ({language}) {verb}")
    index_transcriptions(settings, catalog, identifier)
    return version
