"""The search door: /api/v1/search over really ingested AIPs, kept in step by ingest, new
versions, Dublin Core edits and access changes; OpenSearch; `kho search reindex`."""
from __future__ import annotations

import json
import urllib.parse
from datetime import date
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from repository.catalog import add_user
from repository.cli import kho
from repository.web import create_app
from tests.fixtures.aips import dublin_core, make_page_bag


@pytest.fixture
def app(kho_settings):
    app = create_app(kho_settings)
    app.config["TESTING"] = True
    yield app
    executor = app.extensions["kho"].extras.get("deposit_executor")
    if executor:
        executor.shutdown(wait=True)
    app.extensions["kho"].catalog.dispose()


@pytest.fixture
def tokens(app):
    made = {}
    with app.extensions["kho"].catalog.session() as session:
        for role in ("archivist", "researcher", "admin"):
            _, made[role] = add_user(session, f"{role}-mai", role)
    return {role: {"Authorization": f"Bearer {token}"} for role, token in made.items()}


def hits(client, query, headers=None, **params):
    url = "/api/v1/search?" + urllib.parse.urlencode({"q": query, **params})
    response = client.get(url, headers=headers or {})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_search_api_follows_ingest_versions_edits_and_access(app, tokens, ingest_bag, tmp_path):
    client = app.test_client()
    first = ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A")).identifier
    ingest_bag(make_page_bag(tmp_path / "b", pages=1, title="Báo Huế", external_id="B"),
               collection="Báo chí", access="restricted")

    found = hits(client, "dai nam")
    assert found["total"] == 1 and found["hits"][0]["identifier"] == first
    assert found["hits"][0]["snippets"]["title"].startswith("<mark>Đại</mark> <mark>Nam</mark>")
    assert found["facets"]["collection"] == [{"value": "Hán-Nôm", "count": 1}]
    assert found["facets"]["lang"] == [{"value": "vi-Hani", "count": 1}]
    assert hits(client, "dai nam", lang="vi-Hani")["total"] == 1
    assert hits(client, "dai nam", lang="fr")["total"] == 0
    assert hits(client, "Ða\u0323i Nam")["total"] == 1      # NFD, and Ð (U+00D0) for Đ
    # The restricted AIP: not for an anonymous visitor, in hits or in counts; a researcher sees it.
    assert hits(client, "bao hue")["total"] == 0
    assert hits(client, "")["total"] == 1
    assert hits(client, "", tokens["researcher"])["facets"]["access"] == [
        {"value": "public", "count": 1}, {"value": "restricted", "count": 1}]
    assert hits(client, "bao hue", tokens["researcher"])["total"] == 1
    restricted = hits(client, "", tokens["researcher"], access="restricted")
    assert restricted["total"] == 1 and restricted["hits"][0]["identifier"] != first
    assert hits(client, "", access="restricted")["total"] == 0  # a filter opens nothing

    edit = client.put(f"/api/v1/aips/{first}/dublin-core", headers=tokens["archivist"],
                      json={**dublin_core(), "title": [{"value": "Địa bạ Quảng Trị",
                                                        "lang": "vi"}]})
    assert edit.status_code == 200, edit.get_json()
    assert hits(client, "dia ba quang tri")["total"] == 1 and hits(client, "dai nam")["total"] == 0

    changed = client.patch(f"/api/v1/aips/{first}", headers=tokens["archivist"],
                           json={"access": "restricted"})
    assert changed.status_code == 200
    assert hits(client, "quang tri")["total"] == 0
    assert hits(client, "quang tri", tokens["researcher"])["total"] == 1

    ingest_bag(make_page_bag(tmp_path / "a2", pages=1, title="Hương ước làng Đông Ngạc",
                             external_id="A"), new_version=True)
    assert hits(client, "huong uoc dong ngac", tokens["researcher"])["hits"][0]["identifier"] \
        == first

    # Withdrawn: gone from everyone's hits, totals and facet counts.
    gone = client.post(f"/api/v1/aips/{first}/withdrawal", headers=tokens["admin"],
                       json={"reason": "bản trùng"})
    assert gone.status_code == 200, gone.get_json()
    for who in (None, tokens["researcher"], tokens["archivist"]):
        after = hits(client, "huong uoc dong ngac", who)
        assert after["total"] == 0 and after["hits"] == [], who
        assert all(not f for f in after["facets"].values()), after["facets"]
        everything = hits(client, "", who)
        assert first not in [h["identifier"] for h in everything["hits"]]
        assert sum(f["count"] for f in everything["facets"]["access"]) == everything["total"]


