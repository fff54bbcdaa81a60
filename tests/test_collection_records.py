"""Collection access survives a catalogue rebuilt from storage alone (issue 8, items 3 and 5):
every location keeps a record of each collection, and the chain head follows every change."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from repository.catalog import PremisEvent, add_user
from repository.catalog.collection_records import RECORD_PREFIX, read_records, record_key
from repository.cli import kho
from repository.storage import get_location
from repository.web import create_app
from tests.fixtures.aips import make_page_bag


@pytest.fixture
def app(ingest_bag):
    app = create_app(ingest_bag.settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["kho"].catalog.dispose()


@pytest.fixture
def archivist(app):
    with app.extensions["kho"].catalog.session() as session:
        _, token = add_user(session, "lan", "archivist")
    return {"Authorization": f"Bearer {token}"}


def env_for(settings, database_url: str) -> dict:
    return {"KHO_DATA_DIR": str(settings.data_dir),
            "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
            "KHO_DATABASE_URL": database_url}


def rebuild_into(settings, tmp_path, name: str = "rebuilt"):
    url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    result = CliRunner().invoke(kho, ["catalog", "rebuild"], env=env_for(settings, url))
    return result, url


def test_rebuild_from_storage_keeps_a_restricted_collection_closed(
        app, archivist, ingest_bag, tmp_path):
    aip = ingest_bag(make_page_bag(tmp_path / "a", pages=1, size=(100, 130)),
                     collection="Châu bản").identifier
    client = app.test_client()
    changed = client.patch("/api/v1/collections/Châu bản", json={"access": "restricted"},
                           headers=archivist)
    assert changed.status_code == 200
    storage = get_location(ingest_bag.settings, "local")
    [record] = read_records(storage)
    assert (record["type"], record["version"], record["name"], record["access"]) == \
        ("kho:collection-record", 1, "Châu bản", "restricted")
    assert [e["type"] for e in record["events"]] == ["policy assignment"]

    result, url = rebuild_into(ingest_bag.settings, tmp_path)
    assert result.exit_code == 0, result.output
    verified = CliRunner().invoke(kho, ["audit", "verify"], env=env_for(ingest_bag.settings, url))
    assert verified.exit_code == 0, verified.output  # the rebuilt log holds the stored head
    rebuilt = create_app(ingest_bag.settings.replace(database_url=url))
    try:
        client = rebuilt.test_client()
        assert client.get(f"/api/v1/aips/{aip}").status_code == 401
        assert client.get(f"/iiif/3/{aip}/manifest").status_code == 401
        assert client.get("/api/v1/aips").get_json()["total"] == 0
        assert "Châu bản" not in client.get("/api/v1/collections").get_data(as_text=True)
        with rebuilt.extensions["kho"].catalog.session() as session:
            events = session.scalars(select(PremisEvent).where(
                PremisEvent.event_type == "policy assignment")).all()
            assert [e.identifier for e in events] == [record["events"][0]["identifier"]]
    finally:
        rebuilt.extensions["kho"].catalog.dispose()


def test_a_collection_with_no_record_in_storage_comes_back_restricted_never_public(
        ingest_bag, tmp_path):
    aip = ingest_bag(make_page_bag(tmp_path / "a", pages=1, size=(100, 130)),
                     collection="Địa bạ").identifier
    storage = get_location(ingest_bag.settings, "local")
    assert storage.exists(record_key("Địa bạ"))  # ingest wrote the collection's record
    storage.delete_prefix(RECORD_PREFIX)  # as in a repository older than the records
    result, url = rebuild_into(ingest_bag.settings, tmp_path)
    assert result.exit_code == 0, result.output
    assert "collection 'Địa bạ' has no record in storage" in result.output
    rebuilt = create_app(ingest_bag.settings.replace(database_url=url))
    try:
        assert rebuilt.test_client().get(f"/api/v1/aips/{aip}").status_code == 401
    finally:
        rebuilt.extensions["kho"].catalog.dispose()


def test_a_change_storage_cannot_record_is_refused_and_changes_nothing(
        app, archivist, ingest_bag, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=1, size=(100, 130)), collection="Hương ước")
    storage = get_location(ingest_bag.settings, "local")
    folder = storage.root / RECORD_PREFIX
    for item in folder.iterdir():
        item.unlink()
    folder.rmdir()
    folder.write_bytes(b"")  # a file where the folder should be: every write fails
    client = app.test_client()
    response = client.patch("/api/v1/collections/Hương ước", json={"access": "restricted"},
                            headers=archivist)
    assert response.status_code == 503 and "message" in response.get_json()
    listed = client.get("/api/v1/collections").get_json()["collections"]
    assert [(c["name"], c["access"]) for c in listed] == [("Hương ước", "public")]


def test_deleting_the_newest_collection_event_is_caught_by_audit_verify(
        app, archivist, ingest_bag, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=1, size=(100, 130)), collection="Châu bản")
    client = app.test_client()
    assert client.patch("/api/v1/collections/Châu bản", json={"access": "restricted"},
                        headers=archivist).status_code == 200
    env = env_for(ingest_bag.settings, ingest_bag.settings.catalog_url)
    good = CliRunner().invoke(kho, ["audit", "verify"], env=env)
    assert good.exit_code == 0, good.output
    with ingest_bag.catalog.session() as session:
        newest = session.scalar(select(PremisEvent.id).order_by(PremisEvent.id.desc()).limit(1))
        assert session.get(PremisEvent, newest).event_type == "policy assignment"
        session.execute(delete(PremisEvent).where(PremisEvent.id == newest))
    bad = CliRunner().invoke(kho, ["audit", "verify"], env=env)
    assert bad.exit_code == 1 and "removed from the end" in bad.output
