"""The text of pages (OCR of print, transcriptions by people) and search inside a book.

Page text is neither the AIP nor the image service: OCR output is a rebuildable
derivative, transcriptions live in the AIP, and the catalogue keeps an index of both
for IIIF annotations and IIIF Content Search. The catalogue-wide search (repository/search)
reads every page's text with :func:`page_texts`.
"""
from repository.text.pages import page_texts
from repository.text.run import latest_job, ocr_aip, request_ocr
from repository.text.transcriptions import (index_transcriptions, read_transcriptions,
                                            save_transcription)


def after_ingest(settings, catalog, identifier: str) -> int | None:
    """What follows a stored AIP or version: its transcriptions are indexed, and OCR is run
    or enqueued when KHO_OCR_LANGUAGES selects it (the job id, or None)."""
    index_transcriptions(settings, catalog, identifier)
    return request_ocr(settings, catalog, identifier)


__all__ = ["after_ingest", "index_transcriptions", "latest_job", "ocr_aip", "page_texts",
           "read_transcriptions", "request_ocr", "save_transcription"]
