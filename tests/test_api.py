"""The HTTP API: deposits with roles, AIP listings, streamed downloads, PREMIS, OpenAPI."""
from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import func, select

from repository.catalog import Aip, add_user
from repository.web import create_app
from tests.fixtures.aips import TITLE_VI, add_collections, make_page_bag
from tests.fixtures.bags import make_bag, zip_folder, tar_folder


@pytest.fixture
def app(kho_settings, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    settings = kho_settings.replace(drop_folder=drop, max_upload_bytes=5_000_000)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["kho"].extras["deposit_executor"].shutdown(wait=True)
    app.extensions["kho"].catalog.dispose()


@pytest.fixture
def tokens(app):
    made = {}
    with app.extensions["kho"].catalog.session() as session:
        for role in ("archivist", "researcher", "auditor", "admin"):
            _, made[role] = add_user(session, f"{role}-lan", role)
    return {role: {"Authorization": f"Bearer {token}"} for role, token in made.items()}


def wait_for(client, url, headers, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url, headers=headers).get_json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    pytest.fail(f"deposit {url} did not finish: {body}")


def upload(client, archive, headers, **params):
    add_collections(client.application.extensions["kho"].catalog,
                    params.get("collection", "Hán-Nôm"))
    query = "&".join(f"{k}={v}" for k, v in {"collection": "Hán-Nôm", **params}.items())
    mimetype = "application/zip" if archive.suffix == ".zip" else "application/gzip"
    with open(archive, "rb") as body:
        return client.post(f"/api/v1/deposits?{query}", data=body,
                           headers={**headers, "Content-Type": mimetype})


def test_archivist_deposits_a_zip_and_follows_it_to_done(app, tokens, tmp_path):
    client = app.test_client()
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=2), tmp_path / "bag.zip")
    response = upload(client, archive, tokens["archivist"])
    assert response.status_code == 202
    status = wait_for(client, response.headers["Location"], tokens["archivist"])
    assert status["status"] == "done", status
    aip = client.get(f"/api/v1/aips/{status['aip']}").get_json()
    assert aip["title"] == TITLE_VI
    assert [f["path"] for f in aip["files"] if f["role"] == "payload"] == \
        ["data/trang 1.jpg", "data/trang 2.jpg"]
    assert aip["events"][-1]["type"] == "ingestion"
    assert aip["events"][-1]["agent"] == "Kho 0.1.0 for an archivist"  # the public sees roles
    as_staff = client.get(f"/api/v1/aips/{status['aip']}", headers=tokens["archivist"]).get_json()
    assert "archivist-lan" in as_staff["events"][-1]["agent"]


def test_failed_deposit_reports_every_problem(app, tokens, tmp_path):
    client = app.test_client()
    bag = make_page_bag(tmp_path / "bag", pages=2)
    (bag / "data" / "trang 2.jpg").unlink()
    response = upload(client, tar_folder(bag, tmp_path / "bag.tar.gz"), tokens["archivist"])
    status = wait_for(client, response.headers["Location"], tokens["archivist"])
    assert status["status"] == "failed"
    assert any(e["path"] == "data/trang 2.jpg" for e in status["report"]["errors"])
    with app.extensions["kho"].catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(Aip)) == 0


def test_deposit_from_the_drop_folder(app, tokens):
    client = app.test_client()
    drop = app.extensions["kho"].settings.drop_folder
    make_page_bag(drop / "Sắc phong", pages=1)
    add_collections(app.extensions["kho"].catalog, "Sắc phong", "x")
    response = client.post("/api/v1/deposits", headers=tokens["archivist"],
                           json={"path": "Sắc phong", "collection": "Sắc phong"})
    assert response.status_code == 202
    status = wait_for(client, response.headers["Location"], tokens["archivist"])
    assert status["status"] == "done", status
    assert (drop / "Sắc phong" / "bagit.txt").exists()  # the drop folder is left as it was
    escape = client.post("/api/v1/deposits", headers=tokens["archivist"],
                         json={"path": "../../etc", "collection": "x"})
    missing = client.post("/api/v1/deposits", headers=tokens["archivist"],
                          json={"path": "no-such-bag", "collection": "x"})
    # Outside the drop folder is answered as missing: nothing is told about what exists there.
    assert escape.status_code == missing.status_code == 404
    assert "is not in the drop folder" in escape.get_json()["message"]


