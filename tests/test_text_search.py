"""Words of OCR'd pages found through IIIF Content Search 2.0 and 1.0, annotations per
canvas, and transcriptions carried in the bag or corrected in the web interface."""
from __future__ import annotations

import json
import re
import unicodedata

import jsonschema
import pytest
from sqlalchemy import select

from repository.catalog import (Aip, AipFile, AipVersion, PremisEvent, add_user, events_for_aip,
                                open_catalog)
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from repository.text import after_ingest, index_transcriptions, page_texts
from repository.web import create_app
from tests.fixtures.aips import add_collections
from tests.fixtures.events import assert_newest_event_is_guarded_by_the_stored_head
from tests.fixtures.text import make_text_bag
from tests.fixtures.web import PASSWORD, csrf_token, sign_in

# The shapes of the specifications' own examples: IIIF Content Search 2.0 §4.2.2 and §4.3.1
# (an AnnotationPage with partOf and a contextualizing TextQuoteSelector), §5.3 (TermPage),
# and Search 1.0 §3.4 (AnnotationList with within and hits) and §4.3 (TermList).
SPEC_2_PAGE = {
    "@context": "http://iiif.io/api/search/2/context.json",
    "id": "https://example.org/service/manifest/search?q=bird&page=1", "type": "AnnotationPage",
    "partOf": {"id": "https://example.org/service/manifest/search?q=bird",
               "type": "AnnotationCollection", "total": 125,
               "first": {"id": "https://example.org/service/identifier/search?q=bird&page=1",
                         "type": "AnnotationPage"},
               "last": {"id": "https://example.org/service/identifier/search?q=bird&page=13",
                        "type": "AnnotationPage"}},
    "startIndex": 0,
    "items": [{"id": "https://example.org/identifier/annotation/anno-bird", "type": "Annotation",
               "motivation": "painting",
               "body": {"type": "TextualBody", "value": "birds", "format": "text/plain"},
               "target": "https://example.org/identifier/canvas1#xywh=200,100,40,20"}],
    "annotations": [{"type": "AnnotationPage", "items": [{
        "id": "https://example.org/identifier/annotation/match-1", "type": "Annotation",
        "motivation": "contextualizing",
        "target": {"type": "SpecificResource",
                   "source": "https://example.org/identifier/annotation/anno-bird",
                   "selector": [{"type": "TextQuoteSelector", "prefix": "There are two ",
                                 "exact": "birds", "suffix": " in the bush"}]}}]}],
}
SPEC_2_TERMS = {"@context": "http://iiif.io/api/search/2/context.json",
                "id": "https://example.org/service/identifier/autocomplete?q=bir",
                "type": "TermPage", "items": [{"value": "bird"}]}
SPEC_1_LIST = {
    "@context": ["http://iiif.io/api/presentation/2/context.json",
                 "http://iiif.io/api/search/1/context.json"],
    "@id": "http://example.org/service/manifest/search?q=bird", "@type": "sc:AnnotationList",
    "within": {"@type": "sc:Layer", "total": 125,
               "first": "http://example.org/service/manifest/search?q=bird&page=1",
               "last": "http://example.org/service/manifest/search?q=bird&page=13"},
    "startIndex": 0,
    "resources": [{"@id": "http://example.org/identifier/annotation/anno-bird",
                   "@type": "oa:Annotation", "motivation": "sc:painting",
                   "resource": {"@type": "cnt:ContentAsText", "chars": "birds"},
                   "on": "http://example.org/identifier/canvas1#xywh=200,100,40,20"}],
    "hits": [{"@type": "search:Hit",
              "annotations": ["http://example.org/identifier/annotation/anno-bird"],
              "match": "birds", "before": "There are two ", "after": " in the bush"}],
}
SPEC_1_TERMS = {"@context": "http://iiif.io/api/search/1/context.json",
                "@id": "http://example.org/service/identifier/autocomplete?q=bir",
                "@type": "search:TermList",
                "terms": [{"match": "bird", "url": "http://example.org/service/identifier/search?q=bird",
                           "count": 15}]}


def same_shape(ours, example, where="$"):
    """Every key of the spec's example is in ours, with the same JSON type, recursively."""
    assert type(ours) is type(example) or (isinstance(example, str) and isinstance(ours, str)), \
        f"{where}: {type(ours).__name__}, the spec has {type(example).__name__}"
    if isinstance(example, dict):
        for key, value in example.items():
            assert key in ours, f"{where}: no {key!r} (the spec's example has it)"
            if key in ("@context", "type", "@type", "motivation") and isinstance(value, str) \
                    and key != "motivation":
                assert ours[key] == value, f"{where}.{key}: {ours[key]!r}, not {value!r}"
            same_shape(ours[key], value, f"{where}.{key}")
    elif isinstance(example, list) and example and ours:
        same_shape(ours[0], example[0], f"{where}[0]")


