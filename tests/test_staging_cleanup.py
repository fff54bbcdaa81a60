"""What a killed ingest leaves in staging is removed at start and by `kho storage gc`
(issue 8, item 7); what a living process still uses is left alone."""
from __future__ import annotations

import os
import subprocess
import sys
import time

from click.testing import CliRunner

from repository.catalog import open_catalog
from repository.cli import kho
from repository.ingest.deposits import create_deposit
from repository.web import create_app
from tests.fixtures.aips import make_page_bag
from tests.fixtures.bags import zip_folder

KILLED_MID_UNPACK = """
import os, sys
from pathlib import Path
from repository.config import load_settings
from repository.ingest.unpack import unpacked
settings = load_settings({}, data_dir=Path(sys.argv[1]))
with unpacked(Path(sys.argv[2]), settings):
    if sys.argv[3] == "kill":
        os.kill(os.getpid(), 9)
    print("unpacked", flush=True)
    sys.stdin.read()  # hold the folder until the test closes stdin
"""


def unpack_in_child(settings, archive, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", KILLED_MID_UNPACK, str(settings.data_dir),
                             str(archive), mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)


def age(path, seconds: int = 3600) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_staging_left_by_killed_processes_is_removed_at_start_and_by_gc(kho_settings, tmp_path):
    settings = kho_settings
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=2, size=(300, 400)),
                         tmp_path / "bag.zip")
    killed = unpack_in_child(settings, archive, "kill")
    assert killed.wait(60) == -9
    alive = unpack_in_child(settings, archive, "hold")
    assert alive.stdout.readline().strip() == "unpacked"
    staging = settings.staging_dir
    folders = sorted(staging.glob("unpack-*"))
    assert len(folders) == 2 and all(any(f.rglob("*.jpg")) for f in folders)
    for folder in folders:
        age(folder)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    uploads = staging / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    orphan = uploads / "0b6f0000-dead-4000-8000-000000000001.zip"  # no deposit row at all
    orphan.write_bytes(b"PK" * 1000)
    waiting = uploads / "0b6f0000-0000-4000-8000-000000000002.zip"  # a deposit still running
    waiting.write_bytes(b"PK" * 1000)
    create_deposit(catalog, source=str(waiting), collection="Hán-Nôm", depositor="lan",
                   identifier=waiting.name.split(".")[0])
    for item in (orphan, waiting):
        age(item)
    catalog.dispose()
    try:
        env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.catalog_url,
               "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
        dry = CliRunner().invoke(kho, ["storage", "gc", "--dry-run"], env=env)
        assert dry.exit_code == 0, dry.output
        assert "staging: would remove 2 abandoned item(s)" in dry.output
        assert orphan.exists() and len(list(staging.glob("unpack-*"))) == 2

        done = CliRunner().invoke(kho, ["storage", "gc"], env=env)  # the real thing
        assert done.exit_code == 0, done.output
        assert "staging: removed 2 abandoned item(s)" in done.output
        left = sorted(staging.glob("unpack-*"))
        assert left == [f for f in folders if f.exists()] and len(left) == 1
        assert any(left[0].rglob("*.jpg"))  # the living one's, whole
        assert not orphan.exists() and waiting.exists()

        # Another crash; this time a server starting afterwards cleans up.
        killed = unpack_in_child(settings, archive, "kill")
        assert killed.wait(60) == -9
        crashed = [f for f in staging.glob("unpack-*") if f not in left]
        assert len(crashed) == 1
        age(crashed[0])
        orphan.write_bytes(b"PK" * 1000)
        age(orphan)
        app = create_app(settings)
        app.extensions["kho"].extras["deposit_executor"].shutdown()
        app.extensions["kho"].catalog.dispose()
        assert sorted(staging.glob("unpack-*")) == left  # the living one's only
        assert not orphan.exists() and waiting.exists()
    finally:
        alive.stdin.close()
        alive.wait(60)
    assert not list(staging.glob("unpack-*"))  # the living process removed its own
    again = CliRunner().invoke(kho, ["storage", "gc"], env=env)
    assert again.exit_code == 0 and "staging: removed 0 abandoned item(s)" in again.output
