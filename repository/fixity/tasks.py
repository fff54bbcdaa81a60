"""Fixity checks on Celery workers (`kho worker`), with Redis as broker and result store.

The scheduler (or `kho fixity run` with KHO_FIXITY_EXECUTOR=celery) only enqueues one task
per AIP; a worker checks it exactly as the in-process run does, lease included.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from celery import Celery

from repository.config import Settings, load_settings

celery_app = Celery("kho")
_catalog = None  # one per worker process, opened on first task


def configure(settings: Settings) -> Celery:
    """Point the Celery app at ``settings.redis_url`` and the fixity queue."""
    celery_app.conf.update(
        broker_url=settings.redis_url, result_backend=settings.redis_url,
        task_default_queue=settings.celery_queue, task_serializer="json",
        result_serializer="json", accept_content=["json"], result_expires=7 * 86400,
        # One AIP at a time per worker process; a task lost with its worker is re-sent.
        worker_prefetch_multiplier=1, task_acks_late=True, task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
    return celery_app


@celery_app.task(name="kho.fixity.check_aip")
def check_aip_task(identifier: str, not_checked_since: str | None = None) -> dict:
    """Check one AIP in this worker; returns its outcome and every file result."""
    global _catalog
    from repository.catalog import open_catalog

    from .run import check_aips
    settings = load_settings()
    if _catalog is None:
        _catalog = open_catalog(settings.catalog_url)
    since = datetime.fromisoformat(not_checked_since) if not_checked_since else None
    summary = check_aips(settings, _catalog, [identifier], not_checked_since=since)
    if not summary.checks:
        return {"identifier": identifier, "skipped": True}
    check = summary.checks[0]
    return {"identifier": identifier, "skipped": False, "outcome": check.outcome,
            "location": check.location, "results": [r.as_dict() for r in check.results]}


def enqueue_checks(settings: Settings, identifiers: Iterable[str], *,
                   not_checked_since: datetime | None = None) -> list:
    """Send one task per AIP to the fixity queue; returns the AsyncResults."""
    configure(settings)
    since = not_checked_since.isoformat() if not_checked_since else None
    return [check_aip_task.apply_async((identifier, since), queue=settings.celery_queue)
            for identifier in identifiers]


def run_worker(settings: Settings, *, concurrency: int = 0, loglevel: str = "INFO",
               extra_queues: Iterable[str] = ()) -> None:
    """Run a Celery worker on the fixity queue and ``extra_queues`` (blocks until stopped)."""
    configure(settings)
    queues = ",".join(dict.fromkeys([settings.celery_queue, *extra_queues]))
    argv = ["worker", "-Q", queues, "--loglevel", loglevel,
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if concurrency > 0:
        argv += ["--concurrency", str(concurrency)]
    celery_app.worker_main(argv)