def manifest_validator(shared_dir):
    schema = json.loads((shared_dir / "conformance" / "iiif-presentation" /
                         "iiif_3_0.schema.json").read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


HAN_NOM = "大南寔錄\n正編第一紀"


@pytest.fixture
def book(kho_settings, tmp_path):
    """A two-page book OCR'd for real, with a Hán-Nôm transcription of page 1 in the bag."""
    settings = kho_settings.replace(ocr_languages="*=vie", ocr_processes=2)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    bag = make_text_bag(tmp_path / "bag", tag_files={
        "metadata/transcriptions/trang 1.vi-Hani.txt": HAN_NOM.encode(),
        "metadata/transcriptions/trang 9.vi.txt": "không có trang này".encode(),
        # Legacy-encoded (Windows-1258) text is not guessed at: named and left out.
        "metadata/transcriptions/trang 2.vi-Latn.txt": "Làng Phú Chiêm".encode("cp1258")})
    result = ingest_package(bag, settings=settings, catalog=catalog, collection="Báo chí")
    after_ingest(settings, catalog, result.identifier)
    with catalog.session() as session:
        _, archivist = add_user(session, "lan", "archivist", password=PASSWORD)
        _, researcher = add_user(session, "minh", "researcher", password=PASSWORD)
    app = create_app(settings)
    app.testing = True
    yield app.test_client(), result.identifier, catalog, {"archivist": archivist,
                                                          "researcher": researcher}, settings
    catalog.dispose()


def test_a_transcription_left_out_is_a_warning_the_stored_chain_head_guards(kho_settings, tmp_path):
    """Issue 8 item 5: the warning event for an unusable transcription is followed by a new
    head in storage, so removing it is caught like any other newest event."""
    catalog = open_catalog(kho_settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    bag = make_text_bag(tmp_path / "bag", pages={1: ["Hà Nội"]}, tag_files={
        "metadata/transcriptions/trang 9.vi.txt": "không có trang này".encode()})
    result = ingest_package(bag, settings=kho_settings, catalog=catalog, collection="Báo chí")
    report = index_transcriptions(kho_settings, catalog, result.identifier)
    assert report.problems and "trang 9" in report.problems[0]
    assert_newest_event_is_guarded_by_the_stored_head(
        catalog, get_location(kho_settings, "local"), "validation")
    # Read again (as every new version does): the same problem is not said twice.
    assert index_transcriptions(kho_settings, catalog, result.identifier).problems
    with catalog.session() as session:
        warnings = session.scalars(select(PremisEvent.detail).where(
            PremisEvent.aip_identifier == result.identifier,
            PremisEvent.detail.like("transcriptions not used%"))).all()
    assert len(warnings) == 1 and "trang 9" in warnings[0]
    catalog.dispose()


def test_words_are_found_through_content_search_2_and_1_with_tones_folded(book, shared_dir):
    client, aip, catalog, tokens, _ = book
    manifest = client.get(f"/iiif/3/{aip}/manifest").get_json(force=True)
    assert not list(manifest_validator(shared_dir).iter_errors(manifest))
    services = {s.get("type") or s.get("@type"): s for s in manifest["service"]}
    assert services["SearchService2"]["service"][0]["type"] == "AutoCompleteService2"
    assert services["SearchService1"]["profile"] == "http://iiif.io/api/search/1/search"
    search2 = services["SearchService2"]["id"].removeprefix("http://localhost")
    search1 = services["SearchService1"]["@id"].removeprefix("http://localhost")
    canvas = manifest["items"][0]
    assert canvas["annotations"][0]["type"] == "AnnotationPage"

    # 2.0, for each way a reader may type it: without tones, raw UTF-8, NFD, capitals.
    for q in ("ha noi", "Hà Nội", unicodedata.normalize("NFD", "Hà Nội"), "HÀ NỘI"):
        answer = client.get(search2, query_string={"q": q})
        assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
        assert answer.mimetype == "application/ld+json"
        page = answer.get_json(force=True)
        same_shape(page, SPEC_2_PAGE)
        assert page["partOf"]["total"] == 1
        item = page["items"][0]
        assert item["body"]["value"] == "Hà Nội" and item["body"]["language"] == "vi"
        assert item["target"].startswith(canvas["id"] + "#xywh=")
        x, y, w, h = map(int, item["target"].split("=")[1].split(","))
        assert 40 <= x <= 80 and w > 80 and 0 < h < 80  # where the words are printed
        context = page["annotations"][0]["items"][0]
        assert context["target"]["source"] == item["id"]
        assert context["target"]["selector"][0] == {
            "type": "TextQuoteSelector", "prefix": "Đại Nam thực lục chép việc triều Nguyễn ",
            "exact": "Hà Nội", "suffix": " năm 1890, phủ Hoài Đức"}

    one = client.get(search1, query_string={"q": "hoai duc"}).get_json(force=True)
    same_shape(one, SPEC_1_LIST)
    assert one["within"]["total"] == 1
    assert one["hits"][0]["match"] == "Hoài Đức"
    assert one["hits"][0]["before"].endswith("1890, phủ ")
    assert one["resources"][0]["on"].startswith(canvas["id"] + "#xywh=")
    assert one["hits"][0]["annotations"] == [one["resources"][0]["@id"]]

    # The Hán-Nôm transcription carried in the bag is searchable too (one character or two).
    han = client.get(search2, query_string={"q": "南寔"}).get_json(force=True)
    assert han["partOf"]["total"] == 1 and han["items"][0]["body"]["language"] == "vi-Hani"
    assert han["items"][0]["target"] == canvas["id"]  # plain text: the whole page

    # Nothing found is an empty page, not an error; no q is a clear 400.
    none = client.get(search2, query_string={"q": "Sài Gòn"}).get_json(force=True)
    assert none["partOf"]["total"] == 0 and none["items"] == []
    missing = client.get(search2)
    assert missing.status_code == 400 and "q=" in missing.get_json()["message"]
    ignored = client.get(search2, query_string={"q": "ha noi", "user": "x"}).get_json(force=True)
    assert ignored["ignored"] == ["user"]
    # Kho's text is "supplementing": a search for comments finds none of it.
    comments = client.get(search2, query_string={"q": "ha noi", "motivation": "commenting"})
    assert comments.get_json(force=True)["partOf"]["total"] == 0


def test_kho_search_finds_a_book_by_the_words_on_its_pages_and_says_which_page(book):
    """Issue 16: OCR'd and transcribed words go into Kho's search; a hit names its pages."""
    client, aip, catalog, tokens, _ = book
    for q, page, path, marked in (
            ("phu chiem", 2, "data/trang 2.png", "<mark>Phú</mark> <mark>Chiêm</mark>"),
            ("HOÀI ĐỨC", 1, "data/trang 1.png", "<mark>Hoài</mark> <mark>Đức</mark>"),
            (unicodedata.normalize("NFD", "thuế ruộng"), 2, "data/trang 2.png",
             "<mark>thuế</mark> <mark>ruộng</mark>"),
            ("南寔", 1, "data/trang 1.png", "<mark>南</mark><mark>寔</mark>")):
        answer = client.get("/api/v1/search", query_string={"q": q}).get_json()
        assert answer["total"] == 1, q
        hit = answer["hits"][0]
        assert hit["identifier"] == aip and hit["page"] == page, (q, hit)
        assert hit["pages"][0]["page"] == page and hit["pages"][0]["path"] == path
        assert marked in hit["pages"][0]["snippet"], (q, hit["pages"])
    # A word found on both pages names both, in reading order; one only in the
    # description names none.
    both = client.get("/api/v1/search", query_string={"q": "phu"}).get_json()["hits"][0]
    assert [p["page"] for p in both["pages"]] == [1, 2]
    title = client.get("/api/v1/search", query_string={"q": "bao nam ky"}).get_json()
    assert title["total"] == 1 and title["hits"][0]["pages"] == [] and \
        title["hits"][0]["page"] is None
    # The results page says the same, and links the viewer to the page, searching it.
    html = client.get("/search", query_string={"q": "phu chiem"}).get_data(as_text=True)
    assert f'href="/view/{aip}?page=2&amp;q=phu+chiem">Trang 2</a>' in html
    assert "<mark>Phú</mark> <mark>Chiêm</mark>" in html
    viewer = client.get(f"/view/{aip}?page=2&q=phu+chiem").get_data(as_text=True)
    assert 'data-page="2" data-query="phu chiem"' in viewer
    # Words on no page of a readable book find nothing.
    assert client.get("/api/v1/search", query_string={"q": "sai gon"}).get_json()["total"] == 0
    # Page words obey access like the rest: closed to the public, open to a reader.
    changed = client.patch(f"/api/v1/aips/{aip}", json={"access": "restricted"},
                           headers={"Authorization": f"Bearer {tokens['archivist']}"})
    assert changed.status_code == 200, changed.get_json()
    hidden = client.get("/api/v1/search", query_string={"q": "phu chiem"}).get_json()
    assert hidden["total"] == 0 and hidden["hits"] == []
    assert sum(c["count"] for c in hidden["facets"]["access"]) == 0
    reader = client.get("/api/v1/search", query_string={"q": "phu chiem"},
                        headers={"Authorization": f"Bearer {tokens['researcher']}"}).get_json()
    assert reader["total"] == 1 and reader["hits"][0]["page"] == 2
    # A rebuilt index (kho search reindex) holds the pages again.
    from repository.search import reindex
    with catalog.session() as session:
        reindex(session)
    again = client.get("/api/v1/search", query_string={"q": "phu chiem"},
                       headers={"Authorization": f"Bearer {tokens['researcher']}"}).get_json()
    assert again["hits"][0]["page"] == 2


def test_hits_are_paged_and_autocomplete_suggests_terms_as_printed(book):
    client, aip, catalog, tokens, settings = book
    # "phu" is "phủ" on page 1 and "Phú" on page 2.
    first = client.get(f"/iiif/search/2/{aip}", query_string={"q": "phu"}).get_json(force=True)
    assert first["partOf"]["total"] == 2 and len(first["items"]) == 2
    small = create_app(settings.replace(content_search_page_size=1))
    small.testing = True
    paged = small.test_client()
    p1 = paged.get(f"/iiif/search/2/{aip}", query_string={"q": "phu"}).get_json(force=True)
    assert p1["startIndex"] == 0 and "next" in p1 and "prev" not in p1
    p2 = paged.get(p1["next"]["id"].removeprefix("http://localhost")).get_json(force=True)
    assert p2["startIndex"] == 1 and "prev" in p2 and "next" not in p2
    assert p2["items"][0]["body"]["value"] == "Phú"
    assert p1["partOf"]["last"]["id"] == p2["id"]
    v1 = paged.get(f"/iiif/search/1/{aip}", query_string={"q": "phu", "page": 2}).get_json(force=True)
    assert v1["startIndex"] == 1 and v1["hits"][0]["match"] == "Phú" and "prev" in v1

    terms = client.get(f"/iiif/search/2/{aip}/autocomplete", query_string={"q": "ng"})
    page = terms.get_json(force=True)
    same_shape(page, SPEC_2_TERMS)
    values = {t["value"]: t["total"] for t in page["items"]}
    assert values == {"nguyễn": 1, "người": 1}  # "những" is "nh…"
    list1 = client.get(f"/iiif/search/1/{aip}/autocomplete", query_string={"q": "PHU"})
    terms1 = list1.get_json(force=True)
    same_shape(terms1, SPEC_1_TERMS)
    assert terms1["terms"][0]["count"] == 2 and "q=ph" in terms1["terms"][0]["url"]


def test_each_canvas_links_its_text_as_supplementing_annotations(book):
    client, aip, catalog, tokens, _ = book
    manifest = client.get(f"/iiif/3/{aip}/manifest").get_json(force=True)
    url = manifest["items"][0]["annotations"][0]["id"].removeprefix("http://localhost")
    page = client.get(url).get_json(force=True)
    assert page["type"] == "AnnotationPage" and page["id"].endswith(url)
    lines = [(a["body"]["value"], a["body"]["language"], a["target"]) for a in page["items"]]
    assert all(a["motivation"] == "supplementing" for a in page["items"])
    assert ("Hà Nội năm 1890, phủ Hoài Đức", "vi") in [(v, lang) for v, lang, _ in lines]
    assert (HAN_NOM, "vi-Hani", manifest["items"][0]["id"]) in lines
    # The page's text, the bag's unused transcription reported, and the catalogue-wide feed.
    status = client.get(f"/api/v1/aips/{aip}/text").get_json()
    assert status["ocr"]["status"] == "done"
    assert {t["language"] for t in status["pages"][0]["texts"]} == {"vie", "vi-Hani"}
    with catalog.session() as session:
        details = [e.detail for e in events_for_aip(session, aip) if e.event_type == "validation"
                   and e.outcome == "warning"]
    assert any("trang 9.vi.txt" in d for d in details)
    assert any("trang 2.vi-Latn.txt: the text is not UTF-8" in d for d in details)
    assert any("Phú Chiêm" in text for _, text in page_texts(catalog, aip))


def test_search_inside_a_restricted_book_needs_an_account(book):
    client, aip, catalog, tokens, _ = book
    assert client.patch(f"/api/v1/aips/{aip}", json={"access": "restricted"},
                        headers={"Authorization": f"Bearer {tokens['archivist']}"}).status_code == 200
    for url in (f"/iiif/search/2/{aip}?q=ha", f"/iiif/search/1/{aip}/autocomplete?q=ha",
                f"/api/v1/aips/{aip}/text"):
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"Authorization": f"Bearer {tokens['researcher']}"}
                          ).status_code == 200


