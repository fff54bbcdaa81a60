"""The web interface: holdings listed with their diacritics, found without them."""
from __future__ import annotations

import pytest

from repository.web import create_app
from tests.fixtures.aips import TITLE_VI, make_page_bag


@pytest.fixture
def client(kho_settings):
    app = create_app(kho_settings)
    yield app.test_client()
    app.extensions["kho"].catalog.dispose()


def test_home_lists_titles_with_diacritics_and_search_ignores_them(client, ingest_bag, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A"))
    ingest_bag(make_page_bag(tmp_path / "b", pages=1, title="Báo Tiếng Dân", external_id="B"),
               collection="Báo chí")
    page = client.get("/").get_data(as_text=True)
    assert TITLE_VI in page and "Báo Tiếng Dân" in page
    found = client.get("/?q=HA NOI").get_data(as_text=True)
    assert TITLE_VI in found and "Báo Tiếng Dân" not in found
    by_collection = client.get("/?collection=Báo chí").get_data(as_text=True)
    assert "Báo Tiếng Dân" in by_collection and TITLE_VI not in by_collection


def test_restricted_aip_is_hidden_from_anonymous_visitors(client, ingest_bag, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1), access="restricted")
    assert TITLE_VI not in client.get("/").get_data(as_text=True)
    assert client.get(f"/aips/{result.identifier}").status_code == 401


def test_aip_page_shows_description_files_and_events(client, ingest_bag, tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=2))
    page = client.get(f"/aips/{result.identifier}").get_data(as_text=True)
    assert "Quốc sử quán triều Nguyễn" in page
    assert "data/trang 2.jpg" in page and "fmt/" in page
    assert "format identification" in page and f"/view/{result.identifier}" in page
