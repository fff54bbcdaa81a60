"""What a new archivist trips over (issue 9): messages that say what to do, where the data
folder is, tokens and deposits they can manage, titles and file orders as they expect."""
from __future__ import annotations

import re

import json
import os
import pty
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from repository.catalog import User, add_user
from repository.cli import kho
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag
from tests.fixtures.bags import make_bag, zip_folder

KHO = Path(sys.executable).parent / "kho"


@pytest.fixture
def env(kho_settings, tmp_path):
    return {"KHO_DATA_DIR": str(kho_settings.data_dir),
            "KHO_DATABASE_URL": kho_settings.catalog_url,
            "KHO_STORAGE_CONFIG": str(tmp_path / "no-locations")}


def cli(env, *args):
    return CliRunner().invoke(kho, list(args), env=env)


# --- errors that say what to do -----------------------------------------------------------------

def test_a_folder_that_is_not_a_bag_says_so_in_one_line_first(tmp_path, settings):
    folder = tmp_path / "scans"
    (folder / "trang 1").mkdir(parents=True)
    (folder / "trang 1" / "a.jpg").write_bytes(b"x")
    result = CliRunner().invoke(kho, ["validate", str(folder)],
                                env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("this is not a bag (there is no bagit.txt): make one with "
                            "`python -m bagit")
    assert any(line.startswith("error: K101") for line in result.stderr.splitlines()[1:])


def test_a_bag_two_levels_deep_in_a_zip_is_named(tmp_path, settings):
    bag = make_bag(tmp_path / "Địa bạ" / "quyển 1")
    archive = zip_folder(tmp_path / "Địa bạ", tmp_path / "nested.zip")
    result = CliRunner().invoke(kho, ["validate", str(archive), "--json"],
                                env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert bag.is_dir() and result.exit_code == 1
    assert json.loads(result.stdout)["summary"].startswith(
        "the bag is inside folder Địa bạ/quyển 1:")


def test_two_bags_in_one_zip_are_named(tmp_path, settings):
    make_bag(tmp_path / "two" / "a")
    make_bag(tmp_path / "two" / "b")
    archive = zip_folder(tmp_path / "two", tmp_path / "two.zip", top="")
    result = CliRunner().invoke(kho, ["validate", str(archive)],
                                env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("this holds 2 bags (a, b): deposit each")


def test_kho_validate_says_valid_on_a_terminal_only(tmp_path, settings):
    bag = make_bag(tmp_path / "bag")
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir)}
    leader, follower = pty.openpty()
    run = subprocess.run([str(KHO), "validate", str(bag)], stdout=subprocess.PIPE,
                         stderr=follower, env=env, timeout=60)
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert run.returncode == 0 and run.stdout == b""
    assert f"{bag}: a valid bag" in shown
    piped = subprocess.run([str(KHO), "validate", str(bag)], capture_output=True, env=env,
                           timeout=60)
    assert (piped.returncode, piped.stdout, piped.stderr) == (0, b"", b"")


@pytest.fixture
def api(kho_settings):
    app = create_app(kho_settings)
    catalog = app.extensions["kho"].catalog
    tokens = {}
    with catalog.session() as session:
        for name, role in (("lan", "archivist"), ("hoa", "archivist"), ("minh", "admin")):
            _, tokens[name] = add_user(session, name, role)
    add_collections(catalog, "Địa bạ")
    yield app, {n: {"Authorization": f"Bearer {t}"} for n, t in tokens.items()}
    app.extensions["kho"].extras["deposit_executor"].shutdown(wait=True)
    catalog.dispose()


def wait_done(client, url, headers):
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        body = client.get(url, headers=headers).get_json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.1)
    pytest.fail(f"{url} did not finish")


def test_http_clients_see_no_server_paths_and_hints_name_http_fields(api, kho_settings,
                                                                      tmp_path):
    app, auth = api
    client = app.test_client()
    # curl -d instead of --data-binary: the body is no longer a zip.
    sent = client.post("/api/v1/deposits?collection=Địa bạ", data=b"PK\x03\x04 mangled",
                       headers={**auth["lan"], "Content-Type": "application/zip"})
    failed = wait_done(client, sent.headers["Location"], auth["lan"])
    assert failed["status"] == "failed"
    assert failed["message"].startswith("the upload is not a zip archive (did you send it "
                                        "with --data-binary?")
    text = json.dumps(failed, ensure_ascii=False)
    assert str(kho_settings.data_dir) not in text and "staging" not in text
    assert sent.get_json()["identifier"] + ".zip" not in failed["message"]
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=1), tmp_path / "bag.zip")
    for _ in range(2):
        with open(archive, "rb") as body:
            sent = client.post("/api/v1/deposits?collection=Địa bạ", data=body,
                               headers={**auth["lan"], "Content-Type": "application/zip"})
        outcome = wait_done(client, sent.headers["Location"], auth["lan"])
    assert outcome["status"] == "failed"
    assert "new_version=true" in outcome["message"] and "--new-version" not in outcome["message"]