def test_a_transcription_corrected_through_the_api_is_a_new_version_and_searchable(book):
    client, aip, catalog, tokens, _ = book
    url = f"/api/v1/aips/{aip}/pages/trang 2.png/transcriptions/vi"
    text = unicodedata.normalize("NFD", "Làng Phú Chiêm nộp thuế ruộng")
    assert client.put(url, data=text.encode(), content_type="text/plain").status_code == 401
    assert client.put(url, data=text.encode(), content_type="text/plain", headers={
        "Authorization": f"Bearer {tokens['researcher']}"}).status_code == 403
    bad = client.put(f"/api/v1/aips/{aip}/pages/trang 2.png/transcriptions/tiếng việt",
                     data=b"x", headers={"Authorization": f"Bearer {tokens['archivist']}"})
    assert bad.status_code == 400 and "BCP 47" in bad.get_json()["message"]
    done = client.put(url, data=text.encode(), content_type="text/plain",
                      headers={"Authorization": f"Bearer {tokens['archivist']}"})
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["version"] == 2
    record = client.get(f"/api/v1/aips/{aip}").get_json()
    assert [v["number"] for v in record["versions"]] == [1, 2]
    found = client.get(f"/iiif/search/2/{aip}", query_string={"q": "thue ruong"}).get_json(force=True)
    # OCR of page 2 and the new Quốc ngữ transcription both hold it; stored as NFC.
    values = [i["body"]["value"] for i in found["items"]]
    assert "thuế ruộng" in values and all(v == unicodedata.normalize("NFC", v) for v in values)
    with catalog.session() as session:
        events = [e.detail for e in events_for_aip(session, aip)
                  if e.event_type == "metadata modification"]
    assert any("transcription of data/trang 2.png (vi) added" in d for d in events)


