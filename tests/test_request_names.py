"""Vietnamese names survive every door of a live server: raw UTF-8 as curl sends it,
percent-encoded, decomposed (NFD), in the path, the query string, a form, JSON and headers;
and every link Kho hands back is a valid URL that leads somewhere."""
from __future__ import annotations

import json
import re
import subprocess
import time
import unicodedata
import urllib.request
from urllib.parse import quote

import pytest
from flask import request

from repository.catalog import add_user
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag
from tests.fixtures.bags import zip_folder
from tests.fixtures.servers import serving

NAME = "Địa bạ"
NFD = unicodedata.normalize("NFD", NAME)
assert NFD != NAME
# RFC 3986: what a URL may hold without percent-encoding.
URL_CHARS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*$")


@pytest.fixture
def live(kho_settings, tmp_path):
    app = create_app(kho_settings.replace(drop_folder=tmp_path))

    @app.post("/test-echo")
    def echo():  # a door for the form and header cases: no route of Kho takes those yet
        return {"form": request.form.get("name"), "header": request.headers.get("X-Name"),
                "query": request.args.get("name")}

    catalog = app.extensions["kho"].catalog
    with catalog.session() as session:
        _, token = add_user(session, "lan", "archivist")
        _, admin = add_user(session, "minh", "admin")
    add_collections(catalog, NAME)
    with serving(app) as url:
        yield url, token, admin, app
    app.extensions["kho"].extras["deposit_executor"].shutdown(wait=True)
    catalog.dispose()


def curl(*args: str) -> tuple[int, dict]:
    """curl as a user runs it (raw UTF-8 stays raw in the request line); status and JSON."""
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.decode("utf-8").rpartition("\n")
    return int(status), (json.loads(body) if body.strip() else {})


def wait_done(url: str, token: str, deposit_url: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        _, body = curl("-H", f"Authorization: Bearer {token}", url + deposit_url)
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    pytest.fail(f"deposit {deposit_url} did not finish")


def test_deposit_with_a_raw_utf8_query_string_keeps_the_collection_name(live, tmp_path):
    url, token, _, app = live
    archive = zip_folder(make_page_bag(tmp_path / "bag", pages=1), tmp_path / "dia-ba.zip")
    # The README's own line: curl sends "Địa" as raw UTF-8 bytes, "%20" as is.
    status, body = curl("-H", f"Authorization: Bearer {token}", "-H",
                        "Content-Type: application/zip", "--data-binary", f"@{archive}",
                        f"{url}/api/v1/deposits?collection=Địa%20bạ")
    assert status == 202, body
    finished = wait_done(url, token, body["url"])
    assert finished["status"] == "done", finished
    assert finished["collection"] == NAME
    _, aip = curl(f"{url}/api/v1/aips/{finished['aip']}")
    assert aip["collection"] == NAME


@pytest.mark.parametrize("spelling", ["raw", "raw-nfd", "percent", "percent-nfd"])
def test_every_read_door_finds_the_collection_however_its_name_is_sent(live, spelling):
    url, *_ = live
    text = NFD if spelling.endswith("nfd") else NAME
    # "raw": the letters as raw UTF-8 bytes (curl refuses a raw space, as in the README).
    sent = quote(text) if spelling.startswith("percent") else text.replace(" ", "%20")
    status, listing = curl(f"{url}/api/v1/aips?collection={sent}")
    assert status == 200, listing
    status, iiif = curl(f"{url}/iiif/3/collection/{sent}")
    assert status == 200, iiif
    assert iiif["label"] == {"none": [NAME]}
    status, one = curl(f"{url}/api/v1/collections/{sent}")
    assert status == 200 and one["name"] == NAME, one
    page = subprocess.run(["curl", "-sS", f"{url}/?collection={sent}"], capture_output=True,
                          timeout=60)
    assert page.returncode == 0 and "Traceback" not in page.stdout.decode()


@pytest.mark.parametrize("spelling", ["raw", "raw-nfd", "percent", "percent-nfd"])
def test_a_file_named_in_vietnamese_downloads_however_its_path_is_sent(live, ingest_bag,
                                                                     tmp_path, spelling):
    url, token, *_ = live
    bag = make_page_bag(tmp_path / "bag", pages=1, extra_files={"data/Địa bạ/bìa.txt": b"bia"})
    result = ingest_bag(bag, collection=NAME)
    path = "data/Địa bạ/bìa.txt"
    text = unicodedata.normalize("NFD", path) if spelling.endswith("nfd") else path
    sent = quote(text) if spelling.startswith("percent") else text.replace(" ", "%20")
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}",
                           f"{url}/api/v1/aips/{result.identifier}/files/{sent}"],
                          capture_output=True, timeout=60)
    assert done.stdout.endswith(b"bia\n200"), done.stdout
    # The drop-folder deposit takes the collection from JSON, decomposed: stored NFC.
    status, body = curl("-H", f"Authorization: Bearer {token}", "-H",
                        "Content-Type: application/json", "-d",
                        json.dumps({"path": "bag", "collection": NFD, "new_version": True},
                                   ensure_ascii=False), f"{url}/api/v1/deposits")
    assert status == 202, body
    assert wait_done(url, token, body["url"])["collection"] == NAME


SPELLINGS = ["raw", "raw-nfd", "percent", "percent-nfd"]


