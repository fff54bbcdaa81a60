"""Fixity checks on Celery workers (`kho worker`), with Redis as broker and result store.

The scheduler (or `kho fixity run` with KHO_FIXITY_EXECUTOR=celery) only enqueues one task
per AIP; a worker checks it exactly as the in-process run does, lease included.
"""
from __future__ import annotations

import os
import socket
from datetime import datetime
from typing import Iterable

from celery import Celery
from celery.exceptions import TimeoutError as ResultTimeout
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url

from repository.config import Settings, load_settings
from repository.errors import UsageError, WorkersUnavailable

# How long live workers get to answer a ping (a busy worker answers from its own thread),
# and how often a wait for results asks again whether any worker is still there.
PING_SECONDS = 2.0
RESULT_POLL_SECONDS = 30.0

celery_app = Celery("kho")
_catalog = None  # one per worker process, opened on first task


def _conf(settings: Settings) -> dict:
    return dict(
        broker_url=settings.redis_url, result_backend=settings.redis_url,
        task_default_queue=settings.celery_queue, task_serializer="json",
        result_serializer="json", accept_content=["json"], result_expires=7 * 86400,
        # One AIP at a time per worker process; a task lost with its worker is re-sent.
        worker_prefetch_multiplier=1, task_acks_late=True, task_reject_on_worker_lost=True,
        broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,
        # A task whose whole worker died (no one left to give it back) is handed to another
        # worker after this long; deposits hold a lease, so a copy of a long one waits.
        broker_transport_options=_transport_options(settings))


def _transport_options(settings: Settings) -> dict:
    """Redis hands on a dead worker's unacknowledged task after the visibility timeout,
    looking for such tasks every few seconds (kombu's default, once in 100 s, would make a
    short timeout pointless)."""
    timeout = max(1, settings.worker_visibility_timeout_s)
    return {"visibility_timeout": timeout, "unacked_restore_throttle": 1,
            "unacked_restore_interval": max(1, min(60, timeout // 4))}


def configure(settings: Settings) -> Celery:
    """Point the worker's Celery app at ``settings.redis_url`` and the fixity queue."""
    celery_app.conf.update(_conf(settings))
    return celery_app


_clients: dict[str, Celery] = {}


def _client(settings: Settings) -> Celery:
    """The sending side's app for one broker.  Celery caches its connection pools per app, so
    a process that talks to a second broker (tests do) needs a second app, not a new URL."""
    client = _clients.get(settings.redis_url)
    if client is None:
        client = Celery("kho", set_as_current=False)
        client.conf.update(_conf(settings))
        _clients[settings.redis_url] = client
    return client


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
    client = _client(settings)
    since = not_checked_since.isoformat() if not_checked_since else None
    return [client.send_task(check_aip_task.name, (identifier, since),
                             queue=settings.celery_queue)
            for identifier in identifiers]


def live_workers(settings: Settings, *, queue: str | None = None,
                 timeout: float = PING_SECONDS) -> list[str]:
    """Names of the workers that answer within ``timeout``; with ``queue``, only those
    consuming it.  Raises WorkersUnavailable when the broker cannot be reached."""
    try:
        replies = _client(settings).control.inspect(timeout=timeout).active_queues() or {}
    except (OperationalError, OSError) as exc:
        raise WorkersUnavailable(f"cannot reach the Celery broker at "
                                 f"{maybe_sanitize_url(settings.redis_url)}: {exc}") from exc
    return sorted(name for name, queues in replies.items()
                  if queue is None or any(q.get("name") == queue for q in queues or ()))


def require_workers(settings: Settings) -> list[str]:
    """The live workers on the fixity queue; WorkersUnavailable at once if there are none."""
    names = live_workers(settings, queue=settings.celery_queue)
    if not names:
        raise WorkersUnavailable(
            f"no Kho worker answered within {PING_SECONDS:g} s on queue "
            f"'{settings.celery_queue}' at {maybe_sanitize_url(settings.redis_url)}: start one "
            "with `kho worker` (same KHO_REDIS_URL and KHO_CELERY_QUEUE), or set "
            "KHO_FIXITY_EXECUTOR=local to check in this process")
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


def default_worker_name() -> str:
    """Unique on one host: two `kho worker` processes must not both be celery@HOST, or
    pings and remote control mix up their replies."""
    return f"kho-{os.getpid()}@{socket.gethostname()}"


def run_worker(settings: Settings, *, concurrency: int = 0, loglevel: str = "INFO",
               name: str | None = None, extra_queues: Iterable[str] = ()) -> None:
    """Run a Celery worker on the fixity queue and ``extra_queues`` (blocks until stopped)."""
    configure(settings)
    queues = ",".join(dict.fromkeys([settings.celery_queue, *extra_queues]))
    name = name or default_worker_name()
    if "@" not in name:
        name = f"{name}@{socket.gethostname()}"
    if name in live_workers(settings):
        raise UsageError(f"a worker named '{name}' is already running on this broker: "
                         "give this one another --name")
    argv = ["worker", "-Q", queues, "--loglevel", loglevel, "-n", name,
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    if concurrency > 0:
        argv += ["--concurrency", str(concurrency)]
    celery_app.worker_main(argv)