def test_an_archivist_adds_a_transcription_in_the_web_form(book):
    client, aip, catalog, tokens, settings = book
    manifest = client.get(f"/iiif/3/{aip}/manifest").get_json(force=True)
    canvas = manifest["items"][0]["id"].rsplit("/", 1)[1]
    url = f"/aips/{aip}/pages/{canvas}/transcription"
    assert f"/aips/{aip}/text" in client.get(f"/aips/{aip}").get_data(as_text=True)
    assert client.get(f"/aips/{aip}/text").headers["Location"].endswith(url)
    # Readers see the page beside its text, without a form; nobody signed in may not post.
    reader = client.get(url)
    assert reader.status_code == 200 and "大南寔錄" in reader.get_data(as_text=True)
    assert "<form method=\"post\"" not in reader.get_data(as_text=True)
    anonymous = client.post(url, data={"language": "vi", "text": "x",
                                       "csrf_token": csrf_token(client)})
    assert anonymous.status_code == 401
    # A researcher, signed in, sees no form and may not post one either.
    researcher = client.application.test_client()
    sign_in(researcher, "minh")
    assert "name=\"text\"" not in researcher.get(url).get_data(as_text=True)
    refused = researcher.post(url, data={"language": "vi", "text": "x",
                                         "csrf_token": csrf_token(researcher, url)})
    assert refused.status_code == 403
    sign_in(client, "lan")
    html = client.get(url).get_data(as_text=True)
    assert html.count("<form method=\"post\" action=\"" + url) == 2  # Hán-Nôm and Quốc ngữ
    # A form posted without the page's CSRF token (another site's form) is refused.
    forged = client.post(url, data={"language": "vi", "text": "x"})
    assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True)
    wrong = client.post(url, data={"language": "vi", "text": "x", "csrf_token": "0" * 40})
    assert wrong.status_code == 400
    assert client.get("/api/v1/search", query_string={"q": "gia long"}).get_json()["total"] == 0
    saved = client.post(url, data={"language": "vi",
                                   "text": "Đại Nam thực lục, chép việc triều Nguyễn, đời Gia Long",
                                   "csrf_token": csrf_token(client, url)})
    assert saved.status_code == 303 and "saved=2" in saved.headers["Location"]
    after = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Đã lưu phiên âm: phiên bản v2 của tài liệu." in after
    # The form's save is a PREMIS event like any edit: in the catalogue, with who did it,
    # and in the new version's own event file in storage (the catalogue can be rebuilt).
    with catalog.session() as session:
        edits = [e for e in events_for_aip(session, aip) if e.event_type == "metadata modification"]
        version = session.scalars(select(AipVersion).join(Aip).where(
            Aip.identifier == aip, AipVersion.number == 2)).one()
        stored = session.scalars(select(AipFile).join(Aip).where(
            Aip.identifier == aip, AipFile.version == 2,
            AipFile.logical_path == "kho-metadata/premis-events.json")).one()
        root = stored.aip.object_root
    assert len(edits) == 1
    edit = edits[0]
    assert (edit.outcome, edit.detail) == ("success", "transcription of data/trang 1.png (vi) added")
    assert edit.agent.endswith(" for lan") and version.agent == edit.agent
    written = json.loads(b"".join(get_location(settings, "local").iter_chunks(
        f"{root}/{stored.content_path}")))
    assert [(e["identifier"], e["type"], e["detail"], e["agent"]) for e in written] == [
        (edit.identifier, "metadata modification", edit.detail, edit.agent)]
    assert "Đại Nam thực lục, chép việc" in after
    hits = client.get(f"/iiif/search/1/{aip}", query_string={"q": "chep viec"}).get_json(force=True)
    assert hits["within"]["total"] == 2  # the OCR and the new transcription
    # Kho's own search finds the corrected page's new words, and says which page.
    found = client.get("/api/v1/search", query_string={"q": "gia long"}).get_json()
    assert found["total"] == 1 and found["hits"][0]["page"] == 1
    assert "<mark>Gia</mark> <mark>Long</mark>" in found["hits"][0]["pages"][0]["snippet"]


