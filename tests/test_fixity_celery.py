"""Checks on two real Celery worker processes (Redis broker) match the in-process run."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from repository.catalog import open_catalog
from repository.cli import kho
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from tests.fixtures.aips import add_collections, make_page_bag

KHO_BIN = str(Path(sys.executable).parent / "kho")


def wait_for_workers(settings, count: int, timeout: float = 120) -> list[str]:
    """The names of ``count`` live workers on the queue, once they all answer."""
    from repository.workers import live_workers
    deadline = time.monotonic() + timeout
    while True:
        names = live_workers(settings, queue=settings.celery_queue, timeout=1)
        if len(names) >= count or time.monotonic() > deadline:
            return names


def stop(workers) -> None:
    for w in workers:
        os.killpg(w.pid, signal.SIGTERM)
    for w in workers:
        try:
            w.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(w.pid, signal.SIGKILL)
            w.wait()


def outcomes(document: dict) -> set[tuple[str, str, str]]:
    return {(a["identifier"], r["path"], r["outcome"]) for a in document["aips"]
            for r in a["results"]}


def test_two_workers_get_the_same_results_as_the_in_process_run(settings, tmp_path, redis_url):
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "C")
    aips = [ingest_package(make_page_bag(tmp_path / f"b{n}", pages=2, size=(40, 50),
                                         external_id=f"W-{n}"),
                           settings=settings, catalog=catalog, collection="C") for n in range(3)]
    catalog.dispose()
    storage = get_location(settings, "local")
    key = f"{aips[1].object_root}/v1/content/data/trang 2.jpg"
    storage.put(key, io.BytesIO(b"damaged"), algorithms=())
    queue = f"kho-test-{uuid.uuid4().hex[:8]}"
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": settings.catalog_url, "KHO_REDIS_URL": redis_url,
           "KHO_CELERY_QUEUE": queue, "KHO_FIXITY_THREADS": "1"}
    in_process = CliRunner().invoke(kho, ["fixity", "run", "--all", "--json"], env=env)
    assert in_process.exit_code == 1, in_process.output
    logs = [open(tmp_path / f"worker{n}.log", "w") for n in range(2)]
    workers = [subprocess.Popen([KHO_BIN, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
                                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True) for log in logs]
    try:
        # Two workers on one host, no --name: each has its own name, both answer.
        names = wait_for_workers(settings.replace(redis_url=redis_url, celery_queue=queue), 2)
        assert len(names) == 2 and all(n.startswith("kho-") for n in names), names
        on_workers = CliRunner().invoke(kho, ["fixity", "run", "--all", "--json"],
                                        env={**env, "KHO_FIXITY_EXECUTOR": "celery"})
    finally:
        stop(workers)
        for log in logs:
            log.close()
    assert on_workers.exit_code == 1, on_workers.output
    expected, got = json.loads(in_process.output), json.loads(on_workers.output)
    assert outcomes(got) == outcomes(expected)
    assert {a["identifier"]: a["outcome"] for a in got["aips"]} == {
        aips[0].identifier: "success", aips[1].identifier: "failure",
        aips[2].identifier: "success"}
    import redis
    redis.Redis.from_url(redis_url).delete(queue)


def test_fixity_run_on_celery_with_no_worker_says_so_at_once(settings, redis_url, tmp_path):
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "C")
    ingest_package(make_page_bag(tmp_path / "b", pages=1, size=(40, 50)), settings=settings,
                   catalog=catalog, collection="C")
    catalog.dispose()
    queue = f"kho-test-{uuid.uuid4().hex[:8]}"
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": settings.catalog_url, "KHO_REDIS_URL": redis_url,
           "KHO_CELERY_QUEUE": queue, "KHO_FIXITY_EXECUTOR": "celery"}
    started = time.monotonic()
    result = CliRunner().invoke(kho, ["fixity", "run", "--all"], env=env)
    assert result.exit_code == 1, result.output
    assert "no Kho worker answered" in result.output and queue in result.output
    assert "kho worker" in result.output
    assert time.monotonic() - started < 60  # not the hour it used to wait
    import redis
    assert redis.Redis.from_url(redis_url).llen(queue) == 0  # nothing was sent


def test_two_workers_may_not_share_a_name(settings, redis_url, tmp_path):
    queue = f"kho-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": settings.catalog_url, "KHO_REDIS_URL": redis_url,
           "KHO_CELERY_QUEUE": queue}
    name = f"kho-{uuid.uuid4().hex[:6]}@test-host"
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()  # before the worker, so that it starts at once
    catalog.dispose()
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen([KHO_BIN, "worker", "--concurrency", "1", "--name", name,
                                  "--loglevel", "WARNING"], env=env, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        names = wait_for_workers(settings.replace(redis_url=redis_url, celery_queue=queue), 1)
        assert names == [name], (first.poll(), (tmp_path / "first.log").read_text()[-3000:])
        second = subprocess.run([KHO_BIN, "worker", "--concurrency", "1", "--name", name],
                                env=env, capture_output=True, text=True, timeout=120)
    finally:
        stop([first])
    assert second.returncode == 2, second.stderr
    assert f"a worker named '{name}' is already running" in second.stderr


def test_waiting_for_results_stops_when_no_worker_answers_any_more(settings, redis_url):
    """A worker that dies mid-run (here: none left on the queue) ends the wait with an error
    at the next poll, not after an hour; the unfinished checks stay queued."""
    from repository.errors import WorkersUnavailable
    from repository.fixity.tasks import enqueue_checks, wait_for_results
    queue = f"kho-test-{uuid.uuid4().hex[:8]}"
    settings = settings.replace(redis_url=redis_url, celery_queue=queue)
    pending = enqueue_checks(settings, ["urn:uuid:never-checked"])
    started = time.monotonic()
    with pytest.raises(WorkersUnavailable, match="stopped answering; 1 of 1 checks"):
        wait_for_results(settings, pending, poll=1)
    assert time.monotonic() - started < 30
    import redis
    client = redis.Redis.from_url(redis_url)
    assert client.llen(queue) == 1  # still queued for the next worker
    client.delete(queue)