def spelled(text: str, spelling: str) -> str:
    """``text`` for a URL as a user's tool sends it: raw UTF-8 bytes (curl; a space still
    %20) or percent-encoded, composed (NFC) or decomposed (NFD)."""
    if spelling.endswith("nfd"):
        text = unicodedata.normalize("NFD", text)
    return quote(text) if spelling.startswith("percent") else text.replace(" ", "%20")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_collection_changing_doors_find_the_collection_however_its_name_is_sent(
        live, spelling):
    url, _, admin, _ = live
    auth, sent = ("-H", f"Authorization: Bearer {admin}"), spelled(NAME, spelling)
    status, changed = curl(*auth, "-X", "PATCH", "-H", "Content-Type: application/json", "-d",
                           json.dumps({"title": "Địa bạ triều Nguyễn"}, ensure_ascii=False),
                           f"{url}/api/v1/collections/{sent}")
    assert status == 200 and changed["name"] == NAME, changed
    assert changed["title"] == "Địa bạ triều Nguyễn"
    status, opened = curl(*auth, "-X", "PATCH", "-H", "Content-Type: application/json", "-d",
                          '{"access": "restricted"}', f"{url}/api/v1/collections/{sent}")
    assert status == 200 and opened["name"] == NAME and opened["access"] == "restricted", opened
    status, _ = curl(*auth, "-X", "DELETE", f"{url}/api/v1/collections/{sent}")
    assert status == 204
    status, _ = curl(*auth, f"{url}/api/v1/collections/{quote(NAME)}")
    assert status == 404  # the one collection, deleted: no second one was ever made


LIBRARY = "Thư viện Hải Dương"
assert unicodedata.normalize("NFD", LIBRARY) != LIBRARY


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_the_holdings_doors_find_the_library_however_its_name_is_sent(live, spelling):
    url, token, *_ = live
    auth, sent = ("-H", f"Authorization: Bearer {token}"), spelled(LIBRARY, spelling)
    register = "shelfmark,title\nHN.0001,Sắc phong làng Mộ Trạch\n".encode()
    done = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *auth, "-H",
                           "Content-Type: text/csv", "--data-binary", "@-",
                           f"{url}/api/v1/holdings/libraries/{sent}/register"],
                          input=register, capture_output=True, timeout=60)
    body, _, status = done.stdout.decode("utf-8").rpartition("\n")
    assert status == "201" and json.loads(body)["library"] == LIBRARY, body
    status, item = curl(*auth, f"{url}/api/v1/holdings/libraries/{sent}/items/HN.0001")
    assert status == 200 and item["library"] == LIBRARY, item
    status, moved = curl(*auth, "-X", "PATCH", "-H", "Content-Type: application/json", "-d",
                         '{"status": "selected"}',
                         f"{url}/api/v1/holdings/libraries/{sent}/items/HN.0001")
    assert status == 200 and moved["staff_status"] == "selected", moved
    status, listed = curl(*auth, f"{url}/api/v1/holdings/items?library={sent}")
    assert status == 200 and listed["total"] == 1, listed
    status, report = curl(*auth, f"{url}/api/v1/holdings/report?library={sent}")
    assert status == 200 and [lib["library"] for lib in report["libraries"]] == [LIBRARY]
    status, everything = curl(*auth, f"{url}/api/v1/holdings/items")
    assert {i["library"] for i in everything["items"]} == {LIBRARY}  # one library, not two


def test_json_form_and_header_names_arrive_as_nfc(live):
    url, _, admin, _ = live
    status, made = curl("-H", f"Authorization: Bearer {admin}", "-H",
                        "Content-Type: application/json", "-d",
                        json.dumps({"name": "Cha\u0302u ba\u0309n"}, ensure_ascii=False),
                        f"{url}/api/v1/collections")
    assert status == 201 and made["name"] == "Châu bản"
    # A script's request (a Bearer token) carries no CSRF token, as every API client's.
    status, echoed = curl("-H", f"Authorization: Bearer {admin}", "-H", f"X-Name: {NFD}",
                          "--data-urlencode", f"name={NFD}",
                          f"{url}/test-echo?name={NFD.replace(' ', '%20')}")
    assert status == 200
    assert echoed == {"form": NAME, "header": NAME, "query": NAME}


def test_links_kho_returns_are_valid_urls_that_lead_somewhere(live, ingest_bag, tmp_path):
    url, *_ = live
    # A file name with a space, a '#' and Vietnamese letters.
    bag = make_page_bag(tmp_path / "bag", pages=1,
                        extra_files={"data/bìa #1.txt": b"bia"})
    result = ingest_bag(bag, collection=NAME)
    _, collections = curl(f"{url}/api/v1/collections")
    links = [link for c in collections["collections"] for link in c["links"].values()]
    _, aip = curl(f"{url}/api/v1/aips/{result.identifier}")
    links += list(aip["links"].values()) + [f["url"] for f in aip["files"]]
    # The record page's links to the files, too.
    with urllib.request.urlopen(f"{url}/aips/{result.identifier}") as page:
        html = page.read().decode("utf-8")
    links += [link for link in re.findall(r'href="([^"]+)"', html) if "/files/" in link]
    assert any("b%C3%ACa%20%231.txt" in link for link in links)
    assert links
    for link in links:
        assert URL_CHARS.match(link), f"{link!r} is not a valid URL"
        with urllib.request.urlopen(url + link) as answer:
            assert answer.status == 200, link
