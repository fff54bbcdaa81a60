"""The researcher's viewer page: Mirador from the local bundle, the manifest URL to copy.

(The page driven in a real Chromium is tests/test_viewer_browser.py.)
"""
from __future__ import annotations

import pytest

from repository.web import create_app
from repository.web.viewer import MIRADOR_BUNDLE
from tests.fixtures.aips import TITLE_VI, make_page_bag
from tests.test_viewer_browser import require_mirador


@pytest.fixture
def app(kho_settings):
    app = create_app(kho_settings)
    yield app
    app.extensions["kho"].catalog.dispose()


def test_viewer_page_names_the_manifest_and_loads_mirador_locally(app, ingest_bag, tmp_path):
    aip = ingest_bag(make_page_bag(tmp_path / "bag", pages=2)).identifier
    response = app.test_client().get(f"/view/{aip}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert f'value="http://localhost/iiif/3/{aip}/manifest"' in page
    assert f'src="/viewer-assets/{MIRADOR_BUNDLE}"' in page
    assert TITLE_VI in page  # Vietnamese, diacritics intact
    assert "Sao chép" in page and 'lang="vi"' in page
    assert "unpkg" not in page and "cdn" not in page.lower()
    assert app.test_client().get("/view/no-such-aip").status_code == 404


def test_mirador_bundle_is_served_from_node_modules(app):
    require_mirador()
    response = app.test_client().get(f"/viewer-assets/{MIRADOR_BUNDLE}")
    assert response.status_code == 200
    assert "javascript" in response.mimetype
    assert b"Mirador" in response.get_data()[:2000]
    assert app.test_client().get("/viewer-assets/../package.json").status_code == 404
