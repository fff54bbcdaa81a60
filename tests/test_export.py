"""`kho export` and GET /api/v1/aips/<id>/export: an AIP out as a BagIt bag that bagit.py
accepts and that a fresh Kho ingests back to the same payload and description (issue 14)."""
from __future__ import annotations

import io
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from sqlalchemy import select

from repository.catalog import Aip, AipFile, add_user, open_catalog
from repository.cli import kho
from repository.ingest.amend import amend_aip, withdraw_aip
from repository.ingest.pipeline import ingest_package
from repository.web import create_app
from tests.fixtures.aips import add_collections, dublin_core, make_page_bag

BAGIT_PY = Path(sys.executable).with_name("bagit.py")
NFD_NAME = unicodedata.normalize("NFD", "data/Trang bìa – Huế.txt")
NEWLINE_NAME = "data/dòng một\ndòng hai.txt"  # written %0A in the manifest (RFC 8493 §2.1.3)
PREMIS = {"p": "http://www.loc.gov/premis/v3"}


def _env(settings) -> dict:
    return {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.database_url,
            "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}


def _bagit_validate(folder: Path) -> None:
    run = subprocess.run([str(BAGIT_PY), "--validate", str(folder)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def _files(catalog, identifier: str, role: str | None = None) -> dict[str, str]:
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
        rows = session.scalars(select(AipFile).where(
            AipFile.aip_id == aip.id, AipFile.version == aip.current_version))
        return {r.logical_path: r.sha512 for r in rows if role is None or r.role == role}


def test_export_round_trip_folder_and_zip_through_bagit_py_and_a_fresh_kho(
        ingest_bag, tmp_path, settings):
    bag = make_page_bag(tmp_path / "bag", pages=2, extra_files={
        NFD_NAME: b"ten tep NFD", NEWLINE_NAME: b"ten tep co dong moi",
        "data/Địa bạ – Quảng Nam.txt": "Địa bạ".encode()})
    first = ingest_bag(bag)
    catalog = ingest_bag.catalog
    edited = dublin_core("Đại Nam thực lục – bản đã sửa")
    amend_aip(ingest_bag.settings, catalog, first.identifier, agent="lan", dublin_core=edited)
    env = _env(ingest_bag.settings)
    out = tmp_path / "out"
    out.mkdir()

    # The newest version as a folder, v1 as a zip, through the command.
    run = CliRunner().invoke(kho, ["export", first.identifier, "--output", str(out / "bag")],
                             env=env)
    assert run.exit_code == 0, run.output
    assert f"exported {first.identifier} v2" in run.output
    run = CliRunner().invoke(kho, ["export", first.identifier, "--version", "1",
                                   "--output", str(out / "v1.zip")], env=env)
    assert run.exit_code == 0, run.output

    exported = out / "bag"
    _bagit_validate(exported)
    # The deposit byte for byte, under the names its manifest gave (NFD stays NFD).
    for name in [NFD_NAME, NEWLINE_NAME, "bag-info.txt", "bagit.txt", "manifest-sha256.txt",
                 "metadata/dc.json", "data/trang 1.jpg"]:
        assert (exported / name).read_bytes() == (bag / name).read_bytes(), name
    tagmanifest = (exported / "tagmanifest-sha256.txt").read_text("utf-8")
    assert "kho-metadata/premis.xml" in tagmanifest and "kho-metadata/aip.json" in tagmanifest
    assert not (exported / "kho-metadata" / "premis-events.json").exists()
    premis = etree.parse(str(exported / "kho-metadata" / "premis.xml")).getroot()
    assert premis.tag == "{http://www.loc.gov/premis/v3}premis" and premis.get("version") == "3.0"
    kinds = premis.xpath("p:event/p:eventType/text()", namespaces=PREMIS)
    assert {"validation", "ingestion", "metadata modification"} <= set(kinds)
    originals = premis.xpath("p:object/p:originalName/text()", namespaces=PREMIS)
    assert unicodedata.normalize("NFC", NFD_NAME) in originals
    # Element order follows the schema: objects, then events, then agents.
    order = [etree.QName(e).localname for e in premis]
    assert order == sorted(order, key=["object", "event", "agent"].index)

    v1 = out / "v1"
    with zipfile.ZipFile(out / "v1.zip") as archive:
        archive.extractall(v1)
    v1_bag = v1 / f"{first.identifier}-v1"
    _bagit_validate(v1_bag)
    v1_premis = (v1_bag / "kho-metadata" / "premis.xml").read_text("utf-8")
    assert "metadata modification" not in v1_premis  # that event made v2
    assert "bản đã sửa" not in (v1_bag / "kho-metadata" / "dublin-core.json").read_text("utf-8")

    # Refusals say what is wrong and exit 2; nothing is left half-written.
    for args, words in [(["export", "không-có"], "no AIP"),
                        (["export", first.identifier, "--version", "3"], "versions 1 to 2"),
                        (["export", first.identifier, "--output", str(out / "bag")],
                         "already exists")]:
        run = CliRunner().invoke(kho, args, env=env)
        assert run.exit_code == 2 and words in run.output, run.output
    assert sorted(p.name for p in out.iterdir()) == ["bag", "v1", "v1.zip"]

    # A fresh Kho (new data folder, new catalogue) ingests the export back.
    fresh_settings = settings.replace(data_dir=tmp_path / "fresh",
                                      database_url=f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh = open_catalog(fresh_settings.catalog_url)
    fresh.upgrade()
    try:
        add_collections(fresh, "Hán-Nôm")
        again = ingest_package(exported, settings=fresh_settings, catalog=fresh,
                               collection="Hán-Nôm")
        assert _files(fresh, again.identifier, "payload") == \
            _files(catalog, first.identifier, "payload")
        tags = _files(fresh, again.identifier, "tag")
        original_tags = _files(catalog, first.identifier, "tag")
        for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "metadata/dc.json"):
            assert tags[name] == original_tags[name], name
        assert f"kho-metadata/imported/{first.identifier}/premis.xml" in \
            _files(fresh, again.identifier, "metadata")
        with catalog.session() as a, fresh.session() as b:
            old = a.scalar(select(Aip).where(Aip.identifier == first.identifier))
            new = b.scalar(select(Aip).where(Aip.identifier == again.identifier))
            assert new.dublin_core.record == old.dublin_core.record == edited
            assert new.external_identifier == old.external_identifier == "HN-0001"
            assert new.payload_digest == old.payload_digest
    finally:
        fresh.dispose()


def test_api_export_zip_follows_read_access_and_withdrawal(kho_settings, ingest_bag, tmp_path):
    app = create_app(kho_settings)
    client = app.test_client()
    try:
        result = ingest_bag(make_page_bag(tmp_path / "a", pages=1), access="embargoed:2999-01-01")
        with app.extensions["kho"].catalog.session() as session:
            _, researcher = add_user(session, "researcher-lan", "researcher")
            _, archivist = add_user(session, "archivist-lan", "archivist")
        url = f"/api/v1/aips/{result.identifier}/export"
        assert client.get(url).status_code == 401
        refused = client.get(url, headers={"Authorization": f"Bearer {researcher}"})
        assert refused.status_code == 403
        staff = {"Authorization": f"Bearer {archivist}"}
        response = client.get(url, headers=staff)
        assert response.status_code == 200 and response.is_streamed
        assert response.mimetype == "application/zip"
        assert int(response.headers["Content-Length"]) == len(response.data)
        name = f"{result.identifier}-v1.zip"
        assert response.headers["Content-Disposition"] == \
            f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        assert archive.read(f"{result.identifier}-v1/data/trang 1.jpg") == \
            (tmp_path / "a" / "data" / "trang 1.jpg").read_bytes()
        assert f"{result.identifier}-v1/kho-metadata/premis.xml" in archive.namelist()
        assert client.get(f"{url}?version=2", headers=staff).status_code == 404
        assert client.get(f"{url}?version=0", headers=staff).status_code == 400
        page = client.get(f"/aips/{result.identifier}", headers=staff).get_data(as_text=True)
        assert f'href="{url}"' in page and "Xuất thành gói BagIt (zip)" in page

        withdraw_aip(kho_settings, ingest_bag.catalog, result.identifier, agent="admin-lan",
                     reason="bản trùng")
        assert client.get(url, headers=staff).status_code == 410
        # The command exports it only when told to, and its bag-info then says so.
        env = _env(kho_settings)
        out = tmp_path / "gone"
        run = CliRunner().invoke(kho, ["export", result.identifier, "--output", str(out)], env=env)
        assert run.exit_code == 2 and "withdrawn" in run.output and not out.exists()
        run = CliRunner().invoke(kho, ["export", result.identifier, "--output", str(out),
                                       "--include-withdrawn"], env=env)
        assert run.exit_code == 0, run.output
        assert "Kho-Withdrawn: " in (out / "bag-info.txt").read_text("utf-8")
        assert "bản trùng" in (out / "bag-info.txt").read_text("utf-8")
        _bagit_validate(out)
    finally:
        app.extensions["kho"].catalog.dispose()


def test_export_streams_from_an_s3_location_and_stops_at_a_damaged_file(
        ingest_bag, s3_location, tmp_path):
    """The same export from a SeaweedFS bucket; a file changed in storage stops it, and no
    bag that looks sound is left behind."""
    from repository.access.export import plan_export, write_bag_folder, write_bag_zip
    from repository.errors import DigestMismatch
    bag = make_page_bag(tmp_path / "bag", pages=2, extra_files={NFD_NAME: b"NFD"})
    result = ingest_bag(bag, location="s3")
    with ingest_bag.catalog.session() as session:
        export = plan_export(ingest_bag.settings, session, result.identifier)
    write_bag_folder(export, tmp_path / "from-s3")
    _bagit_validate(tmp_path / "from-s3")
    assert (tmp_path / "from-s3" / NFD_NAME).read_bytes() == b"NFD"

    with ingest_bag.catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == result.identifier))
        row = session.scalar(select(AipFile).where(AipFile.aip_id == aip.id,
                                                   AipFile.logical_path == "data/trang 2.jpg"))
        key = f"{aip.object_root}/{row.content_path}"
    s3_location.put(key, io.BytesIO(b"flipped"), algorithms=())
    with pytest.raises(DigestMismatch, match="trang 2.jpg"):
        write_bag_zip(export, tmp_path / "damaged.zip")
    with pytest.raises(DigestMismatch):
        write_bag_folder(export, tmp_path / "damaged")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("damaged", ".damaged"))) == []
