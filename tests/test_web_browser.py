"""Each user group's main task, done in Debian's Chromium through the web pages, and
axe-core's accessibility check on every page in Vietnamese and English.

Each test saves screenshots in its own output folder (``tmp_path``); with
``KHO_UPDATE_SCREENSHOTS=1`` small copies also go to ``docs/screenshots/`` for the README.
"""
from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from repository.catalog import add_user
from repository.catalog.collections import add_collection
from repository.catalog import get_aip
from repository.fixity import check_aips
from repository.holdings import import_register
from repository.holdings.csv_register import read_csv_register
from repository.ingest.amend import withdraw_aip
from repository.ingest.deposits import create_deposit, run_deposit
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from repository.text import save_transcription
from repository.text.pages import aip_pages
from repository.web import create_app
from tests.fixtures.aips import TITLE_VI, make_page_bag
from tests.fixtures.bags import make_bag, zip_folder
from tests.fixtures.web import PASSWORD
from tests.test_holdings_progress import NAM_DINH, REGISTER_NAM_DINH
from tests.test_viewer_browser import CHROMIUM, CHROMIUM_ARGS, require_browser

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "iiif" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Kho on a real server: a public book with a transcription, a newspaper, a restricted
    item, a withdrawn one, a planted fixity failure, a refused deposit, a holdings register,
    and one user of each working role (shared by this module's tests: they only add)."""
    from werkzeug.serving import make_server
    from repository.config import load_settings
    require_browser()
    tmp_path = tmp_path_factory.mktemp("site")
    settings = load_settings({}, data_dir=tmp_path / "kho-data",
                             storage_config_dir=tmp_path / "storage_config")
    if not AXE.is_file():
        pytest.fail("axe-core is not installed: run `make viewer`")
    app = create_app(settings)
    catalog = app.extensions["kho"].catalog
    with catalog.session() as session:  # collections are made on purpose before ingest
        for name in ("Hán-Nôm", "Báo chí", "Châu bản", "Hương ước"):
            add_collection(session, name)
    book = ingest_package(make_page_bag(tmp_path / "book", pages=3, size=(600, 800)),
                          settings=settings, catalog=catalog, collection="Hán-Nôm")
    paper = ingest_package(make_page_bag(tmp_path / "paper", pages=1, size=(320, 420),
                                         title="Báo Tiếng Dân", external_id="TD-1"),
                           settings=settings, catalog=catalog, collection="Báo chí")
    closed = ingest_package(make_page_bag(tmp_path / "closed", pages=1, size=(300, 400),
                                          title="Châu bản triều Nguyễn", external_id="CB-1"),
                            settings=settings, catalog=catalog, collection="Châu bản",
                            access="restricted")
    gone = ingest_package(make_page_bag(tmp_path / "gone", pages=1, size=(300, 400),
                                        title="Bản đã rút", external_id="RUT-1"),
                          settings=settings, catalog=catalog, collection="Báo chí")
    withdraw_aip(settings, catalog, gone.identifier, agent="quản trị",
                 reason="Bản trùng với HN-0001.")
    with catalog.session() as session:
        canvas = aip_pages(session, get_aip(session, book.identifier))[0].canvas_name
    save_transcription(settings, catalog, book.identifier, canvas, language="vi",
                       text="Đại Nam thực lục chính biên", agent="lưu trữ viên")
    broken_bag = make_bag(tmp_path / "refused", {"data/trang 1.jpg": b"anh goc"},
                          bag_info={"DC-Title": "Bản bị hỏng"})
    (broken_bag / "data" / "trang 1.jpg").write_bytes(b"anh gox")
    broken = zip_folder(broken_bag, tmp_path / "bị từ chối.zip")
    refused = create_deposit(catalog, source=str(broken), collection="Hương ước",
                             depositor="lưu trữ viên")
    run_deposit(refused, broken, settings=settings, catalog=catalog, remove_after=False)
    with catalog.session() as session:
        import_register(session, NAM_DINH, read_csv_register(REGISTER_NAM_DINH),
                        agent="lưu trữ viên", via="csv")
    storage = get_location(settings, "local")
    storage.put(f"{paper.object_root}/v1/content/data/trang 1.jpg", io.BytesIO(b"hong"),
                algorithms=())
    check_aips(settings, catalog, [book.identifier, paper.identifier])
    with catalog.session() as session:
        for name, role in (("lưu trữ viên", "archivist"), ("kiểm toán", "auditor"),
                           ("quản trị", "admin")):
            add_user(session, name, role, password=PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{server.server_port}", "book": book.identifier,
           "paper": paper.identifier, "closed": closed.identifier, "gone": gone.identifier,
           "canvas": canvas, "refused": refused}
    server.shutdown()
    thread.join(5)
    catalog.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser, width: int = 1200, height: int = 800):
    # bypass_csp only so the test can inject axe-core; Kho's pages need no such thing.
    context = browser.new_context(viewport={"width": width, "height": height},
                                  accept_downloads=True, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.kho_errors = errors
    return page


def sign_in(page, base: str, name: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/signin")
    page.fill("#name", name)
    page.fill("#password", password)
    page.locator("main").get_by_role("button").click()
    page.wait_for_load_state()


def shoot(page, tmp_path: Path, name: str) -> Path:
    """A screenshot in the test's output folder (and a small copy for the README if asked)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5000
    if os.environ.get("KHO_UPDATE_SCREENSHOTS"):
        from PIL import Image
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.thumbnail((800, 800))
            image.convert("RGB").save(SCREENSHOTS / f"{name}.jpg", quality=70, optimize=True)
    return path


def test_researcher_finds_a_book_without_diacritics_turns_a_page_and_downloads_a_citation(
        site, browser, tmp_path):
    base = site["base"]
    page = new_page(browser)
    page.goto(base)
    page.fill("#home-q", "dai nam thuc luc")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/search?q=dai+nam+thuc+luc")
    page.get_by_role("link", name=TITLE_VI).click()
    page.wait_for_url(f"{base}/aips/{site['book']}")
    page.wait_for_selector("#mirador .mirador-viewer", timeout=30000)
    first = page.evaluate("() => Object.values(window.miradorInstance.store.getState()"
                          ".windows)[0].canvasId")
    next_button = page.locator("button.mirador-next-canvas-button")
    next_button.wait_for(state="visible", timeout=30000)
    next_button.click()
    page.wait_for_function(
        "first => Object.values(window.miradorInstance.store.getState().windows)[0]"
        ".canvasId !== first", arg=first, timeout=30000)
    shoot(page, tmp_path, "researcher-record")
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải RIS").click()
    ris = Path(download.value.path()).read_text("utf-8")
    assert f"TI  - {TITLE_VI}" in ris and "AU  - Quốc sử quán triều Nguyễn" in ris
    assert not page.kho_errors, page.kho_errors


def test_archivist_deposits_a_zip_through_the_form_and_sees_a_broken_bags_report(
        site, browser, tmp_path):
    base = site["base"]
    good = zip_folder(make_page_bag(tmp_path / "new", pages=2, size=(300, 400),
                                    title="Hương ước làng Đông Ngạc", external_id="HU-1"),
                      tmp_path / "hương ước.zip")
    broken_bag = make_bag(tmp_path / "broken", {"data/trang 1.jpg": b"anh goc"},
                          bag_info={"DC-Title": "Bản bị hỏng"})
    (broken_bag / "data" / "trang 1.jpg").write_bytes(b"anh gox")  # same size, other bytes
    broken = zip_folder(broken_bag, tmp_path / "hỏng.zip")
    page = new_page(browser)
    sign_in(page, base, "lưu trữ viên")
    page.get_by_role("link", name="Nộp lưu", exact=True).click()
    # The upload button works only once deposit.js has run; a click lands on a loaded page.
    page.wait_for_load_state()
    page.fill("#collection", "Hương ước")
    page.set_input_files("#file", str(good))
    page.get_by_role("button", name="Tải lên và nộp lưu").click()
    page.wait_for_url(f"{base}/deposits/*")
    page.wait_for_selector("#status-text .tag.done", timeout=60000)
    assert "Đã lưu thành gói AIP" in page.locator("#status-text").inner_text()
    assert page.locator("#deposit-progress").get_attribute("value") == "100"
    shoot(page, tmp_path, "archivist-deposit-done")
    page.locator("dl.record a").click()
    # The page's own heading: the AIP page's Mirador, once drawn, adds an h1 below it.
    assert page.locator("h1").first.inner_text() == "Hương ước làng Đông Ngạc"
    page.goto(f"{base}/deposit")
    page.fill("#collection", "Hương ước")
    page.set_input_files("#file", str(broken))
    page.get_by_role("button", name="Tải lên và nộp lưu").click()
    page.wait_for_selector("#status-text .tag.failed", timeout=60000)
    report = page.locator("table.report")
    assert "trang 1.jpg" in report.inner_text()
    code = report.locator("tbody tr a").first
    assert code.get_attribute("href").startswith("/help/validation-codes#K")
    shoot(page, tmp_path, "archivist-refused-bag")
    page.goto(f"{base}/deposits")
    assert page.locator("tbody tr").count() >= 2 and "hỏng.zip" in page.locator("tbody").inner_text()
    assert not page.kho_errors, page.kho_errors


def test_auditor_finds_the_planted_fixity_failure_and_downloads_the_csv(site, browser, tmp_path):
    base = site["base"]
    page = new_page(browser)
    sign_in(page, base, "kiểm toán")
    page.get_by_role("link", name="Kiểm toán").click()
    problems = page.locator("table.problems")
    assert site["paper"] in problems.inner_text()
    # The failed AIP is not proven (nor is the never-checked one): coverage is not 100%.
    assert not page.locator("#coverage").inner_text().startswith("100")
    shoot(page, tmp_path, "auditor-fixity")
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải CSV").click()
    csv_text = Path(download.value.path()).read_text("utf-8")
    assert site["paper"] in csv_text and "trang 1.jpg" in csv_text
    problems.get_by_role("link", name=site["paper"]).first.click()
    assert "trang 1.jpg" in page.locator("table.problems").inner_text()
    # A reader of the damaged newspaper is told the page cannot be shown, not left with grey.
    page.goto(f"{base}/view/{site['paper']}")
    page.wait_for_selector("#viewer-problems li", timeout=30000)
    assert "Không hiển thị được trang 1" in page.locator("#viewer-problems").inner_text()


def test_admin_creates_a_user_who_then_signs_in(site, browser, tmp_path):
    base = site["base"]
    page = new_page(browser)
    sign_in(page, base, "quản trị")
    page.get_by_role("link", name="Quản trị").click()
    page.fill("#new-name", "Đỗ Thị Hoa")
    page.select_option("#new-role", "researcher")
    page.fill("#new-password", "hoa sen trong đầm")
    page.get_by_role("button", name="Tạo người dùng").click()
    assert "Đã tạo người dùng Đỗ Thị Hoa." in page.locator(".flash").inner_text()
    shoot(page, tmp_path, "admin-users")
    reader = new_page(browser)
    sign_in(reader, base, "Đỗ Thị Hoa", "hoa sen trong đầm")
    assert "Đỗ Thị Hoa" in reader.locator("header").inner_text()
    reader.goto(f"{base}/aips/{site['closed']}")
    # The page's own heading, not the h1 Mirador adds once drawn.
    assert reader.locator("h1").first.inner_text() == "Châu bản triều Nguyễn"


def test_admin_creates_an_embargoed_collection_and_cannot_delete_a_full_one(site, browser,
                                                                           tmp_path):
    base = site["base"]
    page = new_page(browser)
    sign_in(page, base, "quản trị")
    page.goto(f"{base}/admin/collections")
    page.fill("#new-collection-name", "Hương ước làng Việt")
    page.fill("#new-collection-description", "Hương ước các làng thế kỷ XIX.")
    page.locator("#new-collection").get_by_role("radio", name="hạn chế có thời hạn").check()
    page.fill("#new-collection-until", "2031-01-01")
    page.get_by_role("button", name="Tạo sưu tập").click()
    assert "Đã tạo sưu tập Hương ước làng Việt." in page.locator(".flash").inner_text()
    row = page.locator("tr", has_text="Hương ước làng Việt")
    assert "hạn chế có thời hạn" in row.inner_text()
    shoot(page, tmp_path, "admin-collections")
    full = page.locator("details", has_text="Thay đổi Hán-Nôm")
    full.locator("summary").click()
    full.get_by_role("button", name="Xoá sưu tập").click()
    assert "chỉ xoá được sưu tập rỗng" in page.get_by_role("alert").inner_text()
    assert not page.kho_errors


def test_signed_out_visitor_gets_the_sign_in_page_for_restricted_material(site, browser,
                                                                          tmp_path):
    base = site["base"]
    page = new_page(browser, width=390, height=844)
    response = page.goto(f"{base}/aips/{site['closed']}")
    assert response.status == 401
    assert page.locator("h1").inner_text().startswith("Vui lòng đăng nhập")
    page.locator("main").get_by_role("link", name="Đăng nhập").click()
    sign_in_url = page.url
    assert "/signin?next=" in sign_in_url
    page.fill("#name", "lưu trữ viên")
    page.fill("#password", PASSWORD)
    page.locator("main").get_by_role("button").click()
    page.wait_for_url(f"{base}/aips/{site['closed']}")
    shoot(page, tmp_path, "visitor-signed-in-phone")


def _pages(site) -> list[tuple[str, str | None, int]]:
    """(path, who signs in first, the status it answers) of every page of the interface."""
    book, paper, archivist = site["book"], site["paper"], "lưu trữ viên"
    return [("/", None, 200), ("/search?q=dai+nam", None, 200), (f"/aips/{book}", None, 200),
            (f"/view/{book}", None, 200), ("/signin", None, 200), ("/aips/nope", None, 404),
            (f"/aips/{site['closed']}", None, 401), (f"/aips/{site['gone']}", None, 410),
            ("/help/validation-codes", None, 200), ("/union?q=dai+nam", None, 200),
            (f"/aips/{book}/text", None, 200),
            (f"/aips/{book}/pages/{site['canvas']}/transcription", archivist, 200),
            ("/deposit", archivist, 200), ("/deposits", archivist, 200),
            (f"/deposits/{site['refused']}", archivist, 200),
            (f"/aips/{book}/edit", archivist, 200),
            ("/holdings", archivist, 200), ("/holdings/items", archivist, 200),
            ("/audit/fixity", "kiểm toán", 200), (f"/audit/fixity/{paper}", "kiểm toán", 200),
            ("/admin/users", "kiểm toán", 403),
            ("/admin/users", "quản trị", 200), ("/admin/collections", "quản trị", 200),
            ("/admin/storage", "quản trị", 200)]


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.filter(v => ["serious", "critical"].includes(v.impact))
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
}"""


def test_every_page_has_no_serious_accessibility_violation_in_both_languages_and_fits_a_phone(
        site, browser, tmp_path):
    base = site["base"]
    found: dict[str, list] = {}
    overflow: dict[str, int] = {}
    pages = {}
    for who in (None, "lưu trữ viên", "kiểm toán", "quản trị"):
        pages[who] = new_page(browser)
        if who:
            sign_in(pages[who], base, who)
    phone = new_page(browser, width=390, height=844)
    sign_in(phone, base, "quản trị")
    for language in ("vi", "en"):
        for page in list(pages.values()) + [phone]:
            page.goto(f"{base}/language/{language}?next=/")
        for path, who, status in _pages(site):
            page = pages[who]
            assert page.goto(base + path).status == status, (path, who)
            if path in (f"/view/{site['book']}", f"/aips/{site['book']}"):
                page.wait_for_selector("#mirador .mirador-viewer", timeout=30000)
            if path.startswith("/deposits/"):  # the refused bag's report is on the page
                assert page.locator("table.report tbody tr").count() >= 1
            assert page.locator("html").get_attribute("lang") == language
            page.add_script_tag(path=str(AXE))
            violations = page.evaluate(AXE_RUN)
            if violations:
                found[f"{language} {path} ({who or 'signed out'})"] = violations
            if who in (None, "quản trị") and language == "vi":
                phone.goto(base + path)
                width = phone.evaluate("() => document.documentElement.scrollWidth")
                if width > 390 and not path.startswith("/view/"):
                    overflow[f"{language} {path}"] = width
    phone.goto(f"{base}/language/vi?next=/search%3Fq%3Ddai%2Bnam")
    assert phone.locator("ol.results").is_visible()
    shoot(phone, tmp_path, "researcher-results-phone")
    assert not found, found
    assert not overflow, f"pages wider than a 390 px phone: {overflow}"
    # Keyboard: the first Tab reaches the skip link, and focus is visible.
    page = pages[None]
    page.goto(base)
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.className,"
                            " getComputedStyle(document.activeElement).outlineStyle]")
    assert focused[0] == "skip" and focused[1] != "none"


# Every control a person can use on the page (Mirador's own widgets aside), each marked so
# the Tab order can be followed.
MARK_CONTROLS = """() => {
  const selector = 'a[href], button, input, select, textarea, summary, [tabindex]';
  // Inside a closed <details> only its summary is in the Tab order (Enter opens it).
  const folded = el => { const d = el.closest('details:not([open])');
                         return d && el !== d.querySelector('summary'); };
  const controls = [...document.querySelectorAll(selector)].filter(el =>
    !el.closest('#mirador') && !el.disabled && el.tabIndex >= 0 && el.type !== 'hidden' &&
    !folded(el) && el.getClientRects().length > 0 &&
    getComputedStyle(el).visibility !== 'hidden');
  controls.forEach((el, i) => { el.dataset.kbd = String(i); });
  return controls.map(el => el.outerHTML.slice(0, 80));
}"""
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el.dataset.kbd === undefined) return null;
  // The focus ring is the element's own, or (a file input dressed as a drop zone) its box's.
  const shown = [el, el.closest('label, .dropzone')].filter(Boolean).some(e => {
    const s = getComputedStyle(e);
    return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
  }) || el.type === 'date';  // Chromium marks the focused day, month or year field itself
  return [el.dataset.kbd, shown];
}"""


def test_every_control_of_each_groups_main_pages_is_reached_by_tab_with_visible_focus(
        site, browser):
    """Issue 10: everything reachable by keyboard, with visible focus (not only the skip link)."""
    base = site["base"]
    pages = [("/", None), ("/search?q=dai+nam", None), ("/signin", None),
             (f"/aips/{site['book']}", None), ("/deposit", "lưu trữ viên"),
             (f"/aips/{site['book']}/edit", "lưu trữ viên"), ("/holdings", "lưu trữ viên"),
             ("/audit/fixity", "kiểm toán"), ("/admin/users", "quản trị"),
             ("/admin/collections", "quản trị")]
    tabs = {}
    missed, unseen = {}, {}
    for path, who in pages:
        if who not in tabs:
            tabs[who] = new_page(browser)
            if who:
                sign_in(tabs[who], base, who)
        page = tabs[who]
        page.goto(base + path)
        controls = page.evaluate(MARK_CONTROLS)
        reached: set[str] = set()
        page.locator("body").focus()
        for _ in range(len(controls) * 3 + 40):  # Mirador's widgets sit in the Tab order too
            page.keyboard.press("Tab")
            focused = page.evaluate(FOCUSED)
            if focused:
                reached.add(focused[0])
                if not focused[1]:
                    unseen.setdefault(path, []).append(controls[int(focused[0])])
        # Arrow keys, not Tab, move within a group of radio buttons (one stop per group).
        groups = page.evaluate("() => [...document.querySelectorAll('input[type=radio][data-kbd]')]"
                               ".map(el => [el.dataset.kbd, el.form ? el.form.id + el.name : el.name])")
        stops: dict[str, list[str]] = {}
        for mark, group in groups:
            stops.setdefault(group, []).append(mark)
        for marks in stops.values():
            if reached & set(marks):
                reached |= set(marks)
        left = [controls[i] for i in range(len(controls)) if str(i) not in reached]
        if left:
            missed[path] = left[:5]
    assert not missed, f"controls the Tab key never reaches: {missed}"
    assert not unseen, f"controls focused without a visible focus ring: {unseen}"
