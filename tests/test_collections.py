"""Collections are made on purpose: a typo never makes a new one, and two people (or two
processes) making or filling collections at once get an answer, never a traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from repository.catalog import Aip, Collection, add_user
from repository.catalog.collections import UnknownCollection, add_collection
from repository.cli import kho
from repository.errors import UsageError
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag
from tests.fixtures.bags import zip_folder

KHO = Path(sys.executable).parent / "kho"


@pytest.fixture
def env(kho_settings, tmp_path):
    return {"KHO_DATA_DIR": str(kho_settings.data_dir),
            "KHO_DATABASE_URL": kho_settings.catalog_url,
            "KHO_STORAGE_CONFIG": str(tmp_path / "no-locations")}


def cli(env, *args):
    return CliRunner().invoke(kho, list(args), env=env)


def test_ingest_into_a_mistyped_collection_is_refused_with_the_closest_names(env, tmp_path):
    assert cli(env, "collection", "add", "Địa bạ", "--description", "Sổ địa bạ").exit_code == 0
    assert cli(env, "collection", "add", "Châu bản").exit_code == 0
    bag = make_page_bag(tmp_path / "bag", pages=1)
    typo = cli(env, "ingest", str(bag), "--collection", "Dia ba")
    assert typo.exit_code == 2
    assert "no collection named 'Dia ba'; did you mean 'Địa bạ'?" in typo.stderr
    assert "kho collection add" in typo.stderr
    listing = cli(env, "collection", "list")
    assert [line.split("\t")[0] for line in listing.stdout.splitlines()] == ["Châu bản", "Địa bạ"]
    # The intended name works, typed decomposed (NFD) as macOS sends it.
    nfd = "Đi\u0323a ba\u0323"
    assert cli(env, "ingest", str(bag), "--collection", nfd).exit_code == 0


def test_collection_is_renamed_by_title_and_deleted_only_when_empty(env, ingest_bag, tmp_path):
    assert cli(env, "collection", "add", "Hán-Nôm", "--access", "restricted").exit_code == 0
    renamed = cli(env, "collection", "rename", "Hán-Nôm", "--title", "Sách Hán-Nôm")
    assert renamed.exit_code == 0, renamed.output
    with ingest_bag.catalog.session() as session:
        found = session.scalar(select(Collection).where(Collection.name == "Hán-Nôm"))
        assert (found.title, found.access) == ("Sách Hán-Nôm", "restricted")
    ingest_bag(make_page_bag(tmp_path / "bag", pages=1), collection="Hán-Nôm")
    held = cli(env, "collection", "delete", "Hán-Nôm")
    assert held.exit_code == 2 and "holds 1 AIP" in held.stderr
    assert cli(env, "collection", "add", "Tạm").exit_code == 0
    again = cli(env, "collection", "add", "Tạm")
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert cli(env, "collection", "delete", "Tạm").exit_code == 0
    assert "Tạm" not in cli(env, "collection", "list").stdout


def test_fixity_run_of_an_unknown_collection_is_an_error_not_zero_checks(env):
    assert cli(env, "collection", "add", "Hán-Nôm").exit_code == 0
    result = cli(env, "fixity", "run", "--collection", "Han Nom")
    assert result.exit_code == 2
    assert "did you mean 'Hán-Nôm'" in result.stderr


def test_deposit_into_an_unknown_collection_is_refused_before_the_upload(kho_settings, tmp_path):
    app = create_app(kho_settings)
    catalog = app.extensions["kho"].catalog
    with catalog.session() as session:
        _, archivist = add_user(session, "lan", "archivist")
        _, admin = add_user(session, "minh", "admin")
    add_collections(catalog, "Địa bạ")
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=1), tmp_path / "bag.zip")
    client = app.test_client()
    try:
        with open(archive, "rb") as body:
            refused = client.post("/api/v1/deposits?collection=Dia%20ba", data=body,
                                  headers={"Authorization": f"Bearer {archivist}",
                                           "Content-Type": "application/zip"})
        assert refused.status_code == 404
        assert "did you mean 'Địa bạ'" in refused.get_json()["message"]
        uploads = kho_settings.staging_dir / "uploads"
        assert not uploads.exists() or not any(uploads.iterdir())
        # Admins make collections over HTTP too; archivists may not.
        made = client.post("/api/v1/collections", json={"name": "Châu bản", "title": "Châu bản"},
                           headers={"Authorization": f"Bearer {archivist}"})
        assert made.status_code == 403
        made = client.post("/api/v1/collections",
                           json={"name": "Cha\u0302u ba\u0309n", "description": "Văn bản"},
                           headers={"Authorization": f"Bearer {admin}"})
        assert made.status_code == 201, made.get_json()
        assert made.get_json()["name"] == "Châu bản"
        assert made.headers["Location"] == "/api/v1/collections/Ch%C3%A2u%20b%E1%BA%A3n"
        twice = client.post("/api/v1/collections", json={"name": "Châu bản"},
                            headers={"Authorization": f"Bearer {admin}"})
        assert twice.status_code == 409 and "already exists" in twice.get_json()["message"]
        retitled = client.patch("/api/v1/collections/Châu bản", json={"title": "Châu bản triều Nguyễn"},
                                headers={"Authorization": f"Bearer {admin}"})
        assert retitled.status_code == 200 and retitled.get_json()["title"] == "Châu bản triều Nguyễn"
        gone = client.delete("/api/v1/collections/Châu bản",
                             headers={"Authorization": f"Bearer {admin}"})
        assert gone.status_code == 204
    finally:
        app.extensions["kho"].extras["deposit_executor"].shutdown(wait=True)
        catalog.dispose()


def test_the_api_refuses_for_the_collections_state_with_409_and_for_bad_input_with_400(
        ingest_bag, kho_settings, tmp_path):
    """Issue 8 item 9: what the OpenAPI document allows is refused only for what the
    repository holds (a name taken, AIPs still held), as 409 like the admin page; a title
    longer than its column (which PostgreSQL would refuse with a 500) is a 400."""
    ingest_bag(make_page_bag(tmp_path / "bag", pages=1))  # into Hán-Nôm
    app = create_app(kho_settings)
    with app.extensions["kho"].catalog.session() as session:
        _, admin = add_user(session, "minh", "admin")
    client, auth = app.test_client(), {"Authorization": f"Bearer {admin}"}
    try:
        taken = client.post("/api/v1/collections", json={"name": "Hán-Nôm"}, headers=auth)
        assert taken.status_code == 409 and "already exists" in taken.get_json()["message"]
        held = client.delete("/api/v1/collections/Hán-Nôm", headers=auth)
        assert held.status_code == 409 and "holds 1 AIP" in held.get_json()["message"]
        for method, path, body in (("post", "/api/v1/collections", {"name": "Sắc phong"}),
                                   ("patch", "/api/v1/collections/Hán-Nôm", {})):
            long = getattr(client, method)(path, json={**body, "title": "t" * 1001}, headers=auth)
            assert long.status_code == 400 and "1000" in long.get_json()["message"], method
        documented = client.get("/api/v1/openapi.json").get_json()["paths"]
        assert "409" in documented["/api/v1/collections"]["post"]["responses"]
        assert "409" in documented["/api/v1/collections/{name}"]["delete"]["responses"]
    finally:
        app.extensions["kho"].catalog.dispose()


def test_two_archivists_creating_the_same_collection_at_once_get_one_and_a_clear_answer(catalog):
    """Issue 8 item 6: the database's unique name decides, and the loser is told why."""
    def create(_):
        with catalog.session() as session:
            try:
                add_collection(session, "Địa bạ")
                return "made"
            except UsageError as exc:
                return str(exc)
    for _ in range(5):
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(create, range(8)))
        assert answers.count("made") <= 1
        assert all(a == "made" or "already exists" in a for a in answers), answers
        with catalog.session() as session:
            assert session.scalar(select(func.count()).select_from(Collection)) == 1