def test_the_page_text_view_tags_each_language_and_has_no_inline_style_or_script(book):
    client, aip, catalog, tokens, _ = book
    manifest = client.get(f"/iiif/3/{aip}/manifest").get_json(force=True)
    canvas = manifest["items"][0]["id"].rsplit("/", 1)[1]
    url = f"/aips/{aip}/pages/{canvas}/transcription"
    sign_in(client, "lan")
    html = client.get(url).get_data(as_text=True)
    # Hán-Nôm, the Vietnamese OCR, and the page in Vietnamese, each marked for fonts and
    # screen readers; the names of the scripts are Vietnamese words on an English page too.
    assert re.search(r'<pre class="page-text" lang="vi-Hani">大南寔錄', html)
    assert re.search(r'<pre class="page-text" lang="vi">', html)
    assert '<html lang="vi">' in html and "Trang 1 / 2" in html and "Trang sau →" in html
    # A strict Content-Security-Policy allows no inline CSS or script: the CSS is a file.
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    css = re.search(r'<link rel="stylesheet" href="([^"]*text\.css)"', html).group(1)
    stylesheet = client.get(css)
    assert stylesheet.status_code == 200 and ":lang(vi-Hani)" in stylesheet.get_data(as_text=True)
    client.get("/language/en")
    english = client.get(url).get_data(as_text=True)
    assert '<html lang="en">' in english and "Page 1 of 2" in english
    assert "Add a transcription" in english and '<span lang="vi">Quốc ngữ</span>' in english
    assert "Text recognition (OCR)" in english and "Trang 1 / 2" not in english


