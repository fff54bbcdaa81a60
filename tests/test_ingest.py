"""Ingest: a bag becomes an OCFL object in storage and an AIP in the catalogue, or nothing."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from repository.catalog import Aip, AipFile, PremisEvent, verify_chain
from repository.cli import kho
from repository.errors import DuplicatePackage, PackageInvalid, StorageUnavailable
from repository.storage import OcflStore, get_location
from repository.storage.aip_layout import AIP_FILE, DUBLIN_CORE_FILE, EVENTS_FILE
from tests.fixtures.aips import TITLE_VI, add_collections, make_page_bag
from tests.fixtures.bags import make_bag, tar_folder, zip_folder
from tests.fixtures.s3 import ACCESS_ENV, SECRET_ENV, assert_valid_ocfl_object


def count(catalog, model) -> int:
    with catalog.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def stored_keys(storage) -> list[str]:
    """Object keys, leaving out the storage root's own declaration and layout files."""
    return [k for k in storage.list("") if k.count("/") >= 4]


@pytest.mark.parametrize("location", ["local", "s3"])
def test_ingested_bag_is_a_valid_ocfl_object_with_the_bag_exactly_as_deposited(
        location, ingest_bag, request, tmp_path):
    if location == "s3":
        request.getfixturevalue("s3_location")
    bag = make_page_bag(tmp_path / "bag", pages=3)
    result = ingest_bag(bag, location=location)
    storage = get_location(ingest_bag.settings, location)
    assert_valid_ocfl_object(storage, result.object_root, tmp_path)
    store = OcflStore(storage)
    inventory = store.inventory(result.ocfl_id)
    state = inventory.state()
    assert inventory.data["digestAlgorithm"] == "sha512"
    # Every file of the bag, byte for byte, under its own path; the sha256 of the bag's
    # manifest in the fixity block.
    for path in bag.rglob("*"):
        if path.is_file():
            logical = path.relative_to(bag).as_posix()
            assert logical in state
            with store.open_file(result.ocfl_id, logical) as stream:
                assert stream.read() == path.read_bytes()
    assert "sha256" in inventory.fixity
    with store.open_file(result.ocfl_id, AIP_FILE) as stream:
        assert json.load(stream)["identifier"] == result.identifier
    with store.open_file(result.ocfl_id, DUBLIN_CORE_FILE) as stream:
        assert json.load(stream)["title"][0]["value"] == TITLE_VI
    with store.open_file(result.ocfl_id, EVENTS_FILE) as stream:
        assert [e["type"] for e in json.load(stream)][-1] == "ingestion"


def test_ingest_catalogues_files_formats_dublin_core_and_events(ingest_bag, tmp_path,
                                                                 monkeypatch):
    # File rows go in batches (1000 for real): batches of 3 here, the last one partial.
    monkeypatch.setattr("repository.catalog.aip_rows.INSERT_BATCH", 3)
    bag = make_page_bag(tmp_path / "bag", pages=2, size=(300, 500))
    result = ingest_bag(bag)
    stored = OcflStore(get_location(ingest_bag.settings, "local")).inventory(result.ocfl_id)
    with ingest_bag.catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == result.identifier))
        assert aip.collection.name == "Hán-Nôm"
        assert aip.dublin_core.title == TITLE_VI
        assert "ha noi" in aip.dublin_core.search_text
        assert aip.file_count == 2 and aip.external_identifier == "HN-0001"
        assert aip.total_size == sum(p.stat().st_size for p in (bag / "data").iterdir())
        rows = session.scalars(select(AipFile.logical_path).where(AipFile.aip_id == aip.id))
        assert sorted(rows) == sorted(stored.state())  # every file once, none lost
        page = session.scalar(select(AipFile).where(AipFile.logical_path == "data/trang 1.jpg"))
        assert page.pronom_id and page.pronom_id.startswith("fmt/")
        assert page.mime_type == "image/jpeg"
        assert (page.width, page.height) == (300, 500)
        assert page.digests["sha256"] and len(page.sha512) == 128
        types = [e.event_type for e in session.scalars(
            select(PremisEvent).where(PremisEvent.aip_identifier == result.identifier))]
        assert types == ["validation", "format identification", "message digest calculation",
                         "ingestion"]
        assert verify_chain(session).ok


