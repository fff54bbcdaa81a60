"""The researcher's viewer page: Mirador from the local bundle, the manifest URL to copy."""
from __future__ import annotations

import threading

import pytest

from repository.web import create_app
from repository.web.viewer import MIRADOR_BUNDLE, MIRADOR_DIST

AIP_ID = "kho-2024-0007"

needs_mirador = pytest.mark.skipif(not (MIRADOR_DIST / MIRADOR_BUNDLE).is_file(),
                                   reason="Mirador not installed: run `make viewer`")


@pytest.fixture
def app(settings):
    return create_app(settings, upgrade_database=False)


def test_viewer_page_names_the_manifest_and_loads_mirador_locally(app):
    response = app.test_client().get(f"/view/{AIP_ID}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    page = response.get_data(as_text=True)
    assert f'value="http://localhost/iiif/3/{AIP_ID}/manifest"' in page
    assert f'src="/viewer-assets/{MIRADOR_BUNDLE}"' in page
    assert "Sao chép" in page and 'lang="vi"' in page  # Vietnamese, diacritics intact
    assert "unpkg" not in page and "cdn" not in page.lower()


@needs_mirador
def test_mirador_bundle_is_served_from_node_modules(app):
    response = app.test_client().get(f"/viewer-assets/{MIRADOR_BUNDLE}")
    assert response.status_code == 200
    assert "javascript" in response.mimetype
    assert b"Mirador" in response.get_data()[:2000]
    assert app.test_client().get("/viewer-assets/../package.json").status_code == 404


@needs_mirador
@pytest.mark.browser
def test_mirador_starts_in_a_real_browser(app):
    pytest.importorskip("playwright")
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"http://127.0.0.1:{server.server_port}/view/{AIP_ID}")
            page.wait_for_selector("#mirador .mirador-viewer", timeout=20000)
            assert page.evaluate("typeof Mirador.viewer") == "function"
            assert not errors, errors
            browser.close()
    finally:
        server.shutdown()
        thread.join(5)