# Transcriptions with word boxes, as a bag carries them (docs/text.md): ALTO 4 in pixels for
# page 1, hOCR for page 2, written here with the boxes the hits must come back in.
ALTO_PAGE_1 = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#">
  <Description><MeasurementUnit>pixel</MeasurementUnit></Description>
  <Layout><Page ID="p1" WIDTH="1400" HEIGHT="500" PHYSICAL_IMG_NR="1">
    <PrintSpace><TextBlock ID="b1">
      <TextLine ID="l1" HPOS="100" VPOS="100" WIDTH="360" HEIGHT="50">
        <String CONTENT="Chiếu" HPOS="100" VPOS="100" WIDTH="150" HEIGHT="50"/><SP/>
        <String CONTENT="dời" HPOS="270" VPOS="102" WIDTH="90" HEIGHT="48"/><SP/>
        <String CONTENT="đô" HPOS="380" VPOS="100" WIDTH="80" HEIGHT="50"/>
      </TextLine>
      <TextLine ID="l2" HPOS="100" VPOS="200" WIDTH="570" HEIGHT="52">
        <String CONTENT="Thăng" HPOS="100" VPOS="200" WIDTH="160" HEIGHT="52"/><SP/>
        <String CONTENT="Long" HPOS="280" VPOS="204" WIDTH="130" HEIGHT="46"/><SP/>
        <String CONTENT="năm" HPOS="430" VPOS="204" WIDTH="100" HEIGHT="46"/><SP/>
        <String CONTENT="1010" HPOS="550" VPOS="200" WIDTH="120" HEIGHT="50"/>
      </TextLine>
    </TextBlock></PrintSpace>
  </Page></Layout>
