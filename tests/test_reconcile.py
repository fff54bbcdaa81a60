"""An ingest killed between its complete object and the catalogue commit (issue 8, item 4):
`kho storage gc` does not remove the object, lists it, and with --register catalogues it;
a deposit killed at any point says, once the server starts again, what was kept."""
from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from repository.catalog import open_catalog, verify_chain
from repository.catalog.events import events_for_aip
from repository.catalog.models import Aip
from repository.catalog.queries import get_aip
from repository.cli import kho
from repository.ingest.deposits import get_deposit, reconcile_interrupted_deposits
from repository.storage import OcflStore, get_location
from repository.storage.aip_layout import ocfl_id_for
from tests.fixtures.aips import TITLE_VI, add_collections, make_page_bag

KILLED_BEFORE_COMMIT = """
import os, sys
from pathlib import Path
from repository.catalog import open_catalog
from repository.config import load_settings
from repository.ingest import pipeline
settings = load_settings({}, data_dir=Path(sys.argv[1]), database_url=sys.argv[2],
                         storage_config_dir=Path(sys.argv[3]))
catalog = open_catalog(settings.catalog_url)
catalog.upgrade()
# The process dies where a kill -9 would hit it: the object is complete, nothing committed.
pipeline.register_aip = lambda *args, **kwargs: os.kill(os.getpid(), 9)
pipeline.ingest_package(Path(sys.argv[4]), settings=settings, catalog=catalog,
                        collection="Hán-Nôm")
"""


def test_an_object_left_uncatalogued_by_a_kill_is_listed_and_registered_never_removed(
        kho_settings, tmp_path):
    settings = kho_settings
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")  # Kho refuses to ingest into an unknown collection
    catalog.dispose()
    bag = make_page_bag(tmp_path / "bag", pages=2, size=(120, 160))
    child = subprocess.run([sys.executable, "-c", KILLED_BEFORE_COMMIT, str(settings.data_dir),
                            settings.catalog_url, str(settings.storage_config_dir), str(bag)])
    assert child.returncode == -9
    env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.catalog_url,
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
    listed = CliRunner().invoke(kho, ["storage", "gc", "--older-than", "0s"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "removed 0 incomplete item(s)" in listed.output
    assert "uncatalogued urn:uuid:" in listed.output
    registered = CliRunner().invoke(kho, ["storage", "gc", "--register"], env=env)
    assert registered.exit_code == 0 and "registered urn:uuid:" in registered.output
    aip_id = registered.output.split(" as AIP ")[1].split()[0]
    catalog = open_catalog(settings.catalog_url)
    try:
        with catalog.session() as session:
            aip = get_aip(session, aip_id)
            assert aip.dublin_core.title == TITLE_VI and aip.file_count == 2
            assert "ingestion" in {e.event_type for e in events_for_aip(session, aip_id)}
            assert verify_chain(session).ok
    finally:
        catalog.dispose()
    again = CliRunner().invoke(kho, ["storage", "gc"], env=env)
    assert "uncatalogued" not in again.output


KILLED_DEPOSIT = """
import os, sys
from pathlib import Path
from repository.catalog import open_catalog
from repository.config import load_settings
from repository.ingest import deposits, pipeline
from repository.storage.ocfl import OcflStore
settings = load_settings({}, data_dir=Path(sys.argv[1]), database_url=sys.argv[2],
                         storage_config_dir=Path(sys.argv[3]))
catalog = open_catalog(settings.catalog_url)
die = lambda *args, **kwargs: os.kill(os.getpid(), 9)
if sys.argv[5] == "content stored, no inventory":
    OcflStore._commit = die
elif sys.argv[5] == "inventory written, no catalogue commit":
    pipeline.register_aip = die
else:  # catalogue committed, deposit row not yet done
    set_status = deposits.set_status
    deposits.set_status = lambda c, i, status, **f: (
        die() if status == "done" else set_status(c, i, status, **f))
deposit = deposits.create_deposit(catalog, source=sys.argv[4], collection="Hán-Nôm",
                                  depositor="thủ thư")
print(deposit, flush=True)
deposits.run_deposit(deposit, Path(sys.argv[4]), settings=settings, catalog=catalog,
                     remove_after=False)
"""


@pytest.mark.parametrize("killed, kept", [("content stored, no inventory", False),
                                          ("inventory written, no catalogue commit", True),
                                          ("catalogue committed, deposit not done", True)])
def test_a_deposit_killed_mid_ingest_says_after_a_restart_what_was_kept(
        kho_settings, tmp_path, killed, kept):
    settings = kho_settings
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    bag = make_page_bag(tmp_path / "bag", pages=2, size=(120, 160))
    child = subprocess.run([sys.executable, "-c", KILLED_DEPOSIT, str(settings.data_dir),
                            settings.catalog_url, str(settings.storage_config_dir), str(bag),
                            killed], stdout=subprocess.PIPE, text=True)
    assert child.returncode == -9
    deposit = child.stdout.split()[0]
    try:
        assert get_deposit(catalog, deposit)["status"] == "storing"
        # The server starting again settles it.
        assert reconcile_interrupted_deposits(settings, catalog) == 1
        settled = get_deposit(catalog, deposit)
        store = OcflStore(get_location(settings, settings.default_location))
        if kept:
            assert settled["status"] == "done" and settled["aip"], settled
            assert f"stored as AIP {settled['aip']} v1" in settled["message"]
            with catalog.session() as session:
                aip = get_aip(session, settled["aip"])
                assert aip.dublin_core.title == TITLE_VI and aip.file_count == 2
                assert verify_chain(session).ok
            assert store.exists(ocfl_id_for(settled["aip"]))
        else:
            assert settled["status"] == "failed" and settled["aip"] is None, settled
            assert "nothing was kept" in settled["message"]
            assert list(store.list_objects()) == []
            with catalog.session() as session:
                assert session.scalar(select(func.count()).select_from(Aip)) == 0
        assert reconcile_interrupted_deposits(settings, catalog) == 0
    finally:
        catalog.dispose()
    env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.catalog_url,
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
    gc = CliRunner().invoke(kho, ["storage", "gc", "--older-than", "0s"], env=env)
    assert gc.exit_code == 0, gc.output
    assert "uncatalogued" not in gc.output
    # What the killed ingest left half-written is gc's, and only then.
    assert ("removed 0 incomplete item(s)" in gc.output) == kept, gc.output
