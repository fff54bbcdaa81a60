"""OCR runs on Celery workers (`kho worker`), beside the fixity checks.

The same Celery app as fixity (one worker command serves both queues); OCR has its own
queue (KHO_OCR_QUEUE) so a long book never holds up the nightly fixity checks.
"""
from __future__ import annotations

from repository.config import Settings, load_settings
from repository.fixity.tasks import celery_app, configure

_catalog = None  # one per worker process, opened on first task


@celery_app.task(name="kho.text.ocr_aip")
def ocr_aip_task(identifier: str, languages: str, job_id: int) -> dict:
    """OCR one AIP in this worker; returns the run's summary."""
    global _catalog
    from repository.catalog import open_catalog
    from repository.text.run import ocr_aip
    settings = load_settings()
    if _catalog is None:
        _catalog = open_catalog(settings.catalog_url)
    return ocr_aip(settings, _catalog, identifier, languages=languages, job_id=job_id).as_dict()


def enqueue_ocr(settings: Settings, identifier: str, languages: str, job_id: int):
    """Send one OCR run to the OCR queue; returns its AsyncResult."""
    configure(settings)
    return ocr_aip_task.apply_async((identifier, languages, job_id), queue=settings.ocr_queue)