</alto>
"""
# Decomposed (NFD), as some tools write it: Kho keeps and serves it as NFC.
HOCR_PAGE_2 = unicodedata.normalize("NFD", """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="vi" lang="vi">
 <head><title></title><meta name="ocr-system" content="hand"/></head>
 <body>
  <div class="ocr_page" id="page_1" title="bbox 0 0 1400 500">
   <span class="ocr_line" id="line_1" title="bbox 60 80 700 140">
    <span class="ocrx_word" id="w1" title="bbox 60 80 160 140">Vua</span>
    <span class="ocrx_word" id="w2" title="bbox 180 82 300 140">Lý</span>
    <span class="ocrx_word" id="w3" title="bbox 320 80 480 140">Công</span>
    <span class="ocrx_word" id="w4" title="bbox 500 80 700 140">Uẩn</span>
   </span>
   <span class="ocr_line" id="line_2" title="bbox 60 180 420 240">
    <span class="ocrx_word" id="w5" title="bbox 60 180 220 240">rời</span>
    <span class="ocrx_word" id="w6" title="bbox 240 180 330 240">Hoa</span>
    <span class="ocrx_word" id="w7" title="bbox 350 182 420 240">Lư</span>
   </span>
  </div>
 </body>
</html>
""")


def test_alto_and_hocr_transcriptions_in_a_bag_are_searched_with_their_word_boxes(
        kho_settings, tmp_path):
    """Issue 16: a bag's ALTO and hOCR transcriptions give words with boxes, so Content
    Search 2.0 and 1.0 point at the words and the annotations are lines on the canvas; a
    malformed ALTO file is named in a warning and the others are used."""
    catalog = open_catalog(kho_settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    bag = make_text_bag(tmp_path / "bag", pages={1: ["Hà Nội"], 2: ["Hoa Lư"]}, tag_files={
        "metadata/transcriptions/trang 1.vi.alto.xml": ALTO_PAGE_1.encode(),
        "metadata/transcriptions/trang 2.png.vi.hocr": HOCR_PAGE_2.encode(),
        # Cut short: not well-formed XML.
        "metadata/transcriptions/trang 2.vi-Hani.alto.xml":
            '<alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page>'.encode()})
    result = ingest_package(bag, settings=kho_settings, catalog=catalog, collection="Hán-Nôm")
    aip = result.identifier
    report = index_transcriptions(kho_settings, catalog, aip)
    assert report.indexed == 2
    assert len(report.problems) == 1
    assert report.problems[0].startswith(
        "metadata/transcriptions/trang 2.vi-Hani.alto.xml: the ALTO file is not well-formed XML")
    with catalog.session() as session:
        warnings = [e.detail for e in events_for_aip(session, aip)
                    if e.event_type == "validation" and e.outcome == "warning"]
    assert len(warnings) == 1 and "trang 2.vi-Hani.alto.xml" in warnings[0]
    texts = dict(page_texts(catalog, aip))
    assert texts == {"data/trang 1.png": "Chiếu dời đô\nThăng Long năm 1010",
                     "data/trang 2.png": "Vua Lý Công Uẩn\nrời Hoa Lư"}
    assert all(t == unicodedata.normalize("NFC", t) for t in texts.values())

    app = create_app(kho_settings)
    app.testing = True
    client = app.test_client()
    manifest = client.get(f"/iiif/3/{aip}/manifest").get_json(force=True)
    canvas1, canvas2 = (c["id"] for c in manifest["items"])
    services = {s.get("type") or s.get("@type"): s for s in manifest["service"]}
    search2 = services["SearchService2"]["id"].removeprefix("http://localhost")
    search1 = services["SearchService1"]["@id"].removeprefix("http://localhost")

    def targets(q):
        page = client.get(search2, query_string={"q": q}).get_json(force=True)
        return page["partOf"]["total"], [(i["body"]["value"], i["body"]["language"], i["target"])
                                         for i in page["items"]]

    # One word: exactly its box as written (ALTO HPOS/VPOS/WIDTH/HEIGHT, hOCR x0 y0 x1 y1).
    assert targets("chieu") == (1, [("Chiếu", "vi", canvas1 + "#xywh=100,100,150,50")])
    assert targets("ĐÔ") == (1, [("đô", "vi", canvas1 + "#xywh=380,100,80,50")])
    assert targets(unicodedata.normalize("NFD", "Uẩn")) == (
        1, [("Uẩn", "vi", canvas2 + "#xywh=500,80,200,60")])
    # A phrase on one line: the box around its words.
    assert targets("thang long") == (1, [("Thăng Long", "vi", canvas1 + "#xywh=100,200,310,52")])
    assert targets("hoa lu") == (1, [("Hoa Lư", "vi", canvas2 + "#xywh=240,180,180,60")])
    # A phrase across two lines: a box on each line.
    total, items = targets("uan roi")
    assert total == 1 and [t for _, _, t in items] == [canvas2 + "#xywh=500,80,200,60",
                                                       canvas2 + "#xywh=60,180,160,60"]
    one = client.get(search1, query_string={"q": "cong uan"}).get_json(force=True)
    assert one["hits"][0]["match"] == "Công Uẩn" and one["hits"][0]["before"] == "Vua Lý "
    assert one["resources"][0]["on"] == canvas2 + "#xywh=320,80,380,60"

    # The annotations: one supplementing line each, on the box around the line's words.
    lines = {}
    for canvas in manifest["items"]:
        url = canvas["annotations"][0]["id"].removeprefix("http://localhost")
        for a in client.get(url).get_json(force=True)["items"]:
            assert a["motivation"] == "supplementing" and a["body"]["language"] == "vi"
            lines[a["body"]["value"]] = a["target"]
    assert lines == {"Chiếu dời đô": canvas1 + "#xywh=100,100,360,50",
                     "Thăng Long năm 1010": canvas1 + "#xywh=100,200,570,52",
                     "Vua Lý Công Uẩn": canvas2 + "#xywh=60,80,640,60",
                     "rời Hoa Lư": canvas2 + "#xywh=60,180,360,60"}
    catalog.dispose()


def test_an_alto_transcription_measured_in_inch1200_is_highlighted_on_the_canvas(
        kho_settings, tmp_path):
    """ALTO may measure in 1/1200 inch (MeasurementUnit inch1200, as many newspaper projects
    write it) or 1/10 mm; its Page WIDTH/HEIGHT are in the same unit, so the boxes are
    scaled to the page image: the hit points at the word, not beyond the canvas."""
    catalog = open_catalog(kho_settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    # The page image is 1400 × 500 pixels, scanned at 300 dpi: 4 units of 1/1200 inch a pixel.
    alto = ALTO_PAGE_1.replace("<MeasurementUnit>pixel", "<MeasurementUnit>inch1200")
    alto = re.sub(r'(HPOS|VPOS|WIDTH|HEIGHT)="(\d+)"',
                  lambda m: f'{m.group(1)}="{int(m.group(2)) * 4}"', alto)
    assert 'HPOS="1120" VPOS="816" WIDTH="520"' in alto  # "Long": 280, 204, 130 pixels
    bag = make_text_bag(tmp_path / "bag", pages={1: ["Thăng Long"]}, tag_files={
        "metadata/transcriptions/trang 1.vi.alto.xml": alto.encode()})
    result = ingest_package(bag, settings=kho_settings, catalog=catalog, collection="Báo chí")
    assert index_transcriptions(kho_settings, catalog, result.identifier).problems == []
    app = create_app(kho_settings)
    client = app.test_client()
    canvas = client.get(f"/iiif/3/{result.identifier}/manifest").get_json(force=True)["items"][0]
    assert (canvas["width"], canvas["height"]) == (1400, 500)
    page = client.get(f"/iiif/search/2/{result.identifier}",
                      query_string={"q": "thang long"}).get_json(force=True)
    assert [i["target"] for i in page["items"]] == [canvas["id"] + "#xywh=100,200,310,52"]
    catalog.dispose()