def test_deposits_need_an_archivist_token(app, tokens, tmp_path):
    client = app.test_client()
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=1), tmp_path / "bag.zip")
    anonymous = upload(client, archive, {})
    assert anonymous.status_code == 401 and anonymous.get_json()["message"]
    researcher = upload(client, archive, tokens["researcher"])
    assert researcher.status_code == 403 and "researcher" in researcher.get_json()["message"]
    forged = upload(client, archive, {"Authorization": "Bearer kho_not-a-token"})
    assert forged.status_code == 401


def test_upload_over_the_cap_is_answered_413_and_leaves_nothing(app, tokens, tmp_path):
    client = app.test_client()
    big = make_bag(tmp_path / "big", {"data/scan.bin": bytes(range(256)) * 30_000},
                   bag_info={"DC-Title": "Lớn"})
    archive = tar_folder(big, tmp_path / "big.tar")
    add_collections(app.extensions["kho"].catalog, "x")
    with open(archive, "rb") as body:
        response = client.post("/api/v1/deposits?collection=x&filename=big.tar", data=body,
                               headers=tokens["archivist"])
    assert response.status_code == 413
    uploads = app.extensions["kho"].settings.staging_dir / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


def test_file_download_streams_with_range_and_etag(app, ingest_bag, tmp_path):
    bag = make_page_bag(tmp_path / "bag", pages=1)
    result = ingest_bag(bag)
    client = app.test_client()
    url = f"/api/v1/aips/{result.identifier}/files/data/trang 1.jpg"
    original = (bag / "data" / "trang 1.jpg").read_bytes()
    whole = client.get(url)
    assert whole.status_code == 200 and whole.data == original
    assert whole.mimetype == "image/jpeg"
    part = client.get(url, headers={"Range": "bytes=10-99"})
    assert part.status_code == 206 and part.data == original[10:100]
    assert part.headers["Content-Range"] == f"bytes 10-99/{len(original)}"
    assert client.get(url, headers={"If-None-Match": whole.headers["ETag"]}).status_code == 304
    assert client.get(url, headers={"Range": f"bytes={len(original) + 5}-"}).status_code == 416
    assert client.get(f"/api/v1/aips/{result.identifier}/files/data/none.jpg").status_code == 404


