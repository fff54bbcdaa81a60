"""OCR runs on Celery workers (`kho worker`), beside the fixity checks.

The same Celery app as fixity (one worker command serves both queues); OCR has its own
queue (KHO_OCR_QUEUE) so a long book never holds up the nightly fixity checks.
"""
from __future__ import annotations

from celery import Celery

from repository.config import Settings, load_settings
from repository.workers import celery_app

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


def enqueue_ocr(settings: Settings, identifier: str, languages: str, job_id: int) -> str:
    """Send one OCR run to the OCR queue; returns the task id.

    Sent by task name through a client of its own for ``settings``: the process-wide app
    keeps the broker it was first connected to, so reconfiguring it here could send other
    rooms' tasks to this broker (or these to another).
    """
    with Celery("kho-client", broker=settings.redis_url, backend=settings.redis_url) as client:
        client.conf.update(task_serializer="json", accept_content=["json"],
                           result_serializer="json", broker_connection_retry_on_startup=True)
        result = client.send_task(ocr_aip_task.name, (identifier, languages, job_id),
                                  queue=settings.ocr_queue)
        return result.id
