"""The Celery app every `kho worker` runs, with Redis as broker and result store.

Deposits (ingest/tasks.py), fixity checks (fixity/tasks.py) and OCR (text/tasks.py) each
register their task with this one app, on queues of their own; the sending side gets a
client app per broker. Imported only by the commands that use workers: Celery is heavy.
"""
from __future__ import annotations

import os
import socket
from typing import Iterable

from celery import Celery
from kombu.exceptions import OperationalError
from kombu.utils.url import maybe_sanitize_url

from repository.config import Settings
from repository.errors import UsageError, WorkersUnavailable

# How long live workers get to answer a ping (a busy worker answers from its own thread).
PING_SECONDS = 2.0

celery_app = Celery("kho")


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


def client(settings: Settings) -> Celery:
    """The sending side's app for one broker.  Celery caches its connection pools per app, so
    a process that talks to a second broker (tests do) needs a second app, not a new URL."""
    app = _clients.get(settings.redis_url)
    if app is None:
        app = Celery("kho", set_as_current=False)
        app.conf.update(_conf(settings))
        _clients[settings.redis_url] = app
    return app


def live_workers(settings: Settings, *, queue: str | None = None,
                 timeout: float = PING_SECONDS) -> list[str]:
    """Names of the workers that answer within ``timeout``; with ``queue``, only those
    consuming it.  Raises WorkersUnavailable when the broker cannot be reached."""
    try:
        replies = client(settings).control.inspect(timeout=timeout).active_queues() or {}
    except (OperationalError, OSError) as exc:
        raise WorkersUnavailable(f"cannot reach the Celery broker at "
                                 f"{maybe_sanitize_url(settings.redis_url)}: {exc}") from exc
    return sorted(name for name, queues in replies.items()
                  if queue is None or any(q.get("name") == queue for q in queues or ()))


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