def test_cli_ingest_prints_the_identifier_on_the_last_line(tmp_path, settings):
    bag = make_page_bag(tmp_path / "Địa bạ", pages=1)
    env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_STORAGE_CONFIG": str(tmp_path / "none")}
    for name in ("Địa bạ", "x"):
        assert CliRunner().invoke(kho, ["collection", "add", name], env=env).exit_code == 0
    result = CliRunner().invoke(kho, ["ingest", str(bag), "--collection", "Địa bạ"], env=env)
    assert result.exit_code == 0, result.output
    identifier = result.stdout.strip().splitlines()[-1]
    as_json = CliRunner().invoke(kho, ["ingest", str(bag), "--collection", "Địa bạ", "--json"],
                                 env=env)
    assert as_json.exit_code == 1  # the same bag again is refused
    assert identifier in as_json.output
    listing = CliRunner().invoke(kho, ["ingest", str(bag), "--collection", "x", "--new-version",
                                       "--json"], env=env)
    assert listing.exit_code == 0, listing.output
    assert json.loads(listing.stdout)["identifier"] == identifier
    assert json.loads(listing.stdout)["version"] == 2


@pytest.mark.parametrize("packer", [zip_folder, tar_folder], ids=["zip", "tar.gz"])
def test_archives_are_ingested_and_staging_is_emptied(packer, ingest_bag, tmp_path):
    bag = make_page_bag(tmp_path / "bag", pages=1)
    archive = packer(bag, tmp_path / ("bag.zip" if packer is zip_folder else "bag.tar.gz"))
    result = ingest_bag(archive)
    assert result.file_count == 1
    staging = ingest_bag.settings.staging_dir
    assert not staging.exists() or not any(staging.iterdir())


def test_an_archive_moves_into_storage_and_a_folder_is_copied_never_moved(
        ingest_bag, tmp_path, monkeypatch):
    """Issue 15: an unpacked archive's files are hashed as they are unpacked and moved
    (linked) into the OCFL object, not copied; a bad one stores nothing; a folder deposited
    in place is the archivist's: copied, never moved or linked."""
    from repository.storage import LocalStorage
    written: list[str] = []
    put = LocalStorage.put
    monkeypatch.setattr(LocalStorage, "put", lambda self, key, *a, **k: (
        written.append(key), put(self, key, *a, **k))[1])
    storage = get_location(ingest_bag.settings, "local")
    staging = ingest_bag.settings.staging_dir

    folder = make_page_bag(tmp_path / "folder", pages=2, title="Sổ điền thổ",
                           external_id="HN-0101")
    before = {p: p.stat() for p in folder.rglob("*") if p.is_file()}
    copied = ingest_bag(folder)
    assert any("/content/data/" in key for key in written)  # the payload was copied
    for path, st in before.items():  # the archivist's files: same inodes, not linked
        assert path.stat().st_ino == st.st_ino and path.stat().st_nlink == 1
    assert copied.file_count == 2

    # Same size, different bytes: only the digests taken while unpacking can see it.
    bad = make_page_bag(tmp_path / "bad", pages=2, external_id="HN-0102")
    page = bad / "data" / "trang 2.jpg"
    data = bytearray(page.read_bytes())
    data[-10] ^= 0xFF
    page.write_bytes(bytes(data))
    with pytest.raises(PackageInvalid) as caught:
        ingest_bag(zip_folder(bad, tmp_path / "bad.zip"))
    assert caught.value.report.errors[0].path == "data/trang 2.jpg"
    assert count(ingest_bag.catalog, Aip) == 1
    assert len(stored_keys(storage)) == len([k for k in storage.list("") if k.startswith(
        copied.object_root)])  # nothing of the bad archive's object is left
    assert not staging.exists() or not any(staging.iterdir())

    written.clear()
    bag = make_page_bag(tmp_path / "bag", pages=3, title="Địa bạ làng Đông Ngạc",
                        external_id="HN-0103")
    result = ingest_bag(zip_folder(bag, tmp_path / "địa bạ.zip"))
    assert not any("/content/data/" in key or "/content/manifest" in key for key in written), \
        written  # every file of the bag moved; only Kho's metadata and inventories written
    store = OcflStore(storage)
    for path in bag.rglob("*"):
        if path.is_file():
            logical = path.relative_to(bag).as_posix()
            with store.open_file(result.ocfl_id, logical) as stream:
                assert stream.read() == path.read_bytes()
            key = f"{result.object_root}/{store.inventory(result.ocfl_id).content_path(logical)}"
            assert (storage.root / key).stat().st_mode & 0o777 == 0o644
    assert_valid_ocfl_object(storage, result.object_root, tmp_path)
    assert not staging.exists() or not any(staging.iterdir())
    with ingest_bag.catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == result.identifier))
        assert aip.file_count == 3 and aip.dublin_core.title == "Địa bạ làng Đông Ngạc"