def test_two_processes_adding_one_collection_and_ingesting_into_another_at_once(env, tmp_path):
    """Issue 8 item 6, as users meet it: `kho collection add` twice and two `kho ingest` into
    one existing collection, all at the same moment; no traceback, both AIPs stored."""
    environ = {**os.environ, **env}
    subprocess.run([str(KHO), "collection", "add", "Hán-Nôm"], env=environ, check=True,
                   capture_output=True, timeout=120)
    bags = [make_page_bag(tmp_path / f"bag{n}", pages=1, size=(60, 80), external_id=f"P-{n}")
            for n in range(2)]
    commands = [[str(KHO), "collection", "add", "Địa bạ"]] * 2 + [
        [str(KHO), "ingest", str(bag), "--collection", "Hán-Nôm"] for bag in bags]
    running = [subprocess.Popen(c, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for c in commands]
    done = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in running]
    for _, out, err in done:
        assert "Traceback" not in out + err, err
    adds = done[:2]
    assert sorted(code for code, _, _ in adds) == [0, 2]  # one makes it, one is told
    assert all(code == 0 or "already exists" in err for code, _, err in adds)
    assert [code for code, _, _ in done[2:]] == [0, 0], [err for _, _, err in done[2:]]
    from repository.catalog import open_catalog
    catalog = open_catalog(env["KHO_DATABASE_URL"])
    try:
        with catalog.session() as session:
            assert session.scalar(select(func.count()).select_from(Aip)) == 2
            assert sorted(session.scalars(select(Collection.name))) == ["Hán-Nôm", "Địa bạ"]
    finally:
        catalog.dispose()


def test_unknown_collection_names_its_closest_matches(catalog):
    add_collections(catalog, "Địa bạ", "Địa chí", "Hương ước")
    from repository.catalog.collections import require_collection
    with catalog.session() as session:
        with pytest.raises(UnknownCollection) as missing:
            require_collection(session, "dia ba")
    assert missing.value.suggestions[0] == "Địa bạ"
