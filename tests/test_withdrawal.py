"""Withdrawing an AIP: kept in storage, gone from listings and search, 410 with the reason."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repository.catalog import Aip, PremisEvent, add_user, get_aip, open_catalog
from repository.catalog.rebuild import rebuild_catalog
from repository.cli import kho
from repository.errors import Conflict
from repository.storage import OcflStore, get_location
from repository.storage.aip_layout import AIP_FILE
from repository.web import create_app
from tests.fixtures.aips import make_page_bag

REASON = "Trùng với bản đã số hoá năm 2019"


@pytest.fixture
def app(kho_settings):
    app = create_app(kho_settings)
    app.config["TESTING"] = True
    yield app
    executor = app.extensions["kho"].extras.get("deposit_executor")
    if executor:
        executor.shutdown(wait=True)
    app.extensions["kho"].catalog.dispose()


def _env(settings) -> dict:
    return {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.database_url,
            "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}


def test_cli_withdrawal_hides_the_aip_keeps_its_content_and_survives_rebuild(
        ingest_bag, app, tmp_path):
    kept = ingest_bag(make_page_bag(tmp_path / "a", pages=1, title="Địa bạ Hà Nội",
                                    external_id="A"))
    gone = ingest_bag(make_page_bag(tmp_path / "b", pages=2, title="Địa bạ Huế",
                                    external_id="B"))
    run = CliRunner().invoke(kho, ["aip", "withdraw", gone.identifier, "--reason", REASON],
                             env=_env(ingest_bag.settings))
    assert run.exit_code == 0, run.output
    assert f"withdrew {gone.identifier} (version v2)" in run.output

    client = app.test_client()
    listed = client.get("/api/v1/aips").get_json()
    assert [a["identifier"] for a in listed["aips"]] == [kept.identifier]
    assert listed["total"] == 1
    found = client.get("/api/v1/aips?q=dia ba").get_json()
    assert [a["identifier"] for a in found["aips"]] == [kept.identifier]
    assert "Địa bạ Huế" not in client.get("/?q=dia+ba").get_data(as_text=True)

    page = client.get(f"/aips/{gone.identifier}")
    assert page.status_code == 410
    assert REASON in page.get_data(as_text=True)
    assert "Tài liệu này đã được rút khỏi kho" in page.get_data(as_text=True)
    for url in (f"/api/v1/aips/{gone.identifier}", f"/iiif/3/{gone.identifier}/manifest",
                f"/api/v1/aips/{gone.identifier}/files/data/trang 1.jpg"):
        answer = client.get(url)
        assert answer.status_code == 410, url
        assert answer.get_json()["reason"] == REASON
    # Every API read of one AIP answers 410 now, and the OpenAPI document says it may.
    documented = client.get("/api/v1/openapi.json").get_json()["paths"]
    reads = [path for path, ops in documented.items()
             if path.startswith("/api/v1/aips/{id}") and "get" in ops]
    assert len(reads) >= 5
    for path in reads:
        url = (path.replace("{id}", gone.identifier).replace("{path}", "data/trang 1.jpg")
               .replace("{page}", "trang 1.jpg"))
        assert client.get(url).status_code == 410, url
        assert "410" in documented[path]["get"]["responses"], path

    # The content is kept, and the withdrawal is in storage with its PREMIS event.
    store = OcflStore(get_location(ingest_bag.settings, "local"))
    assert store.inventory(gone.ocfl_id).head == "v2"
    with store.open_file(gone.ocfl_id, "data/trang 2.jpg") as stream:
        assert stream.read(3) == b"\xff\xd8\xff"
    with store.open_file(gone.ocfl_id, AIP_FILE) as stream:
        assert json.load(stream)["withdrawn"]["reason"] == REASON
    with ingest_bag.catalog.session() as session:
        event = session.scalars(select(PremisEvent).where(
            PremisEvent.aip_identifier == gone.identifier)
            .order_by(PremisEvent.id.desc())).first()
        assert (event.event_type, event.outcome) == ("deaccession", "success")
        assert REASON in event.detail

    # Storage is the source of truth: a rebuilt catalogue still knows it is withdrawn.
    fresh = open_catalog(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    fresh.upgrade()
    rebuild_catalog(ingest_bag.settings, fresh)
    with fresh.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == gone.identifier))
        assert aip.withdrawn_at is not None and aip.withdrawal_reason == REASON
    fresh.dispose()

    again = CliRunner().invoke(kho, ["aip", "withdraw", gone.identifier, "--reason", "x"],
                               env=_env(ingest_bag.settings))
    assert again.exit_code == 2 and "already withdrawn" in again.output
    # A re-deposit cannot quietly bring it back as a new version.
    from repository.errors import DuplicatePackage
    with pytest.raises(DuplicatePackage, match="withdrawn"):
        ingest_bag(make_page_bag(tmp_path / "b2", pages=2, title="Địa bạ Huế", external_id="B"),
                   new_version=True)


def test_only_an_admin_withdraws_through_the_api_and_a_reason_is_required(
        ingest_bag, app, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    with app.extensions["kho"].catalog.session() as session:
        _, admin = add_user(session, "quan-tri", "admin")
        _, archivist = add_user(session, "lan", "archivist")
    client = app.test_client()
    url = f"/api/v1/aips/{result.identifier}/withdrawal"
    assert client.post(url, json={"reason": REASON}).status_code == 401
    assert client.post(url, json={"reason": REASON},
                       headers={"Authorization": f"Bearer {archivist}"}).status_code == 403
    missing = client.post(url, json={}, headers={"Authorization": f"Bearer {admin}"})
    assert missing.status_code == 400 and "reason" in missing.get_json()["message"]
    # NFD input is stored NFC.
    import unicodedata
    done = client.post(url, json={"reason": unicodedata.normalize("NFD", REASON)},
                       headers={"Authorization": f"Bearer {admin}"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["reason"] == REASON
    assert client.get(f"/api/v1/aips/{result.identifier}").status_code == 410
    # Withdrawing again is refused for the AIP's state, not the request's form: 409.
    again = client.post(url, json={"reason": REASON}, headers={"Authorization": f"Bearer {admin}"})
    assert again.status_code == 409 and "already withdrawn" in again.get_json()["message"]
    # Nor does it take a new version through an edit: access, Dublin Core, a transcription.
    from repository.ingest.amend import amend_aip
    staff = {"Authorization": f"Bearer {archivist}"}
    for method, path, body in (
            ("patch", "", {"access": "public"}),
            ("put", "/dublin-core", {"title": [{"value": "Tên mới", "lang": "vi"}]}),
            ("put", "/pages/trang 1.jpg/transcriptions/vi", {"text": "chữ"})):
        answer = getattr(client, method)(f"/api/v1/aips/{result.identifier}{path}", json=body,
                                         headers=staff)
        assert answer.status_code == 409, (path, answer.status_code)
        assert "takes no new versions" in answer.get_json()["message"]
    with pytest.raises(Conflict, match="takes no new versions"):
        amend_aip(ingest_bag.settings, ingest_bag.catalog, result.identifier, agent="lan",
                  access="public")
    with app.extensions["kho"].catalog.session() as session:
        assert get_aip(session, result.identifier).current_version == 2  # v1 and the withdrawal