@pytest.mark.parametrize("location", ["local", "s3"])
def test_ingest_of_bag_with_bad_checksum_stores_nothing(location, ingest_bag, request, tmp_path):
    if location == "s3":
        request.getfixturevalue("s3_location")
    bag = make_page_bag(tmp_path / "bag", pages=2)
    # Same size, different bytes: only the digest check while storing can see it.
    page = bag / "data" / "trang 2.jpg"
    data = bytearray(page.read_bytes())
    data[-10] ^= 0xFF
    page.write_bytes(bytes(data))
    with pytest.raises(PackageInvalid) as caught:
        ingest_bag(bag, location=location)
    problem = caught.value.report.errors[0]
    assert problem.path == "data/trang 2.jpg" and "manifest" in problem.message
    assert stored_keys(get_location(ingest_bag.settings, location)) == []
    assert count(ingest_bag.catalog, Aip) == 0
    assert count(ingest_bag.catalog, PremisEvent) == 0


def test_invalid_bag_is_refused_with_every_problem_and_nothing_stored(ingest_bag, tmp_path):
    bag = make_page_bag(tmp_path / "bag", pages=2)
    (bag / "data" / "trang 1.jpg").unlink()
    (bag / "data" / "stray.txt").write_text("not in the manifest")
    with pytest.raises(PackageInvalid) as caught:
        ingest_bag(bag)
    paths = {p.path for p in caught.value.report.errors}
    assert {"data/trang 1.jpg", "data/stray.txt"} <= paths
    assert stored_keys(get_location(ingest_bag.settings, "local")) == []


def test_bag_without_title_is_refused_by_ingest(ingest_bag, tmp_path):
    bag = make_bag(tmp_path / "bag", {"data/a.txt": b"x"})
    with pytest.raises(PackageInvalid) as caught:
        ingest_bag(bag)
    assert [p.code for p in caught.value.report.errors] == ["K803"]


def test_reingest_is_refused_unless_new_version_which_reuses_unchanged_content(
        ingest_bag, tmp_path):
    first = make_page_bag(tmp_path / "one", pages=2, external_id="HN-7")
    result = ingest_bag(first)
    with pytest.raises(DuplicatePackage) as caught:
        ingest_bag(first)
    assert caught.value.existing_aip == result.identifier
    second = make_page_bag(tmp_path / "two", pages=3, external_id="HN-7")
    again = ingest_bag(second, new_version=True)
    assert (again.identifier, again.version) == (result.identifier, 2)
    storage = get_location(ingest_bag.settings, "local")
    keys = stored_keys(storage)
    # Pages 1 and 2 are the same bytes: stored once, in v1; only page 3 is new in v2.
    assert sum("/content/data/trang 1.jpg" in k for k in keys) == 1
    assert any(k.endswith("v2/content/data/trang 3.jpg") for k in keys)
    with ingest_bag.catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == result.identifier))
        assert aip.current_version == 2 and aip.file_count == 3
        assert [v.number for v in aip.versions] == [1, 2]