def test_search_api_pages_filters_and_explains_bad_input(app, ingest_bag, tmp_path):
    client = app.test_client()
    for n, title in enumerate(("Hà Nội xưa", "Hà Nội nay", "Hà Nội mai")):
        ingest_bag(make_page_bag(tmp_path / str(n), pages=1, title=title, external_id=f"H{n}"),
                   collection="Hà Nội" if n else "Huế")
    page = hits(client, "ha noi", per_page=2)
    assert page["total"] == 3 and page["total_is_exact"] and len(page["hits"]) == 2
    assert page["pages"] == 2 and "page=2" in page["links"]["next"]
    # Beyond KHO_SEARCH_TOTAL_CAP (10,000) matches a search says "more than": here 2.
    services = app.extensions["kho"]
    services.settings = services.settings.replace(search_total_cap=2)
    capped = hits(client, "ha noi")
    assert capped["total"] == 2 and capped["total_is_exact"] is False
    assert len(capped["hits"]) == 2 and capped["hits"][0]["identifier"]
    assert sum(f["count"] for f in capped["facets"]["access"]) == 2
    assert hits(client, "ha noi", collection="Hà Nội")["total_is_exact"]  # exactly 2
    assert "(hơn 2)" in client.get("/search?q=ha+noi").get_data(as_text=True)  # Vietnamese first
    client.get("/language/en")
    assert "(more than 2)" in client.get("/search?q=ha+noi").get_data(as_text=True)
    services.settings = services.settings.replace(search_total_cap=10_000)
    assert hits(client, "ha noi", collection="Hà Nội")["total"] == 2
    assert hits(client, "ha noi", date="1840s", type="Text")["total"] == 3
    assert hits(client, "hà nội xua")["hits"][0]["snippets"]["title"] == \
        "<mark>Hà</mark> <mark>Nội</mark> <mark>xưa</mark>"
    assert hits(client, "ha noi xuaa")["did_you_mean"] == "ha noi xua"
    # Windows-1258/Latin-1 bytes in the URL are not UTF-8: no crash, nothing spurious found.
    legacy = client.get("/api/v1/search?q=H%E0+N%F4i")
    assert legacy.status_code == 200 and legacy.get_json()["total"] == 0
    bad = client.get("/api/v1/search?q=x&date=soon")
    assert bad.status_code == 400 and "date" in bad.get_json()["message"]
    assert client.get("/api/v1/search?q=x&page=0").status_code == 400
    assert "q is longer" in client.get("/api/v1/search?q=" + "a" * 1001).get_json()["message"]


def test_opensearch_description_lets_a_browser_add_kho(app):
    response = app.test_client().get("/opensearch.xml")
    assert response.mimetype == "application/opensearchdescription+xml"
    root = ET.fromstring(response.data)
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    assert root.find("os:ShortName", ns).text == "Kho lưu trữ"
    templates = {u.get("type"): u.get("template") for u in root.findall("os:Url", ns)}
    assert templates["text/html"].startswith("http://localhost/?q={searchTerms}")
    assert "/api/v1/search?q={searchTerms}" in templates["application/json"]
    home = app.test_client().get("/").get_data(as_text=True)
    assert 'rel="search" type="application/opensearchdescription+xml"' in home


def test_kho_search_reindex_rebuilds_the_index(ingest_bag, tmp_path):
    from sqlalchemy import delete

    from repository.search.models import SearchDocument
    ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A"))
    settings = ingest_bag.settings
    env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.catalog_url,
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}

    def total() -> str:
        found = CliRunner().invoke(kho, ["search", "query", "thuc luc", "--json"], env=env)
        assert found.exit_code == 0, found.output
        return found.output

    def status() -> dict:
        answer = CliRunner().invoke(kho, ["search", "status", "--json"], env=env)
        assert answer.exit_code == 0, answer.output
        return json.loads(answer.output)

    assert '"total": 1' in total()
    sqlite = settings.catalog_url.startswith("sqlite")
    # An ingest indexes its AIP more than once in its transaction: nothing is left behind.
    assert (status()["documents"], status()["left_behind"]) == ({"aip": 1}, 0)
    with ingest_bag.catalog.session() as session:  # the index lost, the catalogue kept
        session.execute(delete(SearchDocument))
        session.commit()
    assert '"total": 0' in total()
    lost = status()
    assert (lost["total"], lost["left_behind"], lost["reindex_advised"]) == \
        (0, 1 if sqlite else 0, sqlite)
    said = CliRunner().invoke(kho, ["search", "status"], env=env).output
    assert ("left behind: 1 entry" in said and "kho search reindex" in said) is sqlite
    result = CliRunner().invoke(kho, ["search", "reindex"], env=env)
    assert result.exit_code == 0, result.output
    assert "indexed 1 AIPs" in result.output
    assert '"total": 1' in total()
    assert (status()["total"], status()["left_behind"]) == (1, 0)


def test_a_catalogue_rebuilt_from_storage_is_searchable_at_once(ingest_bag, tmp_path, request):
    from repository.catalog import Reader, open_catalog
    from repository.catalog.rebuild import rebuild_catalog
    from repository.search import search
    first = ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A")).identifier
    # Rebuilt into a new catalogue on the same database system as the first.
    url = request.getfixturevalue("postgres_url") \
        if ingest_bag.settings.catalog_url.startswith("postgresql") \
        else f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    rebuilt = open_catalog(url)
    rebuilt.upgrade()
    try:
        rebuild_catalog(ingest_bag.settings, rebuilt, force=True)
        with rebuilt.session() as session:
            result = search(session, Reader(None, date.today()), "dai nam thuc luc")
            assert [hit.aip.identifier for hit in result.hits] == [first]
    finally:
        rebuilt.dispose()
