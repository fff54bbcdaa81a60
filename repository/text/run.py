"""OCR runs over an AIP's pages: each page read once, progress kept, failures reported.

A run reads the pages that have no OCR in these languages yet (all of them with
``force``), several at once; a page Tesseract cannot read is named in the run's
failures and the others go on. The hOCR and text of each page are derivatives under
``KHO_DATA_DIR/derivatives/text/<aip>/`` (never part of the AIP: delete them and run
again); the catalogue keeps the text and word boxes for search.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from repository.catalog import Aip, get_aip, record_event
from repository.catalog.chain_store import record_chain_head
from repository.config import Settings
from repository.errors import KhoError, NotFound, UsageError
from repository.storage import get_location
from repository.text.layout import LayoutError, parse_hocr
from repository.text.models import OCR, OcrJob, PageText
from repository.text.ocr import (OcrFailed, check_languages, languages_for, read_page,
                                 require_languages, tesseract_version)
from repository.text.pages import Page, aip_pages, index_for_search, store_page_text

log = logging.getLogger(__name__)
Progress = Callable[[int, int, int], None]  # (pages done, failed, total)
SOFTWARE = "Kho OCR"


@dataclass
class OcrSummary:
    """The outcome of one run, as the CLI and the API show it."""

    job: int
    aip: str
    languages: str
    status: str
    pages_total: int
    pages_done: int
    pages_failed: int
    failures: list[dict]
    message: str = ""

    def as_dict(self) -> dict:
        return {"job": self.job, "aip": self.aip, "languages": self.languages,
                "status": self.status, "pages": self.pages_total, "done": self.pages_done,
                "failed": self.pages_failed, "failures": self.failures, "message": self.message}


def summary_of(job: OcrJob) -> OcrSummary:
    return OcrSummary(job.id, job.aip_identifier, job.languages, job.status, job.pages_total,
                      job.pages_done, job.pages_failed, list(job.failures or []), job.message)


def derivative_folder(settings: Settings, aip_identifier: str) -> Path:
    return settings.derivatives_dir / "text" / aip_identifier


def languages_for_aip(settings: Settings, catalog, identifier: str) -> str | None:
    """The languages KHO_OCR_LANGUAGES gives this AIP (by collection and type), or None."""
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        record = aip.dublin_core.record if aip.dublin_core else {}
        return languages_for(settings, aip.collection.name, record or {})


def create_job(catalog, identifier: str, languages: str) -> int:
    """Record a queued run (so its progress can be followed before a worker takes it)."""
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        job = OcrJob(aip_id=aip.id, aip_identifier=aip.identifier, languages=languages,
                     status="queued", failures=[])
        session.add(job)
        session.flush()
        return job.id


def latest_job(catalog, identifier: str) -> OcrSummary | None:
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        job = session.scalar(select(OcrJob).where(OcrJob.aip_id == aip.id)
                             .order_by(OcrJob.id.desc()).limit(1))
        return summary_of(job) if job else None


def ocr_aip(settings: Settings, catalog, identifier: str, *, languages: str | None = None,
            force: bool = False, job_id: int | None = None,
            progress: Progress | None = None) -> OcrSummary:
    """OCR every page of AIP ``identifier`` that has none in ``languages`` yet."""
    languages = check_languages(languages) if languages else \
        languages_for_aip(settings, catalog, identifier)
    if not languages:
        raise UsageError(f"no OCR languages for AIP {identifier}: give them (e.g. vie) or "
                         "configure KHO_OCR_LANGUAGES")
    if job_id is None:
        job_id = create_job(catalog, identifier, languages)
    try:
        require_languages(settings, languages)
    except KhoError as exc:  # e.g. no Tesseract data for a language: the run says so
        _fail(catalog, job_id, str(exc))
        raise
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        pages = aip_pages(session, aip)
        done_before = set() if force else set(session.scalars(select(PageText.image_sha512).where(
            PageText.aip_id == aip.id, PageText.source == OCR, PageText.language == languages)))
        location, object_root, aip_key = aip.location, aip.object_root, aip.id
        job = session.get(OcrJob, job_id)
        job.status, job.pages_total, job.languages = "running", len(pages), languages
        job.updated_at = datetime.now(timezone.utc)
    todo = [p for p in pages if p.sha512 not in done_before]
    counter = _Counter(catalog, job_id, len(pages) - len(todo), len(pages), progress)
    storage = get_location(settings, location)
    workers = settings.ocr_processes or os.cpu_count() or 1

    def one(page: Page) -> None:
        try:
            _ocr_page(settings, catalog, storage, object_root, aip_key, identifier, page,
                      languages)
        except (OcrFailed, LayoutError, OSError, KhoError) as exc:
            counter.failed(page.logical_path, str(exc))
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the book
            log.exception("OCR of %s in %s", page.logical_path, identifier)
            counter.failed(page.logical_path, f"internal error: {exc!r}")
        else:
            counter.done()

    with ThreadPoolExecutor(max(1, min(workers, len(todo) or 1)),
                            thread_name_prefix="kho-ocr") as pool:
        list(pool.map(one, todo))
    summary = _finish(settings, catalog, job_id, identifier, languages)
    record_chain_head(catalog, [storage])  # the OCR event is the log's newest now
    return summary


def _ocr_page(settings: Settings, catalog, storage, object_root: str, aip_key: int,
              identifier: str, page: Page, languages: str) -> None:
    folder = derivative_folder(settings, identifier)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(page.logical_path).suffix or ".img"
    with tempfile.NamedTemporaryFile(prefix="kho-page-", suffix=suffix,
                                     dir=folder) as image:
        for chunk in storage.iter_chunks(f"{object_root}/{page.content_path}"):
            image.write(chunk)
        image.flush()
        output = read_page(settings, Path(image.name), page.mime_type, languages)
    layout = parse_hocr(output.hocr)
    stem = f"{page.sha512[:32]}.{languages}"
    _write_atomically(folder / f"{stem}.hocr", output.hocr)
    _write_atomically(folder / f"{stem}.txt", output.text.encode("utf-8"))
    with catalog.session() as session:
        aip = session.get(Aip, aip_key)
        store_page_text(session, aip, page, source=OCR, language=languages, layout=layout,
                        origin=f"derivatives/text/{identifier}/{stem}.hocr")


def _write_atomically(target: Path, data: bytes) -> None:
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


class _Counter:
    """Progress of a run, written to its job row after every page (thread-safe)."""

    def __init__(self, catalog, job_id: int, done: int, total: int, progress: Progress | None):
        self.catalog, self.job_id, self.total, self.progress = catalog, job_id, total, progress
        self.done_count, self.failed_count = done, 0
        self.failures: list[dict] = []
        self.lock = threading.Lock()
        self._save()

    def done(self) -> None:
        with self.lock:
            self.done_count += 1
            self._save()

    def failed(self, page: str, message: str) -> None:
        with self.lock:
            self.failed_count += 1
            self.failures.append({"page": page, "message": message})
            self._save()

    def _save(self) -> None:
        with self.catalog.session() as session:
            job = session.get(OcrJob, self.job_id)
            job.pages_done, job.pages_failed = self.done_count, self.failed_count
            job.failures = list(self.failures)
            job.updated_at = datetime.now(timezone.utc)
        if self.progress:
            self.progress(self.done_count, self.failed_count, self.total)


def _fail(catalog, job_id: int, message: str) -> None:
    with catalog.session() as session:
        job = session.get(OcrJob, job_id)
        job.status, job.message = "failed", message
        job.finished_at = job.updated_at = datetime.now(timezone.utc)


def _finish(settings: Settings, catalog, job_id: int, identifier: str,
            languages: str) -> OcrSummary:
    now = datetime.now(timezone.utc)
    with catalog.session() as session:
        job = session.get(OcrJob, job_id)
        failed, total = job.pages_failed, job.pages_total
        job.status = "failed" if total and failed == total else "done"
        job.message = (f"{job.pages_done} of {total} pages read"
                       + (f", {failed} failed" if failed else ""))
        job.finished_at = job.updated_at = now
        outcome = "failure" if job.status == "failed" else ("warning" if failed else "success")
        names = "; ".join(f"{f['page']}: {f['message']}" for f in (job.failures or [])[:20])
        # The text is a derivative outside the AIP, but who read which pages, with what,
        # belongs in the AIP's history.
        record_event(session, event_type="metadata extraction", agent=SOFTWARE,
                     outcome=outcome, aip_identifier=identifier,
                     detail=f"OCR ({tesseract_version(settings.tesseract_command)}, "
                            f"{languages}): {job.message}" + (f" ({names})" if names else ""))
        index_for_search(session, job.aip_id)  # the pages were stored one by one: now
        return summary_of(job)


def request_ocr(settings: Settings, catalog, identifier: str) -> int | None:
    """After ingest: start (in process) or enqueue (Celery) the OCR that
    KHO_OCR_LANGUAGES gives this AIP; the job id, or None when it gets no OCR."""
    try:
        languages = languages_for_aip(settings, catalog, identifier)
    except NotFound:
        return None
    if not languages:
        return None
    job_id = create_job(catalog, identifier, languages)
    if settings.ocr_executor == "celery":
        from repository.text.tasks import enqueue_ocr
        enqueue_ocr(settings, identifier, languages, job_id)
    else:
        ocr_aip(settings, catalog, identifier, languages=languages, job_id=job_id)
    return job_id


def index_ocr_derivatives(settings: Settings, catalog, identifier: str) -> int:
    """Read the hOCR derivatives already made for the AIP's pages into the catalogue again
    (after `kho catalog rebuild`), without running Tesseract; the number of page texts."""
    folder = derivative_folder(settings, identifier)
    if not folder.is_dir():
        return 0
    count = 0
    with catalog.session() as session:
        aip = get_aip(session, identifier)
        for page in aip_pages(session, aip):
            for hocr in sorted(folder.glob(f"{page.sha512[:32]}.*.hocr")):
                languages = hocr.name[len(page.sha512[:32]) + 1:-len(".hocr")]
                try:
                    layout = parse_hocr(hocr.read_bytes())
                except LayoutError as exc:
                    log.warning("%s: %s", hocr, exc)
                    continue
                store_page_text(session, aip, page, source=OCR, language=languages,
                                layout=layout,
                                origin=f"derivatives/text/{identifier}/{hocr.name}")
                count += 1
        if count:
            index_for_search(session, aip.id)
    return count
