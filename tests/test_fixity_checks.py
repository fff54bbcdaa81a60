"""Fixity checks catch every kind of damage, on a local folder and on a real S3 server."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from repository.catalog import AipFile, PremisEvent, open_catalog
from repository.fixity import (CHANGED, DISAGREE, ERROR, INVENTORY_ALTERED, MISSING, OK,
                               SIZE_CHANGED, UNEXPECTED, FixityResult, check_aips)
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from tests.fixtures.aips import add_collections, make_page_bag

PAGE = "v1/content/data/trang 2.jpg"


@pytest.fixture
def stored_aip(request, settings, tmp_path):
    """One small AIP ingested into the local location or the S3 server; SQLite catalogue."""
    kind = request.param
    if kind == "s3":
        request.getfixturevalue("s3_location")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    bag = make_page_bag(tmp_path / "bag", pages=3, size=(60, 80))
    result = ingest_package(bag, settings=settings, catalog=catalog, collection="Hán-Nôm",
                            location="local" if kind == "local" else "s3")
    storage = get_location(settings, result.location)
    yield result, storage, catalog, settings
    catalog.dispose()


both = pytest.mark.parametrize("stored_aip", ["local", "s3"], indirect=True)


def put(storage, key: str, data: bytes) -> None:
    storage.put(key, io.BytesIO(data), algorithms=())


def read(storage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def run(stored) -> list:
    result, storage, catalog, settings = stored
    summary = check_aips(settings, catalog, [result.identifier])
    assert len(summary.checks) == 1
    return summary.checks[0]


def problems(check) -> dict[str, object]:
    return {r.path: r for r in check.results if r.outcome != OK}


@both
def test_untouched_aip_passes_and_is_recorded_with_a_premis_event(stored_aip):
    result, storage, catalog, _ = stored_aip
    check = run(stored_aip)
    assert check.outcome == "success", problems(check)
    assert check.files_checked >= 3 + 4  # pages, tag files, Kho's metadata
    with catalog.session() as session:
        rows = session.scalars(select(FixityResult)).all()
        assert {r.outcome for r in rows} == {OK}
        page = next(r for r in rows if r.path == PAGE)
        assert page.location == result.location and page.version == 1
        assert page.algorithm and page.expected == page.actual and page.duration_s >= 0
        events = session.scalars(select(PremisEvent).where(
            PremisEvent.event_type == "fixity check")).all()
        assert [(e.aip_identifier, e.outcome) for e in events] == [(result.identifier, "success")]


@both
def test_edited_file_is_reported_as_changed_with_expected_and_actual(stored_aip):
    result, storage, *_ = stored_aip
    key = f"{result.object_root}/{PAGE}"
    original = read(storage, key)
    put(storage, key, bytes([original[0] ^ 0xFF]) + original[1:])  # same size, one byte differs
    check = run(stored_aip)
    found = problems(check)
    assert check.outcome == "failure"
    assert found[PAGE].outcome == CHANGED
    assert found[PAGE].expected and found[PAGE].actual and found[PAGE].expected != found[PAGE].actual
    assert list(found) == [PAGE]


def test_every_aip_records_sha256_and_fixity_checks_with_the_fastest_strong_digest(
        settings, tmp_path):
    """Bags with only sha512 manifests, as a folder and as a zip (whose files move into
    storage, hashed once while unpacked): ingest records sha256 for every file in the OCFL
    fixity block too; a check (KHO_FIXITY_DIGESTS=fastest, the default) computes only the
    fastest strong digest recorded, which still catches one flipped bit; `all` computes
    every recorded one and catches it too."""
    import zipfile

    from repository.storage.digests import fastest_strong_algorithms
    from tests.fixtures.bags import make_bag
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    storage = get_location(settings, "local")
    assert settings.fixity_digests == "fastest"
    fastest = next(a for a in fastest_strong_algorithms() if a in ("sha256", "sha512"))
    page = "v1/content/data/Sắc phong.tif"
    folder = make_bag(tmp_path / "folder", {"data/Sắc phong.tif": b"II*\x00" + bytes(5000),
                                            "data/ghi chú.txt": "chữ Nôm".encode()},
                      algorithms=("sha512",), bag_info={"DC-Title": "Sắc phong làng Đông Ngạc"})
    zipped = make_bag(tmp_path / "zipped", {"data/Sắc phong.tif": b"II*\x00" + bytes(7000)},
                      algorithms=("sha512",), bag_info={"DC-Title": "Sắc phong làng Cổ Nhuế"})
    archive = tmp_path / "zipped.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(zipped.rglob("*")):
            z.write(path, f"zipped/{path.relative_to(zipped).as_posix()}")
    try:
        for source in (folder, archive):
            result = ingest_package(source, settings=settings, catalog=catalog,
                                    collection="Hán-Nôm")
            inventory = json.loads(read(storage, f"{result.object_root}/inventory.json"))
            content = {p for paths in inventory["manifest"].values() for p in paths}
            assert {p for paths in inventory["fixity"]["sha256"].values()
                    for p in paths} == content, source.name
            stored = (result, storage, catalog, settings)
            check = run(stored)
            assert check.outcome == "success", problems(check)
            assert {r.algorithm for r in check.results
                    if r.path.startswith("v1/content/")} == {fastest}
            key = f"{result.object_root}/{page}"
            original = read(storage, key)
            put(storage, key, bytes([original[0] ^ 0x01]) + original[1:])
            assert problems(run(stored))[page].outcome == CHANGED
            every = check_aips(settings.replace(fixity_digests="all"), catalog,
                               [result.identifier]).checks[0]
            assert problems(every)[page].outcome == CHANGED
    finally:
        catalog.dispose()


@both
def test_truncated_file_is_reported_as_size_changed(stored_aip):
    result, storage, *_ = stored_aip
    key = f"{result.object_root}/{PAGE}"
    put(storage, key, read(storage, key)[:100])
    found = problems(run(stored_aip))
    assert found[PAGE].outcome == SIZE_CHANGED
    assert "100 bytes" in found[PAGE].detail


@both
def test_deleted_file_is_reported_as_missing(stored_aip):
    result, storage, *_ = stored_aip
    storage.delete(f"{result.object_root}/{PAGE}")
    found = problems(run(stored_aip))
    assert found[PAGE].outcome == MISSING and found[PAGE].expected


@both
def test_added_file_is_reported_as_in_no_inventory(stored_aip):
    result, storage, *_ = stored_aip
    put(storage, f"{result.object_root}/v1/content/data/lạ.txt", b"not deposited")
    found = problems(run(stored_aip))
    assert found["v1/content/data/lạ.txt"].outcome == UNEXPECTED
    assert list(found) == ["v1/content/data/lạ.txt"]


@both
def test_altered_inventory_is_caught_by_its_sidecar(stored_aip):
    result, storage, *_ = stored_aip
    key = f"{result.object_root}/inventory.json"
    data = json.loads(read(storage, key))
    data["versions"]["v1"]["message"] = "rewritten history"
    put(storage, key, json.dumps(data).encode())
    found = problems(run(stored_aip))
    assert found["inventory.json"].outcome == INVENTORY_ALTERED
    assert found["inventory.json"].expected != found["inventory.json"].actual


@both
def test_catalogue_that_disagrees_with_inventory_and_bag_manifest_is_named(stored_aip):
    result, storage, catalog, _ = stored_aip
    with catalog.session() as session:
        row = session.scalar(select(AipFile).where(AipFile.content_path == PAGE))
        row.digests = {**row.digests, "sha256": "0" * 64}
    found = problems(run(stored_aip))
    assert found[PAGE].outcome == DISAGREE
    assert "catalogue" in found[PAGE].detail and found[PAGE].expected == "0" * 64


@pytest.mark.parametrize("stored_aip", ["local"], indirect=True)
def test_unmounted_local_location_is_an_error_not_a_failure(stored_aip, tmp_path):
    result, storage, catalog, _ = stored_aip
    moved = tmp_path / "unmounted"
    Path(storage.root).rename(moved)
    try:
        check = run(stored_aip)
    finally:
        moved.rename(storage.root)
    assert check.outcome == "error"
    assert {r.outcome for r in check.results} == {ERROR}


def test_stopped_s3_server_is_an_error_and_the_aip_stays_due(fresh_s3_server, settings, tmp_path):
    from repository.fixity import FixityAipStatus
    from repository.storage.locations import location_toml
    bucket = fresh_s3_server.new_bucket()
    folder = Path(settings.storage_config_dir)
    folder.mkdir(parents=True, exist_ok=True)
    table = fresh_s3_server.location_table(bucket, max_attempts=1, connect_timeout=1)
    table["access_key_env"], table["secret_key_env"] = "KHO_FX_KEY", "KHO_FX_SECRET"
    import os
    os.environ["KHO_FX_KEY"], os.environ["KHO_FX_SECRET"] = (fresh_s3_server.access_key,
                                                             fresh_s3_server.secret_key)
    (folder / "s3.toml").write_text(location_toml("s3", table), encoding="utf-8")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "C")
    result = ingest_package(make_page_bag(tmp_path / "bag", pages=2, size=(60, 80)),
                            settings=settings, catalog=catalog, collection="C", location="s3")
    fresh_s3_server.kill()
    summary = check_aips(settings, catalog, [result.identifier])
    check = summary.checks[0]
    assert check.outcome == "error"
    assert not check.failures
    with catalog.session() as session:
        from repository.catalog import Aip
        aip = session.scalar(select(Aip).where(Aip.identifier == result.identifier))
        status = session.get(FixityAipStatus, aip.id)
        assert status is None or status.last_checked_at is None  # still due: nothing proven
    catalog.dispose()


def test_fixity_reads_bag_manifests_as_ingest_does_and_catches_a_changed_digest(settings, tmp_path):
    """Percent-encoded (%0A, %0D, %25), NFD and './' names in a stored bag manifest name the
    same files as the AIP's NFC logical paths: all agree at first, and a digest changed in
    the stored manifest is named for exactly the file it lists."""
    import hashlib
    import unicodedata
    from tests.fixtures.bags import make_bag
    nfd = unicodedata.normalize("NFD", "data/Hà Nội ảnh.txt")
    files = {"data/dòng\nhai.txt": b"LF", "data/cr\rname.txt": b"CR", "data/100%.txt": b"pc",
             nfd: b"NFD", "data/chấm.txt": b"dot"}
    bag = make_bag(tmp_path / "bag", files, tag_manifest=False,
                   bag_info={"DC-Title": "Tên tệp khó đọc"})
    manifest = bag / "manifest-sha256.txt"
    text = manifest.read_text("utf-8")
    assert "%0A" in text and "%0D" in text and "%25" in text
    manifest.write_text(text.replace("  data/chấm.txt", "  ./data/chấm.txt"), "utf-8")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    result = ingest_package(bag, settings=settings, catalog=catalog, collection="Hán-Nôm")
    storage = get_location(settings, "local")
    stored = (result, storage, catalog, settings)
    first = run(stored)
    assert first.outcome == "success", problems(first)
    # The comparison ran on every one of those names: each file's bag-manifest digest counted.
    key = f"{result.object_root}/v1/content/manifest-sha256.txt"
    wrong = "0" * 64
    lines = []
    for line in read(storage, key).decode("utf-8").splitlines():
        digest, path = line.split("  ", 1)
        lines.append(f"{wrong if path != 'data/100%25.txt' else digest}  {path}")
    put(storage, key, ("\n".join(lines) + "\n").encode("utf-8"))
    second = problems(run(stored))
    catalog.dispose()
    named = {path for path, r in second.items() if r.outcome == DISAGREE}
    nfc = unicodedata.normalize("NFC", nfd)
    assert named == {f"v1/content/{p}" for p in
                     ("data/dòng\nhai.txt", "data/cr\rname.txt", nfc, "data/chấm.txt")}, second
    assert second["v1/content/manifest-sha256.txt"].outcome == CHANGED
    assert hashlib.sha256(b"pc").hexdigest() != wrong
