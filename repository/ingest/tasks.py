"""Deposits on Celery workers (`kho worker`) when KHO_INGEST_EXECUTOR=celery.

The web server receives the deposit (an upload into the shared staging folder under
KHO_DATA_DIR, or a path in the drop folder), records it and sends its identifier to the
ingest queue; any worker that sees the same data folder ingests it.  A deposit outlives the
worker that runs it:

- its task is acknowledged only when it ends (``acks_late``): a killed pool process gives
  it back at once (``reject_on_worker_lost``), a whole worker that died gives it back after
  KHO_WORKER_VISIBILITY_TIMEOUT, when Redis hands the unacknowledged task to another worker;
- while it runs, its worker renews a lease on the deposit's row; a copy of the task that
  arrives meanwhile waits, and takes the deposit over only when the lease lapses;
- every take-over is an attempt, counted in Redis: what the last one left is settled first
  (an AIP complete in storage is registered, an incomplete object removed, staging cleaned),
  then ingest runs again from the start; after KHO_INGEST_ATTEMPTS the deposit is failed
  with a message that says so.  Nothing half-written is ever visible: the OCFL object
  counts only once its root inventory is written, the AIP's rows are one transaction.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from repository.config import Settings, load_settings
from repository.fixity.tasks import _client, celery_app, live_workers

from .deposits import (CELERY_PREFIX, claim_deposit, discard_upload, renew_lease,
                       run_deposit, set_status, settle_interrupted_attempt)

log = logging.getLogger(__name__)
ATTEMPTS_KEY = "kho:deposit-attempts:{}"
ATTEMPTS_KEPT_S = 30 * 86400
# Test-only: seconds the first attempt pauses with half the bag stored (see _StoredBytes).
PAUSE_ENV = "KHO_TEST_PAUSE_MIDWAY"
_catalog = None  # one per worker process, opened on first task


def require_ingest_workers(settings: Settings) -> list[str]:
    """The live workers on the ingest queue; WorkersUnavailable at once if there are none
    (a deposit sent now would wait, unseen, for a worker that may never come)."""
    from kombu.utils.url import maybe_sanitize_url

    from repository.errors import WorkersUnavailable
    names = live_workers(settings, queue=settings.ingest_queue)
    if not names:
        raise WorkersUnavailable(
            f"no Kho worker answers on the ingest queue '{settings.ingest_queue}' at "
            f"{maybe_sanitize_url(settings.redis_url)}, so deposits cannot be ingested now: "
            "start one with `kho worker` (same KHO_REDIS_URL, KHO_INGEST_QUEUE and "
            "KHO_DATA_DIR), or set KHO_INGEST_EXECUTOR=inprocess")
    return names


def enqueue_deposit(settings: Settings, deposit_id: str, source: Path, *,
                    remove_after: bool) -> str:
    """Send a recorded deposit to the ingest queue; returns the task id."""
    return _client(settings).send_task(
        ingest_deposit_task.name, (deposit_id, str(source), remove_after),
        queue=settings.ingest_queue).id


@celery_app.task(name="kho.ingest.deposit", bind=True, ignore_result=True)
def ingest_deposit_task(self, deposit_id: str, source: str, remove_after: bool) -> None:
    """Ingest one deposit on this worker, or wait while another worker holds it."""
    global _catalog
    from repository.catalog import open_catalog
    settings = load_settings()
    if _catalog is None:
        _catalog = open_catalog(settings.catalog_url)
    holder = f"{CELERY_PREFIX}{self.request.hostname}/{os.getpid()}"
    run_on_worker(settings, _catalog, deposit_id, Path(source), remove_after=remove_after,
                  holder=holder)


def run_on_worker(settings: Settings, catalog, deposit_id: str, source: Path, *,
                  remove_after: bool, holder: str) -> str:
    """Claim the deposit (waiting out a living holder's lease), settle what an interrupted
    attempt left, then ingest it; returns how it ended for this call."""
    lease = max(1.0, float(settings.deposit_lease_s))
    while (claim := claim_deposit(catalog, deposit_id, holder, lease)) == "busy":
        time.sleep(min(5.0, lease / 3))  # a redelivered copy: the holder may yet finish
    if claim != "mine":
        return claim  # done, failed or unknown: a copy delivered twice has nothing to do
    beat = _Heartbeat(catalog, deposit_id, holder, lease / 3)
    beat.start()
    try:
        attempt = _count_attempt(settings, deposit_id)
        if attempt > 1:
            kept = settle_interrupted_attempt(settings, catalog, deposit_id)
            from repository.ingest.staging import clean_staging
            clean_staging(settings, catalog)  # unpack folders no living process holds
            if kept:
                set_status(catalog, deposit_id, "done", aip_identifier=kept.split()[0],
                           percent=100, message=f"stored as AIP {kept} (its worker stopped "
                           "before the deposit was marked done)")
                _discard(source, remove_after)
                return "done"
            if attempt > settings.ingest_attempts:
                set_status(catalog, deposit_id, "failed", message=(
                    f"ingest was started {attempt - 1} times and each time its worker stopped "
                    "before it ended (killed, out of memory, or its machine went down); "
                    "nothing was kept: deposit it again, and tell the administrator"))
                _discard(source, remove_after)
                return "failed"
            log.warning("deposit %s: attempt %d of %d (the last one's worker stopped)",
                        deposit_id, attempt, settings.ingest_attempts)
        pause = float(os.environ.get(PAUSE_ENV) or 0) if attempt == 1 else 0.0
        run_deposit(deposit_id, source, settings=settings, catalog=catalog,
                    remove_after=remove_after, pause_midway_s=pause)
    finally:
        beat.stop()
    _text_of_pages(settings, catalog, deposit_id)
    return "ran"


def _count_attempt(settings: Settings, deposit_id: str) -> int:
    """This attempt's number, kept by the broker (it outlives every worker)."""
    import redis
    client = redis.Redis.from_url(settings.redis_url)
    try:
        key = ATTEMPTS_KEY.format(deposit_id)
        attempt = int(client.incr(key))
        client.expire(key, ATTEMPTS_KEPT_S)
        return attempt
    finally:
        client.close()


def _discard(source: Path, remove_after: bool) -> None:
    if remove_after:
        import shutil
        if source.is_dir():
            shutil.rmtree(source, ignore_errors=True)
        else:
            discard_upload(source)


def _text_of_pages(settings: Settings, catalog, deposit_id: str) -> None:
    from repository.ingest.deposits import get_deposit
    from repository.text import after_ingest
    aip = get_deposit(catalog, deposit_id).get("aip")
    if not aip:
        return
    try:
        after_ingest(settings, catalog, aip)
    except Exception:  # noqa: BLE001 - the deposit is done; the run's own record says why
        log.exception("text of the pages of AIP %s", aip)


class _Heartbeat:
    """Renews the deposit's lease every ``every`` seconds on a thread of its own."""

    def __init__(self, catalog, deposit_id: str, holder: str, every: float):
        self._args = (catalog, deposit_id, holder)
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kho-deposit-lease",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                if not renew_lease(*self._args):
                    return
            except Exception:  # noqa: BLE001 - a missed beat only shortens the lease
                log.warning("deposit %s: lease not renewed", self._args[1], exc_info=True)
