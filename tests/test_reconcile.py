"""An ingest killed between its complete object and the catalogue commit (issue 8, item 4):
`kho storage gc` does not remove the object, lists it, and with --register catalogues it."""
from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from repository.catalog import open_catalog, verify_chain
from repository.catalog.events import events_for_aip
from repository.catalog.queries import get_aip
from repository.cli import kho
from tests.fixtures.aips import TITLE_VI, make_page_bag

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