def test_a_deposit_of_a_zip_with_the_bag_too_deep_says_where_it_is(api, tmp_path):
    app, auth = api
    client = app.test_client()
    make_bag(tmp_path / "Địa bạ" / "quyển 1")
    archive = zip_folder(tmp_path / "Địa bạ", tmp_path / "nested.zip")
    with open(archive, "rb") as body:
        sent = client.post("/api/v1/deposits?collection=Địa bạ", data=body,
                           headers={**auth["lan"], "Content-Type": "application/zip"})
    failed = wait_done(client, sent.headers["Location"], auth["lan"])
    assert failed["message"].startswith("the bag is inside folder Địa bạ/quyển 1:")
    assert failed["report"]["errors"][0]["code"] == "K101"


def test_a_bad_token_says_how_to_get_one(api):
    app, auth = api
    client = app.test_client()
    bad = client.get("/api/v1/deposits", headers={"Authorization": "Bearer kho_nonsense"})
    assert bad.status_code == 401
    assert "kho user token NAME" in bad.get_json()["message"]
    missing = client.post("/api/v1/deposits?collection=Địa bạ", data=b"x")
    assert missing.status_code == 401 and "kho user add" in missing.get_json()["message"]


# --- tokens and deposits a user manages ---------------------------------------------------------

def test_kho_user_token_replaces_the_token_and_keeps_the_user(env, kho_settings):
    added = cli(env, "user", "add", "lan", "--role", "archivist", "--no-password")
    old = added.stdout.strip().splitlines()[-1]
    renewed = cli(env, "user", "token", "lan")
    assert renewed.exit_code == 0, renewed.output
    new = renewed.stdout.strip().splitlines()[-1]
    assert new != old and new.startswith("kho_")
    app = create_app(kho_settings)
    client = app.test_client()
    try:
        assert client.get("/api/v1/deposits", headers={"Authorization": f"Bearer {old}"}
                          ).status_code == 401
        assert client.get("/api/v1/deposits", headers={"Authorization": f"Bearer {new}"}
                          ).status_code == 200
    finally:
        app.extensions["kho"].catalog.dispose()
    assert cli(env, "user", "list").stdout.startswith("lan\tarchivist")
    assert cli(env, "user", "token", "nobody").exit_code == 2


def test_tokens_expire_after_KHO_TOKEN_DAYS(env, kho_settings):
    added = cli({**env, "KHO_TOKEN_DAYS": "30"}, "user", "add", "lan", "--role", "archivist", "--no-password")
    assert "valid until" in added.stdout
    token = added.stdout.strip().splitlines()[-1]
    app = create_app(kho_settings)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert client.get("/api/v1/deposits", headers=headers).status_code == 200
        with app.extensions["kho"].catalog.session() as session:
            session.execute(update(User).values(
                token_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)))
        expired = client.get("/api/v1/deposits", headers=headers)
        assert expired.status_code == 401
        assert expired.get_json()["message"].startswith("the token has expired")
    finally:
        app.extensions["kho"].catalog.dispose()


def test_deposits_are_listed_own_for_an_archivist_all_for_an_admin(api, env, tmp_path):
    app, auth = api
    client = app.test_client()
    for n, who in enumerate(("lan", "hoa")):
        archive = zip_folder(make_page_bag(tmp_path / f"bag{n}", pages=1, external_id=f"L-{n}"),
                             tmp_path / f"bag{n}.zip")
        with open(archive, "rb") as body:
            sent = client.post("/api/v1/deposits?collection=Địa bạ", data=body,
                               headers={**auth[who], "Content-Type": "application/zip"})
        wait_done(client, sent.headers["Location"], auth[who])
    own = client.get("/api/v1/deposits", headers=auth["lan"]).get_json()
    assert [d["depositor"] for d in own["deposits"]] == ["lan"] and own["total"] == 1
    assert own["deposits"][0]["status"] == "done" and own["deposits"][0]["aip"]
    everyone = client.get("/api/v1/deposits", headers=auth["minh"]).get_json()
    assert [d["depositor"] for d in everyone["deposits"]] == ["hoa", "lan"]
    other = own["deposits"][0]["url"]
    assert client.get(other, headers=auth["hoa"]).status_code == 404
    assert client.get("/api/v1/deposits?status=nonsense", headers=auth["lan"]).status_code == 400
    listed = cli(env, "deposit", "list")
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(r[2], r[3], r[4]) for r in rows] == [("hoa", "done", "Địa bạ"), ("lan", "done", "Địa bạ")]
    assert [d["depositor"] for d in json.loads(
        cli(env, "deposit", "list", "--user", "lan", "--json").stdout)["deposits"]] == ["lan"]


