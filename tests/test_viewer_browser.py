"""The viewer in a real headless Chromium: a Vietnamese-titled book opens in Mirador, its page
tiles arrive from the Image API, the next page loads, and what the reader sees is not blank."""
from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from sqlalchemy import select

from repository.catalog import AipFile, get_aip
from repository.web import create_app
from repository.web.viewer import MIRADOR_BUNDLE, MIRADOR_DIST
from tests.fixtures.aips import TITLE_VI, make_page_bag
from tests.fixtures.web import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require(missing: list[str]) -> None:
    """Skip with the reason on a developer's machine; fail in CI, where nothing may skip."""
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def require_mirador() -> None:
    require([] if (MIRADOR_DIST / MIRADOR_BUNDLE).is_file() else ["Mirador (make viewer)"])


def require_browser() -> None:
    require_mirador()
    require([] if shutil.which(CHROMIUM) else ["chromium at /usr/bin/chromium"])


@pytest.fixture
def served(ingest_bag, tmp_path):
    """A three-page book ingested, served by a real werkzeug server on a free loopback port."""
    from werkzeug.serving import make_server
    require_browser()
    result = ingest_bag(make_page_bag(tmp_path / "bag", pages=3, size=(900, 1200)),
                        access="restricted")
    app = create_app(ingest_bag.settings)
    with app.extensions["kho"].catalog.session() as session:
        aip = get_aip(session, result.identifier)
        ids = {f.logical_path: f"{aip.identifier}~{f.sha512[:32]}" for f in session.scalars(
            select(AipFile).where(AipFile.aip_id == aip.id, AipFile.role == "payload"))}
        from repository.catalog import add_user
        add_user(session, "bạn đọc", "researcher", password=PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", result.identifier, ids
    server.shutdown()
    thread.join(5)
    app.extensions["kho"].catalog.dispose()


def wait_until(page, predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        page.wait_for_timeout(100)  # (not time.sleep: Playwright delivers events while it waits)


@pytest.mark.browser
def test_reader_turns_the_page_of_a_restricted_book_in_mirador(served, tmp_path):
    from PIL import Image, ImageStat
    from playwright.sync_api import sync_playwright

    base, aip_id, ids = served
    first, second = ids["data/trang 1.jpg"], ids["data/trang 2.jpg"]
    tiles: list[tuple[str, int, str]] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # Kho's CSP allows no inline script: the viewer must work without one.
            page.on("console", lambda m: errors.append(m.text)
                    if "Content Security Policy" in m.text else None)
            page.on("response", lambda r: tiles.append(
                (r.url, r.status, r.headers.get("content-type", "")))
                if "/iiif/3/image/" in r.url and not r.url.endswith("info.json") else None)

            def tile_loaded(image_id: str) -> bool:
                return any(image_id in url and status == 200 and kind.startswith("image/")
                           for url, status, kind in list(tiles))

            # Signed out, the restricted book offers the sign-in form, which leads back to it.
            page.goto(f"{base}/view/{aip_id}")
            page.get_by_role("link", name="Đăng nhập").last.click()
            page.fill("#name", "bạn đọc")
            page.fill("#password", PASSWORD)
            page.get_by_role("button", name="Đăng nhập").click()
            page.wait_for_url(f"{base}/view/{aip_id}")
            assert page.title() == f"{TITLE_VI} · Kho lưu trữ"
            # The page's own heading; Mirador, once drawn, adds an h1 of its own below it.
            assert page.locator("h1").first.inner_text() == TITLE_VI
            page.wait_for_selector("#mirador .mirador-viewer", timeout=30000)
            wait_until(page, lambda: tile_loaded(first), 60, "the first page's tiles")
            next_button = page.locator("button.mirador-next-canvas-button")
            next_button.wait_for(state="visible", timeout=30000)
            next_button.click()
            wait_until(page, lambda: tile_loaded(second), 60, "the second page's tiles")
            canvas = page.evaluate(
                "() => { const s = window.miradorInstance.store.getState();"
                " return Object.values(s.windows)[0].canvasId; }")
            assert canvas.endswith("/canvas/" + second.rsplit("~", 1)[1])
            page.wait_for_timeout(1500)  # let OpenSeadragon blend the tiles in
            shot = tmp_path / "viewer.png"
            page.screenshot(path=str(shot))
            assert not errors, errors
        finally:
            browser.close()
    assert all(status in (200, 304) for _, status, _ in tiles), tiles
    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 200, "the screenshot is nearly blank"
        assert max(ImageStat.Stat(rgb).stddev) > 20