def test_catalogue_failure_removes_the_stored_object(ingest_bag, tmp_path):
    # A real database refusal, raised by a trigger in the middle of the registration.
    statements = {
        "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON aip_files "
                   "BEGIN SELECT RAISE(ABORT, 'disk full'); END"],
        "postgresql": ["CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                       "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
                       "CREATE TRIGGER refuse BEFORE INSERT ON aip_files "
                       "FOR EACH ROW EXECUTE FUNCTION refuse()"],
    }[ingest_bag.catalog.engine.dialect.name]
    with ingest_bag.catalog.engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    with pytest.raises(Exception, match="disk full"):
        ingest_bag(make_page_bag(tmp_path / "bag", pages=1))
    assert stored_keys(get_location(ingest_bag.settings, "local")) == []
    assert count(ingest_bag.catalog, Aip) == 0


def test_s3_server_killed_mid_upload_leaves_nothing_after_gc(
        fresh_s3_server, kho_settings, tmp_path, monkeypatch):
    from repository.catalog import open_catalog
    from repository.ingest.pipeline import ingest_package
    from repository.storage.locations import location_toml
    monkeypatch.setenv(ACCESS_ENV, fresh_s3_server.access_key)
    monkeypatch.setenv(SECRET_ENV, fresh_s3_server.secret_key)
    bucket = fresh_s3_server.new_bucket()
    folder = kho_settings.storage_config_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fault.toml").write_text(
        location_toml("fault", fresh_s3_server.location_table(
            bucket, connect_timeout=2, read_timeout=5, max_attempts=2)), encoding="utf-8")
    catalog = open_catalog(kho_settings.catalog_url)
    catalog.upgrade()
    bag = make_bag(tmp_path / "bag", {f"data/tờ {n}.bin": bytes([n]) * 3_000_000
                                      for n in range(4)},
                   bag_info={"DC-Title": "Báo cũ", "External-Identifier": "B-1"})
    seen = {"bytes": 0}

    def kill_midway(n: int) -> None:
        seen["bytes"] += n
        if seen["bytes"] > 5_000_000 and fresh_s3_server.process is not None:
            fresh_s3_server.kill()

    add_collections(catalog, "Báo")
    with pytest.raises(StorageUnavailable):
        ingest_package(bag, settings=kho_settings, catalog=catalog, collection="Báo",
                       location="fault", progress=kill_midway)
    assert count(catalog, Aip) == 0
    fresh_s3_server.start()
    storage = get_location(kho_settings, "fault")
    runner = CliRunner()
    env = {"KHO_DATA_DIR": str(kho_settings.data_dir),
           "KHO_STORAGE_CONFIG": str(folder), "KHO_DATABASE_URL": kho_settings.catalog_url}
    result = runner.invoke(kho, ["storage", "gc", "--location", "fault", "--older-than", "0s"],
                           env=env)
    assert result.exit_code == 0, result.output
    assert stored_keys(storage) == []


def test_cli_shows_a_progress_bar_on_a_terminal_for_a_large_bag(tmp_path, settings):
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path
    bag = make_bag(tmp_path / "big", {f"data/tờ {n}.bin": os.urandom(1024) * 23_000
                                      for n in range(3)},
                   bag_info={"DC-Title": "Báo lớn", "External-Identifier": "BIG-1"})
    leader, follower = pty.openpty()
    kho_script = Path(sys.executable).parent / "kho"
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(tmp_path / "none")}
    subprocess.run([str(kho_script), "collection", "add", "Báo"], env=env, check=True,
                   capture_output=True, timeout=60)
    run = subprocess.run([str(kho_script), "ingest", str(bag), "--collection", "Báo"],
                         stdout=subprocess.PIPE, stderr=follower, env=env, timeout=120)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert run.returncode == 0, shown
    assert b"storing" in shown and b"100%" in shown
