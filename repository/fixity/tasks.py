"""Fixity checks on Celery workers (`kho worker`), with Redis as broker and result store.

The scheduler (or `kho fixity run` with KHO_FIXITY_EXECUTOR=celery) only enqueues one task
per AIP; a worker checks it exactly as the in-process run does, lease included.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from celery.exceptions import TimeoutError as ResultTimeout
from kombu.utils.url import maybe_sanitize_url

from repository.config import Settings, load_settings
from repository.errors import WorkersUnavailable
from repository.workers import PING_SECONDS, celery_app, client, live_workers

RESULT_POLL_SECONDS = 30.0  # how often a wait for results asks whether a worker is still there

_catalog = None  # one per worker process, opened on first task


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
    sender = client(settings)
    since = not_checked_since.isoformat() if not_checked_since else None
    return [sender.send_task(check_aip_task.name, (identifier, since),
                             queue=settings.celery_queue)
            for identifier in identifiers]


def require_workers(settings: Settings) -> list[str]:
    """The live workers on the fixity queue; WorkersUnavailable at once if there are none."""
    names = live_workers(settings, queue=settings.celery_queue)
    if not names:
        raise WorkersUnavailable(
            f"no Kho worker answered within {PING_SECONDS:g} s on queue "
            f"'{settings.celery_queue}' at {maybe_sanitize_url(settings.redis_url)}: start one "
            "with `kho worker` (same KHO_REDIS_URL and KHO_CELERY_QUEUE), or set "
            "KHO_FIXITY_EXECUTOR=inprocess to check in this process")
    return names


def wait_for_results(settings: Settings, pending: list, *,
                     poll: float = RESULT_POLL_SECONDS) -> list[dict]:
    """Every task's result, in order; WorkersUnavailable as soon as, while waiting, no
    worker answers on the queue any more (a check can take long, a dead worker cannot)."""
    results: list[dict] = []
    for result in pending:
        while True:
            try:
                results.append(result.get(timeout=poll))
                break
            except ResultTimeout:
                if not live_workers(settings, queue=settings.celery_queue):
                    raise WorkersUnavailable(
                        f"the Kho workers on queue '{settings.celery_queue}' stopped "
                        f"answering; {len(pending) - len(results)} of {len(pending)} checks "
                        "are not done (they stay queued for the next worker)") from None
    return results