def test_listing_search_and_premis(app, ingest_bag, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A"))
    ingest_bag(make_page_bag(tmp_path / "b", pages=1, title="Báo Huế", external_id="B"),
               collection="Báo chí")
    client = app.test_client()
    listing = client.get("/api/v1/aips?collection=Hán-Nôm").get_json()
    assert [a["identifier"] for a in listing["aips"]] == [result.identifier]
    found = client.get("/api/v1/aips?q=ha noi").get_json()
    assert [a["title"] for a in found["aips"]] == [TITLE_VI]
    names = [c["name"] for c in client.get("/api/v1/collections").get_json()["collections"]]
    assert names == sorted(["Hán-Nôm", "Báo chí"])
    premis = client.get(f"/api/v1/aips/{result.identifier}/premis.xml")
    root = ET.fromstring(premis.data)
    ns = {"p": "http://www.loc.gov/premis/v3"}
    assert len(root.findall("p:event", ns)) == 4
    assert client.get("/api/v1/aips/no-such-aip").status_code == 404
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/deposits" in spec["paths"]


def test_archivist_changes_access_and_the_change_is_an_event(app, tokens, ingest_bag, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    client = app.test_client()
    url = f"/api/v1/aips/{result.identifier}"
    assert client.patch(url, json={"access": "restricted"},
                        headers=tokens["researcher"]).status_code == 403
    changed = client.patch(url, json={"access": "restricted"}, headers=tokens["archivist"])
    assert changed.status_code == 200 and changed.get_json()["access"] == "restricted"
    assert client.get(url).status_code == 401
    detail = client.get(url, headers=tokens["researcher"]).get_json()
    assert detail["events"][-1]["type"] == "metadata modification"


def test_access_and_dublin_core_changes_are_new_versions_that_survive_a_rebuild(
        app, tokens, ingest_bag, tmp_path):
    from repository.catalog import open_catalog
    from repository.catalog.rebuild import rebuild_catalog
    from repository.storage import OcflStore, get_location
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    client = app.test_client()
    url = f"/api/v1/aips/{result.identifier}"
    bad = client.put(f"{url}/dublin-core", json={"title": [], "date": [{"value": "1890-13"}]},
                     headers=tokens["archivist"])
    assert bad.status_code == 422 and bad.get_json()["report"]["errors"]
    record = {"title": [{"value": "Địa bạ làng Phú Chiêm", "lang": "vi"}],
              "type": [{"value": "Text"}]}
    changed = client.put(f"{url}/dublin-core", json=record, headers=tokens["archivist"])
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["version"] == 2
    client.patch(url, json={"access": "embargoed:2040-01-01"}, headers=tokens["archivist"])
    found = client.get("/api/v1/aips?q=phu chiem", headers=tokens["archivist"]).get_json()
    assert [a["identifier"] for a in found["aips"]] == [result.identifier]

    settings = app.extensions["kho"].settings
    store = OcflStore(get_location(settings, "local"))
    inventory = store.inventory(result.ocfl_id)
    assert inventory.head == "v3"
    # v1 is untouched: its description is the deposited one, and no page was copied again.
    with store.open_file(result.ocfl_id, "kho-metadata/dublin-core.json", "v1") as stream:
        assert "Đại Nam" in stream.read().decode()
    assert not any(p.startswith(("v2/content/data", "v3/content/data"))
                   for paths in inventory.manifest.values() for p in paths)

    rebuilt = open_catalog(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    rebuilt.upgrade()
    assert rebuild_catalog(settings, rebuilt).aips == 1
    with rebuilt.session() as session:
        from repository.catalog import get_aip
        aip = get_aip(session, result.identifier)
        assert (aip.access, str(aip.embargo_until)) == ("embargoed", "2040-01-01")
        assert aip.dublin_core.title == "Địa bạ làng Phú Chiêm"
        assert aip.current_version == 3
    rebuilt.dispose()


def test_openapi_document_describes_every_api_route(app):
    import re
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.json"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: "{%s}" % m.group(1), rule.rule)
        path = path.replace("{identifier}", "{id}").replace("{logical_path}", "{path}")
        assert path in spec["paths"], f"{rule.rule} is not in openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in spec["paths"][path], f"{method} {rule.rule} is not documented"


def test_deposit_left_unfinished_by_a_stopped_server_is_reported_failed(app, tokens):
    import subprocess
    import sys
    from sqlalchemy import update

    from repository.ingest.deposits import create_deposit, this_worker
    from repository.ingest.models import Deposit
    catalog = app.extensions["kho"].catalog
    # One deposit carried by a process that has ended, one by this (running) process.
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True).stdout.strip()
    orphan = create_deposit(catalog, source="/gone/bag.zip", collection="x",
                            depositor="archivist-lan")
    running = create_deposit(catalog, source="/here/bag.zip", collection="x",
                             depositor="archivist-lan")
    with catalog.session() as session:
        session.execute(update(Deposit).where(Deposit.identifier == orphan).values(
            worker=f"{this_worker().rpartition(':')[0]}:{ended}"))
    restarted = create_app(app.extensions["kho"].settings)
    try:
        client = restarted.test_client()
        status = client.get(f"/api/v1/deposits/{orphan}", headers=tokens["archivist"]).get_json()
        alive = client.get(f"/api/v1/deposits/{running}", headers=tokens["archivist"]).get_json()
    finally:
        restarted.extensions["kho"].extras["deposit_executor"].shutdown()
        restarted.extensions["kho"].catalog.dispose()
    assert status["status"] == "failed" and "deposit it again" in status["message"]
    assert alive["status"] == "received"


def test_closed_repository_needs_a_token_even_for_public_aips(kho_settings, ingest_bag, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    app = create_app(kho_settings.replace(public_read=False))
    try:
        with app.extensions["kho"].catalog.session() as session:
            _, token = add_user(session, "bạn đọc", "researcher")
        client = app.test_client()
        for url in (f"/api/v1/aips/{result.identifier}", f"/iiif/3/{result.identifier}/manifest",
                    f"/api/v1/aips/{result.identifier}/files/data/trang 1.jpg"):
            assert client.get(url).status_code == 401, url
            assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert client.get("/api/v1/aips").get_json()["aips"] == []
    finally:
        app.extensions["kho"].extras["deposit_executor"].shutdown()
        app.extensions["kho"].catalog.dispose()
