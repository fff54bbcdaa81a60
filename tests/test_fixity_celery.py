"""Checks on two real Celery worker processes (Redis broker) match the in-process run."""
from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from repository.catalog import open_catalog
from repository.cli import kho
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from tests.fixtures.aips import add_collections, make_page_bag

REDIS = os.environ.get("KHO_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.fixture
def redis_url():
    import redis
    url = f"{REDIS}/{random.randint(1, 15)}"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis not reachable at {url}: {exc}; CI is set, so this fails")
        pytest.skip(f"Redis not reachable at {url}: {exc} (would fail in CI)")
    return url


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
    kho_bin = str(Path(sys.executable).parent / "kho")
    logs = [open(tmp_path / f"worker{n}.log", "w") for n in range(2)]
    workers = [subprocess.Popen([kho_bin, "worker", "--concurrency", "1", "--loglevel", "WARNING"],
                                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True) for log in logs]
    try:
        on_workers = CliRunner().invoke(kho, ["fixity", "run", "--all", "--json"],
                                        env={**env, "KHO_FIXITY_EXECUTOR": "celery"})
    finally:
        for w in workers:
            os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait()
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
