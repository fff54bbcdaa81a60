"""Search inside a book in Kho's viewer, in a real headless Chromium: a word typed in
Mirador's search panel (IIIF Content Search 1.0) lists the hit and highlights it on the page."""
from __future__ import annotations

import threading

import pytest

from repository.catalog import open_catalog
from repository.ingest.pipeline import ingest_package
from repository.text import after_ingest
from repository.web import create_app
from tests.fixtures.text import make_text_bag
from tests.test_viewer_browser import CHROMIUM, CHROMIUM_ARGS, require_browser, wait_until


@pytest.fixture
def served_book(settings, tmp_path):
    """A two-page book OCR'd for real (SQLite: the catalogues are covered elsewhere)."""
    from werkzeug.serving import make_server
    require_browser()
    settings = settings.replace(ocr_languages="*=vie", ocr_processes=2)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    result = ingest_package(make_text_bag(tmp_path / "bag"), settings=settings, catalog=catalog,
                            collection="Báo chí")
    after_ingest(settings, catalog, result.identifier)
    catalog.dispose()
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", result.identifier
    server.shutdown()
    thread.join(5)
    app.extensions["kho"].catalog.dispose()


def highlighted_pixels(path) -> int:
    """Pixels of Mirador's selected-hit fill (yellow at 30 % over the white page)."""
    from PIL import Image
    with Image.open(path) as image:
        return sum(1 for r, g, b in image.convert("RGB").getdata()
                   if r > 235 and g > 235 and 150 < b < 215)


@pytest.mark.browser
def test_a_word_searched_in_the_viewer_is_listed_and_highlighted_on_the_page(served_book,
                                                                              tmp_path):
    from playwright.sync_api import sync_playwright
    base, aip_id = served_book
    searches: list[tuple[str, int]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: searches.append((r.url, r.status))
                    if "/iiif/search/1/" in r.url else None)
            page.goto(f"{base}/view/{aip_id}")
            page.wait_for_selector("#mirador .mirador-viewer", timeout=30000)
            page.wait_for_timeout(2000)  # the first page's tiles
            before = tmp_path / "before.png"
            page.screenshot(path=str(before))
            # Mirador in Vietnamese: open the side bar, then its search panel ("Tìm").
            page.get_by_role("button", name="chốt thanh bên").click()
            page.get_by_role("tab", name="Tìm").click()
            box = page.get_by_role("combobox", name="Từ tìm kiếm").or_(
                page.get_by_label("Từ tìm kiếm")).first
            box.fill("ha noi")  # typed without tones
            box.press("Enter")
            # The hit is listed with its context, the match in bold, as the service gave it.
            hit = page.locator("strong", has_text="Hà Nội").first
            hit.wait_for(state="visible", timeout=30000)
            assert "năm 1890, phủ Hoài Đức" in page.locator("li", has=hit).first.inner_text()
            wait_until(page, lambda: page.evaluate(
                "() => { const s = window.miradorInstance.store.getState();"
                " const w = Object.values(s.searches || {})[0] || {};"
                " const c = Object.values(w)[0] || {};"
                " return (c.selectedContentSearchAnnotationIds || []).length > 0; }"), 30,
                "a selected hit")
            page.wait_for_timeout(1500)  # OpenSeadragon draws the highlight on its next frame
            after = tmp_path / "after.png"
            page.screenshot(path=str(after))
            assert not errors, errors
        finally:
            browser.close()
    assert searches and all(status == 200 for _, status in searches), searches
    assert highlighted_pixels(before) < 50
    assert highlighted_pixels(after) > 300, "no highlight drawn over the hit"