# --- where Kho keeps its data ---------------------------------------------------------------------

def test_the_data_folder_is_one_absolute_place_whatever_the_working_folder(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    seen = []
    for folder in (tmp_path / "a", tmp_path / "b"):
        folder.mkdir()
        run = subprocess.run([str(KHO), "settings"], cwd=folder, capture_output=True,
                             text=True, timeout=60,
                             env={"PATH": os.environ["PATH"], "HOME": str(home)})
        assert run.returncode == 0, run.stderr
        seen.append(run.stdout.splitlines()[0])
    assert seen[0] == seen[1] == f"data folder: {home}/.local/share/kho (KHO_DATA_DIR)"
    relative = subprocess.run([str(KHO), "settings"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60,
                              env={"PATH": os.environ["PATH"], "HOME": str(home),
                                   "KHO_DATA_DIR": "kho-data"})
    assert f"data folder: {tmp_path}/kho-data (KHO_DATA_DIR)" in relative.stdout
    assert f"KHO_DATA_DIR={tmp_path}/kho-data" in relative.stdout


def test_an_empty_repository_is_pointed_out(env, kho_settings):
    listing = cli(env, "user", "list")
    assert listing.exit_code == 0 and listing.stdout == ""
    assert "warning: this repository is empty" in listing.stderr
    assert str(kho_settings.data_dir) in listing.stderr
    checked = cli(env, "fixity", "run", "--all")
    assert "warning: the repository at" in checked.stderr and "KHO_DATA_DIR" in checked.stderr
    cli(env, "user", "add", "lan", "--role", "archivist", "--no-password")
    assert "warning" not in cli(env, "user", "list").stderr


# --- titles and orders --------------------------------------------------------------------------

def test_the_readme_bag_info_example_gives_the_vietnamese_title_as_label_and_heading(
        ingest_bag, tmp_path):
    bag = make_bag(tmp_path / "bag", {"data/trang 1.jpg": _jpeg()},
                   bag_info={"DC-Title": "Đại Nam thực lục", "DC-Title-vi-Hani": "大南寔錄",
                             "DC-Date": "1844/1909"})
    result = ingest_bag(bag)
    app = create_app(ingest_bag.settings)
    client = app.test_client()
    try:
        manifest = client.get(f"/iiif/3/{result.identifier}/manifest").get_json()
        assert manifest["label"] == {"vi": ["Đại Nam thực lục"]}
        titles = [m for m in manifest["metadata"] if m["label"]["en"] == ["Title"]][0]
        assert "大南寔錄" in json.dumps(titles["value"], ensure_ascii=False)
        page = client.get(f"/view/{result.identifier}").get_data(as_text=True)
        assert re.search(r'<h1 lang="vi">\s*Đại Nam thực lục\s*</h1>', page), page[:2000]
    finally:
        app.extensions["kho"].catalog.dispose()


def test_untagged_han_title_first_still_gives_the_vietnamese_heading():
    from repository.metadata import primary_title, title_label
    record = {"title": [{"value": "大南寔錄"}, {"value": "Đại Nam thực lục"},
                        {"value": "Veritable Records", "lang": "en"}]}
    assert primary_title(record) == "Đại Nam thực lục"
    assert title_label(record) == {"vi": ["Đại Nam thực lục"], "en": ["Veritable Records"]}


def test_record_page_lists_files_in_the_viewers_natural_order(ingest_bag, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "bag", pages=11, size=(60, 80)))
    app = create_app(ingest_bag.settings)
    try:
        page = app.test_client().get(f"/aips/{result.identifier}").get_data(as_text=True)
    finally:
        app.extensions["kho"].catalog.dispose()
    shown = [page.index(f">data/trang {n}.jpg<") for n in range(1, 12)]
    assert shown == sorted(shown)


def _jpeg() -> bytes:
    from tests.fixtures.aips import page_image
    return page_image(60, 80)


# --- the fixity report adds up ----------------------------------------------------------------

def test_fixity_report_file_counts_agree(env, ingest_bag, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "bag", pages=3, size=(60, 80)))
    assert cli(env, "fixity", "run", "--all").exit_code == 0
    report = json.loads(cli(env, "fixity", "report", "--format", "json").stdout)
    assert report["files_checked"] == sum(v for k, v in report["outcomes"].items()
                                          if k != "error")
    assert report["inventory_outcomes"]
    text = cli(env, "fixity", "report").stdout
    files_line = next(line for line in text.splitlines() if line.startswith("Files by outcome"))
    assert files_line == f"Files by outcome: ok {report['files_checked']}"
