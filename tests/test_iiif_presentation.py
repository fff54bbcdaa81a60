"""IIIF Presentation 3.0: manifests and collections as researchers' viewers receive them,
checked against the consortium's JSON Schema; and the Image API through ingest + the real resolver."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import jsonschema
import pytest
from sqlalchemy import select

from repository.access.presentation import MEDIA_TYPE, natural_key, parse_structure
from repository.catalog import AipFile, get_aip
from repository.config import load_settings
from repository.web import create_app
from tests.fixtures.aips import TITLE_EN, TITLE_VI, make_page_bag
from tests.fixtures.servers import run_image_validator
from tests.fixtures.bags import write_tag_manifest

VALIDATOR_IMAGE = "67352ccc-d1b0-11e1-89ae-279075081939"
BROKEN_FIXTURES = ["broken_choice", "broken_collection", "broken_embedded_annos", "broken_service",
                   "broken_simple_image", "collection_of_canvases", "non_cc_license",
                   "old_format_label", "rights_lang_issues"]


@pytest.fixture(scope="module")
def presentation_schema(shared_dir):
    path = shared_dir / "conformance" / "iiif-presentation" / "iiif_3_0.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def schema_errors(validator, document) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


@pytest.fixture
def app(ingest_bag):
    settings = ingest_bag.settings.replace(iiif_collection_page_size=2)
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["kho"].catalog.dispose()


def small_bag(root: Path, pages: int = 3, **kw) -> Path:
    return make_page_bag(root, pages=pages, size=(200, 260), **kw)


def image_ids_by_path(app, aip_id: str) -> dict[str, str]:
    with app.extensions["kho"].catalog.session() as session:
        aip = get_aip(session, aip_id)
        files = session.scalars(select(AipFile).where(
            AipFile.aip_id == aip.id, AipFile.version == aip.current_version))
        return {f.logical_path: f"{aip_id}~{f.sha512[:32]}" for f in files}


def painted_image_ids(manifest: dict) -> list[str]:
    return [c["items"][0]["items"][0]["body"]["service"][0]["id"].rsplit("/", 1)[1]
            for c in manifest["items"]]


# --- the schema check itself can fail ---

@pytest.mark.parametrize("name", BROKEN_FIXTURES)
def test_schema_check_rejects_the_validators_broken_fixtures(presentation_schema, shared_dir, name):
    fixture = shared_dir / "conformance" / "iiif-presentation" / "fixtures" / f"{name}.json"
    assert schema_errors(presentation_schema, json.loads(fixture.read_text("utf-8")))


def test_schema_check_accepts_the_validators_good_fixtures(presentation_schema, shared_dir):
    for name in ("full_example", "collection", "range_range", "rightsstatement_license"):
        fixture = shared_dir / "conformance" / "iiif-presentation" / "fixtures" / f"{name}.json"
        assert schema_errors(presentation_schema, json.loads(fixture.read_text("utf-8"))) == []


# --- manifests ---

def test_natural_order_puts_page_2_before_page_10():
    names = ["data/trang 10.jpg", "data/trang 2.jpg", "data/Trang 1.jpg", "data/bìa.jpg"]
    assert sorted(names, key=natural_key) == \
        ["data/bìa.jpg", "data/Trang 1.jpg", "data/trang 2.jpg", "data/trang 10.jpg"]


def test_manifest_has_a_canvas_per_page_in_natural_order_and_validates(
        app, ingest_bag, tmp_path, presentation_schema):
    result = ingest_bag(small_bag(tmp_path / "bag", pages=11))
    client = app.test_client()
    response = client.get(f"/iiif/3/{result.identifier}/manifest")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == MEDIA_TYPE
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    manifest = response.get_json(force=True)
    assert schema_errors(presentation_schema, manifest) == []
    ids = image_ids_by_path(app, result.identifier)
    assert painted_image_ids(manifest) == [ids[f"data/trang {n}.jpg"] for n in range(1, 12)]
    base = "http://localhost"
    assert manifest["id"] == f"{base}/iiif/3/{result.identifier}/manifest"
    assert manifest["label"] == {"vi": [TITLE_VI], "en": [TITLE_EN]}
    assert manifest["behavior"] == ["paged"]  # DC type Text: a book
    assert manifest["viewingDirection"] == "right-to-left"  # DC language vi-Hani: Hán-Nôm
    assert manifest["rights"] == "http://rightsstatements.org/vocab/NoC-OKLR/1.0/"
    assert "Thư viện tỉnh" in json.dumps(manifest["requiredStatement"], ensure_ascii=False)
    assert manifest["provider"][0]["label"] == {"vi": ["Thư viện tỉnh"]}
    assert manifest["homepage"][0]["id"] == f"{base}/view/{result.identifier}"
    assert manifest["seeAlso"][0]["id"] == f"{base}/iiif/3/{result.identifier}/dc.xml"
    creators = [m for m in manifest["metadata"] if m["label"]["en"] == ["Creator"]]
    assert creators[0]["value"] == {"vi": ["Quốc sử quán triều Nguyễn"]}
    canvas = manifest["items"][0]
    assert (canvas["width"], canvas["height"]) == (200, 260)
    body = canvas["items"][0]["items"][0]["body"]
    assert body["service"][0]["type"] == "ImageService3"
    assert body["service"][0]["profile"] == "level2"
    assert body["service"][0]["id"] == f"{base}/iiif/3/image/{ids['data/trang 1.jpg']}"
    # The thumbnail and the painted image are real images served by the Image API.
    for url in (manifest["thumbnail"][0]["id"], body["id"]):
        image = client.get(url.removeprefix(base))
        assert image.status_code == 200 and image.mimetype == "image/jpeg"


def test_manifest_uses_the_configured_base_url(ingest_bag, tmp_path):
    result = ingest_bag(small_bag(tmp_path / "bag", pages=1))
    app = create_app(ingest_bag.settings.replace(base_url="https://kho.example.vn/"))
    manifest = app.test_client().get(f"/iiif/3/{result.identifier}/manifest").get_json(force=True)
    assert manifest["id"] == f"https://kho.example.vn/iiif/3/{result.identifier}/manifest"
    assert manifest["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"] \
        .startswith("https://kho.example.vn/iiif/3/image/")
    app.extensions["kho"].catalog.dispose()


def with_structure(bag: Path, structure) -> Path:
    (bag / "metadata" / "structure.json").write_text(
        json.dumps(structure, ensure_ascii=False), encoding="utf-8")
    write_tag_manifest(bag, ("sha256",))
    return bag


def test_structure_file_sets_reading_order_and_table_of_contents(
        app, ingest_bag, tmp_path, presentation_schema):
    bag = with_structure(small_bag(tmp_path / "bag", pages=4), {"items": [
        "data/trang 4.jpg",
        {"label": {"vi": "Quyển thượng", "en": "First volume"},
         "items": ["data/trang 3.jpg", {"label": "Chương 1", "items": ["trang 1.jpg"]}]},
    ]})
    result = ingest_bag(bag)
    manifest = app.test_client().get(f"/iiif/3/{result.identifier}/manifest").get_json(force=True)
    assert schema_errors(presentation_schema, manifest) == []
    ids = image_ids_by_path(app, result.identifier)
    # Listed files first, in the file's order; the unlisted page 2 after them.
    assert painted_image_ids(manifest) == [ids[f"data/trang {n}.jpg"] for n in (4, 3, 1, 2)]
    (volume,) = manifest["structures"]
    assert volume["label"] == {"vi": ["Quyển thượng"], "en": ["First volume"]}
    assert volume["items"][0] == {"id": manifest["items"][1]["id"], "type": "Canvas"}
    chapter = volume["items"][1]
    assert chapter["type"] == "Range" and chapter["label"] == {"none": ["Chương 1"]}
    assert chapter["items"] == [{"id": manifest["items"][2]["id"], "type": "Canvas"}]


def test_malformed_structure_is_refused_by_the_parser():
    for bad in ({"items": "data/a.jpg"}, {"items": [{"items": ["a.jpg"]}]}, {"items": [42]}):
        with pytest.raises(ValueError):
            parse_structure(bad)


def test_manifest_is_cached_revalidated_and_replaced_by_a_new_version(app, ingest_bag, tmp_path):
    result = ingest_bag(small_bag(tmp_path / "bag", pages=2))
    client = app.test_client()
    url = f"/iiif/3/{result.identifier}/manifest"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert len(app.extensions["kho.manifest_cache"]) == 1
    assert client.get(url).headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    not_modified = client.get(url, headers={"If-Modified-Since": modified})
    assert not_modified.status_code == 304 and not_modified.data == b""
    # A new deposit of the same book (same External-Identifier) is version 2, with a page more.
    ingest_bag(small_bag(tmp_path / "bag2", pages=3), new_version=True)
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["ETag"] != etag
    assert len(again.get_json(force=True)["items"]) == 3
    assert len(app.extensions["kho.manifest_cache"]) == 1  # v1's entry is gone


def test_aip_without_page_images_has_no_manifest(app, ingest_bag, tmp_path):
    from tests.fixtures.bags import make_bag
    bag = make_bag(tmp_path / "bag", {"data/ghi chú.txt": "Văn bản".encode()},
                   bag_info={"External-Identifier": "TXT-1", "DC-Title": "Ghi chú"})
    result = ingest_bag(bag)
    assert app.test_client().get(f"/iiif/3/{result.identifier}/manifest").status_code == 404
    assert app.test_client().get("/iiif/3/no-such-aip/manifest").status_code == 404


def test_dublin_core_record_is_served_as_oai_dc(app, ingest_bag, tmp_path):
    result = ingest_bag(small_bag(tmp_path / "bag", pages=1))
    response = app.test_client().get(f"/iiif/3/{result.identifier}/dc.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert f'<dc:title xml:lang="vi">{TITLE_VI}</dc:title>' in response.get_data(as_text=True)


# --- collections ---

def test_collections_list_manifests_in_pages_and_validate(
        app, ingest_bag, tmp_path, presentation_schema):
    made = [ingest_bag(small_bag(tmp_path / f"bag{n}", pages=1, external_id=f"HN-{n}",
                                 title=f"Sách {n}")) for n in range(3)]
    ingest_bag(small_bag(tmp_path / "other", pages=1, external_id="CB-1"), collection="Châu bản")
    client = app.test_client()
    top = client.get("/iiif/3/collection")
    assert top.headers["Content-Type"] == MEDIA_TYPE
    assert top.headers["Access-Control-Allow-Origin"] == "*"
    top = top.get_json(force=True)
    assert schema_errors(presentation_schema, top) == []
    assert [c["label"] for c in top["items"]] == [{"none": ["Châu bản"]}, {"none": ["Hán-Nôm"]}]
    # Three manifests, two per page (the test's page size): a collection of two pages.
    paged = client.get(top["items"][1]["id"].removeprefix("http://localhost")).get_json(force=True)
    assert schema_errors(presentation_schema, paged) == []
    assert [c["type"] for c in paged["items"]] == ["Collection", "Collection"]
    manifests = []
    for ref in paged["items"]:
        page = client.get(ref["id"].removeprefix("http://localhost")).get_json(force=True)
        assert schema_errors(presentation_schema, page) == []
        assert page["partOf"][0]["id"] == paged["id"]
        manifests += page["items"]
    assert [m["id"] for m in manifests] == \
        [f"http://localhost/iiif/3/{r.identifier}/manifest" for r in made]
    assert manifests[0]["label"]["vi"] == ["Sách 0"]
    assert client.get(paged["id"].removeprefix("http://localhost") + "?page=3").status_code == 404


# --- the Image API through ingest and the real resolver ---

def test_official_image_validator_passes_on_an_ingested_image(ingest_bag, tmp_path, shared_dir):
    from tests.fixtures.bags import make_bag
    image = (shared_dir / "conformance" / "iiif-image" / f"{VALIDATOR_IMAGE}.png").read_bytes()
    result = ingest_bag(make_bag(tmp_path / "bag", {f"data/{VALIDATOR_IMAGE}.png": image},
                                 bag_info={"External-Identifier": "VALIDATOR",
                                           "DC-Title": "IIIF validator image"}))
    app = create_app(ingest_bag.settings)
    image_id = image_ids_by_path(app, result.identifier)[f"data/{VALIDATOR_IMAGE}.png"]
    try:
        run_image_validator(app, image_id)
    finally:
        app.extensions["kho"].catalog.dispose()


@pytest.mark.s3
def test_images_stored_on_s3_are_fetched_once_verified_and_served(
        ingest_bag, tmp_path, request):
    request.getfixturevalue("s3_location")
    result = ingest_bag(small_bag(tmp_path / "bag", pages=1), location="s3")
    app = create_app(ingest_bag.settings)
    image_id = image_ids_by_path(app, result.identifier)["data/trang 1.jpg"]
    client = app.test_client()
    info = client.get(f"/iiif/3/image/{image_id}/info.json")
    assert info.status_code == 200, info.get_data(as_text=True)
    assert (info.get_json(force=True)["width"], info.get_json(force=True)["height"]) == (200, 260)
    tile = client.get(f"/iiif/3/image/{image_id}/full/max/0/default.jpg")
    assert tile.status_code == 200 and tile.mimetype == "image/jpeg"
    cached = list((ingest_bag.settings.derivatives_dir / "originals").rglob("*"))
    assert [p.name for p in cached if p.is_file() and not p.name.endswith(".lock")] == \
        [image_id_to_sha(app, result.identifier)]
    app.extensions["kho"].catalog.dispose()


def image_id_to_sha(app, aip_id: str) -> str:
    with app.extensions["kho"].catalog.session() as session:
        aip = get_aip(session, aip_id)
        return session.scalar(select(AipFile.sha512).where(
            AipFile.aip_id == aip.id, AipFile.logical_path == "data/trang 1.jpg"))


def test_han_nom_books_open_right_to_left_and_others_left_to_right():
    from repository.access.presentation import reads_right_to_left
    assert reads_right_to_left({"language": [{"value": "vi-Hani"}]})
    assert reads_right_to_left({"language": [{"value": "zh-Hant"}, {"value": "vi"}]})
    assert not reads_right_to_left({"language": [{"value": "vi"}]})
    assert not reads_right_to_left({})


def in_quoc_ngu(bag: Path) -> Path:
    """The bag's description says Vietnamese only: nothing in it tells a reading direction."""
    dc = bag / "metadata" / "dc.json"
    record = json.loads(dc.read_text(encoding="utf-8"))
    dc.write_text(json.dumps({**record, "language": [{"value": "vi"}]}, ensure_ascii=False),
                  encoding="utf-8")
    write_tag_manifest(bag, ("sha256",))
    return bag


def test_books_of_a_collection_named_in_the_setting_open_right_to_left_whatever_their_language(
        ingest_bag, tmp_path):
    # Typed on a Mac (decomposed), with spaces around the names: still the stored names.
    typed = unicodedata.normalize("NFD", " Châu bản ;Hán-Nôm ")
    chosen = load_settings({"KHO_RIGHT_TO_LEFT_COLLECTIONS": typed}, data_dir=tmp_path / "d")
    app = create_app(ingest_bag.settings.replace(
        right_to_left_collections=chosen.right_to_left_collections))
    edict = ingest_bag(in_quoc_ngu(small_bag(tmp_path / "edict", external_id="CB-1")), "Châu bản")
    paper = ingest_bag(in_quoc_ngu(small_bag(tmp_path / "paper", external_id="BC-1")), "Báo chí")
    client = app.test_client()
    manifest = client.get(f"/iiif/3/{edict.identifier}/manifest").get_json(force=True)
    assert manifest["viewingDirection"] == "right-to-left"
    manifest = client.get(f"/iiif/3/{paper.identifier}/manifest").get_json(force=True)
    assert "viewingDirection" not in manifest  # left to right, the default
    app.extensions["kho"].catalog.dispose()
