"""Deposits on two real `kho worker` processes (Redis broker), one killed mid-ingest."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest
from sqlalchemy import func, select

from repository.catalog import Aip, add_user, open_catalog
from repository.ingest.deposits import create_deposit, get_deposit
from repository.ingest.models import Deposit
from repository.ingest.tasks import ATTEMPTS_KEY, enqueue_deposit
from repository.storage import OcflStore, get_location
from repository.storage.aip_layout import ocfl_id_for
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag
from tests.fixtures.bags import zip_folder
from tests.test_fixity_celery import KHO_BIN, stop, wait_for_workers


def _wait(what, condition, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.2)
    return found


def test_deposits_run_on_workers_and_survive_a_worker_killed_mid_ingest(
        settings, tmp_path, redis_url):
    import redis
    tag = uuid.uuid4().hex[:8]
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = settings.replace(
        redis_url=redis_url, ingest_executor="celery", drop_folder=drop,
        celery_queue=f"kho-test-{tag}", ingest_queue=f"kho-test-{tag}-ingest",
        ocr_queue=f"kho-test-{tag}-ocr", ingest_attempts=2)
    app = create_app(settings)
    catalog = app.extensions["kho"].catalog
    add_collections(catalog, "Hán-Nôm")
    with catalog.session() as session:
        _, token = add_user(session, "lan", "archivist")
    client, auth = app.test_client(), {"Authorization": f"Bearer {token}"}
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=6, size=(300, 400)),
                         tmp_path / "bag.zip")

    def post():
        with open(archive, "rb") as body:
            return client.post("/api/v1/deposits?collection=Hán-Nôm", data=body,
                               headers={**auth, "Content-Type": "application/zip"})

    # No worker answers: refused at once, nothing recorded, nothing left in staging.
    started = time.monotonic()
    refused = post()
    assert refused.status_code == 503, refused.get_json()
    assert "no Kho worker answers on the ingest queue" in refused.get_json()["message"]
    assert time.monotonic() - started < 30
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(Deposit)) == 0
    assert not any((settings.staging_dir / "uploads").glob("*/*"))

    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": settings.catalog_url, "KHO_REDIS_URL": redis_url,
           "KHO_CELERY_QUEUE": settings.celery_queue, "KHO_INGEST_QUEUE": settings.ingest_queue,
           "KHO_OCR_QUEUE": settings.ocr_queue, "KHO_INGEST_ATTEMPTS": "2",
           # A dead worker's lease lapses in 3 s, its unacknowledged task is handed on in 4 s;
           # the first attempt pauses with half the bag stored, long enough to be killed.
           "KHO_DEPOSIT_LEASE": "3", "KHO_WORKER_VISIBILITY_TIMEOUT": "4",
           "KHO_TEST_PAUSE_MIDWAY": "600", "KHO_FIXITY_THREADS": "1"}
    names = {f"kho-{n}-{tag}@test-host": n for n in ("a", "b")}
    logs = {n: open(tmp_path / f"worker-{n}.log", "w") for n in names.values()}
    workers = {name: subprocess.Popen(
        [KHO_BIN, "worker", "--concurrency", "1", "--loglevel", "INFO", "--name", name],
        env=env, stdout=logs[n], stderr=subprocess.STDOUT, start_new_session=True)
        for name, n in names.items()}
    store = OcflStore(get_location(settings, "local"))
    r = redis.Redis.from_url(redis_url)
    try:
        assert len(wait_for_workers(settings.replace(celery_queue=settings.ingest_queue),
                                    2)) == 2
        accepted = post()
        assert accepted.status_code == 202, accepted.get_json()
        deposit_id = accepted.get_json()["identifier"]
        upload_folder = settings.staging_dir / "uploads" / deposit_id
        assert upload_folder.is_dir()  # the shared staging the workers read from

        def mid_ingest():
            with catalog.session() as session:
                row = session.scalar(select(Deposit).where(Deposit.identifier == deposit_id))
                if row.status == "storing" and row.worker.startswith("celery:kho-") and \
                        store.incomplete_objects():
                    return row.worker, row.aip_identifier
            return None
        holder, planned = _wait("the first attempt to be half stored", mid_ingest)
        killed = holder.removeprefix("celery:").split("/")[0]
        os.killpg(workers[killed].pid, signal.SIGKILL)  # the whole worker: parent and child
        workers[killed].wait()

        done = _wait("the other worker to take the deposit over", lambda: (
            d if (d := get_deposit(catalog, deposit_id))["status"] in ("done", "failed")
            else None))
        assert done["status"] == "done", (done, (tmp_path / "worker-a.log").read_text()[-3000:],
                                          (tmp_path / "worker-b.log").read_text()[-3000:])
        with catalog.session() as session:
            row = session.scalar(select(Deposit).where(Deposit.identifier == deposit_id))
            assert not row.worker.startswith(f"celery:{killed}")  # the survivor finished it
            aips = list(session.scalars(select(Aip.identifier)))
        # One AIP, stored once, complete; the killed attempt's half object is gone.
        assert aips == [done["aip"]] and done["aip"] != planned
        assert list(store.list_objects()) == [ocfl_id_for(done["aip"])]
        assert store.incomplete_objects() == []
        assert not upload_folder.exists()
        assert int(r.get(ATTEMPTS_KEY.format(deposit_id))) == 2

        # A deposit whose workers kept dying is failed after KHO_INGEST_ATTEMPTS, saying so.
        bag = make_page_bag(drop / "second", pages=1, size=(40, 50), external_id="HN-2")
        second = create_deposit(catalog, source=str(bag), collection="Hán-Nôm",
                                depositor="lan", queued=True)
        r.set(ATTEMPTS_KEY.format(second), 2)  # as if two workers had died on it
        enqueue_deposit(settings, second, bag, remove_after=False)
        failed = _wait("the worn-out deposit to fail", lambda: (
            d if (d := get_deposit(catalog, second))["status"] in ("done", "failed") else None))
        assert failed["status"] == "failed" and "started 2 times" in failed["message"]
        assert bag.is_dir()  # a drop-folder bag is the depositor's: never removed
        with catalog.session() as session:
            assert session.scalar(select(func.count()).select_from(Aip)) == 1
    finally:
        stop([w for w in workers.values() if w.poll() is None])
        for log in logs.values():
            log.close()
        r.delete(settings.celery_queue, settings.ingest_queue, settings.ocr_queue)
        catalog.dispose()
