"""The programme's web doors: the JSON API (report, items, status changes, register upload,
targets, exports), the signed-in pages and their CSRF-protected status form, and the
dashboard in a real Chromium under a strict CSP, its chart and figures checked against
hand-counted ones."""
from __future__ import annotations

import io
import shutil
import subprocess
import threading
import unicodedata
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import update

from repository.catalog import Aip, add_user
from repository.web import create_app
from tests.fixtures.web import PASSWORD, csrf_token, sign_in
from tests.test_holdings_progress import (NAM_DINH, REGISTER_NAM_DINH, holding_bag)
from tests.test_viewer_browser import CHROMIUM, CHROMIUM_ARGS, require

STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'"


def _months_ago(n: int) -> datetime:
    today = date.today()
    index = today.year * 12 + today.month - 1 - n
    return datetime(index // 12, index % 12 + 1, 15, 10, tzinfo=timezone.utc)


@pytest.fixture
def programme(ingest_bag, tmp_path):
    """Nam Định's register; HN.0001 preserved two months ago, HN.0002 and B.0004 this month."""
    first = ingest_bag(holding_bag(tmp_path / "b1", "HN.0001"))
    ingest_bag(holding_bag(tmp_path / "b2", "HN.0002"), access="embargoed:2099-01-01")
    ingest_bag(holding_bag(tmp_path / "b4", "B.0004"))
    app = create_app(ingest_bag.settings)
    catalog = app.extensions["kho"].catalog
    with catalog.session() as session:
        # As if the first had been ingested two months ago (the chart's history).
        session.execute(update(Aip).where(Aip.identifier == first.identifier)
                        .values(created_at=_months_ago(2)))
        _, archivist = add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
        _, researcher = add_user(session, "bạn đọc", "researcher", password=PASSWORD)
    client = app.test_client()
    done = client.post(f"/api/v1/holdings/libraries/{NAM_DINH}/register",
                       data=REGISTER_NAM_DINH.encode(), headers=_bearer(archivist))
    assert done.status_code == 201, done.json
    yield app, archivist, researcher
    catalog.dispose()


@pytest.fixture
def register_only(kho_settings):
    """Nam Định's register loaded through the API, no AIPs."""
    app = create_app(kho_settings)
    with app.extensions["kho"].catalog.session() as session:
        _, archivist = add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
        _, researcher = add_user(session, "bạn đọc", "researcher", password=PASSWORD)
    done = app.test_client().post(f"/api/v1/holdings/libraries/{NAM_DINH}/register",
                                  data=REGISTER_NAM_DINH.encode(), headers=_bearer(archivist))
    assert done.status_code == 201, done.json
    yield app, archivist, researcher
    app.extensions["kho"].catalog.dispose()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_report_api_counts_targets_and_exports_and_only_staff_may_read_them(programme):
    app, archivist, researcher = programme
    client = app.test_client()
    assert client.get("/api/v1/holdings/report").status_code == 401
    assert client.get("/api/v1/holdings/report", headers=_bearer(researcher)).status_code == 403
    document = client.get("/api/v1/holdings/report", headers=_bearer(archivist)).json
    # Hand count: 5 items, 4 rare; preserved HN.0001, HN.0002 (embargoed), B.0004 (not rare);
    # published HN.0001 and B.0004; rare preserved 2 of 4.
    assert {k: document[k] for k in ("items", "rare_items", "preserved", "published", "progress")} == \
        {"items": 5, "rare_items": 4, "preserved": 3, "published": 2, "progress": 0.5}
    library = document["libraries"][0]
    assert library["library"] == NAM_DINH
    assert [(c["collection"], c["items"], c["progress"]) for c in library["collections"]] == [
        ("Báo cũ", 2, 0.0), ("Hán Nôm", 3, 0.6667)]
    assert [m["preserved"] for m in document["per_month"]] == [1, 2]

    # A collection's own target, then the exports.
    from openpyxl import load_workbook
    answer = client.put("/api/v1/holdings/targets", json={
        "library": NAM_DINH, "collection": "Hán Nôm", "share": 0.5, "deadline": "2027-06-30"},
        headers=_bearer(archivist))
    assert answer.status_code == 200
    document = client.get("/api/v1/holdings/report", headers=_bearer(archivist)).json
    han_nom = next(c for c in document["libraries"][0]["collections"] if c["collection"] == "Hán Nôm")
    assert han_nom["target"] == 0.5 and han_nom["deadline"] == "2027-06-30"
    assert han_nom["projection"]["reached"] is True  # 2 of 3 preserved ≥ 50%
    csv_text = client.get("/api/v1/holdings/report?format=csv", headers=_bearer(archivist)).data.decode("utf-8-sig")
    assert f"{NAM_DINH},Hán Nôm,3,3,2,1,0.6667" in csv_text
    # The dashboard's export is a page of the signed-in site: a token in the URL opens nothing.
    assert client.get(f"/holdings?format=xlsx&token={archivist}").status_code == 401
    sign_in(client, "Nguyễn Thị Lan")
    xlsx = client.get("/holdings?format=xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.data))["Progress"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:7] == ["library", "collection", "items", "rare_items", "preserved", "published", "progress"]
    assert rows[1][2:7] == [5, 4, 3, 2, 0.5]


def test_status_changes_through_the_api_and_the_web_form_are_recorded_with_who(register_only):
    app, archivist, researcher = register_only
    client = app.test_client()
    url = f"/api/v1/holdings/libraries/{NAM_DINH}/items/HN.0003"
    assert client.patch(url, json={"status": "selected"}, headers=_bearer(researcher)).status_code == 403
    refused = client.patch(url, json={"status": "published"}, headers=_bearer(archivist))
    assert refused.status_code == 400 and "cannot be set by hand" in refused.json["message"]
    item = client.patch(url, json={"status": "đang số hoá", "note": "máy quét A3"},
                        headers=_bearer(archivist)).json
    assert item["status"] == "being_scanned"
    assert item["history"][-1]["agent"] == "Nguyễn Thị Lan" and item["history"][-1]["via"] == "api"
    # The library's name typed decomposed (NFD, as macOS sends it) is the same library.
    nfd = unicodedata.normalize("NFD", NAM_DINH)
    assert nfd != NAM_DINH
    same = client.get(f"/api/v1/holdings/libraries/{nfd}/items/HN.0003", headers=_bearer(archivist))
    assert same.status_code == 200 and same.json["library"] == NAM_DINH
    # The web form: signed in, with the page's CSRF token; without either nothing changes.
    form = {"library": NAM_DINH, "shelfmark": "HN.0003", "status": "scanned"}
    assert client.post("/holdings/items/status", data={**form, "token": archivist}).status_code == 400
    sign_in(client, "Nguyễn Thị Lan")
    items_url = f"/holdings/items?library={NAM_DINH}"
    page = client.get(items_url).get_data(as_text=True)
    assert 'name="token"' not in page and "HN.0003" in page
    forged = client.post("/holdings/items/status", data=form)  # another site's page posting
    assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True)
    assert client.get(url, headers=_bearer(archivist)).json["status"] == "being_scanned"
    done = client.post("/holdings/items/status", data={**form, "csrf_token": csrf_token(client, items_url)})
    assert done.status_code == 303
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Đã cập nhật HN.0003." in shown
    item = client.get(url, headers=_bearer(archivist)).json
    assert item["status"] == "scanned" and item["history"][-1]["via"] == "web"
    assert item["history"][-1]["agent"] == "Nguyễn Thị Lan"
    # A signed-in researcher sees no form and may not post one.
    reader = app.test_client()
    sign_in(reader, "bạn đọc")
    assert reader.get(items_url).status_code == 403
    refused = reader.post("/holdings/items/status", data={**form, "status": "selected",
                                                          "csrf_token": csrf_token(reader, "/")})
    assert refused.status_code == 403
    assert client.get(url, headers=_bearer(archivist)).json["status"] == "scanned"


def test_register_upload_refuses_tcvn3_and_lists_bad_rows_as_json(register_only):
    app, archivist, _ = register_only
    client = app.test_client()
    text = "ký hiệu xếp giá,nhan đề\nHN.9,Hà Nội\n"
    tcvn3 = subprocess.run(["iconv", "-f", "UTF-8", "-t", "TCVN5712-1"], input=text.encode(),
                           capture_output=True, check=True).stdout
    answer = client.post(f"/api/v1/holdings/libraries/{NAM_DINH}/register", data=tcvn3,
                         headers=_bearer(archivist))
    assert answer.status_code == 422 and "TCVN3 (ABC)" in answer.json["message"]
    bad = "shelfmark,title,pages\nX.1,,abc\n".encode()
    answer = client.post(f"/api/v1/holdings/libraries/{NAM_DINH}/register?dry_run=true", data=bad,
                         headers=_bearer(archivist))
    assert answer.status_code == 422
    assert {(p["row"], p["column"]) for p in answer.json["problems"]} == {(2, "title"), (2, "pages")}


@pytest.mark.browser
def test_dashboard_in_chromium_shows_the_hand_counted_figures_and_chart_under_a_strict_csp(programme):
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server
    require([] if shutil.which(CHROMIUM) else ["chromium at /usr/bin/chromium"])
    app, archivist, _ = programme

    def strict_csp(environ, start_response):  # the policy issue 8 plans: nothing inline at all
        def start(status, headers, *rest):
            return start_response(status, [*headers, ("Content-Security-Policy", STRICT_CSP)], *rest)
        return app(environ, start)
    server = make_server("127.0.0.1", 0, strict_csp, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(locale="vi-VN", viewport={"width": 1200, "height": 900})
                violations: list[str] = []
                page.on("console", lambda m: violations.append(m.text)
                        if "Content Security Policy" in m.text else None)
                # Not signed in: the 401 page offers the sign-in form, which comes back here.
                assert page.goto(f"{base}/holdings").status == 401
                page.click("main a.button")
                page.fill("#name", "Nguyễn Thị Lan")
                page.fill("#password", PASSWORD)
                page.click("main button[type=submit]")
                page.wait_for_url(f"{base}/holdings")
                assert page.locator("main h1").inner_text().startswith("Chương trình số hoá")
                figure = lambda name: page.locator(f"#fig-{name}").inner_text()
                assert (figure("items"), figure("rare-items"), figure("preserved"),
                        figure("published"), figure("progress")) == ("5", "4", "3", "2", "50.0%")
                bars = page.locator("svg.holdings-chart rect.month")
                counts = {bars.nth(i).get_attribute("data-month"): int(bars.nth(i).get_attribute("data-count"))
                          for i in range(bars.count())}
                this_month, earlier = date.today().strftime("%Y-%m"), _months_ago(2).strftime("%Y-%m")
                assert counts[this_month] == 2 and counts[earlier] == 1
                assert sum(counts.values()) == 3 and len(counts) == 12
                # Taller bar for the busier month: the chart is drawn, not just labelled.
                heights = {bars.nth(i).get_attribute("data-month"): bars.nth(i).bounding_box()["height"]
                           for i in range(bars.count())}
                assert heights[this_month] > heights[earlier] > 0
                han_nom = page.locator('#scopes tr.collection[data-name="Hán Nôm"] td.progress')
                assert han_nom.inner_text() == "66.7%"
                assert page.locator('#left tr[data-priority="high"] td').nth(1).inner_text() == "1"
                # Projection: 3 of 4 rare items for 70%, 1 left; 2 preserved over the pace window.
                assert page.locator("#projected-date").count() == 1
                # The date shown is the JSON report's, and so is the verdict beside it.
                projected = app.test_client().get("/api/v1/holdings/report",
                                                  headers=_bearer(archivist)).json["projection"]
                shown = page.locator("#projected-date")
                assert projected["projected_date"]
                assert shown.get_attribute("datetime") == projected["projected_date"]
                assert shown.inner_text() == projected["projected_date"]
                verdict = "kịp hạn" if projected["on_track"] else "chậm so với hạn"
                assert f"({verdict})" in page.locator("#projection").inner_text()
                # The stylesheet loaded (no inline styles): cards sit side by side in a grid.
                assert page.evaluate("getComputedStyle(document.querySelector('.cards')).display") == "grid"
                # The site's language switch (the layout's) turns the dashboard to English.
                page.locator("nav.languages a[lang=en]").click()
                page.wait_for_url(f"{base}/holdings")
                assert page.locator("html").get_attribute("lang") == "en"
                assert page.locator("main h2").first.inner_text() == "Progress against the target"
                with page.expect_download() as download:
                    page.click("#export-xlsx")
                assert download.value.suggested_filename.endswith(".xlsx")
                page.emulate_media(media="print")
                assert not page.locator("form.filters").is_visible()
                assert not page.locator("header.site").is_visible()  # a paper report
                assert not violations, violations
            finally:
                browser.close()
    finally:
        server.shutdown()
        thread.join(5)
