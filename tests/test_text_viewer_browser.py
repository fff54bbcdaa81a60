"""Search inside a book in Kho's viewer, in a real headless Chromium: a word typed in
Mirador's search panel (IIIF Content Search 1.0) lists the hit and highlights it on the page;
an archivist signs in and corrects a page's transcription beside its image."""
from __future__ import annotations

import threading

import pytest

from repository.catalog import add_user, open_catalog
from repository.ingest.pipeline import ingest_package
from repository.text import after_ingest
from repository.web import create_app
from tests.fixtures.aips import add_collections
from tests.fixtures.text import make_text_bag
from tests.fixtures.web import PASSWORD
from tests.test_viewer_browser import CHROMIUM, CHROMIUM_ARGS, require_browser, wait_until


@pytest.fixture
def served_book(settings, tmp_path):
    """A two-page book OCR'd for real (SQLite: the catalogues are covered elsewhere)."""
    from werkzeug.serving import make_server
    require_browser()
    settings = settings.replace(ocr_languages="*=vie", ocr_processes=2)
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Báo chí")
    bag = make_text_bag(tmp_path / "bag", tag_files={
        "metadata/transcriptions/trang 1.vi-Hani.txt": "大南寔錄".encode()})
    result = ingest_package(bag, settings=settings, catalog=catalog, collection="Báo chí")
    after_ingest(settings, catalog, result.identifier)
    with catalog.session() as session:
        add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
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


@pytest.mark.browser
def test_a_search_result_names_the_page_and_opens_the_viewer_there_searching(served_book,
                                                                             tmp_path):
    """Issue 16: a word printed on page 2 finds the book in Kho's search; the result says
    "Trang 2" and its link opens the viewer on page 2 with the words searched inside."""
    from playwright.sync_api import sync_playwright
    base, aip_id = served_book
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/search?q=phu+chiem")
            result = page.locator("ol.results li").first
            assert "Báo Nam Kỳ" in result.inner_text()
            link = result.get_by_role("link", name="Trang 2")
            assert "<mark>Phú</mark> <mark>Chiêm</mark>" in result.inner_html()
            page.screenshot(path=str(tmp_path / "results.png"))
            link.click()
            page.wait_for_selector("#mirador .mirador-viewer", timeout=30000)
            wanted = page.evaluate(
                "() => fetch(document.getElementById('mirador').dataset.manifest)"
                ".then(r => r.json()).then(m => m.items[1].id)")
            wait_until(page, lambda: page.evaluate(
                "() => Object.values(window.miradorInstance.store.getState().windows)[0]"
                ".canvasId") == wanted, 30, "the viewer on page 2")
            hit = page.locator("strong", has_text="Phú Chiêm").first
            hit.wait_for(state="visible", timeout=30000)  # the search panel, already run
            page.screenshot(path=str(tmp_path / "viewer-page-2.png"))
            assert not errors, errors
        finally:
            browser.close()


# What Kho's pages will be served with: no inline script or style of any kind.
STRICT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
              "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


@pytest.mark.browser
def test_an_archivist_signs_in_and_corrects_a_page_beside_its_image(served_book):
    from playwright.sync_api import sync_playwright
    base, aip_id = served_book
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # What the policy refused on each page (the browser reports it as a DOM event).
            page.add_init_script("window.kRefused = []; document.addEventListener("
                                 "'securitypolicyviolation', e => window.kRefused.push("
                                 "e.violatedDirective + ' ' + (e.blockedURI || 'inline')));")
            refused: list[str] = []

            def note_refusals():
                # Chromium does not hand the document a redirect led to (303 after each POST)
                # to the route, so the page is loaded once more under the policy.
                page.reload()
                page.wait_for_timeout(200)  # the events are queued as tasks
                refused.extend(page.evaluate("window.kRefused"))

            def with_csp(route):  # the policy every page will carry, on every document
                response = route.fetch(max_redirects=0)  # the browser follows them
                route.fulfill(response=response, headers={
                    **response.headers, "content-security-policy": STRICT_CSP})
            page.route(lambda url: url.startswith(base), with_csp)
            page.goto(f"{base}/aips/{aip_id}/text")
            page.get_by_role("link", name="Đăng nhập").click()
            page.get_by_label("Tên đăng nhập", exact=True).fill("Nguyễn Thị Lan")
            page.get_by_label("Mật khẩu", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_selector("textarea[name=text]")  # back on the page, with the form
            assert page.url.endswith("/transcription")
            note_refusals()
            assert page.locator("pre[lang=vi-Hani]").inner_text() == "大南寔錄"
            page.wait_for_function("() => { const i = document.querySelector('.beside img');"
                                   " return i && i.complete && i.naturalWidth > 0; }")
            # The stylesheet (a file, allowed by the policy) sets the image beside the text.
            image = page.locator(".beside figure img").bounding_box()
            text = page.locator("pre[lang=vi-Hani]").bounding_box()
            assert image["x"] + image["width"] <= text["x"] and text["x"] > 500, (image, text)
            box = page.get_by_label("Phiên âm Quốc ngữ")
            box.fill("Đại Nam thực lục, chính biên")
            page.locator("form", has=box).get_by_role("button", name="Lưu (tạo phiên bản mới)").click()
            page.wait_for_selector(".saved")
            assert page.url.endswith("/transcription?saved=2")
            note_refusals()
            assert "Đã lưu phiên âm: phiên bản v2" in page.get_by_role("status").inner_text()
            assert page.locator("pre.page-text[lang=vi]", has_text="thực lục, chính biên").count() == 1
            # On a phone the text comes under the image.
            page.set_viewport_size({"width": 390, "height": 844})
            image = page.locator(".beside figure img").bounding_box()
            text = page.locator("pre[lang=vi-Hani]").bounding_box()
            assert text["y"] >= image["y"] + image["height"], (image, text)
            assert not refused, refused
        finally:
            browser.close()
